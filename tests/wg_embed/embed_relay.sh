#!/usr/bin/env bash
# The relay: a hub that embeds the device through device.h (embed_hub, relay
# mode) and two clients, constella-wg and wireguard-go, configured with `wg`,
# each on its own link to the hub. Client-to-client traffic (ping, IPv6 ping,
# TCP checked by SHA-256 both ways) passes through the hub's data path with
# forwarding off in the hub's namespace, never through its TUN; a destination
# that is an address of the hub's namespace goes to the hub's kernel even
# when a peer's allowed IPs cover it; after wg_device_set removes a client,
# its packets are counted as dropped; wg_device_initiate reaches a client.
EMBED=$1
CWG=$2
. "$(dirname "$0")/../wg_device/lib.sh"
MB=${TRANSFER_MB:-50}
H=eh$SUF; A=ea$SUF; B=eb$SUF
IH=weh$((SUF % 100000)); IA=wea$((SUF % 100000)); IB=web$((SUF % 100000))
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

ns_new $H; ns_new $A; ns_new $B
link $A 10.224.1.2/30 $H 10.224.1.1/30
link $B 10.224.2.2/30 $H 10.224.2.1/30
ip netns exec $H sysctl -qw net.ipv4.ip_forward=0
ip netns exec $H sysctl -qw net.ipv6.conf.all.forwarding=0
keypair hub; keypair a; keypair b

# The hub: commands on its stdin, answers ("ok" / "err N" last) on its
# stdout, both FIFOs held open on fixed descriptors (command substitutions
# use them too).
IFS_CREATED+=("$IH")
mkfifo "$WORK/hub.in" "$WORK/hub.out"
ip netns exec $H env LOG_LEVEL=${LOG_LEVEL:-info} "$EMBED" $IH "$WORK/hub.key" 51820 \
  10.225.0.1/24 fd25::1/64 < "$WORK/hub.in" > "$WORK/hub.out" 2> "$WORK/hub.log" &
HUB_PID=$!
PIDS+=($HUB_PID)
exec {HUB_IN}> "$WORK/hub.in" {HUB_OUT}< "$WORK/hub.out"
read -r -t 10 -u $HUB_OUT ready || true
[ "${ready:-}" = ready ] || { echo "FAIL: hub did not start"; cat "$WORK/hub.log"; exit 1; }
# hub CMD...: prints the answer's lines; returns 0 when it ended with "ok"
hub() {
  local line
  echo "$*" >&$HUB_IN
  while read -r -t 10 -u $HUB_OUT line; do
    case $line in
      ok) return 0 ;;
      err*) echo "$line"; return 1 ;;
      *) echo "$line" ;;
    esac
  done
  echo "hub: no answer to $*"; return 1
}
stat() { hub info | sed -n "s/^$1=//p"; }
peer_field() { hub info | grep "^peer=$1 " | tr ' ' '\n' | sed -n "s/^$2=//p"; }

hub peer "$(pub a)" 10.225.0.2/32,fd25::2/128 || fail=1
hub peer "$(pub b)" 10.225.0.3/32,fd25::3/128 || fail=1
check "embedded hub: key and port set through wg_device_set" \
  '[ "$(stat public_key)" = "$(pub hub)" ] && [ "$(stat listen_port)" = 51820 ]'
# The data path's AEAD: BoringSSL, or libsodium when the run forces it
# (wg_embed_relay_libsodium: hub and constella-wg client both, the
# wireguard-go client unchanged).
want_aead=boringssl; [ -n "${CONSTELLA_WG_BORINGSSL:-}" ] && want_aead=libsodium
check "embedded hub: AEAD backend is $want_aead" '[ "$(stat aead)" = $want_aead ]'
check "embedded hub: wg show reads it through the optional UAPI socket" \
  '[ "$(ip netns exec $H wg show $IH public-key)" = "$(pub hub)" ]'

start_dev cwg $A $IA
ip netns exec $A wg set $IA private-key "$WORK/a.key" peer "$(pub hub)" \
  allowed-ips 10.225.0.0/24,fd25::/64 endpoint 10.224.1.1:51820 persistent-keepalive 25
tunaddr $A $IA 10.225.0.2/24 fd25::2/64
start_dev wgo $B $IB
ip netns exec $B wg set $IB private-key "$WORK/b.key" peer "$(pub hub)" \
  allowed-ips 10.225.0.0/24,fd25::/64 endpoint 10.224.2.1:51820 persistent-keepalive 25
tunaddr $B $IB 10.225.0.3/24 fd25::3/64

must_ping $A 10.225.0.1 || fail=1          # the hub itself: its TUN, its kernel
tun_rx0=$(ip netns exec $H cat /sys/class/net/$IH/statistics/rx_bytes)
must_ping $A 10.225.0.3 || fail=1          # constella-wg -> hub relay -> wireguard-go
must_ping $B 10.225.0.2 || fail=1
must_ping $A fd25::3 || fail=1             # IPv6 inside the tunnel
transfer $A $B 10.225.0.3 $MB || fail=1
transfer $B $A 10.225.0.2 10 7001 || fail=1
# What the device wrote to the hub's TUN (the interface's rx) stayed small:
# the transfers never went through the hub's kernel.
tun_rx=$(( $(ip netns exec $H cat /sys/class/net/$IH/statistics/rx_bytes) - tun_rx0 ))
echo "hub TUN carried $tun_rx bytes to the kernel during the relayed traffic"
check "relayed traffic bypassed the hub's TUN" '[ $tun_rx -lt 1000000 ]'
check "forwarding stayed off in the hub's namespace" \
  '[ "$(ip netns exec $H sysctl -n net.ipv4.ip_forward)" = 0 ]'
rp=$(stat relay_packets); rb=$(stat relay_bytes); rd=$(stat relay_dropped)
echo "hub relay counters: packets=$rp bytes=$rb dropped=$rd"
check "relay counters moved (bytes >= the transfers)" \
  '[ "$rp" -gt 1000 ] && [ "$rb" -ge $(( (MB + 10) << 20 )) ] && [ "$rd" = 0 ]'
check "wg show on the hub shows both handshakes" \
  '[ "$(ip netns exec $H wg show $IH latest-handshakes | awk "\$2 > 0" | wc -l)" = 2 ]'

# An address of the hub's namespace (on lo, added after the device started)
# inside a prefix that belongs to client A: the kernel would deliver it
# locally, so the relay must too, not send it to A.
ip -n $H addr add 10.226.0.1/32 dev lo
hub peer "$(pub a)" 10.226.0.0/24 || fail=1
ip netns exec $B wg set $IB peer "$(pub hub)" allowed-ips 10.225.0.0/24,fd25::/64,10.226.0.0/24
ip -n $B route add 10.226.0.0/24 dev $IB
must_ping $B 10.226.0.1 || { echo "FAIL: a local address of the hub was relayed"; fail=1; }

# wg_device_initiate: a fresh handshake with B, the hub initiating.
hs0=$(peer_field "$(pub b)" handshake_ns)
check "initiate: sent" 'hub initiate "$(pub b)"'
hs1=$hs0
for _ in $(seq 1 50); do
  hs1=$(peer_field "$(pub b)" handshake_ns)
  [ "$hs1" != "$hs0" ] && break; sleep 0.1
done
check "initiate: the hub's handshake with B completed again" '[ "$hs1" -gt "$hs0" ]'
check "initiate: again at once is rate limited (EALREADY)" \
  '[ "$(hub initiate "$(pub b)")" = "err 114" ]'

# Removing A: its packets on the old session, then its new handshake, are
# dropped and counted.
ui0=$(stat rx_unknown_index); hr0=$(stat rx_handshake_rejected)
hub remove "$(pub a)" || fail=1
check "remove: A is gone from the hub" '! hub info | grep -q "^peer=$(pub a) "'
check "initiate: a removed peer is ENOENT" '[ "$(hub initiate "$(pub a)")" = "err 2" ]'
ip netns exec $A ping -c 3 -i 0.2 -W 1 10.225.0.3 > /dev/null 2>&1 && {
  echo "FAIL: A still reaches B after its removal"; fail=1; }
ui1=$(stat rx_unknown_index)
check "remove: A's transport packets count in rx_unknown_index ($ui0 -> $ui1)" '[ "$ui1" -gt "$ui0" ]'
# A starts over: a new session means a new initiation, refused by the hub.
ip netns exec $A wg set $IA peer "$(pub hub)" remove
ip netns exec $A wg set $IA peer "$(pub hub)" allowed-ips 10.225.0.0/24,fd25::/64 \
  endpoint 10.224.1.1:51820
ip netns exec $A ping -c 2 -i 0.2 -W 1 10.225.0.3 > /dev/null 2>&1 || true
hr1=$hr0
for _ in $(seq 1 50); do
  hr1=$(stat rx_handshake_rejected); [ "$hr1" -gt "$hr0" ] && break; sleep 0.1
done
check "remove: A's new initiation counts in rx_handshake_rejected ($hr0 -> $hr1)" \
  '[ "$hr1" -gt "$hr0" ]'
must_ping $B 10.225.0.1 || fail=1          # B is unaffected
echo quit >&$HUB_IN
wait $HUB_PID 2>/dev/null || true
grep -E "relay on|ERROR|AddressSanitizer|runtime error" "$WORK/hub.log" || true
grep -qE "AddressSanitizer|runtime error" "$WORK/hub.log" && { echo "FAIL: sanitizer report"; fail=1; }
exit $fail
