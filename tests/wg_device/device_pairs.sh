#!/usr/bin/env bash
# constella-wg <-> constella-wg and constella-wg <-> wireguard-go in both
# roles: ping (IPv4 and IPv6 inside the tunnel) and a 100 MB TCP transfer
# whose SHA-256 is checked at the far end.
CWG=$1
. "$(dirname "$0")/lib.sh"
MB=${TRANSFER_MB:-100}
fail=0
PAIR=0
run_pair() { # IMPL_A IMPL_B [v6: IPv6 as the outer transport]
  local a=$1 b=$2 outer=${3:-v4}
  PAIR=$((PAIR + 1))
  local na=pa$SUF$a$PAIR nb=pb$SUF$b$PAIR ia=wa$((SUF % 10000))$PAIR$a ib=wb$((SUF % 10000))$PAIR$b
  echo "== $a <-> $b (outer $outer)"
  ns_new $na; ns_new $nb
  local ea=10.209.0.1:51820 eb=10.209.0.2:51820
  if [ "$outer" = v6 ]; then
    ip link add o6a$PAIR$SUF netns $na type veth peer name o6b$PAIR$SUF netns $nb
    ip -n $na addr add fd09::1/64 dev o6a$PAIR$SUF nodad; ip -n $na link set o6a$PAIR$SUF up
    ip -n $nb addr add fd09::2/64 dev o6b$PAIR$SUF nodad; ip -n $nb link set o6b$PAIR$SUF up
    ea=[fd09::1]:51820; eb=[fd09::2]:51820
  else
    link $na 10.209.0.1/30 $nb 10.209.0.2/30
  fi
  keypair $a-A; keypair $b-B
  start_dev $a $na $ia; local pa=$LAST_PID
  start_dev $b $nb $ib; local pb=$LAST_PID
  ip netns exec $na wg set $ia private-key "$WORK/$a-A.key" listen-port 51820 \
    peer "$(pub $b-B)" allowed-ips 10.210.0.2/32,fd10::2/128 endpoint $eb
  ip netns exec $nb wg set $ib private-key "$WORK/$b-B.key" listen-port 51820 \
    peer "$(pub $a-A)" allowed-ips 10.210.0.1/32,fd10::1/128 endpoint $ea
  tunaddr $na $ia 10.210.0.1/24 fd10::1/64
  tunaddr $nb $ib 10.210.0.2/24 fd10::2/64
  must_ping $na 10.210.0.2 || fail=1       # A initiates
  must_ping $nb 10.210.0.1 || fail=1
  must_ping $na fd10::2 || fail=1          # IPv6 inside the tunnel
  transfer $na $nb 10.210.0.2 $MB || fail=1
  if [ "$outer" = v6 ]; then
    ip netns exec $nb wg show $ib endpoints | grep -q 'fd09::1' && echo "ok: IPv6 outer endpoint" || { echo "FAIL: endpoint not IPv6"; fail=1; }
  fi
  transfer $nb $na fd10::1 20 7001 || fail=1
  # Two TCP streams at once: interleaved flows through the receiving side's
  # coalescing table, each checked end to end.
  recv_sha $nb 10.210.0.2 7002 "$WORK/r1"; local r1=$RECV_PID
  recv_sha $nb 10.210.0.2 7003 "$WORK/r2"; local r2=$RECV_PID
  send_for $na 10.210.0.2 7002 3 "$WORK/s1" & local s1=$!
  send_for $na 10.210.0.2 7003 3 "$WORK/s2"
  wait $s1 $r1 $r2 2>/dev/null || true
  for k in 1 2; do
    if [ -s "$WORK/s$k" ] && [ "$(cat "$WORK/s$k")" = "$(cat "$WORK/r$k")" ]; then
      echo "ok: concurrent stream $k: $(cat "$WORK/r$k")"
    else
      echo "FAIL: concurrent stream $k: sent [$(cat "$WORK/s$k")] received [$(cat "$WORK/r$k")]"; fail=1
    fi
  done
  ip netns exec $na wg show $ia transfer
  kill $pa $pb; wait $pa $pb 2>/dev/null || true
  ip netns del $na; ip netns del $nb
}
run_pair cwg cwg
run_pair cwg wgo
run_pair wgo cwg
TRANSFER_MB=20 MB=20 run_pair cwg wgo v6
exit $fail
