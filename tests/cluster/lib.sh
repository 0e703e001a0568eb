# Shared helpers for the cluster tests: N node namespaces, each with one veth
# (eth0, 10.230.0.I) to an extra router namespace (see net_up); daemons
# started, stopped and SIGKILLed by PID; partitions with iptables inside the
# node namespaces; status polling with bounded waits; the
# runner-log checker (runlog.py). Everything the test creates is removed by
# the EXIT trap.
#
# usage (from a test): . lib.sh CONSTELLA CONSTELLAD [RPC_PROBE]
set -u
CLI=$1
DAEMON=$2
PROBE=${3:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
for t in ip iptables python3 jq; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
# The daemons run with env -i, so nothing from the caller's environment
# (CONSTELLA_ALLOW_REBOOT above all) reaches them.
unset CONSTELLA_ALLOW_REBOOT

SUF=$$
WORK=$(mktemp -d /tmp/cluster.XXXXXX)
RUNLOG=$WORK/runner.log
PORT=4747
SW=cs$SUF-sw
NSS=()        # every namespace we made
declare -A NS # node index -> namespace
declare -A DPID # node index -> live daemon PID
KILLS=()      # "nI:MONO_NS" for runlog.py --kill
FAILS=0

cleanup() {
	set +e
	declare -F test_cleanup >/dev/null && test_cleanup
	for i in "${!DPID[@]}"; do kill -9 "${DPID[$i]}" 2>/dev/null; done
	for i in "${!DPID[@]}"; do wait "${DPID[$i]}" 2>/dev/null; done
	for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
	# KEEP_WORK=DIR keeps the logs and state files (debugging)
	[ -n "${KEEP_WORK:-}" ] && cp -r "$WORK" "$KEEP_WORK" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
# CLOCK_MONOTONIC in ns, the clock of the runner log
mono() { python3 -c 'import time; print(time.monotonic_ns())'; }
addr() { echo "10.230.0.$1"; }

# net_up N: the router namespace and nodes 1..N. Each node has one veth
# (eth0, 10.230.0.I/32) to the router, which routes between them; the gateway
# address 10.229.0.1 sits on every router port. Routed, not bridged: on a
# bridge every node keeps an ARP entry for every node it talks to, and the
# kernel's neighbour table is one table for all namespaces (gc_thresh3, 1024
# entries by default): at about 33 nodes talking all to all it overflows
# ("neighbour: arp_cache: neighbor table overflow!" in dmesg, ENOBUFS on
# send) and breaks every namespace test on the machine. Routed, there are 2N
# entries. TOPO=bridge builds the old bridge (10.230.0.I/24 on br0) instead.
net_up() {
	local i
	ip netns add "$SW" && NSS+=("$SW") || { echo "FAIL: cannot create namespace $SW"; exit 1; }
	ip -n "$SW" link set lo up
	if [ "${TOPO:-routed}" = bridge ]; then
		ip -n "$SW" link add br0 type bridge
		ip -n "$SW" link set br0 up
	else
		ip netns exec "$SW" sysctl -qw net.ipv4.ip_forward=1
		# A "br0" all the same (a bridge without ports): an address a
		# test puts on it (tests/bot's emulator, 10.230.0.254/24) is the
		# router's own, reached by every node through its default route.
		ip -n "$SW" link add br0 type bridge
		ip -n "$SW" link set br0 up
	fi
	for i in $(seq "$1"); do
		NS[$i]=cs$SUF-n$i
		ip netns add "${NS[$i]}" && NSS+=("${NS[$i]}") || { echo "FAIL: namespace ${NS[$i]}"; exit 1; }
		ip -n "${NS[$i]}" link set lo up
		# Both ends are created directly in their namespaces: the names
		# never meet the host's or another test's.
		ip link add eth0 netns "${NS[$i]}" type veth peer name p$i netns "$SW"
		ip -n "$SW" link set p$i up
		ip -n "${NS[$i]}" link set eth0 up
		if [ "${TOPO:-routed}" = bridge ]; then
			ip -n "$SW" link set p$i master br0
			ip -n "${NS[$i]}" addr add "$(addr "$i")/24" dev eth0
		else
			ip -n "$SW" addr add 10.229.0.1/32 dev p$i
			ip -n "$SW" route add "$(addr "$i")/32" dev p$i
			ip -n "${NS[$i]}" addr add "$(addr "$i")/32" dev eth0
			ip -n "${NS[$i]}" route add 10.229.0.1/32 dev eth0
			ip -n "${NS[$i]}" route add default via 10.229.0.1 dev eth0
		fi
	done
	# Forwarding works once the ports are up; prove it before going on.
	for _ in $(seq 50); do
		ip netns exec "${NS[1]}" ping -c1 -W1 "$(addr "$1")" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "FAIL: node 1 cannot reach node $1"; exit 1
}

# nsx I CMD...: run CMD in node I's namespace
nsx() { local i=$1; shift; ip netns exec "${NS[$i]}" "$@"; }

# daemon_start I [VAR=VALUE...]: constellad for node I in its namespace,
# bot runner logging to $RUNLOG; waits (5 s) until it listens.
daemon_start() {
	local i=$1 before n; shift
	before=$(grep -c "listening on" "$WORK/n$i.log" 2>/dev/null); before=${before:-0}
	# The subshell execs ip, which execs env, which execs constellad:
	# $! is the daemon's own PID.
	(cd "$WORK" && exec ip netns exec "${NS[$i]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		CONSTELLA_TEST_RUNNER_LOG="$RUNLOG" "$@" \
		"$DAEMON" --state-dir "$WORK/n$i" --listen "$(addr "$i"):$PORT" -v \
		>>"$WORK/n$i.log" 2>&1) &
	DPID[$i]=$!
	for _ in $(seq 50); do
		n=$(grep -c "listening on" "$WORK/n$i.log" 2>/dev/null)
		if [ "${n:-0}" -gt "$before" ]; then
			# kill -9 must hit the daemon itself, not a wrapper
			[ "$(cat "/proc/${DPID[$i]}/comm" 2>/dev/null)" = constellad ] && return 0
			fail "PID ${DPID[$i]} of n$i is $(cat "/proc/${DPID[$i]}/comm" 2>/dev/null), not constellad"
			return 1
		fi
		kill -0 "${DPID[$i]}" 2>/dev/null || break
		sleep 0.1
	done
	fail "daemon n$i did not start: $(tail -3 "$WORK/n$i.log")"
	return 1
}

# daemon_stop I: SIGTERM, clean exit expected
daemon_stop() {
	local i=$1 rc
	kill -TERM "${DPID[$i]}"
	wait "${DPID[$i]}"; rc=$?
	unset "DPID[$i]"
	[ "$rc" = 0 ] || fail "n$i exited with $rc on SIGTERM"
}

# daemon_kill I: SIGKILL; the monotonic instant taken right before the
# signal goes into KILLS (and KILL_NS) for the runner-log checker.
daemon_kill() {
	local i=$1
	KILL_NS=$(python3 -c 'import os, sys, time
t = time.monotonic_ns(); os.kill(int(sys.argv[1]), 9); print(t)' "${DPID[$i]}")
	wait "${DPID[$i]}" 2>/dev/null
	unset "DPID[$i]"
	KILLS+=("n$i:$KILL_NS")
}

# cluster_init I [--priority P]: node I founds the network
cluster_init() {
	local i=$1; shift
	"$CLI" --state-dir "$WORK/n$i" init --server-name "n$i" --public-addr "$(addr "$i"):$PORT" \
		--owner @tester "$@" >"$WORK/out" 2>&1 || { fail "init n$i: $(cat "$WORK/out")"; return 1; }
}

# invite I [--ttl T]: prints a join link from node I (its daemon must run)
invite() {
	local i=$1; shift
	"$CLI" --state-dir "$WORK/n$i" invite "$@" 2>"$WORK/invite.err"
}

# cluster_join I LINK [--priority P]: node I joins from its own namespace,
# over the bridge
cluster_join() {
	local i=$1 link=$2; shift 2
	nsx "$i" "$CLI" --state-dir "$WORK/n$i" join --server-name "n$i" --join "$link" \
		--public-addr "$(addr "$i"):$PORT" "$@" >"$WORK/out" 2>&1 \
		|| { fail "join n$i: $(cat "$WORK/out")"; return 1; }
}

node_id() { cat "$WORK/n$1/node_id"; }
# name_of ID: nI for a node id, the id itself if unknown, "-" when empty
name_of() {
	local d
	[ -n "$1" ] || { echo "-"; return; }
	for d in "$WORK"/n*/node_id; do
		[ "$(cat "$d")" = "$1" ] && { basename "$(dirname "$d")"; return; }
	done
	echo "$1"
}

# status I: node I's status --json (through its daemon) into $WORK/st$I.json
status() { "$CLI" --state-dir "$WORK/n$1" status --json >"$WORK/st$1.json" 2>"$WORK/st$1.err"; }
# summary I: "LEADER LEASE_OWNER EPOCH RUNNER ALIVE,NAMES ALL,NAMES" (names)
summary() {
	local s
	status "$1" || { echo "status-failed"; return; }
	s=$(jq -r '[(.leader // ""), (.bot_lease_owner // ""), ((.bot_lease_epoch // -1) | tostring),
		((.bot_runner // false) | tostring),
		([.peers[] | select(.status == "alive") | .name] | sort | join(",")),
		([.peers[] | .name] | sort | join(","))] | map(if . == "" then "-" else . end) | join(" ")' \
		"$WORK/st$1.json" 2>/dev/null) || { echo "bad-json"; return; }
	set -- $s
	echo "$(name_of "${1#-}") $(name_of "${2#-}") $3 $4 $5 $6"
}

# wait_group "I J ..." ALIVE_NAMES SECS: waits until every listed node sees
# exactly ALIVE_NAMES (e.g. n1,n2) alive, all name the same leader and lease
# owner (both members of the group), and exactly one of them runs the bot
# runner, the lease owner. Sets G_LEADER G_OWNER G_EPOCH (names, epoch) and
# G_SECS (time it took). Prints the last summaries on timeout.
wait_group() {
	local nodes=$1 want=$2 secs=$3 t0 i s leader owner epoch runners good
	t0=$(date +%s%N)
	declare -A sum
	while :; do
		good=1; leader=; owner=; epoch=; runners=
		for i in $nodes; do
			s=$(summary "$i"); sum[$i]=$s
			set -- $s
			[ $# = 6 ] || { good=0; continue; }
			[ "$5" = "$want" ] || good=0
			[ -z "$leader" ] && leader=$1; [ "$1" = "$leader" ] || good=0
			[ -z "$owner" ] && owner=$2; [ "$2" = "$owner" ] || good=0
			[ -z "$epoch" ] && epoch=$3; [ "$3" = "$epoch" ] || good=0
			[ "$4" = true ] && runners="$runners n$i"
		done
		case ",$want," in *",$leader,"*) ;; *) good=0;; esac
		case ",$want," in *",$owner,"*) ;; *) good=0;; esac
		[ "$runners" = " $owner" ] || good=0
		if [ $good = 1 ]; then
			G_LEADER=$leader G_OWNER=$owner G_EPOCH=$epoch
			G_SECS=$(( ($(date +%s%N) - t0) / 1000000 ))
			G_SECS=$(printf '%d.%03d' $((G_SECS / 1000)) $((G_SECS % 1000)))
			return 0
		fi
		[ $(( ($(date +%s%N) - t0) / 1000000000 )) -ge "$secs" ] && break
		sleep 0.25
	done
	echo "  no agreement within $secs s on alive=$want; per node (leader owner epoch runner alive all):"
	for i in $nodes; do echo "    n$i: ${sum[$i]}"; done
	return 1
}

# in_state_file I NAME: does node I's network_state.json list NAME as a peer
in_state_file() { jq -e --arg n "$2" '[.peers[].name] | index($n) != null' "$WORK/n$1/network_state.json" >/dev/null 2>&1; }

# iptables DROP between two groups, both directions, in every node namespace
# involved: partition "1 2" "3 4"; heal "1 2 3 4"
partition() {
	local a b
	for a in $1; do for b in $2; do
		nsx "$a" iptables -A INPUT -s "$(addr "$b")" -j DROP
		nsx "$a" iptables -A OUTPUT -d "$(addr "$b")" -j DROP
		nsx "$b" iptables -A INPUT -s "$(addr "$a")" -j DROP
		nsx "$b" iptables -A OUTPUT -d "$(addr "$a")" -j DROP
	done; done
}
heal() {
	local i
	for i in $1; do nsx "$i" iptables -F INPUT; nsx "$i" iptables -F OUTPUT; done
}

# loss_on P "I J ...": each listed node's link loses a random fraction P of
# the packets it sends, as netem on the link's egress would (iptables
# statistic match: this kernel has no netem), so every packet between two
# nodes is lost with probability P; loss_off "I J ...": the rules removed
loss_on() {
	local i
	for i in $2; do
		nsx "$i" iptables -A OUTPUT -o eth0 -m statistic --mode random --probability "$1" -j DROP
	done
}
loss_off() { heal "$1"; }

# count_in_logs PATTERN: lines matching PATTERN in all daemon logs
count_in_logs() { cat "$WORK"/n*.log 2>/dev/null | grep -c -- "$1"; }

# runlog ARGS...: the runner-log checker; KILLS are passed along
runlog() {
	local k args=()
	for k in "${KILLS[@]}"; do args+=(--kill "$k"); done
	python3 "$HERE/runlog.py" "$RUNLOG" "$@" "${args[@]}" --now "$(mono)"
}

# join_nodes "I J ..." [JOIN ARGS]: each listed node joins by an invite of
# node 1 (its daemon must run) and starts its daemon; exits on failure
join_nodes() {
	local i nodes=$1; shift
	for i in $nodes; do
		LINK=$(invite 1) || { fail "invite: $(cat "$WORK/invite.err")"; finish; }
		cluster_join "$i" "$LINK" "$@" || finish
		daemon_start "$i" || finish
	done
}

# finish: the verdict; daemon logs' tails when something failed
# four_nodes: nodes 1-4 on the bridge, 1 inits, 2-4 join by invite, all
# daemons up and agreeing (sets G_* as wait_group does); exits on failure.
four_nodes() {
	local i
	net_up 4
	cluster_init 1 || finish
	daemon_start 1 || finish
	join_nodes "2 3 4"
	wait_group "1 2 3 4" n1,n2,n3,n4 20 || { fail "4 nodes did not agree within 20 s"; finish; }
	ok "4 alive after ${G_SECS}s; leader $G_LEADER, lease $G_OWNER (epoch $G_EPOCH)"
}

finish() {
	local f
	if [ "$FAILS" != 0 ]; then
		echo "--- runner log intervals"
		runlog intervals
		for f in "$WORK"/n*.log; do
			echo "--- tail of $(basename "$f")"; tail -15 "$f"
		done
		grep -h "Sanitizer" "$WORK"/n*.log | head -5
		echo "$FAILS failures"
		exit 1
	fi
	grep -q "Sanitizer" "$WORK"/n*.log 2>/dev/null && { grep -h Sanitizer "$WORK"/n*.log | head -5; exit 1; }
	echo PASS
	exit 0
}
