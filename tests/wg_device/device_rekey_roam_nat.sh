#!/usr/bin/env bash
# Rekey while traffic flows (shortened timers through the documented
# test-only CONSTELLA_WG_TEST_TIMERS), roaming (one side changes its underlay
# address mid-transfer), and a client behind a masquerading NAT with
# persistent keepalive reachable from the public side.
CWG=$1
. "$(dirname "$0")/lib.sh"
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

# --- rekey under traffic, against wireguard-go ---
NA=ka$SUF; NB=kb$SUF; IA=wka$((SUF % 100000)); IB=wkb$((SUF % 100000))
ns_new $NA; ns_new $NB
link $NA 10.215.0.1/30 $NB 10.215.0.2/30
keypair A; keypair B
start_dev cwg $NA $IA CONSTELLA_WG_TEST_TIMERS=rekey_after_time=2
start_dev wgo $NB $IB
ip netns exec $NA wg set $IA private-key "$WORK/A.key" listen-port 51850 \
  peer "$(pub B)" allowed-ips 10.216.0.2/32 endpoint 10.215.0.2:51851
ip netns exec $NB wg set $IB private-key "$WORK/B.key" listen-port 51851 \
  peer "$(pub A)" allowed-ips 10.216.0.1/32
tunaddr $NA $IA 10.216.0.1/24; tunaddr $NB $IB 10.216.0.2/24
must_ping $NA 10.216.0.2 1 || fail=1
h1=$(ip netns exec $NB wg show $IB latest-handshakes | cut -f2)
# ~8 s of transfer: several rekeys at 2 s must happen underneath it
recv_sha $NB 10.216.0.2 7100 "$WORK/rk.recv"; r=$RECV_PID
send_for $NA 10.216.0.2 7100 8 "$WORK/rk.send"
wait $r || true
h2=$(ip netns exec $NB wg show $IB latest-handshakes | cut -f2)
inits=$(grep -c "sending handshake initiation" "$WORK/$IA.log" || true)
if [ -s "$WORK/rk.send" ] && [ "$(cat "$WORK/rk.send")" = "$(cat "$WORK/rk.recv")" ]; then
  ok "8 s transfer across rekeys intact ($(cut -d' ' -f1 "$WORK/rk.recv") bytes)"
else bad "transfer across rekeys: [$(cat "$WORK/rk.send")] vs [$(cat "$WORK/rk.recv")]"; fi
if [ "$h2" -gt "$h1" ]; then ok "new handshake during the transfer ($h1 -> $h2)"; else bad "no rekey happened"; fi

# --- roaming: A moves to a new underlay address mid-transfer ---
recv_sha $NB 10.216.0.2 7101 "$WORK/rm.recv"; r=$RECV_PID
send_for $NA 10.216.0.2 7101 4 "$WORK/rm.send" &
s=$!
sleep 1.5
ip -n $NA addr add 10.215.0.5/32 dev $LINK_A
ip -n $NA addr del 10.215.0.1/30 dev $LINK_A
ip -n $NA route add 10.215.0.2/32 dev $LINK_A src 10.215.0.5
ip -n $NB route add 10.215.0.5/32 dev $LINK_B
wait $s || true; wait $r || true
ep=$(ip netns exec $NB wg show $IB endpoints | cut -f2)
if [ "$(cat "$WORK/rm.send")" = "$(cat "$WORK/rm.recv")" ] && [ -s "$WORK/rm.recv" ]; then
  ok "transfer survived the address change"; else bad "roaming transfer: [$(cat "$WORK/rm.send")] vs [$(cat "$WORK/rm.recv")]"; fi
case "$ep" in 10.215.0.5:*) ok "peer endpoint followed the roam ($ep)";; *) bad "endpoint did not follow: $ep";; esac

# --- NAT: client behind masquerade, persistent keepalive, reached from outside ---
NC=nc$SUF; NR=nr$SUF; NS=ns$SUF; IC=wnc$((SUF % 100000)); IS=wns$((SUF % 100000))
ns_new $NC; ns_new $NR; ns_new $NS
link $NC 192.168.77.2/24 $NR 192.168.77.1/24
link $NR 10.217.0.1/30 $NS 10.217.0.2/30
ip -n $NC route add default via 192.168.77.1
ip netns exec $NR sysctl -qw net.ipv4.ip_forward=1
if command -v iptables >/dev/null && ip netns exec $NR iptables -t nat -A POSTROUTING -o $LINK_A -j MASQUERADE 2>/dev/null; then :; else
  ip netns exec $NR nft -f - <<NFT
table ip nat { chain post { type nat hook postrouting priority 100; oifname "$LINK_A" masquerade; } }
NFT
fi
keypair C; keypair S
start_dev cwg $NC $IC; start_dev cwg $NS $IS
ip netns exec $NS wg set $IS private-key "$WORK/S.key" listen-port 51860 peer "$(pub C)" allowed-ips 10.218.0.2/32
ip netns exec $NC wg set $IC private-key "$WORK/C.key" \
  peer "$(pub S)" allowed-ips 10.218.0.1/32 endpoint 10.217.0.2:51860 persistent-keepalive 1
tunaddr $NC $IC 10.218.0.2/24; tunaddr $NS $IS 10.218.0.1/24
# No traffic from the client: only its keepalives open the NAT mapping.
for _ in $(seq 1 50); do
  ip netns exec $NS wg show $IS endpoints | grep -q 10.217.0.1 && break; sleep 0.1
done
ep=$(ip netns exec $NS wg show $IS endpoints | cut -f2)
case "$ep" in 10.217.0.1:*) ok "server sees the client through the NAT at $ep";; *) bad "no endpoint via NAT: $ep";; esac
sleep 3   # longer than nothing-but-keepalives idle
if ip netns exec $NS ping -c 3 -i 0.3 -W 2 10.218.0.2 > "$WORK/nat.out" 2>&1; then
  ok "public side reaches the NATed client"; else bad "public side cannot reach the client"; cat "$WORK/nat.out"; fi
exit $fail
