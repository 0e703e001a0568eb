#!/bin/bash
# A network WITHOUT an overlay hub (issue 8, "clear errors"): the seed checks
# that a joiner answers at the address the others will call, before the
# invite is spent.
#   - behind NAT, no --public-addr: refused with the reason (the NAT router's
#     address answers nothing), nothing written on either side, logged once;
#   - a public node whose RPC port is firewalled: refused, "timed out";
#   - the same single-use link then admits a public node without
#     --public-addr, at its real address (the probe succeeded);
#   - a joiner whose port is taken says it cannot prove itself, and is
#     admitted unchecked (as an older joiner, which sends no probe nonce).
# usage: overlay_nohub.sh CONSTELLA CONSTELLAD
. "$(dirname "$0")/lib.sh"

net_up seed pub pub2 nat
"$CLI" --state-dir "$WORK/seed" init --server-name seed --public-addr "${IP[seed]}:$PORT" \
	--owner @o >"$WORK/out" 2>&1 || { fail "init: $(cat "$WORK/out")"; finish; }
daemon_start seed || finish
L=$(invite seed)
peers() { jq -c '[.peers[].name] | sort' "$WORK/seed/network_state.json"; }

# --- behind NAT, no --public-addr
nsx home "$CLI" --state-dir "$WORK/home" join --server-name home --join "$L" >"$WORK/out" 2>&1
rc=$?
want="behind NAT: the seed sees this join coming from 10.231.0.254 and nothing answers at 10.231.0.254:$PORT (connection refused), and this network has no overlay hub"
[ $rc = 1 ] && grep -qF "$want" "$WORK/out" && [ ! -e "$WORK/home" ] \
	&& ok "NAT joiner without --public-addr refused: $(cat "$WORK/out")" \
	|| fail "NAT join without --public-addr: rc $rc: $(cat "$WORK/out")"
[ "$(peers)" = '["seed"]' ] && ok "nothing admitted at the seed" || fail "seed admitted: $(peers)"
n=$(grep -c "join from 10.231.0.254:[0-9]* refused: behind NAT: .*nothing answers at" "$WORK/seed.log")
[ "$n" = 1 ] && ok "the seed logs the refusal once" || fail "seed log has $n refusal lines: $(grep refused "$WORK/seed.log")"

# --- a public node with its RPC port firewalled (dropped, so: a timeout)
nsx pub iptables -A INPUT -p tcp --dport "$PORT" -j DROP
nsx pub "$CLI" --state-dir "$WORK/pub" join --server-name pub --join "$L" \
	--public-addr "${IP[pub]}:$PORT" >"$WORK/out" 2>&1
rc=$?
want="unreachable: the seed sees this join coming from ${IP[pub]} and nothing answers at ${IP[pub]}:$PORT (connection timed out after 3 s)"
[ $rc = 1 ] && grep -qF "$want" "$WORK/out" && [ ! -e "$WORK/pub" ] \
	&& ok "firewalled joiner refused: $(cat "$WORK/out")" || fail "firewalled join: rc $rc: $(cat "$WORK/out")"
nsx pub iptables -D INPUT -p tcp --dport "$PORT" -j DROP

# --- the same (single-use) link admits a reachable node without --public-addr
nsx pub "$CLI" --state-dir "$WORK/pub" join --server-name pub --join "$L" >"$WORK/out" 2>&1
rc=$?
[ $rc = 0 ] && grep -qF "RPC address: ${IP[pub]}:$PORT" "$WORK/out" \
	&& ok "the same link then admits a public joiner: $(tr '\n' ' ' <"$WORK/out")" \
	|| fail "public join: rc $rc: $(cat "$WORK/out")"
[ "$(jq -r '.peers[] | select(.name == "pub") | .addr' "$WORK/seed/network_state.json")" = "${IP[pub]}:$PORT" ] \
	&& ok "the seed records pub at its real address" || fail "pub's addr at the seed: $(jq -c .peers "$WORK/seed/network_state.json")"
grep -q "probing ${IP[pub]}:$PORT" "$WORK/seed.log" && ok "the seed probed pub" || fail "no probe of pub in the seed's log"

# --- the joiner's port is taken: said, and admitted unchecked
ip netns exec "${NS[pub2]}" python3 -c "import socket,time; s=socket.socket(); s.bind(('0.0.0.0', $PORT)); s.listen(); time.sleep(30)" &
BLOCK=$!
for _ in $(seq 100); do nsx pub2 ss -Hltn "sport = :$PORT" | grep -q . && break; sleep 0.05; done
nsx pub2 "$CLI" --state-dir "$WORK/pub2" join --server-name pub2 --join "$(invite seed)" >"$WORK/out" 2>&1
rc=$?
kill $BLOCK; wait $BLOCK 2>/dev/null
[ $rc = 0 ] && grep -qF "cannot listen on port $PORT to prove this node is reachable (Address already in use: is constellad or another program already using it?)" "$WORK/out" \
	&& ok "port taken: $(head -1 "$WORK/out")" || fail "join with the port taken: rc $rc: $(cat "$WORK/out")"
[ "$(peers)" = '["pub","pub2","seed"]' ] && ok "members: $(peers)" || fail "members: $(peers)"
daemon_stop seed
finish
