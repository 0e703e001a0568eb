# Shared helpers for the overlay tests: the seed report's topology in
# network namespaces, daemons by PID, bounded polls. Everything the test
# creates is removed by the EXIT trap.
#
#   "internet": a bridge in a switch namespace, 10.231.0.0/24
#   hub      10.231.0.1   (public; net.ipv4.ip_forward=0)
#   usa      10.231.0.2   (public)
#   s3, s4   10.231.0.3-4 (public, as needed)
#   router   10.231.0.254 on the bridge, 192.168.77.1 towards home:
#            masquerade, no port forwarding
#   home     192.168.77.2, default route via the router only
#
# usage (from a test): . lib.sh CONSTELLA CONSTELLAD
set -u
CLI=$1
DAEMON=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
for t in ip iptables python3 jq wg; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
unset CONSTELLA_ALLOW_REBOOT

SUF=$$
WORK=$(mktemp -d /tmp/overlay.XXXXXX)
chmod 755 "$WORK"
RUNLOG=$WORK/runner.log
PORT=4747
SW=ov$SUF-sw
NSS=()           # every namespace we made
declare -A NS    # node -> namespace
declare -A IP    # node -> its own address
declare -A DPID  # node -> live daemon PID
declare -A IFN   # node -> WireGuard interface name (unique machine-wide)
declare -A LISTEN # node -> LISTEN_ADDR when not 0.0.0.0:4747
FAILS=0

cleanup() {
	set +e
	for n in "${!DPID[@]}"; do kill -9 "${DPID[$n]}" 2>/dev/null; done
	for n in "${!DPID[@]}"; do wait "${DPID[$n]}" 2>/dev/null; done
	for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
	for n in "${IFN[@]}"; do rm -f "/var/run/wireguard/$n.sock"; done
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

mkns() {
	local n=$1
	NS[$n]=ov$SUF-$n
	ip netns add "${NS[$n]}" && NSS+=("${NS[$n]}") || { echo "FAIL: cannot create namespace ${NS[$n]}"; exit 1; }
	ip -n "${NS[$n]}" link set lo up
	IFN[$n]=wg$n$SUF
	IFN[$n]=${IFN[$n]:0:15}
}

# public NAME IP: a namespace on the bridge
public() {
	local n=$1 a=$2
	mkns "$n"
	IP[$n]=$a
	ip link add eth0 netns "${NS[$n]}" type veth peer name p-$n netns "$SW"
	ip -n "$SW" link set p-$n master br0
	ip -n "$SW" link set p-$n up
	ip -n "${NS[$n]}" addr add "$a/24" dev eth0
	ip -n "${NS[$n]}" link set eth0 up
	ip netns exec "${NS[$n]}" sysctl -qw net.ipv4.ip_forward=0
}

# net_up [public nodes...]: the switch, the named public nodes (hub usa s3
# s4 ...) and, with "nat", the router and home
net_up() {
	local n i=0
	ip netns add "$SW" && NSS+=("$SW") || { echo "FAIL: cannot create namespace $SW"; exit 1; }
	ip -n "$SW" link set lo up
	ip -n "$SW" link add br0 type bridge
	ip -n "$SW" link set br0 up
	for n in "$@"; do
		case $n in
		hub) public hub 10.231.0.1 ;;
		usa) public usa 10.231.0.2 ;;
		nat)
			public router 10.231.0.254
			mkns home
			IP[home]=192.168.77.2
			ip link add lan netns "${NS[router]}" type veth peer name eth0 netns "${NS[home]}"
			ip -n "${NS[router]}" addr add 192.168.77.1/24 dev lan
			ip -n "${NS[router]}" link set lan up
			ip -n "${NS[home]}" addr add 192.168.77.2/24 dev eth0
			ip -n "${NS[home]}" link set eth0 up
			ip -n "${NS[home]}" route add default via 192.168.77.1
			ip netns exec "${NS[router]}" sysctl -qw net.ipv4.ip_forward=1
			ip netns exec "${NS[router]}" iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
			;;
		*) i=$((i + 1)); public "$n" "10.231.0.$((10 + i))" ;;
		esac
	done
	# the bridge forwards once its ports are up: prove it before going on
	for n in "${!IP[@]}"; do
		[ "$n" = home ] && continue
		for _ in $(seq 50); do
			ip netns exec "${NS[$n]}" ping -c1 -W1 "${IP[$n]}" >/dev/null 2>&1 || break
			nsx "$n" ping -c1 -W1 "$(first_public)" >/dev/null 2>&1 && break
			sleep 0.1
		done
	done
}

first_public() {
	local n
	for n in hub usa router; do [ -n "${IP[$n]:-}" ] && { echo "${IP[$n]}"; return; }; done
}

nsx() { local n=$1; shift; ip netns exec "${NS[$n]}" "$@"; }

# daemon_start NODE [VAR=VALUE...]: constellad in NODE's namespace, listening
# on ${LISTEN[NODE]}, else 0.0.0.0:4747 (its public and its overlay address);
# waits (10 s) until it listens. Returns 1 (and logs) when it exits instead.
daemon_start() {
	local n=$1 before; shift
	before=$(grep -c "of network .* listening on" "$WORK/$n.log" 2>/dev/null); before=${before:-0}
	(cd "$WORK" && exec ip netns exec "${NS[$n]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		CONSTELLA_TEST_RUNNER_LOG="$RUNLOG" ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
		UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" "$@" \
		"$DAEMON" --state-dir "$WORK/$n" --listen "${LISTEN[$n]:-0.0.0.0:$PORT}" -v \
		>>"$WORK/$n.log" 2>&1) &
	DPID[$n]=$!
	for _ in $(seq 100); do
		if [ "$(grep -c "of network .* listening on" "$WORK/$n.log" 2>/dev/null)" -gt "$before" ]; then
			[ "$(cat "/proc/${DPID[$n]}/comm" 2>/dev/null)" = constellad ] && return 0
			fail "PID ${DPID[$n]} of $n is not constellad"
			return 1
		fi
		kill -0 "${DPID[$n]}" 2>/dev/null || break
		sleep 0.1
	done
	fail "daemon $n did not start: $(tail -3 "$WORK/$n.log")"
	return 1
}

daemon_stop() {
	local n=$1 rc
	kill -TERM "${DPID[$n]}"
	wait "${DPID[$n]}"; rc=$?
	unset "DPID[$n]"
	[ "$rc" = 0 ] || fail "$n exited with $rc on SIGTERM"
}

daemon_kill() {
	local n=$1
	kill -9 "${DPID[$n]}"
	wait "${DPID[$n]}" 2>/dev/null
	unset "DPID[$n]"
}

# hub_init NODE NAME [flags...]: NODE founds a network with the overlay hub
hub_init() {
	local n=$1 name=$2; shift 2
	"$CLI" --state-dir "$WORK/$n" init --server-name "$name" --public-addr "${IP[$n]}:$PORT" \
		--owner @tester --vpn-mode hub --vpn-interface "${IFN[$n]}" "$@" >"$WORK/out" 2>&1 \
		|| { fail "init $n: $(cat "$WORK/out")"; return 1; }
}

invite() { local n=$1; "$CLI" --state-dir "$WORK/$n" invite 2>"$WORK/invite.err"; }

# join NODE NAME LINK [flags...]: NODE joins from its own namespace; the
# output goes to $WORK/join-NODE.out
join() {
	local n=$1 name=$2 link=$3; shift 3
	nsx "$n" "$CLI" --state-dir "$WORK/$n" join --server-name "$name" --join "$link" \
		--vpn-interface "${IFN[$n]}" "$@" >"$WORK/join-$n.out" 2>&1 \
		|| { fail "join $n: $(cat "$WORK/join-$n.out")"; return 1; }
}

# status NODE: its status --json into $WORK/st-NODE.json
status() { "$CLI" --state-dir "$WORK/$1" status --json >"$WORK/st-$1.json" 2>"$WORK/st-$1.err"; }
show() { "$CLI" --state-dir "$WORK/$1" show --json >"$WORK/show-$1.json" 2>"$WORK/show-$1.err"; }

# all_alive "N1 N2 ..." "name1,name2,..." SECS: every listed node sees
# exactly those names, all alive, and they agree on the leader (L_NAME).
# Sets WAIT_MS.
all_alive() {
	local nodes=$1 want=$2 secs=$3 t0 n good leader l s
	t0=$(now_ms)
	while :; do
		good=1; leader=
		for n in $nodes; do
			status "$n" || { good=0; continue; }
			s=$(jq -r '[.peers[] | select(.status == "alive") | .name] | sort | join(",")' \
				"$WORK/st-$n.json" 2>/dev/null)
			[ "$s" = "$want" ] || good=0
			[ "$(jq -r '.peers | length' "$WORK/st-$n.json")" = "$(echo "$want" | tr ',' '\n' | wc -l)" ] || good=0
			l=$(jq -r '.leader as $l | (.peers[] | select(.node_id == $l) | .name) // ""' "$WORK/st-$n.json" 2>/dev/null)
			[ -z "$leader" ] && leader=$l
			[ -n "$l" ] && [ "$l" = "$leader" ] || good=0
		done
		if [ $good = 1 ]; then
			L_NAME=$leader
			WAIT_MS=$(( $(now_ms) - t0 ))
			return 0
		fi
		[ $(( $(now_ms) - t0 )) -ge $((secs * 1000)) ] && break
		sleep 0.25
	done
	for n in $nodes; do
		echo "  $n sees: $(jq -c '[.peers[] | [.name, .status]]' "$WORK/st-$n.json" 2>/dev/null), leader $(jq -r .leader "$WORK/st-$n.json" 2>/dev/null | cut -c1-8)"
	done
	return 1
}

# wg_peer_key NODE: NODE's WireGuard public key from its record
wg_key() { jq -r --arg n "$2" '.peers[] | select(.name == $n) | .wg_pubkey' "$WORK/$1/network_state.json"; }

# handshake_at NODE PUBKEY: latest handshake (unix s) NODE's device has with PUBKEY
handshake_at() {
	nsx "$1" wg show "${IFN[$1]}" latest-handshakes 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'
}

runlog() { python3 "$HERE/../cluster/runlog.py" "$RUNLOG" "$@" --now "$(python3 -c 'import time; print(time.monotonic_ns())')"; }

finish() {
	local f
	if [ "$FAILS" != 0 ]; then
		for f in "$WORK"/*.log; do
			[ -f "$f" ] || continue
			echo "--- tail of $(basename "$f")"; tail -25 "$f"
		done
		echo "$FAILS failures"
		exit 1
	fi
	if grep -q "Sanitizer" "$WORK"/*.log 2>/dev/null; then
		grep -h -A5 Sanitizer "$WORK"/*.log | head -30
		exit 1
	fi
	echo PASS
	exit 0
}
