#!/usr/bin/env bash
# End-to-end tunnel benchmark: two network namespaces joined by veth, one
# WireGuard implementation in each, measured with iperf3 and ping. All pairs
# run in one invocation so their numbers are comparable, and the ratios
# constella-wg / wireguard-go are printed at the end.
#
#   BUILD=build bash bench/wg_netns.sh
#   PAIRS="wgo:wgo cwg:cwg cwg:wgo" SECS=5 BUILD=build bash bench/wg_netns.sh
#
# cwg = constella-wg from $BUILD, wgo = Debian's wireguard-go. Needs root,
# iperf3, ping, python3. Everything it creates is removed on exit.
set -euo pipefail
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
CWG=${CWG:-$BUILD/wg_userspace/constella-wg}
PAIRS=${PAIRS:-"wgo:wgo cwg:cwg cwg:wgo"}
SECS=${SECS:-5}
[ "$(id -u)" -eq 0 ] || { echo "wg_netns.sh needs root" >&2; exit 1; }
if [ ! -x "$CWG" ]; then
  cmake -S "$here" -B "$BUILD" >/dev/null
  cmake --build "$BUILD" --target constella-wg -j "$(nproc)" >/dev/null
fi
umask 077
W=$(mktemp -d); SUF=$$; PIDS=(); NSS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
  rm -f /var/run/wireguard/bw*"$SUF"*.sock
  rm -rf "$W"
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kib() { awk '/VmHWM/{print $2}' "/proc/$1/status"; }
iperf_json() { # ns args... -> json file $W/ip.json
  local ns=$1; shift
  ip netns exec "$ns" iperf3 --json "$@" > "$W/ip.json" 2>/dev/null || echo '{}' > "$W/ip.json"
}
jget() { python3 -c "import json,sys; d=json.load(open('$W/ip.json')); print($1)" 2>/dev/null || echo 0; }

declare -A R
run_pair() {
  local a=$1 b=$2 n=$3
  local na=bna$n$SUF nb=bnb$n$SUF ia=bw${n}a$SUF ib=bw${n}b$SUF
  ia=${ia:0:15}; ib=${ib:0:15}
  ip netns add $na; ip netns add $nb; NSS+=($na $nb)
  ip -n $na link set lo up; ip -n $nb link set lo up
  ip link add va$n$SUF netns $na type veth peer name vb$n$SUF netns $nb
  ip -n $na addr add 10.230.0.1/30 dev va$n$SUF; ip -n $na link set va$n$SUF up
  ip -n $nb addr add 10.230.0.2/30 dev vb$n$SUF; ip -n $nb link set vb$n$SUF up
  for side in a b; do wg genkey > $W/$side.key; wg pubkey < $W/$side.key > $W/$side.pub; done
  start() { # impl ns ifname
    if [ "$1" = cwg ]; then ip netns exec $2 env LOG_LEVEL=error "$CWG" -f $3 >/dev/null 2>&1 &
    else ip netns exec $2 env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go -f $3 >/dev/null 2>&1 & fi
    PIDS+=($!); LASTPID=$!
    for _ in $(seq 1 100); do [ -S /var/run/wireguard/$3.sock ] && break; sleep 0.05; done
  }
  start $a $na $ia; local pa=$LASTPID
  start $b $nb $ib; local pb=$LASTPID
  ip netns exec $na wg set $ia private-key $W/a.key listen-port 51900 peer "$(cat $W/b.pub)" allowed-ips 10.231.0.2/32 endpoint 10.230.0.2:51900
  ip netns exec $nb wg set $ib private-key $W/b.key listen-port 51900 peer "$(cat $W/a.pub)" allowed-ips 10.231.0.1/32 endpoint 10.230.0.1:51900
  ip -n $na addr add 10.231.0.1/24 dev $ia; ip -n $na link set $ia up
  ip -n $nb addr add 10.231.0.2/24 dev $ib; ip -n $nb link set $ib up
  ip netns exec $na ping -c 2 -W 2 10.231.0.2 >/dev/null
  # not -D: a daemonised server outlives its namespace and keeps running after the script
  ip netns exec $nb iperf3 -s -p 5299 >/dev/null 2>&1 &
  PIDS+=($!); local ps=$!; sleep 0.3
  # TCP single stream, with CPU accounting on both ends
  local c0=$(( $(cpu_ticks $pa) + $(cpu_ticks $pb) ))
  iperf_json $na -c 10.231.0.2 -p 5299 -t $SECS
  local c1=$(( $(cpu_ticks $pa) + $(cpu_ticks $pb) ))
  local tcp1=$(jget "d['end']['sum_received']['bits_per_second']/1e9")
  local bytes=$(jget "d['end']['sum_received']['bytes']")
  R[$n,tcp1]=$tcp1
  R[$n,cpu]=$(python3 -c "print(round(($c1-$c0)/$(getconf CLK_TCK)/max($bytes/1e9,1e-9),2))")
  iperf_json $na -c 10.231.0.2 -p 5299 -t $SECS -P 2
  R[$n,tcp2]=$(jget "d['end']['sum_received']['bits_per_second']/1e9")
  iperf_json $na -c 10.231.0.2 -p 5299 -t $SECS -R
  R[$n,tcpr]=$(jget "d['end']['sum_received']['bits_per_second']/1e9")
  for sz in 64 1400; do
    iperf_json $na -c 10.231.0.2 -p 5299 -t 3 -u -b 0 -l $sz
    R[$n,pps$sz]=$(jget "round(d['end']['sum']['packets']*(100-d['end']['sum']['lost_percent'])/100/d['end']['sum']['seconds'])")
    R[$n,loss$sz]=$(jget "round(d['end']['sum']['lost_percent'],1)")
  done
  ip netns exec $na ping -c 100 -i 0.01 -q 10.231.0.2 > $W/pt.txt
  ip netns exec $na ping -c 100 -i 0.01 -q 10.230.0.2 > $W/pv.txt
  R[$n,rtt]=$(awk -F/ '/rtt/{print $5}' $W/pt.txt); R[$n,mdev]=$(awk -F/ '/rtt/{print $7}' $W/pt.txt | cut -d' ' -f1)
  R[$n,vrtt]=$(awk -F/ '/rtt/{print $5}' $W/pv.txt)
  R[$n,rss]=$(( ($(hwm_kib $pa) + $(hwm_kib $pb)) / 2 / 1024 ))
  R[$n,name]="$a↔$b"
  kill $pa $pb $ps; wait $pa $pb $ps 2>/dev/null || true
  ip netns del $na; ip netns del $nb
}

i=0
for p in $PAIRS; do
  i=$((i + 1)); run_pair ${p%%:*} ${p##*:} $i
done
echo "# wg_netns on $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d), SECS=$SECS"
echo
printf '| pair | TCP 1 stream Gbit/s | TCP 2 streams | TCP reverse | UDP 64 B pps (loss %%) | UDP 1400 B pps (loss %%) | RTT tunnel ms (mdev) | RTT veth ms | peak RSS MiB/side | CPU s per GB |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for n in $(seq 1 $i); do
  printf '| %s | %.2f | %.2f | %.2f | %s (%s) | %s (%s) | %s (%s) | %s | %s | %s |\n' "${R[$n,name]}" \
    "${R[$n,tcp1]}" "${R[$n,tcp2]}" "${R[$n,tcpr]}" "${R[$n,pps64]}" "${R[$n,loss64]}" \
    "${R[$n,pps1400]}" "${R[$n,loss1400]}" "${R[$n,rtt]}" "${R[$n,mdev]}" "${R[$n,vrtt]}" "${R[$n,rss]}" "${R[$n,cpu]}"
done
# ratios: the first cwg:cwg pair against the first wgo:wgo pair
go=""; cw=""
for n in $(seq 1 $i); do
  [ "${R[$n,name]}" = "wgo↔wgo" ] && [ -z "$go" ] && go=$n
  [ "${R[$n,name]}" = "cwg↔cwg" ] && [ -z "$cw" ] && cw=$n
done
if [ -n "$go" ] && [ -n "$cw" ]; then
  echo
  echo "| constella-wg / wireguard-go | ratio | target |"
  echo "|---|---|---|"
  python3 - "${R[$cw,tcp1]}" "${R[$go,tcp1]}" "${R[$cw,rtt]}" "${R[$go,rtt]}" "${R[$cw,rss]}" "${R[$go,rss]}" \
            "${R[$cw,tcp2]}" "${R[$go,tcp2]}" "${R[$cw,cpu]}" "${R[$go,cpu]}" <<'PY'
import sys
v = [float(x) for x in sys.argv[1:]]
def r(a, b): return a / b if b else float('nan')
print(f"| TCP single stream | {r(v[0], v[1]):.2f}x | >= 4x (aim 10x) {'MET' if r(v[0], v[1]) >= 4 else 'not met'} |")
print(f"| TCP two streams | {r(v[6], v[7]):.2f}x | |")
print(f"| tunnel RTT | {r(v[2], v[3]):.2f} | <= 0.5 {'MET' if r(v[2], v[3]) <= 0.5 else 'not met'} |")
print(f"| peak RSS | {r(v[4], v[5]):.2f} | <= 0.25 {'MET' if r(v[4], v[5]) <= 0.25 else 'not met'} |")
print(f"| CPU seconds per GB | {r(v[8], v[9]):.2f} | lower is better |")
PY
fi
