#!/bin/bash
# Disk trouble (issue 11). n2's state directory is on a small tmpfs. With
# the tmpfs full, a change n2 must persist (n3 joins through n1) fails to be
# written: n2 logs why (rate limited), its network_state.json stays the old,
# valid file, it keeps serving (status through it lists n3, the cluster
# agrees), and once space returns it writes the file again by itself. Then
# a truncated and a corrupt network_state.json: the daemon refuses to start
# with an error naming the file, and leaves the file as it was.
# usage: cluster_disk.sh CONSTELLA CONSTELLAD RPC_PROBE
. "$(dirname "$0")/lib.sh"
MNT=$WORK/tmpfs
mkdir -p "$MNT"
mount -t tmpfs -o size=256k,mode=0700 "cs$SUF" "$MNT" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
test_cleanup() { umount -l "$MNT" 2>/dev/null; }

net_up 3
cluster_init 1 || finish
daemon_start 1 || finish
# n2's state dir lives on the tmpfs
LINK=$(invite 1) || { fail "invite: $(cat "$WORK/invite.err")"; finish; }
nsx 2 "$CLI" --state-dir "$MNT/n2" join --server-name n2 --join "$LINK" \
	--public-addr "$(addr 2):$PORT" >"$WORK/out" 2>&1 || { fail "join n2: $(cat "$WORK/out")"; finish; }
ln -s "$MNT/n2" "$WORK/n2"
daemon_start 2 || finish
wait_group "1 2" n1,n2 20 || { fail "n1 n2 did not agree"; finish; }
ok "n1 n2 agree; n2's state directory is a 256 KiB tmpfs"

dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null
df -k "$MNT" | tail -1 | awk '{ if ($4 > 8) exit 1 }' && ok "tmpfs full" || fail "tmpfs not full: $(df -k "$MNT" | tail -1)"
cp "$MNT/n2/network_state.json" "$WORK/before.json"
LINK=$(invite 1) || { fail "invite: $(cat "$WORK/invite.err")"; finish; }
cluster_join 3 "$LINK" || finish
daemon_start 3 || finish
wait_group "1 2 3" n1,n2,n3 20 && ok "n3 joined; n2 serves it from memory: 3 agree" || fail "no agreement with n2's disk full"
sleep 3
grep -q "cannot save .*/n2/network_state.json: No space left on device; the previous file is kept" "$WORK/n2.log" \
	&& ok "n2 logs: $(grep -m1 "cannot save" "$WORK/n2.log" | cut -d' ' -f4-)" || fail "no clear log line for the failed save"
n=$(grep -c "cannot save" "$WORK/n2.log")
[ "$n" -le 2 ] && ok "$n such line(s) (rate limited)" || fail "$n 'cannot save' lines in a few seconds: not rate limited"
cmp -s "$WORK/before.json" "$MNT/n2/network_state.json" && jq -e . "$MNT/n2/network_state.json" >/dev/null \
	&& ok "n2's network_state.json is the old, valid file" || fail "n2's file changed or is invalid"
ls "$MNT/n2" | grep -q "\.tmp\." && fail "temporary files left: $(ls "$MNT/n2")"
status 2 && jq -e '.state_saved == false and ([.peers[].name] | index("n3") != null)' "$WORK/st2.json" >/dev/null \
	&& ok "status through n2: lists n3, state_saved false" || fail "status through n2: $(jq -c '{state_saved, p: [.peers[].name]}' "$WORK/st2.json")"
"$CLI" --state-dir "$WORK/n2" status | grep -q "warning: the state file cannot be saved" \
	&& ok "status table warns" || fail "status table does not warn"

rm -f "$MNT/fill"
saved=0
for _ in $(seq 20); do
	in_state_file 2 n3 && { saved=1; break; }
	sleep 0.25
done
[ $saved = 1 ] && ok "space back: n2 wrote its file by itself ($(grep -m1 "saved again" "$WORK/n2.log" | cut -d' ' -f4-))" \
	|| fail "n2 did not persist after space returned"
status 2 && jq -e '.state_saved == true' "$WORK/st2.json" >/dev/null || fail "state_saved still false"

# --- a truncated, then a corrupt network_state.json at start
daemon_stop 2
cp "$MNT/n2/network_state.json" "$WORK/good.json"
check_refused() { # DESC: the daemon must refuse to start, naming the file, and leave it as it was
	cp "$MNT/n2/network_state.json" "$WORK/bad.json"
	nsx 2 "$DAEMON" --state-dir "$MNT/n2" --listen "$(addr 2):$PORT" >"$WORK/bad.log" 2>&1 &
	local p=$! rc
	for _ in $(seq 50); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
	kill -0 $p 2>/dev/null && { kill -9 $p; fail "$1: the daemon started"; return; }
	wait $p; rc=$?
	[ $rc != 0 ] && grep -q "cannot start: $MNT/n2/network_state.json: not valid JSON ($2" "$WORK/bad.log" \
		&& ok "$1: refused, rc $rc: $(cut -d' ' -f4- "$WORK/bad.log" | head -1)" \
		|| fail "$1: rc $rc, log: $(cat "$WORK/bad.log")"
	cmp -s "$WORK/bad.json" "$MNT/n2/network_state.json" && ok "$1: file left as it was" || fail "$1: file changed"
}
head -c 300 "$WORK/good.json" >"$MNT/n2/network_state.json"
check_refused "truncated file" truncated
sed 's/"network_secret":/"network_secret"/' "$WORK/good.json" >"$MNT/n2/network_state.json"
check_refused "corrupt file" corrupt
cp "$WORK/good.json" "$MNT/n2/network_state.json"
daemon_start 2 || finish
wait_group "1 2 3" n1,n2,n3 20 && ok "restored file: n2 back, 3 agree" || fail "n2 not back"
finish
