#!/usr/bin/env bash
# The UAPI driven by the real `wg` tool: set, show, dump, showconf/setconf,
# syncconf, remove a peer while traffic flows; invalid input changes nothing.
CWG=$1
. "$(dirname "$0")/lib.sh"
NA=ua$SUF; NB=ub$SUF; IA=wua$((SUF % 100000)); IB=wub$((SUF % 100000))
ns_new $NA; ns_new $NB
link $NA 10.211.0.1/30 $NB 10.211.0.2/30
keypair A; keypair B; keypair C; wg genpsk > "$WORK/psk"
start_dev cwg $NA $IA; start_dev cwg $NB $IB
WA="ip netns exec $NA wg"; WB="ip netns exec $NB wg"
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

$WA set $IA private-key "$WORK/A.key" listen-port 51830 fwmark 0x42 \
  peer "$(pub B)" preshared-key "$WORK/psk" allowed-ips 10.212.0.2/32,fd12::/64 \
  endpoint 10.211.0.2:51831 persistent-keepalive 25 \
  peer "$(pub C)" allowed-ips 10.212.0.3/32
$WB set $IB private-key "$WORK/B.key" listen-port 51831 \
  peer "$(pub A)" preshared-key "$WORK/psk" allowed-ips 10.212.0.1/32 endpoint 10.211.0.1:51830
tunaddr $NA $IA 10.212.0.1/24; tunaddr $NB $IB 10.212.0.2/24

dump=$($WA show $IA dump)
line1=$(echo "$dump" | head -1)
check "dump: device line has our keys, port and fwmark" \
  '[ "$line1" = "$(cat $WORK/A.key)	$(pub A)	51830	0x42" ]'
# The counters (fields 5-7) are not compared: a persistent keepalive set on a
# configured peer sends at once, so the handshake may already have started.
peer_b_ok() {
  echo "$dump" | awk -F'\t' -v k="$(pub B)" -v p="$(cat $WORK/psk)" '
    $1 == k && $2 == p && $3 == "10.211.0.2:51831" && $4 == "10.212.0.2/32,fd12::/64" &&
    $8 == "25" { f = 1 } END { exit !f }'
}
check "dump: peer B with psk, endpoint, allowed ips, keepalive" 'peer_b_ok'
check "dump: peer C without psk or endpoint" \
  'echo "$dump" | grep -qF "$(pub C)	(none)	(none)	10.212.0.3/32	0	0	0	off"'
must_ping $NA 10.212.0.2 || fail=1
check "show: latest handshake recorded after traffic" \
  '[ "$($WA show $IA latest-handshakes | grep "$(pub B)" | cut -f2)" -gt 0 ]'
check "show: transfer counters move" \
  '[ "$($WA show $IA transfer | grep "$(pub B)" | cut -f2)" -gt 0 ]'

# showconf → setconf round trip on a fresh interface config
$WA showconf $IA > "$WORK/conf"
$WA setconf $IA "$WORK/conf"
check "setconf(showconf) is a fixed point" '[ "$($WA showconf $IA)" = "$(cat $WORK/conf)" ]'
# setconf re-created the peers: let the new session settle (the restored
# persistent keepalive starts a handshake at once) before changing more.
must_ping $NA 10.212.0.2 || fail=1

# invalid input: refused, nothing applied (live counters aside)
static_dump() { $WA show $IA dump | cut -f1-5,9; }
before=$(static_dump)
check "wg set with a bad allowed-ip fails" \
  '! $WA set $IA listen-port 51839 peer "$(pub C)" allowed-ips 10.0.0.0/99 2>/dev/null'
check "...and changed nothing" '[ "$(static_dump)" = "$before" ]'

# PSK clear, keepalive off, replace allowed ips
$WA set $IA peer "$(pub B)" preshared-key /dev/null persistent-keepalive 0
$WA set $IA peer "$(pub C)" allowed-ips 10.212.0.30/32
check "psk cleared and keepalive off" '$WA show $IA dump | grep -qF "$(pub B)	(none)	10.211.0.2:51831"'
check "allowed ips replaced" '$WA show $IA allowed-ips | grep -qF "$(pub C)	10.212.0.30/32"'
$WB set $IB peer "$(pub A)" preshared-key /dev/null

# syncconf removes a peer absent from the file
$WA showconf $IA | python3 -c '
import sys
drop = sys.argv[1]
blocks = sys.stdin.read().split("\n\n")
print("\n\n".join(b for b in blocks if drop not in b))' "$(pub C)" > "$WORK/sync.conf"
check "sync.conf still has peer B" 'grep -qF "$(pub B)" "$WORK/sync.conf"'
$WA syncconf $IA "$WORK/sync.conf"
check "syncconf removed peer C" '! $WA show $IA peers | grep -qF "$(pub C)"'
check "syncconf kept peer B" '$WA show $IA peers | grep -qF "$(pub B)"'

# remove a peer while traffic flows (a session is up first)
must_ping $NA 10.212.0.2 || fail=1
ip netns exec $NA ping -i 0.05 -c 200 -W 1 10.212.0.2 > "$WORK/flow.out" 2>&1 &
PIDS+=($!); ppid=$!
sleep 1
$WA set $IA peer "$(pub B)" remove
wait $ppid || true
check "peer removed" '[ -z "$($WA show $IA peers)" ]'
check "packets flowed before the removal" 'grep -q "bytes from 10.212.0.2" "$WORK/flow.out"'
check "device still alive after removal under traffic" 'kill -0 ${PIDS[0]}'
check "no traffic after removal" '! ip netns exec $NA ping -c 1 -W 1 10.212.0.2 >/dev/null 2>&1'

# Timers run for every peer, not just the first few hundred: 300 peers,
# only the last one has an endpoint and a 1 s persistent keepalive, and its
# handshake initiation must arrive.
python3 - "$WORK/many.conf" <<'PY'
import base64, os, sys
with open(sys.argv[1], "w") as f:
    for i in range(299):
        f.write("[Peer]\nPublicKey = %s\nAllowedIPs = 10.250.%d.%d/32\n\n" % (
            base64.b64encode(os.urandom(32)).decode(), i // 250, i % 250 + 1))
PY
$WA addconf $IA "$WORK/many.conf"
ip netns exec $NB python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.211.0.2", 7777)); s.settimeout(8)
b, _ = s.recvfrom(2048); print(len(b), b[0])' > "$WORK/init.out" 2>&1 &
lpid=$!
sleep 0.3
$WA set $IA peer "$(pub C)" allowed-ips 10.212.0.99/32 endpoint 10.211.0.2:7777 persistent-keepalive 1
wait $lpid || true
check "300 peers configured" '[ "$($WA show $IA peers | wc -l)" -ge 300 ]'
check "the 300th peer's keepalive timer started a handshake" '[ "$(cat $WORK/init.out)" = "148 1" ]'
exit $fail
