#!/bin/bash
# Four nodes on one bridge: n1 founds the network, n2..n4 join by invite link
# from their own namespaces. All four see each other alive and agree on the
# leader (n4: the lowest priority number) and the bot lease, with exactly one
# runner. Then n3 is killed and removed while n2 is stopped; n3 vanishes
# everywhere and n2, restarted with a state file that still lists n3, does not
# bring it back.
# usage: cluster_basic.sh CONSTELLA CONSTELLAD RPC_PROBE
. "$(dirname "$0")/lib.sh"

net_up 4
cluster_init 1 --priority 10 || finish
daemon_start 1 || finish
for i in 2 3 4; do
	prio=10; [ "$i" = 4 ] && prio=1
	LINK=$(invite 1) || { fail "invite: $(cat "$WORK/invite.err")"; finish; }
	cluster_join "$i" "$LINK" --priority $prio || finish
	daemon_start "$i" || finish
done
ok "n1 founded, n2 n3 n4 joined over the bridge"

if wait_group "1 2 3 4" n1,n2,n3,n4 20; then
	ok "all 4 alive everywhere after ${G_SECS}s; leader $G_LEADER, lease $G_OWNER (epoch $G_EPOCH), one runner"
	[ "$G_LEADER" = n4 ] && ok "n4 (priority 1) is the leader" || fail "leader $G_LEADER, want n4 (priority 1)"
	[ "$G_OWNER" = "$G_LEADER" ] && ok "the leader holds the lease" || fail "lease $G_OWNER, leader $G_LEADER"
	R=$(runlog running)
	[ "$R" = "$G_OWNER" ] && ok "runner log: only $R running" || fail "runner log: running [$R], want $G_OWNER"
else
	fail "4 nodes did not agree within 20 s"
fi
for i in 1 2 3 4; do
	jq -e --arg id "$(node_id 4)" '[.peers[] | select(.leader == true) | .node_id] == [$id]' \
		"$WORK/st$i.json" >/dev/null || fail "n$i: peers[].leader does not mark n4 alone"
done

# --- removal: n2 stopped first (its state file keeps n3), n3 killed, removed via n1
daemon_stop 2
daemon_kill 3
N3=$(node_id 3)
"$CLI" --state-dir "$WORK/n1" remove n3 >"$WORK/out" 2>&1 && ok "remove n3 via n1" || fail "remove n3: $(cat "$WORK/out")"
in_state_file 2 n3 && ok "n2's state file still lists n3 (stopped before the removal)" \
	|| fail "n2's state file lost n3 while n2 was stopped"
gone=0
for _ in $(seq 40); do
	gone=1
	for i in 1 4; do
		status "$i" && jq -e '[.peers[].name] | index("n3") == null' "$WORK/st$i.json" >/dev/null || gone=0
		in_state_file "$i" n3 && gone=0
	done
	[ $gone = 1 ] && break
	sleep 0.25
done
[ $gone = 1 ] && ok "n3 gone from n1 and n4 (status and state file)" || fail "n3 still listed on n1 or n4"
for i in 1 4; do
	jq -e --arg id "$N3" '.removed | index($id) != null' "$WORK/n$i/network_state.json" >/dev/null \
		&& ok "n$i keeps n3's tombstone" || fail "n$i has no tombstone for n3"
done

daemon_start 2 || finish
if wait_group "1 2 4" n1,n2,n4 20; then
	ok "n2 back after ${G_SECS}s; 3 alive, leader $G_LEADER, lease $G_OWNER (epoch $G_EPOCH)"
else
	fail "n1 n2 n4 did not agree after n2's restart"
fi
# Three heartbeats (default 2 s) for n2's stale view to have been gossiped.
sleep 6.5
for i in 1 2 4; do
	status "$i" || fail "status n$i"
	jq -e '[.peers[].name] | index("n3") == null' "$WORK/st$i.json" >/dev/null \
		|| fail "n3 resurrected in n$i's status: $(jq -c '[.peers[] | [.name, .status]]' "$WORK/st$i.json")"
	in_state_file "$i" n3 && fail "n3 resurrected in n$i's state file"
done
jq -e --arg id "$N3" '.removed | index($id) != null' "$WORK/n2/network_state.json" >/dev/null \
	&& ok "n2 learned n3's tombstone" || fail "n2 has no tombstone for n3"
wait_group "1 2 4" n1,n2,n4 5 && ok "after 3 heartbeats: n3 nowhere, leader $G_LEADER, lease $G_OWNER, one runner" \
	|| fail "no agreement after 3 heartbeats"

# --- the removed node's daemon comes back with its old state file: the others
# must not take it back, and it must not run the bot beside the real holder.
daemon_start 3 || finish
sleep 6.5
for i in 1 2 4; do
	status "$i" || fail "status n$i"
	jq -e '[.peers[].name] | index("n3") == null' "$WORK/st$i.json" >/dev/null \
		|| fail "removed n3, restarted, is back in n$i's status"
	in_state_file "$i" n3 && fail "removed n3, restarted, is back in n$i's state file"
done
wait_group "1 2 4" n1,n2,n4 5 && ok "removed n3 restarted: not taken back; leader $G_LEADER, lease $G_OWNER" \
	|| fail "no agreement with the removed n3 running"
summary 3 >"$WORK/s3"
read -r _ _ _ R3 _ <"$WORK/s3"
[ "$R3" = true ] && fail "removed n3 runs a bot runner: $(cat "$WORK/s3")" || ok "removed n3 runs no runner ($(cat "$WORK/s3"))"
R=$(runlog running)
[ "$R" = "$G_OWNER" ] && ok "runner log: only $R running" || fail "runner log: running [$R], want $G_OWNER"
runlog overlap || fail "runner intervals overlap"
finish
