#!/bin/bash
# Four nodes split {n1,n2} | {n3,n4} by iptables DROP rules: each side elects
# its own lease holder (both run a bot runner: that is the partition's price).
# After the heal all four agree on one leader and one lease holder whose epoch
# is at least the larger of the two sides', and from then on no two runners
# run at once.
# usage: cluster_partition.sh CONSTELLA CONSTELLAD RPC_PROBE
. "$(dirname "$0")/lib.sh"

four_nodes

partition "1 2" "3 4"
echo "partitioned {n1,n2} | {n3,n4}"
# Down detection (3 x 2 s) plus a lease TTL (4 s) plus margin.
if wait_group "1 2" n1,n2 25; then
	A_OWNER=$G_OWNER A_EPOCH=$G_EPOCH
	ok "side {n1,n2}: leader $G_LEADER, lease $G_OWNER epoch $G_EPOCH (${G_SECS}s)"
else
	fail "side {n1,n2} has no lease holder of its own"; A_EPOCH=0
fi
if wait_group "3 4" n3,n4 25; then
	B_OWNER=$G_OWNER B_EPOCH=$G_EPOCH
	ok "side {n3,n4}: leader $G_LEADER, lease $G_OWNER epoch $G_EPOCH (${G_SECS}s)"
else
	fail "side {n3,n4} has no lease holder of its own"; B_EPOCH=0
fi
echo "epochs during the partition: {n1,n2} ${A_EPOCH} (${A_OWNER:-none}), {n3,n4} ${B_EPOCH} (${B_OWNER:-none})"
MAXE=$(( A_EPOCH > B_EPOCH ? A_EPOCH : B_EPOCH ))

heal "1 2 3 4"
HEAL_NS=$(mono)
echo "healed"
if wait_group "1 2 3 4" n1,n2,n3,n4 15; then
	SETTLE_NS=$(mono)
	ok "healed: one leader $G_LEADER, one lease $G_OWNER epoch $G_EPOCH after ${G_SECS}s"
	[ "$G_EPOCH" -ge "$MAXE" ] 2>/dev/null && ok "epoch $G_EPOCH >= $MAXE" \
		|| fail "epoch after the heal $G_EPOCH < $MAXE"
else
	fail "no agreement within 15 s of the heal"; SETTLE_NS=$(mono)
fi
# Three heartbeats in the healed state, then the log from the settle on.
sleep 6
wait_group "1 2 3 4" n1,n2,n3,n4 5 && ok "still one leader $G_LEADER and lease $G_OWNER (epoch $G_EPOCH)" \
	|| fail "agreement lost after the heal"
R=$(runlog running)
[ "$R" = "$G_OWNER" ] && ok "runner log: only $R running" || fail "runner log: running [$R], want $G_OWNER"
echo "runner overlap during the partition (expected, informational):"
runlog overlap --to "$HEAL_NS" | sed 's/^/  /'
runlog overlap --from "$SETTLE_NS" || fail "runners overlap after the heal settled"
runlog intervals
finish
