#!/bin/bash
# The unmodified `wg` tool (wireguard-tools) against our UAPI server, backed
# by the in-memory reference model (uapi_model_server). `wg` only looks in
# /var/run/wireguard, so this needs root; it skips (77) otherwise.
# Usage: wg_cli.sh PATH/TO/uapi_model_server
set -u
SERVER=$1
WG=${WG:-/usr/bin/wg}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for /var/run/wireguard"; exit 77; }
[ -x "$WG" ] || { echo "SKIP: no $WG"; exit 77; }

IF=cstu$$
DIR=/var/run/wireguard
TMP=$(mktemp -d /tmp/wg_uapi.XXXXXX)
SRV_PID=
fail=0

cleanup() {
	exec 3>&- 2>/dev/null
	if [ -n "$SRV_PID" ]; then
		# closing stdin makes the server stop; bounded wait, then kill by PID
		for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
		kill "$SRV_PID" 2>/dev/null
		wait "$SRV_PID" 2>/dev/null
	fi
	rm -f "$DIR/$IF.sock"
	rm -rf "$TMP"
}
trap cleanup EXIT

mkfifo "$TMP/ctl"
"$SERVER" "$DIR" "$IF" <"$TMP/ctl" >"$TMP/srv.out" 2>"$TMP/srv.err" &
SRV_PID=$!
exec 3>"$TMP/ctl"
for _ in $(seq 100); do grep -q ready "$TMP/srv.out" 2>/dev/null && break; sleep 0.05; done
grep -q ready "$TMP/srv.out" || { echo "server did not start"; cat "$TMP/srv.err"; exit 1; }

check() { # name expected actual
	if [ "$2" != "$3" ]; then
		echo "FAIL $1"; echo "--- expected"; printf '%s\n' "$2"; echo "--- got"; printf '%s\n' "$3"
		fail=1
	else
		echo "ok   $1"
	fi
}

T=$'\t'
key() { "$WG" genkey; }
pub() { printf '%s' "$1" | "$WG" pubkey; }
PRIV=$(key); PUB=$(pub "$PRIV")
A=$(pub "$(key)"); B=$(pub "$(key)"); C=$(pub "$(key)"); D=$(pub "$(key)")
PSK=$("$WG" genpsk)
printf '%s\n' "$PRIV" >"$TMP/priv"
printf '%s\n' "$PSK" >"$TMP/psk"

# socket: 0700 directory, socket not accessible to others
check "socket exists" "socket" "$(stat -c %F "$DIR/$IF.sock" | sed 's/^.*socket$/socket/')"
check "socket mode" "0" "$(( 0$(stat -c %a "$DIR/$IF.sock") & 077 ))"

check "wg show interfaces lists us" "$IF" "$("$WG" show interfaces | tr ' ' '\n' | grep -x "$IF")"

# 1. empty device
check "empty dump" "(none)${T}(none)${T}0${T}off" "$("$WG" show "$IF" dump)"

# 2. wg set with every interface key and a peer
"$WG" set "$IF" private-key "$TMP/priv" listen-port 51820 fwmark 0x42 \
	peer "$A" allowed-ips 10.0.0.1/32,fd00::1/128 endpoint 192.0.2.1:51820 persistent-keepalive 25 \
	|| { echo "FAIL wg set"; fail=1; }
check "set dump" "$PRIV${T}$PUB${T}51820${T}0x42
$A${T}(none)${T}192.0.2.1:51820${T}10.0.0.1/32,fd00::1/128${T}0${T}2000${T}1000${T}25" \
	"$("$WG" show "$IF" dump)"
check "show listen-port" "51820" "$("$WG" show "$IF" listen-port)"
check "show public-key" "$PUB" "$("$WG" show "$IF" public-key)"

# 3. an invalid value fails and changes nothing
before=$("$WG" show "$IF" dump)
# (not `listen-port 70000`: wg v1.0.20210914 itself wraps it to 4464 before
# sending; server-side rejection is covered over the socket in test_uapi.c)
"$WG" set "$IF" private-key /nonexistent 2>/dev/null && { echo "FAIL missing key file accepted"; fail=1; }
"$WG" set "$IF" peer "$A" allowed-ips 10.0.0.1/33 2>/dev/null && { echo "FAIL bad cidr accepted"; fail=1; }
"$WG" set "$IF" peer "$A" persistent-keepalive 70000 2>/dev/null && { echo "FAIL bad keepalive accepted"; fail=1; }
check "invalid set changes nothing" "$before" "$("$WG" show "$IF" dump)"

# 4. showconf
check "showconf" "[Interface]
ListenPort = 51820
FwMark = 0x42
PrivateKey = $PRIV

[Peer]
PublicKey = $A
AllowedIPs = 10.0.0.1/32, fd00::1/128
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25" "$("$WG" showconf "$IF")"

# 5. setconf replaces every peer (A goes), IPv6 endpoint, PSK from the file
cat >"$TMP/conf1" <<EOF
[Interface]
PrivateKey = $PRIV
ListenPort = 51821

[Peer]
PublicKey = $B
PresharedKey = $PSK
AllowedIPs = 10.1.0.0/16
Endpoint = [2001:db8::5]:4000

[Peer]
PublicKey = $C
AllowedIPs = 10.2.0.0/16, 10.3.0.1/32
EOF
"$WG" setconf "$IF" "$TMP/conf1" || { echo "FAIL setconf"; fail=1; }
check "setconf dump" "$PRIV${T}$PUB${T}51821${T}off
$B${T}$PSK${T}[2001:db8::5]:4000${T}10.1.0.0/16${T}0${T}2000${T}1000${T}off
$C${T}(none)${T}(none)${T}10.2.0.0/16,10.3.0.1/32${T}0${T}4000${T}2000${T}off" \
	"$("$WG" show "$IF" dump)"

# 6. syncconf without C removes C, keeps B (and its endpoint, not in the file)
cat >"$TMP/conf2" <<EOF
[Interface]
PrivateKey = $PRIV
ListenPort = 51821

[Peer]
PublicKey = $B
PresharedKey = $PSK
AllowedIPs = 10.1.0.0/16
EOF
"$WG" syncconf "$IF" "$TMP/conf2" || { echo "FAIL syncconf"; fail=1; }
check "syncconf dump" "$PRIV${T}$PUB${T}51821${T}off
$B${T}$PSK${T}[2001:db8::5]:4000${T}10.1.0.0/16${T}0${T}2000${T}1000${T}off" \
	"$("$WG" show "$IF" dump)"

# 7. addconf adds D and keeps B
cat >"$TMP/conf3" <<EOF
[Peer]
PublicKey = $D
AllowedIPs = 10.4.0.0/24
Endpoint = 198.51.100.7:1
PersistentKeepalive = 65535
EOF
"$WG" addconf "$IF" "$TMP/conf3" || { echo "FAIL addconf"; fail=1; }
check "addconf peers" "$B${T}10.1.0.0/16
$D${T}10.4.0.0/24" "$("$WG" show "$IF" allowed-ips)"
check "addconf keepalive" "$B${T}off
$D${T}65535" "$("$WG" show "$IF" persistent-keepalive)"

# 8. PSK set and clear
"$WG" set "$IF" peer "$D" preshared-key "$TMP/psk"
check "psk set" "$B${T}$PSK
$D${T}$PSK" "$("$WG" show "$IF" preshared-keys)"
"$WG" set "$IF" peer "$B" preshared-key /dev/null
check "psk clear" "$B${T}(none)
$D${T}$PSK" "$("$WG" show "$IF" preshared-keys)"

# 9. replace allowed-ips (wg set sends replace_allowed_ips=true), and an
#    allowed IP moving from one peer to another
"$WG" set "$IF" peer "$B" allowed-ips 10.9.0.0/16,fd00:9::/64
check "replace allowed-ips" "$B${T}10.9.0.0/16 fd00:9::/64
$D${T}10.4.0.0/24" "$("$WG" show "$IF" allowed-ips)"
"$WG" set "$IF" peer "$D" allowed-ips 10.4.0.0/24,10.9.0.0/16
check "allowed ip moves" "$B${T}fd00:9::/64
$D${T}10.4.0.0/24 10.9.0.0/16" "$("$WG" show "$IF" allowed-ips)"
"$WG" set "$IF" peer "$D" allowed-ips 10.4.0.9/24,10.9.255.1/16 2>/dev/null # wg warns about host bits
check "host bits masked" "$B${T}fd00:9::/64
$D${T}10.4.0.0/24 10.9.0.0/16" "$("$WG" show "$IF" allowed-ips)"
"$WG" set "$IF" peer "$D" allowed-ips ""
check "clear allowed-ips" "$B${T}fd00:9::/64
$D${T}(none)" "$("$WG" show "$IF" allowed-ips)"

# 10. remove a peer, then keepalive off, private key removed
"$WG" set "$IF" peer "$D" remove
check "remove peer" "$B" "$("$WG" show "$IF" peers)"
"$WG" set "$IF" peer "$B" persistent-keepalive off fwmark 0 2>/dev/null ||
	"$WG" set "$IF" fwmark 0 peer "$B" persistent-keepalive off
"$WG" set "$IF" private-key /dev/null
check "final dump" "(none)${T}(none)${T}51821${T}off
$B${T}(none)${T}[2001:db8::5]:4000${T}fd00:9::/64${T}0${T}2000${T}1000${T}off" \
	"$("$WG" show "$IF" dump)"

# 11. a transaction the device refuses (the model holds 64 peers) fails in
#     `wg` with the errno we sent, and changes nothing
before=$("$WG" show "$IF" dump)
{ echo "[Interface]"; for _ in $(seq 65); do printf '[Peer]\nPublicKey = %s\n' "$(pub "$(key)")"; done; } >"$TMP/big"
"$WG" addconf "$IF" "$TMP/big" 2>"$TMP/wg.err" && { echo "FAIL 65 peers accepted"; fail=1; }
check "refused set: wg's message" "Unable to modify interface: No space left on device" "$(cat "$TMP/wg.err")"
check "refused set changes nothing" "$before" "$("$WG" show "$IF" dump)"

# 12. a second server on the same interface is refused while the first lives
"$SERVER" "$DIR" "$IF" </dev/null >/dev/null 2>&1
check "second server refused (EADDRINUSE)" "3" "$?"
check "first server still answers" "$B" "$("$WG" show "$IF" peers)"

# 13. shutdown removes the socket
exec 3>&-
for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SRV_PID"; rc=$?; SRV_PID=
check "server exit status" "0" "$rc"
check "socket removed" "gone" "$([ -e "$DIR/$IF.sock" ] && echo present || echo gone)"

exit $fail
