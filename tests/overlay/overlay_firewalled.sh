#!/bin/bash
# A network WITH a hub, a joiner that gives --public-addr and is seen coming
# from it, but whose RPC port nobody can reach (a host firewall): the seed's
# reachability probe finds that out at join, and the member gets its overlay
# address instead of a public one nobody could call (issue 8: no split).
#   - fw (port dropped on eth0): admitted, RPC address <overlay>:4747, join
#     says why ("unreachable: ... timed out after 3 s"), the seed logs it;
#   - open (nothing in the way): its public address, as before;
#   - all three alive in every view, fw's RPC over the tunnel.
# usage: overlay_firewalled.sh CONSTELLA CONSTELLAD
. "$(dirname "$0")/lib.sh"

net_up hub fw open
hub_init hub hub || finish
daemon_start hub || finish

# fw's host firewall drops its RPC port on the public interface only
nsx fw iptables -A INPUT -i eth0 -p tcp --dport "$PORT" -j DROP
join fw fw "$(invite hub)" --public-addr "${IP[fw]}:$PORT" || finish
FW_OVL=$(sed -n 's/^overlay: \([0-9.]*\)\/.*/\1/p' "$WORK/join-fw.out")
[ -n "$FW_OVL" ] || { fail "fw got no overlay address: $(cat "$WORK/join-fw.out")"; finish; }
grep -qF "RPC address: $FW_OVL:$PORT" "$WORK/join-fw.out" \
	&& grep -qF "(unreachable: nothing answers the seed at ${IP[fw]}:$PORT (connection timed out after 3 s); members reach this node over the overlay)" "$WORK/join-fw.out" \
	&& ok "firewalled public joiner gets its overlay address: $(tr '\n' ' ' <"$WORK/join-fw.out")" \
	|| fail "fw's join: $(cat "$WORK/join-fw.out")"
grep -q "nothing answers at ${IP[fw]}:$PORT (connection timed out after 3 s): it will be reached over the overlay" "$WORK/hub.log" \
	&& ok "the seed logs why" || fail "no probe line in the hub's log"

join open open "$(invite hub)" --public-addr "${IP[open]}:$PORT" || finish
grep -qF "RPC address: ${IP[open]}:$PORT" "$WORK/join-open.out" && ! grep -q unreachable "$WORK/join-open.out" \
	&& ok "a reachable public joiner keeps its public address" || fail "open's join: $(cat "$WORK/join-open.out")"
[ "$(jq -r '.peers[] | select(.name == "fw") | .addr' "$WORK/hub/network_state.json")" = "$FW_OVL:$PORT" ] \
	&& ok "the hub records fw at $FW_OVL:$PORT" || fail "fw's addr at the hub: $(jq -c .peers "$WORK/hub/network_state.json")"

daemon_start fw || finish
daemon_start open || finish
if all_alive "hub fw open" "fw,hub,open" 30; then
	ok "all 3 alive in every view after $WAIT_MS ms, fw's port still dropped on eth0"
else
	fail "the three did not agree"
fi
daemon_stop open
daemon_stop fw
daemon_stop hub
finish
