#!/bin/bash
# Rootless: constellad as an unprivileged user (uid 65534) inside a user
# namespace that owns its network namespace, what rootless Docker/Podman
# give with --device /dev/net/tun --cap-add NET_ADMIN, with no host
# capability:
#   unshare --user --map-root-user --net, started by setpriv as 65534;
#   the TUN node is the test's own (mknod c 10 200, 0666: the host's may be
#   0600), named by VPN_TUN_PATH; the UAPI socket goes to VPN_UAPI_DIR
#   (/var/run/wireguard is root's).
# Root moves a veth into that namespace; the rootless node joins a hub in
# another namespace, comes up alive, and the hub reaches it over the overlay.
# A second start without VPN_UAPI_DIR still runs (the UAPI socket is
# optional: one warning).
# usage: overlay_rootless.sh CONSTELLA CONSTELLAD
. "$(dirname "$0")/lib.sh"

[ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)" -gt 0 ] \
	|| { echo "SKIP: user namespaces disabled"; exit 77; }
net_up hub
hub_init hub hub || finish
daemon_start hub || finish

mknod "$WORK/tun" c 10 200 && chmod 666 "$WORK/tun" || { fail "mknod"; finish; }
mkdir -m 700 "$WORK/rl" "$WORK/rl-uapi" "$WORK/rl-out" && chown 65534:65534 "$WORK/rl" "$WORK/rl-uapi" "$WORK/rl-out"
IFN[rl]=wgrl$SUF
echo "$(invite hub)" >"$WORK/link"
chmod 644 "$WORK/link"
# The rootless node: waits for its veth, configures it, joins, runs.
cat >"$WORK/rootless.sh" <<EOS
set -e
for i in \$(seq 100); do ip link show eth0 >/dev/null 2>&1 && break; sleep 0.1; done
ip link set lo up
ip addr add 10.231.0.50/24 dev eth0
ip link set eth0 up
[ -e "$WORK/rl/network_state.json" ] || \
"$CLI" --state-dir "$WORK/rl" join --server-name rootless --join "\$(cat "$WORK/link")" \
	--public-addr 10.231.0.50:$PORT --vpn-interface ${IFN[rl]} >"$WORK/rl-out/join.out" 2>&1
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin VPN_TUN_PATH="$WORK/tun" VPN_UAPI_DIR="\${UAPI_DIR:-}" \
	ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
	"$DAEMON" --state-dir "$WORK/rl" --listen 0.0.0.0:$PORT -v
EOS
chmod 644 "$WORK/rootless.sh"

# rl_start [UAPI_DIR]: starts the rootless node, gives it its veth (a new
# name each time: the last one goes only when the old namespace is gone)
RL_STARTS=0
rl_start() {
	local v
	RL_STARTS=$((RL_STARTS + 1))
	v=rl$RL_STARTS$SUF
	UAPI_DIR=${1:-} setpriv --reuid=65534 --regid=65534 --clear-groups \
		unshare --user --map-root-user --net bash "$WORK/rootless.sh" >>"$WORK/rl.log" 2>&1 &
	DPID[rl]=$!
	for _ in $(seq 50); do
		[ "$(readlink /proc/${DPID[rl]}/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
		sleep 0.1
	done
	ip link add "$v" netns "$SW" type veth peer name eth0 netns "${DPID[rl]}" \
		|| { fail "cannot move a veth into the rootless namespace"; finish; }
	ip -n "$SW" link set "$v" master br0
	ip -n "$SW" link set "$v" up
}

rl_start "$WORK/rl-uapi"
for _ in $(seq 100); do
	grep -q "of network .* listening on" "$WORK/rl.log" 2>/dev/null && break
	kill -0 "${DPID[rl]}" 2>/dev/null || break
	sleep 0.1
done
grep -q "of network .* listening on" "$WORK/rl.log" || { fail "rootless daemon did not start: $(tail -5 "$WORK/rl.log"; cat "$WORK/rl-out/join.out")"; finish; }
cat "$WORK/rl-out/join.out"
[ "$(cat /proc/${DPID[rl]}/comm)" = constellad ] || fail "PID ${DPID[rl]} is not constellad"
uid=$(awk '/^Uid:/ { print $2 }' /proc/${DPID[rl]}/status)
[ "$uid" = 65534 ] && ok "constellad runs as uid 65534 on the host" || fail "constellad runs as uid $uid"
[ "$(readlink /proc/${DPID[rl]}/ns/user)" != "$(readlink /proc/self/ns/user)" ] \
	&& ok "in its own user namespace ($(cat /proc/${DPID[rl]}/uid_map | tr -s ' ' | sed 's/^ //'))" || fail "not in a user namespace"
awk '/^CapEff:/ { print $2 }' /proc/${DPID[rl]}/status >"$WORK/cap"
ok "capabilities hold in its own user namespace only (CapEff $(cat "$WORK/cap") there, none on the host: uid 65534)"

if all_alive "hub" "hub,rootless" 30; then
	ok "the hub sees the rootless node alive after $WAIT_MS ms"
else
	fail "rootless node not alive at the hub"
fi
RA=$(jq -r '.peers[] | select(.name == "rootless") | .overlay_addr' "$WORK/st-hub.json")
nsx hub ping -c 2 -i 0.2 -W 2 "$RA" >/dev/null && ok "the hub pings the rootless node over the overlay ($RA)" \
	|| fail "no ping hub -> rootless over the overlay"
[ -S "$WORK/rl-uapi/${IFN[rl]}.sock" ] && ok "UAPI socket in VPN_UAPI_DIR" || fail "no UAPI socket in $WORK/rl-uapi"
python3 - "$WORK/rl-uapi/${IFN[rl]}.sock" >"$WORK/uapi.out" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"get=1\n\n")
out = b""
while not out.endswith(b"\n\n"):
    b = s.recv(65536)
    if not b:
        break
    out += b
print(out.decode())
PY
grep -q "^public_key=" "$WORK/uapi.out" && grep -q "^errno=0" "$WORK/uapi.out" \
	&& ok "the UAPI socket answers get (wg's protocol)" || fail "UAPI get: $(cat "$WORK/uapi.out")"

# again without VPN_UAPI_DIR: /var/run/wireguard is not writable for it
kill -TERM "${DPID[rl]}"; wait "${DPID[rl]}"; rc=$?
unset "DPID[rl]"
[ $rc = 0 ] || fail "rootless daemon exited $rc on SIGTERM"
rl_start ""
for _ in $(seq 100); do
	[ "$(grep -c "of network .* listening on" "$WORK/rl.log")" -ge 2 ] && break
	kill -0 "${DPID[rl]}" 2>/dev/null || break
	sleep 0.1
done
[ "$(grep -c "of network .* listening on" "$WORK/rl.log")" -ge 2 ] \
	&& ok "starts without a writable UAPI directory: $(grep -i "uapi" "$WORK/rl.log" | grep -i warn | tail -1 | sed 's/^.*warn  //')" \
	|| fail "rootless restart without VPN_UAPI_DIR: $(tail -3 "$WORK/rl.log")"
for _ in $(seq 40); do nsx hub ping -c1 -W1 "$RA" >/dev/null 2>&1 && break; sleep 0.25; done
nsx hub ping -c1 -W1 "$RA" >/dev/null 2>&1 && ok "and the overlay works again" || fail "no overlay after the restart"
finish
