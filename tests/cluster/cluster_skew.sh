#!/bin/bash
# Clock skew (issue 11): signed RPC refuses requests beyond ±CLOCK_SKEW
# (15 s). Three nodes agree; then n3 restarts with its clock 60 s ahead
# (libfaketime, monotonic clocks left alone). Both sides must say so by
# name and by how much: n1 and n2 log that n3's clock is 60 s ahead of
# theirs and show it in status (clock_skew, clock_offset_s); n3 logs that
# they refuse it because its clock is 60 s ahead and shows itself as the
# clock outlier, and does not lead or run a bot beside the others'. Restarted
# with the right time, n3 is back.
# usage: cluster_skew.sh CONSTELLA CONSTELLAD RPC_PROBE
. "$(dirname "$0")/lib.sh"
FT=$(for d in /usr/lib/x86_64-linux-gnu/faketime /usr/lib/aarch64-linux-gnu/faketime /usr/lib/faketime; do
	[ -e "$d/libfaketime.so.1" ] && echo "$d/libfaketime.so.1" && break; done)
[ -n "$FT" ] || { echo "FAIL: libfaketime not installed (scripts/install-deps.sh installs faketime)"; exit 1; }

net_up 3
cluster_init 1 --priority 1 || finish
daemon_start 1 || finish
join_nodes "2 3" --priority 5
wait_group "1 2 3" n1,n2,n3 20 || { fail "3 nodes did not agree"; finish; }
ok "3 alive; leader $G_LEADER, lease $G_OWNER (epoch $G_EPOCH)"

daemon_stop 3
# ASan wants to come first among preloaded libraries; libfaketime then goes
# before it, which it accepts with verify_asan_link_order=0.
daemon_start 3 LD_PRELOAD="$FT" FAKETIME="+60s" FAKETIME_DONT_FAKE_MONOTONIC=1 \
	ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1 || finish
ok "n3 restarted with its clock 60 s ahead"
# Let the refusals happen both ways, then check what each side says.
got=0
for _ in $(seq 40); do
	if grep -q "clock: refused a request from n3 .*its clock is 6[01] s ahead of ours" "$WORK/n1.log" &&
	   grep -q "clock: n[12] (.*) refused our request: our clock is 6[01] s ahead of n[12]'s" "$WORK/n3.log"; then
		got=1; break
	fi
	sleep 0.25
done
[ $got = 1 ] && ok "logs name the node and the skew on both sides" || fail "skew not logged on both sides"
grep -h "clock:" "$WORK/n1.log" "$WORK/n3.log" | head -4 | sed 's/^/  /'
sleep 7 # past the failure timeout: n3 is down for the others, not leading anywhere
status 1; status 3
jq -e '.peers[] | select(.name == "n3") | .clock_skew == true and (.clock_offset_s >= 59 and .clock_offset_s <= 61) and (.detail | test("clock skew: (its clock is 6[01] s ahead of ours|our clock is 6[01] s behind theirs)"))' \
	"$WORK/st1.json" >/dev/null && ok "n1's status: n3 $(jq -c '.peers[] | select(.name == "n3") | [.status, .clock_offset_s, .detail]' "$WORK/st1.json")" \
	|| fail "n1's status for n3: $(jq -c '.peers[] | select(.name == "n3")' "$WORK/st1.json")"
jq -e '.clock_outlier == true and ([.peers[] | select(.name != "n3") | .clock_skew] | all) and .bot_runner == false and .leader == ""' \
	"$WORK/st3.json" >/dev/null && ok "n3's status: clock outlier, no leader, no runner; n1 $(jq -c '.peers[] | select(.name == "n1") | [.clock_offset_s, .detail]' "$WORK/st3.json")" \
	|| fail "n3's status: $(jq -c '{clock_outlier, leader, bot_runner, peers: [.peers[] | [.name, .status, .clock_offset_s, .clock_skew, .detail]]}' "$WORK/st3.json")"
"$CLI" --state-dir "$WORK/n1" status | grep "^n3 " | grep -q "+6[01]s!" && ok "n1's status table shows n3's clock: $("$CLI" --state-dir "$WORK/n1" status | grep '^n3 ')" \
	|| fail "n1's status table: $("$CLI" --state-dir "$WORK/n1" status | grep '^n3 ')"
wait_group "1 2" n1,n2 10 && ok "n1 n2 keep one leader $G_LEADER and one runner ($G_OWNER)" || fail "n1 n2 lost agreement"
R=$(runlog running)
[ "$R" = "$G_OWNER" ] && ok "runner log: only $R running" || fail "runner log: running [$R], want $G_OWNER"

daemon_stop 3
daemon_start 3 || finish
wait_group "1 2 3" n1,n2,n3 20 && ok "n3 back with the right time: 3 alive, leader $G_LEADER" || fail "n3 not back"
runlog overlap || fail "runner intervals overlap"
finish
