# Helpers of the telemetry namespace tests on top of tests/cluster/lib.sh
# (namespaces on a bridge, daemons by PID, cleanup on EXIT).
# usage: . lib_tel.sh CONSTELLA CONSTELLAD TEL_RPC PROMCHECK
TEL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEL_RPC=$3
PROMCHECK=$4
. "$TEL_HERE/../cluster/lib.sh" "$1" "$2"
for t in curl setpriv; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done

# rpc I J METHOD [PARAMS] [TIMEOUT]: node I calls METHOD on node J (signed)
rpc() {
	local i=$1 j=$2; shift 2
	nsx "$i" "$TEL_RPC" "$WORK/n$i/network_state.json" "$(addr "$j"):$PORT" "$@"
}

# two_nodes VARS...: n1 founds, n2 joins, both daemons started with VARS
# (each node's own extra VARS in N1_VARS / N2_VARS arrays), both alive.
two_nodes() {
	net_up 2
	cluster_init 1 || finish
	daemon_start 1 "$@" "${N1_VARS[@]}" || finish
	LINK=$(invite 1) || { fail "invite: $(cat "$WORK/invite.err")"; finish; }
	cluster_join 2 "$LINK" || finish
	daemon_start 2 "$@" "${N2_VARS[@]}" || finish
	wait_group "1 2" n1,n2 20 || { fail "the 2 nodes did not agree within 20 s"; finish; }
	ok "2 nodes alive after ${G_SECS}s"
}

# peer_status I NAME: NAME's status as node I's daemon sees it
peer_status() {
	"$CLI" --state-dir "$WORK/n$1" status --json 2>/dev/null |
		jq -r --arg n "$2" '.peers[] | select(.name == $n) | .status'
}

# wait_status I NAME STATUS SECS
wait_status() {
	local s
	for _ in $(seq $(($4 * 10))); do
		s=$(peer_status "$1" "$2")
		[ "$s" = "$3" ] && return 0
		sleep 0.1
	done
	echo "  n$1 sees $2 as \"$s\", not \"$3\""
	return 1
}

# ratio A B: A / B with 2 decimals
ratio() { echo "scale=2; $1 / $2" | bc; }
# within A B F: 1/F <= A/B <= F
within() { [ "$(echo "$1 * $3 >= $2 && $1 <= $2 * $3" | bc)" = 1 ]; }
