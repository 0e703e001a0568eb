#!/bin/bash
# Joins racing through two different seeds get different overlay addresses:
# the hub allocates on its one loop and persists each reservation before it
# answers. Three rounds: two joins at once through two non-hub seeds (both
# ask the hub over Overlay.Allocate), then through the hub and a seed. Every
# address is distinct, every joiner's device reaches the hub, and the hub's
# reservations end when the members' records arrive.
# usage: overlay_race.sh CONSTELLA CONSTELLAD
. "$(dirname "$0")/lib.sh"

net_up hub s1 s2 j1 j2 j3 j4
hub_init hub hub || finish
daemon_start hub || finish
for s in s1 s2; do
	join "$s" "$s" "$(invite hub)" --public-addr "${IP[$s]}:$PORT" || finish
	daemon_start "$s" || finish
done
all_alive "hub s1 s2" "hub,s1,s2" 20 || { fail "seeds not up"; finish; }

# race JA SEEDA JB SEEDB: both joins at once
race() {
	local a=$1 sa=$2 b=$3 sb=$4 la lb
	la=$(invite "$sa"); lb=$(invite "$sb")
	join "$a" "$a" "$la" --public-addr "${IP[$a]}:$PORT" &
	local pa=$!
	join "$b" "$b" "$lb" --public-addr "${IP[$b]}:$PORT" &
	local pb=$!
	wait $pa || fail "join $a through $sa"
	wait $pb || fail "join $b through $sb"
}
race j1 s1 j2 s2
race j3 hub j4 s1
declare -A SEEN
for j in j1 j2 j3 j4; do
	a=$(sed -n 's/^overlay: \([0-9.]*\)\/.*/\1/p' "$WORK/join-$j.out")
	[ -n "$a" ] || { fail "$j got no overlay address: $(cat "$WORK/join-$j.out")"; continue; }
	[ -z "${SEEN[$a]:-}" ] || fail "$j and ${SEEN[$a]} both got $a"
	SEEN[$a]=$j
	echo "  $j: $a"
done
[ "${#SEEN[@]}" = 4 ] && ok "4 racing joins through 3 seeds got 4 different addresses: ${!SEEN[*]}"
grep -h "gets 10.42" "$WORK/hub.log" | sed 's/^/  hub: /'
for j in j1 j2 j3 j4; do daemon_start "$j" || finish; done
if all_alive "hub s1 s2 j1 j2 j3 j4" "hub,j1,j2,j3,j4,s1,s2" 30; then
	ok "all 7 alive in every view after $WAIT_MS ms"
else
	fail "7 nodes did not agree"
fi
for j in j1 j2 j3 j4; do
	nsx "$j" ping -c1 -W2 10.42.0.1 >/dev/null || fail "$j does not reach the hub over the overlay"
done
nsx j1 ping -c1 -W2 "$(jq -r '.peers[] | select(.name == "j4") | .overlay_addr' "$WORK/j1/network_state.json")" >/dev/null \
	&& ok "j1 reaches j4 through the hub" || fail "j1 does not reach j4"
for _ in $(seq 20); do
	[ "$(jq '.reservations | length' "$WORK/hub/vpn_reservations.json")" = 0 ] && break
	sleep 0.5
done
[ "$(jq '.reservations | length' "$WORK/hub/vpn_reservations.json")" = 0 ] \
	&& ok "the hub's reservations ended as the records arrived" \
	|| fail "reservations left: $(cat "$WORK/hub/vpn_reservations.json")"
finish
