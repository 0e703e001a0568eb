#!/bin/bash
# Four nodes; the leader, which holds the bot lease, is killed with SIGKILL.
# Measures the time from the kill to the first runner start on another node
# (defaults: HEARTBEAT_INTERVAL 2, DOWN_AFTER_MISSES 3, BOT_LEASE_TTL 4; must
# be <= 6 s), checks that no two runners ever ran at once, then restarts the
# killed node: it rejoins, and leader and lease holder agree again.
# usage: cluster_failover.sh CONSTELLA CONSTELLAD RPC_PROBE
. "$(dirname "$0")/lib.sh"
MAX_FAILOVER=6.0

four_nodes
[ "$G_OWNER" = "$G_LEADER" ] || fail "lease $G_OWNER is not on the leader $G_LEADER"
# Let the holder run for a while: the kill must hit an established lease.
sleep 2
wait_group "1 2 3 4" n1,n2,n3,n4 5 || fail "agreement lost before the kill"
V=${G_OWNER#n}
EPOCH0=$G_EPOCH
daemon_kill "$V"
VICTIM=n$V:$KILL_NS
echo "killed n$V (leader and lease holder, epoch $EPOCH0) with SIGKILL"

REST=$(for i in 1 2 3 4; do [ "$i" = "$V" ] || echo -n "$i "; done)
ALIVE=$(for i in $REST; do echo "n$i"; done | paste -sd,)
# Wait for a runner to start elsewhere (bounded: 15 s), then measure from the log.
for _ in $(seq 60); do
	runlog failover --victim "$VICTIM" >"$WORK/fo" 2>&1 && break
	sleep 0.25
done
cat "$WORK/fo"
FO=$(sed -n 's/^failover: \([0-9.]*\) s.*/\1/p' "$WORK/fo")
if [ -z "$FO" ]; then
	fail "no runner started on another node within 15 s of the kill"
elif python3 -c "import sys; sys.exit(0 if $FO <= $MAX_FAILOVER else 1)"; then
	ok "failover $FO s <= $MAX_FAILOVER s"
else
	fail "failover $FO s > $MAX_FAILOVER s"
fi
if wait_group "$REST" "$ALIVE" 20; then
	ok "survivors agree: n$V down, leader $G_LEADER, lease $G_OWNER (epoch $G_EPOCH)"
	[ "$G_EPOCH" -gt "$EPOCH0" ] 2>/dev/null && ok "lease epoch grew $EPOCH0 -> $G_EPOCH" \
		|| fail "lease epoch $EPOCH0 -> $G_EPOCH did not grow"
else
	fail "survivors did not agree within 20 s"
fi
runlog overlap || fail "runner intervals overlap around the failover"

# --- the killed node comes back
daemon_start "$V" || finish
if wait_group "1 2 3 4" n1,n2,n3,n4 20; then
	ok "n$V rejoined after ${G_SECS}s: 4 alive, leader $G_LEADER, lease $G_OWNER (epoch $G_EPOCH)"
	[ "$G_OWNER" = "$G_LEADER" ] || fail "lease $G_OWNER is not on the leader $G_LEADER"
	for i in 1 2 3 4; do
		n=$(jq '[.peers[] | select(.leader == true)] | length' "$WORK/st$i.json")
		[ "$n" = 1 ] || fail "n$i marks $n leaders in its peer list"
	done
else
	fail "no agreement after n$V's restart"
fi
# A few heartbeats in the settled state: no handover may overlap.
sleep 4
wait_group "1 2 3 4" n1,n2,n3,n4 5 || fail "agreement lost after the restart"
R=$(runlog running)
[ "$R" = "$G_OWNER" ] && ok "runner log: only $R running" || fail "runner log: running [$R], want $G_OWNER"
runlog overlap || fail "runner intervals overlap over the whole run"
runlog intervals
finish
