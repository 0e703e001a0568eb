#!/bin/bash
# The seed report's scenario, with no manual step: a public hub, a public
# client usa-01 and home-01 behind a NAT router (masquerade, no port
# forwarding, no route from the public side). One init, two joins.
#   - all three list each other alive; home-01's RPC address is its overlay
#     address (it even listens on that address alone: the overlay is up
#     before the RPC server binds) and its RPC traffic arrives over WireGuard;
#   - home-01 (lowest priority) leads and runs the bot runner;
#   - ping and a 100 MB TCP transfer home->usa pass through the hub's relay
#     (hub ip_forward=0), checked by SHA-256; `wg show` at the hub shows
#     both handshakes; `constella ping` and `constella show` work;
#   - a manual `wg set` at the hub is undone by the next reconcile, and so
#     is an `ip link del` of its interface;
#   - the hub is killed (-9) and restarted: time until both clients have a
#     new session and the cluster is whole again (printed, bound asserted);
#   - home-01 is removed: its peer leaves the hub's device and its next
#     packets (its session still live: it has not heard yet) are dropped
#     there, counted; once it hears, its own device has no peer left;
#   - no private key in any log, view, join output or other node's files.
# usage: overlay_nat.sh CONSTELLA CONSTELLAD
. "$(dirname "$0")/lib.sh"

net_up hub usa nat
[ "$(nsx hub sysctl -n net.ipv4.ip_forward)" = 0 ] && ok "hub: net.ipv4.ip_forward=0" || fail "hub forwards"
nsx home ping -c1 -W1 10.231.0.1 >/dev/null && ok "home reaches the public side through the NAT" \
	|| fail "home cannot reach the hub's public address"
nsx hub ping -c1 -W1 192.168.77.2 >/dev/null 2>&1 && fail "the public side reaches home directly" \
	|| ok "the public side has no way to home (NAT, no port forwarding)"

hub_init hub hub --priority 10 || finish
daemon_start hub || finish
# the hub binds its port at once (not a random one first)
[ "$(grep "listening on UDP port" "$WORK/hub.log" | sed 's/.*listening on //')" = "UDP port 51820" ] \
	&& ok "the hub's device binds UDP 51820 alone" || fail "hub's binds: $(grep "listening on UDP" "$WORK/hub.log")"
join usa usa-01 "$(invite hub)" --public-addr 10.231.0.2:4747 --priority 10 || finish
daemon_start usa || finish
# home-01 says which address it has; the seed sees the router's instead
join home home-01 "$(invite hub)" --public-addr 192.168.77.2:4747 --priority 1 || finish
cat "$WORK/join-home.out"
grep -q "RPC address: 10.42.0.3:4747" "$WORK/join-home.out" && ok "home-01 gets 10.42.0.3:4747 as its RPC address" \
	|| fail "home-01's join: $(cat "$WORK/join-home.out")"
grep -q "behind NAT: the seed saw this join come from 10.231.0.254, not from 192.168.77.2:4747" \
	"$WORK/join-home.out" && ok "join says why (NAT, the source the seed saw)" || fail "join does not say why"
grep -q "RPC address: 10.231.0.2:4747" "$WORK/join-usa.out" && ok "usa-01 keeps its public address" \
	|| fail "usa-01's join: $(cat "$WORK/join-usa.out")"
# its RPC server binds the overlay address itself: the interface must be up
# before the server binds
LISTEN[home]=10.42.0.3:$PORT
daemon_start home || finish
# home's RPC port counts what arrives over WireGuard and what does not
nsx home iptables -A INPUT -i "${IFN[home]}" -p tcp --dport $PORT -j ACCEPT
nsx home iptables -A INPUT -i eth0 -p tcp --dport $PORT -j ACCEPT

if all_alive "hub usa home" "home-01,hub,usa-01" 30; then
	ok "all three alive in every view after $WAIT_MS ms; leader $L_NAME"
else
	fail "the three nodes did not all see each other alive within 30 s"; finish
fi
for n in hub usa home; do
	a=$(jq -r '.peers[] | select(.name == "home-01") | .addr' "$WORK/st-$n.json")
	[ "$a" = "10.42.0.3:4747" ] || fail "$n has home-01 at $a"
done
ok "every node calls home-01 at 10.42.0.3:4747 (its overlay address)"
sleep 4.5  # two heartbeats more
over=$(nsx home iptables -nvxL INPUT | awk -v i="${IFN[home]}" '$6 == i { print $1 }')
under=$(nsx home iptables -nvxL INPUT | awk '$6 == "eth0" && /dpt:4747/ { print $1 }')
[ "${over:-0}" -ge 4 ] && [ "${under:-1}" = 0 ] \
	&& ok "home-01's RPC traffic crosses WireGuard ($over packets on ${IFN[home]}, 0 on eth0)" \
	|| fail "home-01's RPC port: $over packets over ${IFN[home]}, $under on eth0"

# --- the leader and its bot runner
[ "$L_NAME" = home-01 ] && ok "home-01 (priority 1) leads" || fail "leader is $L_NAME, want home-01"
for _ in $(seq 60); do [ "$(runlog running)" = home-01 ] && break; sleep 0.25; done
R=$(runlog running)
[ "$R" = home-01 ] && ok "runner log: the bot runner runs on home-01 alone" || fail "runner log: running [$R]"

# --- relay: ping and 100 MB home -> usa through the hub
relay0=$(show hub && jq '.stats.relay_packets' "$WORK/show-hub.json")
nsx home ping -c 3 -i 0.2 -W 2 10.42.0.2 >"$WORK/ping.out" 2>&1 \
	&& ok "home-01 pings usa-01 over the overlay: $(tail -1 "$WORK/ping.out")" || fail "ping home->usa: $(cat "$WORK/ping.out")"
head -c 100000000 /dev/urandom >"$WORK/blob"
want=$(sha256sum "$WORK/blob" | cut -d' ' -f1)
nsx usa python3 "$HERE/xfer.py" recv 10.42.0.2 5001 >"$WORK/recv.out" 2>&1 &
RECV=$!
t0=$(now_ms)
nsx home python3 "$HERE/xfer.py" send 10.42.0.2 5001 "$WORK/blob" || fail "sender failed"
wait $RECV
t1=$(now_ms)
read -r got_n got_h <"$WORK/recv.out"
if [ "$got_n" = 100000000 ] && [ "$got_h" = "$want" ]; then
	ok "100 MB home-01 -> usa-01 through the hub's relay, SHA-256 equal ($(( 800000 / (t1 - t0 + 1) )) Mbit/s)"
else
	fail "transfer: got $(cat "$WORK/recv.out"), want 100000000 $want"
fi
rm -f "$WORK/blob"
show hub
relay1=$(jq '.stats.relay_packets' "$WORK/show-hub.json")
jq -e '[.peers[] | select(.role == "client" and .latest_handshake > 0 and .rx_bytes > 0 and .tx_bytes > 0 and (.endpoint | length) > 0)] | length == 2' \
	"$WORK/show-hub.json" >/dev/null && ok "show --json at the hub: both clients with endpoint, handshake, rx/tx: $(jq -c '[.peers[] | select(.role == "client") | [.name, .endpoint, .rx_bytes]]' "$WORK/show-hub.json")" \
	|| fail "show --json at the hub: $(jq -c .peers "$WORK/show-hub.json")"
[ "$relay1" -gt $((relay0 + 5000)) ] && ok "the hub relayed it: relay_packets $relay0 -> $relay1, dropped $(jq .stats.relay_dropped "$WORK/show-hub.json")" \
	|| fail "relay_packets $relay0 -> $relay1"
nsx hub wg show "${IFN[hub]}" >"$WORK/wgshow.out" 2>&1
cat "$WORK/wgshow.out"
KU=$(wg_key hub usa-01); KH=$(wg_key hub home-01); KHUB=$(wg_key hub hub)
for k in "$KU" "$KH"; do
	[ "$(handshake_at hub "$k")" -gt 0 ] 2>/dev/null || fail "wg show: no handshake with $k"
done
[ "$(grep -c "latest handshake" "$WORK/wgshow.out")" = 2 ] && ok "wg show at the hub: both clients with a handshake" \
	|| fail "wg show at the hub"
"$CLI" --state-dir "$WORK/usa" ping home-01 -c 2 >"$WORK/cping.out" 2>&1 \
	&& ok "constella ping home-01 from usa-01: $(grep -c 'time=' "$WORK/cping.out") answers" || fail "constella ping: $(cat "$WORK/cping.out")"
grep -q "overlay .* time=" "$WORK/cping.out" && grep -q "RPC address .* time=" "$WORK/cping.out" \
	|| fail "constella ping did not print both paths: $(cat "$WORK/cping.out")"
# where ping sockets are permitted, the probe is an ICMP echo
nsx usa sysctl -qw net.ipv4.ping_group_range="0 2147483647"
nsx usa "$CLI" --state-dir "$WORK/usa" ping home-01 -c 2 >"$WORK/cping.out" 2>&1 \
	&& grep -q "probe: ICMP echo" "$WORK/cping.out" && grep -q "^overlay .*10.42.0.3 .* time=" "$WORK/cping.out" \
	&& ok "constella ping with ping sockets permitted: ICMP echo ($(grep -c 'time=' "$WORK/cping.out") answers)" \
	|| fail "constella ping (ICMP): $(cat "$WORK/cping.out")"
"$CLI" --state-dir "$WORK/hub" show >"$WORK/show.txt" && grep -q "home-01 *10.42.0.3 *client *direct" "$WORK/show.txt" \
	&& ok "constella show at the hub lists home-01 (direct)" || fail "constella show: $(cat "$WORK/show.txt")"
show usa
[ "$(jq -r '.peers[] | select(.name == "home-01") | .via' "$WORK/show-usa.json")" = hub ] \
	&& ok "usa-01 reaches home-01 through the hub" || fail "usa-01's view of home-01: $(jq -c '.peers' "$WORK/show-usa.json")"
jq -e '.vpn.mode == "client" and .vpn.address == "10.42.0.3/24" and (.vpn.public_key | length) == 44 and .vpn.interface != ""' \
	"$WORK/st-home.json" >/dev/null && ok "status --json vpn of home-01: $(jq -c .vpn "$WORK/st-home.json")" || fail "status vpn: $(jq -c .vpn "$WORK/st-home.json")"
jq -e '[.peers[] | select((.wg_pubkey | length) == 44 and (.overlay_addr | test("^10\\.42\\.0\\.[123]$")))] | length == 3' \
	"$WORK/st-usa.json" >/dev/null && ok "status --json peers carry overlay_addr and wg_pubkey: $(jq -c '[.peers[] | [.name, .overlay_addr, .vpn_role]]' "$WORK/st-usa.json")" \
	|| fail "status --json peers: $(jq -c '[.peers[] | [.name, .overlay_addr, .wg_pubkey]]' "$WORK/st-usa.json")"

# --- reconcile wins over a manual wg set
nsx hub wg set "${IFN[hub]}" peer "$KU" allowed-ips 10.42.0.99/32
for _ in $(seq 40); do
	[ "$(nsx hub wg show "${IFN[hub]}" allowed-ips | awk -v k="$KU" '$1 == k { print $2 }')" = 10.42.0.2/32 ] && break
	sleep 0.25
done
[ "$(nsx hub wg show "${IFN[hub]}" allowed-ips | awk -v k="$KU" '$1 == k { print $2 }')" = 10.42.0.2/32 ] \
	&& ok "a manual wg set of usa-01's allowed-ips is undone by reconcile" || fail "manual allowed-ips stayed"

# --- ... and over a deleted interface: the hub makes it again
nsx hub ip link del "${IFN[hub]}"
t_del=$(now_ms)
back=
for _ in $(seq 60); do
	if nsx hub ip -4 -br addr show "${IFN[hub]}" 2>/dev/null | grep -q "10.42.0.1/24" &&
		nsx home ping -c1 -W1 10.42.0.2 >/dev/null 2>&1; then back=$(( $(now_ms) - t_del )); break; fi
	sleep 0.25
done
[ -n "$back" ] && grep -q "overlay: interface ${IFN[hub]} was deleted: creating it again" "$WORK/hub.log" \
	&& ok "ip link del of the hub's interface: made again, home-01 reaches usa-01 through it after $back ms" \
	|| fail "the hub's deleted interface did not come back: $(grep overlay "$WORK/hub.log" | tail -3)"

# --- the hub dies, the others count it down, it comes back
daemon_kill hub
for _ in $(seq 60); do
	status usa; status home
	[ "$(jq -r '.peers[] | select(.name == "hub") | .status' "$WORK/st-usa.json")" = down ] &&
		[ "$(jq -r '.peers[] | select(.name == "hub") | .status' "$WORK/st-home.json")" = down ] && break
	sleep 0.25
done
[ "$(jq -r '.peers[] | select(.name == "hub") | .status' "$WORK/st-home.json")" = down ] \
	&& ok "after kill -9 the hub is down for usa-01 and home-01" || fail "the hub never counted down"
# a handshake newer than this second is one of the new daemon's (the old
# one has been dead for seconds)
t_up=$(date +%s)
t_start=$(now_ms)
daemon_start hub || finish
hs_ms=
for _ in $(seq 200); do
	hu=$(handshake_at hub "$KU"); hh=$(handshake_at hub "$KH")
	if [ "${hu:-0}" -ge "$t_up" ] && [ "${hh:-0}" -ge "$t_up" ]; then hs_ms=$(( $(now_ms) - t_start )); break; fi
	sleep 0.05
done
[ -n "$hs_ms" ] && ok "after the restart both clients have a new session in $hs_ms ms (from the daemon start)" \
	|| fail "no new handshakes with both clients after the hub restarted"
if all_alive "hub usa home" "home-01,hub,usa-01" 30; then
	whole=$(( $(now_ms) - t_start ))
	ok "cluster whole again $whole ms after the hub's restart (leader $L_NAME)"
	[ "$whole" -lt 20000 ] || fail "cluster whole only after $whole ms (bound 20 s)"
else
	fail "cluster not whole within 30 s of the hub's restart"
fi
nsx home ping -c 2 -i 0.2 -W 2 10.42.0.2 >/dev/null && ok "home-01 reaches usa-01 again" || fail "no relay after restart"
echo "MEASURED hub_restart_handshakes_ms=${hs_ms:-none} hub_restart_whole_ms=${whole:-none}"

# --- removal
# home-01 must not hear of its removal yet (it would drop its own peer, see
# below): its next packets are those of its live session with the hub
nsx home iptables -I INPUT 1 -p tcp --dport $PORT -j DROP
nsx home iptables -I OUTPUT 1 -p tcp --dport $PORT -j DROP
show hub
d0=$(jq '.stats.rx_unknown_index + .stats.rx_handshake_rejected' "$WORK/show-hub.json")
"$CLI" --state-dir "$WORK/usa" remove home-01 >"$WORK/out" 2>&1 && ok "remove home-01 (through usa-01)" || fail "remove: $(cat "$WORK/out")"
gone=0
for _ in $(seq 60); do
	nsx hub wg show "${IFN[hub]}" peers | grep -qF "$KH" || { gone=1; break; }
	sleep 0.1
done
[ $gone = 1 ] && ok "home-01's peer is gone from the hub's device" || fail "home-01's peer still on the hub"
"$CLI" --state-dir "$WORK/usa" remove hub >"$WORK/out" 2>&1 && fail "the hub could be removed" \
	|| { grep -q "cannot remove the overlay hub" "$WORK/out" && ok "the hub cannot be removed: $(cat "$WORK/out")" \
	|| fail "removing the hub: $(cat "$WORK/out")"; }
nsx home ping -c 3 -i 0.3 -W 1 10.42.0.1 >/dev/null 2>&1 && fail "home-01 still reaches the hub"
for _ in $(seq 40); do
	show hub
	d1=$(jq '.stats.rx_unknown_index + .stats.rx_handshake_rejected' "$WORK/show-hub.json")
	[ "$d1" -gt "$d0" ] && break
	sleep 0.25
done
[ "$d1" -gt "$d0" ] && ok "home-01's packets are dropped at the hub and counted ($(jq -c '{rx_unknown_index: .stats.rx_unknown_index, rx_handshake_rejected: .stats.rx_handshake_rejected}' "$WORK/show-hub.json"))" \
	|| fail "no drop counted at the hub ($d0 -> $d1)"
all_alive "hub usa" "hub,usa-01" 20 && ok "hub and usa-01 carry on without home-01" || fail "hub and usa-01 do not agree after the removal"
# once home-01 hears it was removed, its own device falls silent: no peer
# left, nothing more knocks at the hub
nsx home iptables -D INPUT -p tcp --dport $PORT -j DROP
nsx home iptables -D OUTPUT -p tcp --dport $PORT -j DROP
for _ in $(seq 60); do
	[ -z "$(nsx home wg show "${IFN[home]}" peers)" ] && break
	sleep 0.25
done
[ -z "$(nsx home wg show "${IFN[home]}" peers)" ] && grep -q "removed from the network" "$WORK/home.log" \
	&& ok "the removed home-01 drops its own hub peer: $(grep -o 'overlay: this node was removed.*' "$WORK/home.log" | head -1)" \
	|| fail "home-01 still has peers after its removal: $(nsx home wg show "${IFN[home]}" peers)"
# --- the private keys: 0600, in no log, no view, no other node's files
leaks=0
for n in hub usa home; do
	k=$(tr -d '\n' <"$WORK/$n/wg_private_key")
	[ ${#k} = 44 ] && [ "$(stat -c %a "$WORK/$n/wg_private_key")" = 600 ] || { fail "$n's key file"; leaks=1; }
	for f in "$WORK"/*.log "$WORK"/st-*.json "$WORK"/show-*.json "$WORK"/join-*.out "$WORK"/cping.out; do
		grep -qF -- "$k" "$f" && { fail "$n's private key in $(basename "$f")"; leaks=1; }
	done
	for m in hub usa home; do
		[ "$m" = "$n" ] && continue
		grep -rqF -- "$k" "$WORK/$m" && { fail "$n's private key in $m's state directory"; leaks=1; }
	done
done
[ $leaks = 0 ] && ok "the three private keys: 0600, in no log, status, show, join output or other node's files"
for n in hub usa home; do daemon_stop "$n"; done
for n in hub usa home; do
	nsx "$n" ip link show "${IFN[$n]}" >/dev/null 2>&1 && fail "$n's interface outlived the daemon"
done
finish
