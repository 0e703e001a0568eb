# Shared helpers for the device tests: namespaces, devices and transfers that
# the test creates and always removes (trap), processes tracked by PID.
set -euo pipefail
CWG=${CWG:?path to constella-wg}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
for t in wireguard-go wg ip ping python3; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
umask 077
SUF=$$
WORK=$(mktemp -d)
PIDS=()
NSS=()
IFS_CREATED=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
  for i in "${IFS_CREATED[@]}"; do rm -f "/var/run/wireguard/$i.sock"; done
  rm -rf "$WORK"
}
trap cleanup EXIT

ns_new() { ip netns add "$1"; NSS+=("$1"); ip -n "$1" link set lo up; }
# veth between two namespaces: link NS1 ADDR1/P NS2 ADDR2/P
link() {
  local a=v$((RANDOM))a$SUF b=v$((RANDOM))b$SUF
  a=${a:0:15}; b=${b:0:15}
  ip link add "$a" netns "$1" type veth peer name "$b" netns "$3"
  ip -n "$1" addr add "$2" dev "$a"; ip -n "$1" link set "$a" up
  ip -n "$3" addr add "$4" dev "$b"; ip -n "$3" link set "$b" up
  LINK_A=$a; LINK_B=$b
}
keypair() { wg genkey > "$WORK/$1.key"; wg pubkey < "$WORK/$1.key" > "$WORK/$1.pub"; }
pub() { cat "$WORK/$1.pub"; }
wait_sock() {
  for _ in $(seq 1 100); do [ -S "/var/run/wireguard/$1.sock" ] && return 0; sleep 0.05; done
  echo "no UAPI socket for $1"; return 1
}
# start IMPL NS IFNAME [env...]: IMPL is cwg or wgo
start_dev() {
  local impl=$1 ns=$2 ifn=$3; shift 3
  IFS_CREATED+=("$ifn")
  if [ "$impl" = cwg ]; then
    ip netns exec "$ns" env LOG_LEVEL=${LOG_LEVEL:-info} "$@" "$CWG" -f "$ifn" > "$WORK/$ifn.log" 2>&1 &
  else
    ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error "$@" wireguard-go -f "$ifn" > "$WORK/$ifn.log" 2>&1 &
  fi
  PIDS+=($!)
  LAST_PID=$!
  wait_sock "$ifn"
}
# addr NS IF ADDR4/P ADDR6/P
tunaddr() {
  ip -n "$1" addr add "$3" dev "$2"
  [ -n "${4:-}" ] && ip -n "$1" addr add "$4" dev "$2" nodad
  ip -n "$1" link set "$2" up
}
# ping from NS to ADDR, count; fails the test with a message
must_ping() {
  local ns=$1 addr=$2 n=${3:-3}
  # -w: keep pinging until n replies or 12 s. A first initiation lost while
  # the far side is still being configured is retried after REKEY_TIMEOUT
  # (5 s), as WireGuard does; a fixed 3-packet burst would call that a failure.
  ip netns exec "$ns" ping -c "$n" -i 0.2 -w 12 "$addr" > "$WORK/ping.out" 2>&1 || {
    echo "FAIL: ping $addr from $ns"; cat "$WORK/ping.out"; return 1; }
}
# TCP transfer of MB megabytes from NS_A to ADDR (listening in NS_B),
# sha256 computed on both ends must match.
transfer() {
  local nsa=$1 nsb=$2 addr=$3 mb=$4 port=${5:-7000}
  ip netns exec "$nsb" python3 - "$addr" "$port" > "$WORK/recv.out" 2>&1 <<'PY' &
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60)
h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest())
PY
  local rpid=$!
  sleep 0.3
  ip netns exec "$nsa" python3 - "$addr" "$port" "$mb" > "$WORK/send.out" 2>&1 <<'PY' || true
import hashlib, os, socket, sys, time
for _ in range(50):
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); break
    except OSError: time.sleep(0.1)
s.settimeout(60)
h = hashlib.sha256(); n = 0; total = int(sys.argv[3]) << 20
chunk = os.urandom(1 << 20)
while n < total:
    b = hashlib.sha256(chunk[:64] + n.to_bytes(8, 'little')).digest() + chunk[32:]
    s.sendall(b); h.update(b); n += len(b)
s.shutdown(socket.SHUT_WR); s.recv(1)
print(n, h.hexdigest())
PY
  wait $rpid || true
  if [ -s "$WORK/send.out" ] && [ "$(cat "$WORK/send.out")" = "$(cat "$WORK/recv.out")" ]; then
    echo "transfer ok: $(cat "$WORK/recv.out")"
  else
    echo "FAIL: transfer mismatch: sent [$(cat "$WORK/send.out")] received [$(cat "$WORK/recv.out")]"
    return 1
  fi
}

# For transfers that must run while something happens underneath (rekey,
# roaming): recv_sha NS ADDR PORT OUT starts a receiver in the background
# (PID in RECV_PID) that prints "bytes sha256"; send_for NS ADDR PORT SECS OUT
# sends random data for SECS seconds and prints the same for what it sent.
recv_sha() {
  ip netns exec "$1" python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(30)
c, _ = s.accept(); c.settimeout(30); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest())' "$2" "$3" > "$4" &
  RECV_PID=$!
  sleep 0.3
}
send_for() {
  # The receiver's python may still be starting on a loaded machine: the
  # connection is retried for up to 5 s, as transfer() does.
  ip netns exec "$1" python3 -c '
import hashlib, os, socket, sys, time
for i in range(50):
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10); break
    except ConnectionRefusedError:
        if i == 49: raise
        time.sleep(0.1)
s.settimeout(30)
h = hashlib.sha256(); n = 0; end = time.time() + float(sys.argv[3]); blk = os.urandom(65536)
while time.time() < end:
    s.sendall(blk); h.update(blk); n += len(blk); time.sleep(0.002)
s.shutdown(socket.SHUT_WR); s.recv(1); print(n, h.hexdigest())' "$2" "$3" "$4" > "$5" || true
}
