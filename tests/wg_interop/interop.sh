#!/usr/bin/env bash
# Interop with a real wireguard-go: one namespace runs wireguard-go on a TUN
# interface configured with `wg`, the other runs interop_peer (wg_userspace
# + a UDP socket). Both directions, with and without a preshared key.
# Everything is created here and removed on exit.
set -euo pipefail
PEER_BIN=${1:?usage: interop.sh path/to/interop_peer}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
for t in wireguard-go wg ip ping; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done

umask 077
id=$$
NA=cwia$id; NB=cwib$id; IF=wgi$((id % 100000))
WORK=$(mktemp -d)
WGPID=""
cleanup() {
  [ -n "$WGPID" ] && kill "$WGPID" 2>/dev/null || true
  [ -n "$WGPID" ] && wait "$WGPID" 2>/dev/null || true
  ip netns del $NA 2>/dev/null || true
  ip netns del $NB 2>/dev/null || true
  rm -f /var/run/wireguard/$IF.sock
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add $NA
ip netns add $NB
ip link add va$id netns $NA type veth peer name vb$id netns $NB
ip -n $NA addr add 10.201.77.1/30 dev va$id
ip -n $NB addr add 10.201.77.2/30 dev vb$id
ip -n $NA link set va$id up; ip -n $NA link set lo up
ip -n $NB link set vb$id up; ip -n $NB link set lo up

wg genkey > "$WORK/go.key"; wg pubkey < "$WORK/go.key" > "$WORK/go.pub"
wg genkey > "$WORK/our.key"; wg pubkey < "$WORK/our.key" > "$WORK/our.pub"
wg genpsk > "$WORK/psk"

ip netns exec $NB env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go -f $IF \
  > "$WORK/wggo.log" 2>&1 &
WGPID=$!
for _ in $(seq 1 50); do [ -S /var/run/wireguard/$IF.sock ] && break; sleep 0.1; done
[ -S /var/run/wireguard/$IF.sock ] || { echo "wireguard-go did not start"; cat "$WORK/wggo.log"; exit 1; }
ip netns exec $NB wg set $IF private-key "$WORK/go.key" listen-port 51820
ip -n $NB addr add 10.99.77.1/24 dev $IF
ip -n $NB link set $IF up

configure_peer() { # $1 = psk file or empty
  ip netns exec $NB wg set $IF peer "$(cat "$WORK/our.pub")" remove 2>/dev/null || true
  if [ -n "$1" ]; then
    ip netns exec $NB wg set $IF peer "$(cat "$WORK/our.pub")" preshared-key "$1" \
      allowed-ips 10.99.77.2/32 endpoint 10.201.77.1:41000
  else
    ip netns exec $NB wg set $IF peer "$(cat "$WORK/our.pub")" \
      allowed-ips 10.99.77.2/32 endpoint 10.201.77.1:41000
  fi
}

# wireguard-go's own view of our peer: "<rx> <tx>" bytes and the last handshake time.
go_counters() {
  local pub; pub=$(cat "$WORK/our.pub")
  local tr hs
  tr=$(ip netns exec $NB wg show $IF transfer | awk -v p="$pub" '$1 == p {print $2, $3}')
  hs=$(ip netns exec $NB wg show $IF latest-handshakes | awk -v p="$pub" '$1 == p {print $2}')
  echo "${tr:-0 0} ${hs:-0}"
}
# wireguard-go counts whole UDP payloads. Exact sizes: initiation 148,
# response 92, transport 32 + plaintext padded to 16 but never past the
# 1420 MTU (84-byte ping -> 96, 60-byte echo -> 64, 1420-byte echo -> 1420),
# so framing/padding errors show.
check_go_counted() { # $1 = label, $2 = expected rx, $3 = expected tx
  local rx tx hs
  read -r rx tx hs < <(go_counters)
  if [ "${hs:-0}" -gt 0 ] && [ "$rx" = "$2" ] && [ "$tx" = "$3" ]; then
    echo "PASS wireguard-go counted it ($1): rx=$rx tx=$tx handshake=$hs"
  else
    echo "FAIL wireguard-go counters ($1): rx=$rx tx=$tx handshake=$hs, want rx=$2 tx=$3"; fail=1
  fi
}

fail=0
for psk in "" "$WORK/psk"; do
  label=${psk:+with psk}; label=${label:-no psk}
  configure_peer "$psk"
  echo "== we initiate ($label)"
  if timeout 40 ip netns exec $NA "$PEER_BIN" initiate "$WORK/our.key" "$(cat "$WORK/go.pub")" \
       10.201.77.2 51820 41000 10.99.77.2 10.99.77.1 $psk; then
    echo "PASS initiate ($label)"
    check_go_counted "initiate, $label" $((148 + 2 * 32 + 64 + 1420)) $((92 + 2 * 32 + 64 + 1420))
  else
    echo "FAIL initiate ($label)"; fail=1
  fi
  configure_peer "$psk"   # fresh session state on wireguard-go's side
  echo "== wireguard-go initiates ($label)"
  timeout 40 ip netns exec $NA "$PEER_BIN" respond "$WORK/our.key" "$(cat "$WORK/go.pub")" \
       10.201.77.2 51820 41000 10.99.77.2 10.99.77.1 $psk > "$WORK/respond.log" 2>&1 &
  rpid=$!
  sleep 0.3
  # two default pings (84-byte packets) and one MTU-sized (1420 bytes)
  if ip netns exec $NB ping -c 2 -i 0.3 -W 3 10.99.77.2 > "$WORK/ping.log" 2>&1 &&
     ip netns exec $NB ping -c 1 -s 1392 -M do -W 3 10.99.77.2 >> "$WORK/ping.log" 2>&1; then
    echo "PASS respond: ping from wireguard-go answered ($label)"
  else
    echo "FAIL respond ($label)"; cat "$WORK/ping.log"; fail=1
  fi
  wait $rpid || { echo "FAIL respond peer exit ($label)"; fail=1; }
  cat "$WORK/respond.log"
  check_go_counted "respond, $label" $((92 + 2 * (32 + 96) + 32 + 1420)) $((148 + 2 * (32 + 96) + 32 + 1420))
done

# Negative control: the preshared key really takes part. Our side uses a PSK
# that wireguard-go does not have, so no handshake may complete.
configure_peer ""
echo "== we initiate with a PSK wireguard-go does not have (must fail)"
if timeout 40 ip netns exec $NA "$PEER_BIN" initiate "$WORK/our.key" "$(cat "$WORK/go.pub")" \
     10.201.77.2 51820 41000 10.99.77.2 10.99.77.1 "$WORK/psk" > "$WORK/neg.log" 2>&1; then
  echo "FAIL: handshake completed despite mismatched PSK"; cat "$WORK/neg.log"; fail=1
elif grep -q 'no response from wireguard-go' "$WORK/neg.log"; then
  echo "PASS mismatched PSK rejected"
else
  echo "FAIL: unexpected outcome with mismatched PSK"; cat "$WORK/neg.log"; fail=1
fi
exit $fail
