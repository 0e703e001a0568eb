#!/bin/bash
# Clear errors, nothing half-done:
#   - TUN missing (VPN_TUN_PATH to nothing) and not permitted (no
#     CAP_NET_ADMIN): the daemon exits 1 naming the device and the capability;
#   - interface name in use; overlay address already on another interface;
#   - pool exhausted (a /30: the hub and one member);
#   - a client whose UDP to the hub is dropped: a warning (once) and the
#     problem in `constella show`, gone when UDP gets through;
#   - hub unreachable from the seed at join: refused, nothing admitted, the
#     invite still valid; the same link works once the hub is back;
#   - a joiner behind NAT in a network without a hub: refused with the reason;
#   - init flag validation (CIDR).
# After each failed start no interface and no UAPI socket is left.
# usage: overlay_errors.sh CONSTELLA CONSTELLAD
. "$(dirname "$0")/lib.sh"

# expect_start_fail NODE "message" [VAR=VALUE...]: the daemon exits 1 at once
expect_start_fail() {
	local n=$1 want=$2 rc; shift 2
	: >"$WORK/$n.fail"
	nsx "$n" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@" timeout 20 "$DAEMON" \
		--state-dir "$WORK/$n" --listen "0.0.0.0:$PORT" >"$WORK/$n.fail" 2>&1
	rc=$?
	if [ $rc = 1 ] && grep -qF -- "$want" "$WORK/$n.fail"; then
		ok "start refused: $(grep -F -- "$want" "$WORK/$n.fail" | head -1 | sed 's/.*cannot start: //')"
	else
		fail "want exit 1 with \"$want\", got $rc: $(tail -2 "$WORK/$n.fail")"
	fi
	# (the name-in-use case made a bridge of that name itself: only a TUN counts)
	nsx "$n" ip -d link show "${IFN[$n]}" 2>/dev/null | grep -q " tun " && fail "$n: TUN ${IFN[$n]} left behind"
	[ -e "/var/run/wireguard/${IFN[$n]}.sock" ] && fail "$n: UAPI socket left behind"
	return 0
}

net_up hub s1 j1 j2 nat
# --- init validation
for c in 10.42.0.1/24 10.42.0.0/31 fd00::/64 10.42.0.0/7; do
	"$CLI" --state-dir "$WORK/x" init --server-name x --public-addr 10.231.0.1:4747 --owner @o \
		--vpn-mode hub --vpn-cidr "$c" >"$WORK/out" 2>&1
	[ $? = 2 ] && [ ! -e "$WORK/x" ] && ok "init --vpn-cidr $c refused: $(head -1 "$WORK/out")" || fail "init --vpn-cidr $c: $(cat "$WORK/out")"
done

hub_init hub hub --vpn-cidr 10.9.0.0/30 || finish
# --- start failures at the hub: TUN missing, not permitted, name in use, address taken
expect_start_fail hub "TUN device $WORK/no-tun is missing" VPN_TUN_PATH="$WORK/no-tun"
mknod "$WORK/tun600" c 10 200 && chmod 600 "$WORK/tun600"
chmod 755 "$WORK/hub"  # uid 65534 must read its state (the files stay 0600)
cp -a "$WORK/hub" "$WORK/hubu" && chown -R 65534:65534 "$WORK/hubu"
: >"$WORK/hubu.fail"
nsx hub env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin VPN_TUN_PATH="$WORK/tun600" \
	setpriv --reuid=65534 --regid=65534 --clear-groups timeout 20 "$DAEMON" --state-dir "$WORK/hubu" \
	--listen 0.0.0.0:$PORT >"$WORK/hubu.fail" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "not permitted (constellad needs CAP_NET_ADMIN" "$WORK/hubu.fail" \
	&& ok "start refused without permission: $(grep -o 'TUN device.*permitted[^;]*' "$WORK/hubu.fail" | head -1)" \
	|| fail "unprivileged start: rc $rc: $(tail -2 "$WORK/hubu.fail")"
chmod 700 "$WORK/hub"
nsx hub ip link add "${IFN[hub]}" type bridge
expect_start_fail hub "interface name ${IFN[hub]} is in use"
nsx hub ip link del "${IFN[hub]}"
nsx hub ip link add blocker type bridge
nsx hub ip addr add 10.9.0.1/32 dev blocker
expect_start_fail hub "overlay address 10.9.0.1 is already on interface blocker"
nsx hub ip link del blocker
ip netns exec "${NS[hub]}" python3 -c 'import socket,time; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::", 51820)); time.sleep(30)' &
BLOCK=$!
for _ in $(seq 100); do nsx hub ss -Huln 'sport = :51820' | grep -q . && break; sleep 0.05; done
expect_start_fail hub "UDP port 51820 is in use"
kill $BLOCK; wait $BLOCK 2>/dev/null
daemon_start hub || finish

# --- pool exhausted: a /30 has the hub and one member
join s1 s1 "$(invite hub)" --public-addr "${IP[s1]}:$PORT" || finish
grep -q "^overlay: 10.9.0.2/30" "$WORK/join-s1.out" && ok "s1 got 10.9.0.2 (the only member address of the /30)" || fail "s1: $(cat "$WORK/join-s1.out")"
# s1 starts with UDP to the hub's WireGuard port dropped on the way (its
# RPC still gets through: the cluster alone would not notice)
nsx s1 iptables -A OUTPUT -p udp --dport 51820 -j DROP
t_s1=$(now_ms)
daemon_start s1 || finish
L=$(invite hub)
nsx j1 "$CLI" --state-dir "$WORK/j1" join --server-name j1 --join "$L" >"$WORK/out" 2>&1
[ $? = 1 ] && grep -q "overlay address pool exhausted" "$WORK/out" && [ ! -e "$WORK/j1" ] \
	&& ok "pool exhausted: $(cat "$WORK/out")" || fail "join into a full pool: $(cat "$WORK/out")"

# --- the hub unreachable over UDP: said in s1's log and `constella show`
# once the grace (15 s) has passed, and "ok again" when it gets through
want="no WireGuard handshake with the hub hub at 10.231.0.1:51820 within 15 s"
for _ in $(seq 100); do grep -qF "$want" "$WORK/s1.log" && break; sleep 0.25; done
grep "warn .*$want" "$WORK/s1.log" | head -1 | grep -q . && show s1 \
	&& jq -e --arg w "$want" '.problem | startswith($w)' "$WORK/show-s1.json" >/dev/null \
	&& ok "hub unreachable over UDP: logged once ($(grep -cF "$want" "$WORK/s1.log") line) after $(( $(now_ms) - t_s1 )) ms, and shown: $(jq -r .problem "$WORK/show-s1.json")" \
	|| fail "no hub-unreachable warning at s1: $(grep overlay "$WORK/s1.log" | tail -3)"
[ "$(grep -cF "$want" "$WORK/s1.log")" = 1 ] || fail "the warning is repeated: $(grep -cF "$want" "$WORK/s1.log") lines"
nsx s1 iptables -D OUTPUT -p udp --dport 51820 -j DROP
for _ in $(seq 80); do grep -q "overlay: ok again" "$WORK/s1.log" && break; sleep 0.25; done
show s1
grep -q "overlay: ok again" "$WORK/s1.log" && [ "$(jq -r .problem "$WORK/show-s1.json")" = "" ] \
	&& ok "once UDP gets through: $(grep -o 'overlay: ok again' "$WORK/s1.log"), no problem shown" \
	|| fail "s1 still reports: $(jq -r .problem "$WORK/show-s1.json")"

# --- hub unreachable from the seed: refused, nothing admitted, link still valid
all_alive "hub s1" "hub,s1" 20 || fail "hub and s1 not up"
L=$(invite s1)
daemon_kill hub
nsx j1 "$CLI" --state-dir "$WORK/j1" join --server-name j1 --join "$L" >"$WORK/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "the overlay hub hub (10.231.0.1:4747) is unreachable from this seed" "$WORK/out" \
	&& [ ! -e "$WORK/j1" ] && ok "hub down: $(cat "$WORK/out")" || fail "join with the hub down: rc $rc: $(cat "$WORK/out")"
status s1
[ "$(jq '.peers | length' "$WORK/st-s1.json")" = 2 ] && ok "nothing admitted at the seed" || fail "s1 admitted someone: $(jq -c '[.peers[].name]' "$WORK/st-s1.json")"
daemon_start hub || finish
# ... the pool is full (s1): retry must say so, not "used"
nsx j1 "$CLI" --state-dir "$WORK/j1" join --server-name j1 --join "$L" >"$WORK/out" 2>&1
grep -q "pool exhausted" "$WORK/out" && ok "the invite survived the failed join (now: pool exhausted)" || fail "retry: $(cat "$WORK/out")"
daemon_stop s1
daemon_stop hub

# --- a network without a hub refuses a joiner behind NAT
"$CLI" --state-dir "$WORK/j2" init --server-name plain --public-addr "${IP[j2]}:$PORT" --owner @o >/dev/null || fail "plain init"
daemon_start j2 || finish
L=$(invite j2)
nsx home "$CLI" --state-dir "$WORK/home" join --server-name home --join "$L" --public-addr 192.168.77.2:4747 >"$WORK/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "behind NAT: the seed sees this join coming from 10.231.0.254, not from 192.168.77.2:4747, and this network has no overlay hub" "$WORK/out" \
	&& [ ! -e "$WORK/home" ] && ok "NAT joiner refused without a hub: $(cat "$WORK/out")" || fail "NAT join without hub: rc $rc: $(cat "$WORK/out")"
# a public joiner of that network uses the same link
nsx j1 "$CLI" --state-dir "$WORK/j1" join --server-name pub --join "$L" --public-addr "${IP[j1]}:$PORT" >"$WORK/out" 2>&1 && ok "the same link then admits a public joiner" || fail "public join: $(cat "$WORK/out")"
finish
