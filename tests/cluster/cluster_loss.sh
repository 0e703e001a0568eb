#!/bin/bash
# Packet loss: ten nodes, then every node's link loses LOSS (20 %) of the
# packets it sends (iptables statistic on each node's egress, as netem on
# every link would: each packet between two nodes, request or answer, data
# or TCP handshake, is lost with probability LOSS) for LOSS_S seconds
# (default 60; the 5-minute run of issue 11 is LOSS_S=300, reported in
# docs/cluster.md). The cluster must keep one leader and one bot runner the
# whole time: no leader change in any log, no runner start or stop, and the
# status of every node still agreeing at the end. When the loss stops,
# agreement holds at once (within a few seconds).
# usage: cluster_loss.sh CONSTELLA CONSTELLAD RPC_PROBE
. "$(dirname "$0")/lib.sh"
N=10
LOSS=${LOSS:-0.2}
LOSS_S=${LOSS_S:-60}
ALL=$(seq -s " " 1 $N)
NAMES=$(for i in $ALL; do echo "n$i"; done | sort | paste -sd,)

net_up $N
cluster_init 1 || finish
daemon_start 1 || finish
join_nodes "$(seq -s " " 2 $N)"
wait_group "$ALL" "$NAMES" 30 || { fail "$N nodes did not agree within 30 s"; finish; }
sleep 3
wait_group "$ALL" "$NAMES" 10 || { fail "$N nodes lost agreement before the loss"; finish; }
ok "$N alive; leader $G_LEADER, lease $G_OWNER (epoch $G_EPOCH)"
L0=$G_LEADER O0=$G_OWNER E0=$G_EPOCH
STARTS0=$(grep -c '^start' "$RUNLOG"); STOPS0=$(grep -c '^stop' "$RUNLOG")
LEADS0=$(count_in_logs "leader is now"); DOWNS0=$(count_in_logs "is down")

loss_on "$LOSS" "$ALL"
echo "loss $LOSS on every node's link (egress) for ${LOSS_S}s"
T_END=$(( $(date +%s) + LOSS_S )); k=0; bad=0
while [ "$(date +%s)" -lt "$T_END" ]; do
	# one node's view every 2 s (a status call is a local socket: no loss)
	k=$((k + 1)); i=$(( (k % N) + 1 ))
	s=$(summary "$i"); set -- $s
	if [ "$1 $2 $3" != "$L0 $O0 $E0" ]; then
		bad=$((bad + 1)); [ $bad -le 5 ] && echo "  n$i at sample $k: $s"
	fi
	sleep 2
done
loss_off "$ALL"
LEADS=$(( $(count_in_logs "leader is now") - LEADS0 ))
STARTS=$(( $(grep -c '^start' "$RUNLOG") - STARTS0 ))
STOPS=$(( $(grep -c '^stop' "$RUNLOG") - STOPS0 ))
DOWNS=$(( $(count_in_logs "is down") - DOWNS0 ))
echo "under loss: $LEADS leader changes, $STARTS runner starts, $STOPS runner stops, $DOWNS member-down lines, $bad of $k status samples off"
grep -h "bot runner paused\|expired unrenewed\|leader is now" "$WORK"/n*.log | sort | tail -n +$((N + 1)) | head -10 | sed 's/^/  /'
[ "$LEADS" = 0 ] && ok "no leader change" || fail "$LEADS leader changes under loss"
[ "$STARTS" = 0 ] && [ "$STOPS" = 0 ] && ok "no runner flap" || fail "runner flapped: $STARTS starts, $STOPS stops"
[ "$bad" = 0 ] || fail "$bad status samples disagreed with leader $L0 lease $O0 epoch $E0"
if wait_group "$ALL" "$NAMES" 10; then
	ok "loss stopped: all agree after ${G_SECS}s; leader $G_LEADER, lease $G_OWNER (epoch $G_EPOCH)"
	[ "$G_OWNER $G_EPOCH" = "$O0 $E0" ] || fail "lease moved: $G_OWNER $G_EPOCH, was $O0 $E0"
else
	fail "no agreement within 10 s of the loss stopping"
fi
runlog overlap || fail "runner intervals overlap"
finish
