#!/usr/bin/env bash
# The overlay inside constellad, against the standalone device, in one run:
#   1. TCP single stream (iperf3, SECS s) between two namespaces on a veth
#      pair: constella-wg <-> constella-wg (configured with wg), then
#      constellad (hub) <-> constellad (client) on the same pair. Target:
#      embedded within 10 % of standalone.
#   2. Relay: three namespaces on a bridge; client -> hub -> client through
#      constellad's relay, against a direct constella-wg tunnel between the
#      same two clients. Target: relay >= 1/2 of direct.
#   3. Idle RSS of constellad after IDLE s: a hub with one client against a
#      network without an overlay (same build, same namespaces). Target:
#      growth < 4 MiB.
#   4. Hub restart (kill -9): time until a NAT'd client has a new session,
#      with the hub's endpoint cache (vpn_endpoints.json) and without it
#      (the client's own timers: keepalive 25 s, retry after 15 s).
#
#   BUILD=build bash bench/overlay.sh          SECS=5 IDLE=10 by default
#
# Needs root, iperf3, python3, wg. Everything it creates is removed on exit.
set -euo pipefail
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
CWG=${CWG:-$here/$BUILD/wg_userspace/constella-wg}
CLI=${CLI:-$here/$BUILD/node/constella}
DAEMON=${DAEMON:-$here/$BUILD/node/constellad}
SECS=${SECS:-5}
IDLE=${IDLE:-10}
[ "$(id -u)" -eq 0 ] || { echo "overlay.sh needs root" >&2; exit 1; }
for b in "$CWG" "$CLI" "$DAEMON"; do
  [ -x "$b" ] || { echo "build first: $b missing (cmake --build $BUILD)" >&2; exit 1; }
done
umask 077
W=$(mktemp -d); chmod 755 "$W"; SUF=$$; PIDS=(); NSS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
  rm -f /var/run/wireguard/*"$SUF"*.sock
  rm -rf "$W"
}
trap cleanup EXIT

mkns() { ip netns add "$1"; NSS+=("$1"); ip -n "$1" link set lo up; }
jget() { python3 -c "import json,sys; d=json.load(open('$W/ip.json')); print($1)" 2>/dev/null || echo 0; }
iperf_tcp() { # ns server-ip -> Gbit/s
  ip netns exec "$1" iperf3 --json -c "$2" -p 5299 -t "$SECS" > "$W/ip.json" 2>/dev/null || echo '{}' > "$W/ip.json"
  jget "round(d['end']['sum_received']['bits_per_second']/1e9, 3)"
}
iperf_server() { ip netns exec "$1" iperf3 -s -p 5299 >/dev/null 2>&1 & PIDS+=($!); sleep 0.3; }
# cwg NS IFNAME KEYFILE PORT: a standalone constella-wg
cwg() {
  ip netns exec "$1" env LOG_LEVEL=error "$CWG" -f "$2" >/dev/null 2>&1 & PIDS+=($!)
  for _ in $(seq 100); do [ -S "/var/run/wireguard/$2.sock" ] && break; sleep 0.05; done
  ip netns exec "$1" wg set "$2" private-key "$3" listen-port "$4"
}
# daemon NS DIR: constellad, waits until it listens; LASTPID
daemon() {
  (cd "$W" && exec ip netns exec "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$DAEMON" \
    --state-dir "$2" --listen 0.0.0.0:4747 >>"$2.log" 2>&1) &
  LASTPID=$!; PIDS+=($LASTPID)
  for _ in $(seq 100); do grep -q "of network .* listening on" "$2.log" 2>/dev/null && return 0; sleep 0.1; done
  echo "constellad in $1 did not start: $(tail -3 "$2.log")" >&2; exit 1
}
wait_ping() { for _ in $(seq 100); do ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no ping $1 -> $2" >&2; exit 1; }
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; PIDS=()
  for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done; NSS=()
}
for s in a b c; do wg genkey > "$W/$s.key"; wg pubkey < "$W/$s.key" > "$W/$s.pub"; done

# ---- 1. embedded vs standalone, one veth pair
A=boa$SUF; B=bob$SUF
mkns $A; mkns $B
ip link add va netns $A type veth peer name vb netns $B
ip -n $A addr add 10.232.0.1/24 dev va; ip -n $A link set va up
ip -n $B addr add 10.232.0.2/24 dev vb; ip -n $B link set vb up
ia=bca$SUF; ib=bcb$SUF
cwg $A $ia "$W/a.key" 51900; cwg $B $ib "$W/b.key" 51900
ip netns exec $A wg set $ia peer "$(cat "$W/b.pub")" allowed-ips 10.42.0.2/32 endpoint 10.232.0.2:51900
ip netns exec $B wg set $ib peer "$(cat "$W/a.pub")" allowed-ips 10.42.0.0/24 endpoint 10.232.0.1:51900
ip -n $A addr add 10.42.0.1/24 dev $ia; ip -n $A link set $ia up
ip -n $B addr add 10.42.0.2/24 dev $ib; ip -n $B link set $ib up
wait_ping $A 10.42.0.2
iperf_server $B
STANDALONE=$(iperf_tcp $A 10.42.0.2)
stop_all
mkns $A; mkns $B
ip link add va netns $A type veth peer name vb netns $B
ip -n $A addr add 10.232.0.1/24 dev va; ip -n $A link set va up
ip -n $B addr add 10.232.0.2/24 dev vb; ip -n $B link set vb up
"$CLI" --state-dir "$W/h" init --server-name hub --public-addr 10.232.0.1:4747 --owner @b \
  --vpn-mode hub --vpn-interface bea$SUF --vpn-listen-port 51900 >/dev/null
daemon $A "$W/h"
ip netns exec $B "$CLI" --state-dir "$W/c" join --server-name c --join "$("$CLI" --state-dir "$W/h" invite 2>/dev/null)" \
  --public-addr 10.232.0.2:4747 --vpn-interface beb$SUF >/dev/null
daemon $B "$W/c"
wait_ping $A 10.42.0.2
iperf_server $B
EMBEDDED=$(iperf_tcp $A 10.42.0.2)
stop_all
rm -rf "$W/h" "$W/c" "$W"/*.log

# ---- 2. relay vs direct: hub and two clients on a bridge
S=bos$SUF; H=boh$SUF; C1=bo1$SUF; C2=bo2$SUF
bridge_up() {
  mkns $S; ip -n $S link add br0 type bridge; ip -n $S link set br0 up
  local i=1 n
  for n in $H $C1 $C2; do
    mkns $n
    ip link add eth0 netns $n type veth peer name p$i netns $S
    ip -n $S link set p$i master br0; ip -n $S link set p$i up
    ip -n $n addr add 10.233.0.$i/24 dev eth0; ip -n $n link set eth0 up
    i=$((i + 1))
  done
  wait_ping $C1 10.233.0.3
}
bridge_up
cwg $C1 bd1$SUF "$W/b.key" 51901; cwg $C2 bd2$SUF "$W/c.key" 51902
ip netns exec $C1 wg set bd1$SUF peer "$(cat "$W/c.pub")" allowed-ips 10.42.0.3/32 endpoint 10.233.0.3:51902
ip netns exec $C2 wg set bd2$SUF peer "$(cat "$W/b.pub")" allowed-ips 10.42.0.2/32 endpoint 10.233.0.2:51901
ip -n $C1 addr add 10.42.0.2/24 dev bd1$SUF; ip -n $C1 link set bd1$SUF up
ip -n $C2 addr add 10.42.0.3/24 dev bd2$SUF; ip -n $C2 link set bd2$SUF up
wait_ping $C1 10.42.0.3
iperf_server $C2
DIRECT=$(iperf_tcp $C1 10.42.0.3)
stop_all
bridge_up
"$CLI" --state-dir "$W/h" init --server-name hub --public-addr 10.233.0.1:4747 --owner @b \
  --vpn-mode hub --vpn-interface brh$SUF >/dev/null
daemon $H "$W/h"; HUBPID=$LASTPID
for i in 1 2; do
  n=$C1; [ $i = 2 ] && n=$C2
  ip netns exec $n "$CLI" --state-dir "$W/c$i" join --server-name c$i --join "$("$CLI" --state-dir "$W/h" invite 2>/dev/null)" \
    --public-addr 10.233.0.$((i + 1)):4747 --vpn-interface br$i$SUF >/dev/null
  daemon $n "$W/c$i"
  eval "C${i}PID=\$LASTPID"
done
wait_ping $C1 10.42.0.3
[ "$(ip netns exec $H sysctl -n net.ipv4.ip_forward)" = 0 ] || { echo "hub forwards: not a relay measure" >&2; exit 1; }
iperf_server $C2
RELAY=$(iperf_tcp $C1 10.42.0.3)

# the hub's RSS right after carrying the relay run (its receive batch
# buffers, 64 x 64 KiB for UDP GRO, are touched now)
RSS_HUB_BUSY=$(rss_kib $HUBPID)
stop_all
rm -rf "$W/h" "$W/c1" "$W/c2" "$W"/*.log

# ---- 3. idle RSS: fresh daemons, IDLE s with heartbeats only; the same
# with no overlay
rss_net() { # overlay|plain -> RSS_H RSS_C (KiB)
  local vpn=() hp cp
  bridge_up
  [ "$1" = overlay ] && vpn=(--vpn-mode hub --vpn-interface bri$SUF)
  "$CLI" --state-dir "$W/i" init --server-name hub --public-addr 10.233.0.1:4747 --owner @b "${vpn[@]}" >/dev/null
  daemon $H "$W/i"; hp=$LASTPID
  ip netns exec $C1 "$CLI" --state-dir "$W/j" join --server-name j --join "$("$CLI" --state-dir "$W/i" invite 2>/dev/null)" \
    --public-addr 10.233.0.2:4747 --vpn-interface brj$SUF >/dev/null
  daemon $C1 "$W/j"; cp=$LASTPID
  sleep "$IDLE"
  RSS_H=$(rss_kib $hp); RSS_C=$(rss_kib $cp)
  stop_all
  rm -rf "$W/i" "$W/j" "$W"/*.log
}
rss_net overlay; RSS_HUB=$RSS_H; RSS_C1=$RSS_C
rss_net plain; RSS_PLAIN=$RSS_H

# ---- 4. hub restart: a NAT'd client's new session, with and without the endpoint cache
restart_case() { # $1 = keep|drop the cache -> ms
  local R=bor$SUF HM=bnh$SUF HO=bnc$SUF t0 t_up k hs
  mkns $S; ip -n $S link add br0 type bridge; ip -n $S link set br0 up
  mkns $HM; mkns $R; mkns $HO
  ip link add eth0 netns $HM type veth peer name p1 netns $S
  ip link add eth0 netns $R type veth peer name p2 netns $S
  ip link add lan netns $R type veth peer name eth0 netns $HO
  for p in p1 p2; do ip -n $S link set $p master br0; ip -n $S link set $p up; done
  ip -n $HM addr add 10.234.0.1/24 dev eth0; ip -n $HM link set eth0 up
  ip -n $R addr add 10.234.0.254/24 dev eth0; ip -n $R link set eth0 up
  ip -n $R addr add 192.168.78.1/24 dev lan; ip -n $R link set lan up
  ip -n $HO addr add 192.168.78.2/24 dev eth0; ip -n $HO link set eth0 up
  ip -n $HO route add default via 192.168.78.1
  ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
  ip netns exec $R iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
  wait_ping $HO 10.234.0.1
  "$CLI" --state-dir "$W/rh" init --server-name hub --public-addr 10.234.0.1:4747 --owner @b \
    --vpn-mode hub --vpn-interface brs$SUF >/dev/null
  daemon $HM "$W/rh"; local hp=$LASTPID
  ip netns exec $HO "$CLI" --state-dir "$W/rc" join --server-name home --join "$("$CLI" --state-dir "$W/rh" invite 2>/dev/null)" \
    --vpn-interface brc$SUF >/dev/null
  daemon $HO "$W/rc"
  wait_ping $HM 10.42.0.2
  sleep 3.5  # the hub's periodic reconcile records the client's endpoint
  k=$(python3 -c "import json; print([p['wg_pubkey'] for p in json.load(open('$W/rh/network_state.json'))['peers'] if p['name']=='home'][0])")
  kill -9 $hp; wait $hp 2>/dev/null || true
  [ "$1" = drop ] && rm -f "$W/rh/vpn_endpoints.json"
  sleep 1
  t0=$(date +%s%N); t_up=$(date +%s)
  daemon $HM "$W/rh"
  hs=
  for _ in $(seq 800); do
    local h; h=$(ip netns exec $HM wg show brs$SUF latest-handshakes 2>/dev/null | awk -v k="$k" '$1 == k { print $2 }')
    if [ "${h:-0}" -ge "$t_up" ]; then hs=$(( ($(date +%s%N) - t0) / 1000000 )); break; fi
    sleep 0.05
  done
  stop_all
  rm -rf "$W/rh" "$W/rc" "$W"/*.log
  echo "${hs:-none}"
}
RESTART_CACHE=$(restart_case keep)
RESTART_NOCACHE=$(restart_case drop)

echo "# bench/overlay.sh on $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d), SECS=$SECS, IDLE=$IDLE s, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| measure | value | against | ratio | target |"
echo "|---|---|---|---|---|"
python3 - "$EMBEDDED" "$STANDALONE" "$RELAY" "$DIRECT" "$RSS_HUB" "$RSS_C1" "$RSS_PLAIN" "$RESTART_CACHE" "$RESTART_NOCACHE" "$RSS_HUB_BUSY" <<'PY'
import sys
emb, sa, rel, dire = (float(x) for x in sys.argv[1:5])
hub, c1, plain = (int(x) / 1024 for x in sys.argv[5:8])
rc, rn = sys.argv[8:10]
busy = int(sys.argv[10]) / 1024
def r(a, b): return a / b if b else float('nan')
print(f"| TCP 1 stream, constellad hub -> client (embedded) | {emb:.2f} Gbit/s | constella-wg <-> constella-wg {sa:.2f} Gbit/s | {r(emb, sa):.2f} | >= 0.90 {'MET' if r(emb, sa) >= 0.9 else 'not met'} |")
print(f"| TCP 1 stream, client -> hub relay -> client | {rel:.2f} Gbit/s | direct constella-wg tunnel {dire:.2f} Gbit/s | {r(rel, dire):.2f} | >= 0.50 {'MET' if r(rel, dire) >= 0.5 else 'not met'} |")
print(f"| idle RSS, constellad hub with the overlay (1 client) | {hub:.1f} MiB | constellad without overlay {plain:.1f} MiB | +{hub - plain:.1f} MiB | < +4 MiB {'MET' if hub - plain < 4 else 'not met'} |")
print(f"| idle RSS, constellad client with the overlay | {c1:.1f} MiB | | +{c1 - plain:.1f} MiB | |")
print(f"| RSS of the hub right after relaying the iperf run | {busy:.1f} MiB | | +{busy - plain:.1f} MiB | (not idle: batch buffers touched) |")
print(f"| hub kill -9 + restart: NAT'd client's new session, from the daemon start | {rc} ms | without the endpoint cache: {rn} ms | | about 1 s |")
PY
