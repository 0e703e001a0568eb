#!/bin/bash
# Membership at scale: for each N, N constellad daemons in network
# namespaces (tests/cluster/lib.sh: one namespace per node, routed), every
# node joining through `constella invite` / `constella join` one after the
# other, its daemon started right after its join. Measures:
#   joins_s     first join to last daemon listening
#   agree_s     last join to every node agreeing (all N alive everywhere, one
#               leader, one lease holder, exactly one runner); polled on
#               snapshots of all nodes taken in parallel, so the resolution
#               is one such snapshot (about 1 s at 100 nodes)
#   cpu_%       per daemon over STEADY_S seconds of steady state (utime +
#               stime from /proc, in clock ticks: the mean over all daemons
#               is finer than one daemon's): mean, max, and the lease holder's
#   rss_MiB     per daemon (VmRSS): median and max
#   rpc/s       requests served plus calls made, per second per node
#               (status "rpc.served" + "rpc.calls"): median, and the holder's
#   failover_s  kill -9 of the lease holder to the first runner start
#               elsewhere (the runner log, CLOCK_MONOTONIC)
# and, when the first and last N of the run differ, the ratio of their
# mean CPU per daemon (the target: at most 2 from 10 to 100 nodes).
#
# usage: sudo bench/cluster_scale.sh [N ...]      (default: 10 30 60 100)
# env:   BUILD (default build), STEADY_S (30), SETTLE_S (10),
#        TOPO=bridge to put the nodes on one bridge instead (then the kernel's
#        neighbour table, shared by all namespaces, overflows at ~33 nodes:
#        see docs/cluster.md)
# Not a test: it prints a table (and the load average before and after, since
# the machine may be shared).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
STEADY_S=${STEADY_S:-30}
SETTLE_S=${SETTLE_S:-10}
CLI=$BUILD/node/constella
DAEMON=$BUILD/node/constellad
[ -x "$CLI" ] && [ -x "$DAEMON" ] || { echo "build constella and constellad first ($BUILD)"; exit 1; }
[ $# -gt 0 ] || set -- 10 30 60 100
OUT=$(mktemp /tmp/cluster_scale.XXXXXX)
trap 'rm -f "$OUT"' EXIT

one() { # one N: prints "N joins agree cpu_mean cpu_max cpu_holder rss_med rss_max rpc_med rpc_holder failover"
	local N=$1
	bash -c '
	N=$1; shift
	. "$1/tests/cluster/lib.sh" "$2" "$3"
	STEADY_S=$4 SETTLE_S=$5
	ulimit -n 65536 2>/dev/null
	net_up "$N"
	cluster_init 1 || exit 1
	daemon_start 1 || exit 1
	t0=$(date +%s%N)
	for i in $(seq 2 "$N"); do
		LINK=$(invite 1) || { echo "invite failed: $(cat "$WORK/invite.err")" >&2; exit 1; }
		cluster_join "$i" "$LINK" || { echo "join n$i failed: $(cat "$WORK/out")" >&2; exit 1; }
		daemon_start "$i" || exit 1
	done
	t1=$(date +%s%N)
	ALL=$(seq -s " " 1 "$N")
	NAMES=$(for i in $ALL; do echo "n$i"; done | sort | paste -sd,)
	# on failure: the distinct views (leader owner epoch runner), not N lists
	views() { sed -n "s/^    n[0-9]*: \([^ ]* [^ ]* [^ ]* [^ ]*\).*/\1/p" "$WORK/wg.out" | sort | uniq -c | head -5 >&2
		  grep -h "bot runner paused\|expired unrenewed" "$WORK"/n*.log | tail -5 >&2; }
	# Agreement, judged on a snapshot of every node taken in parallel (a
	# sequential sweep of 100 status calls lasts seconds): the same leader,
	# lease holder and epoch everywhere, all N alive everywhere, one runner,
	# on the holder.
	agree_now() {
		local i pids=()
		# (a bare wait would wait for the daemons too)
		for i in $ALL; do summary "$i" >"$WORK/s.$i" & pids+=($!); done
		wait "${pids[@]}"
		cat $(for i in $ALL; do echo "$WORK/s.$i"; done) >"$WORK/snap"
		[ "$(cut -d" " -f1-3,5 "$WORK/snap" | sort -u | wc -l)" = 1 ] || return 1
		[ "$(cut -d" " -f5 "$WORK/snap" | head -1)" = "$NAMES" ] || return 1
		[ "$(cut -d" " -f4 "$WORK/snap" | grep -c true)" = 1 ] || return 1
		o=$(cut -d" " -f2 "$WORK/snap" | head -1)
		[ "$(cat "$WORK/s.${o#n}" | cut -d" " -f4)" = true ]
	}
	deadline=$(( $(date +%s) + 60 + N ))
	until agree_now; do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "no agreement at N=$N; views:" >&2
			cut -d" " -f1-4 "$WORK/snap" | sort | uniq -c | head -5 >&2; exit 1; }
		sleep 0.2
	done
	t2=$(date +%s%N)
	sleep "$SETTLE_S"
	wait_group "$ALL" "$NAMES" 30 >"$WORK/wg.out" || { echo "agreement lost at N=$N; views:" >&2; views; exit 1; }
	HOLDER=${G_OWNER#n}
	ticks() { awk "{print \$14 + \$15}" "/proc/$1/stat"; }
	served() { "$CLI" --state-dir "$WORK/n$1" status --json 2>/dev/null | jq ".rpc.served + .rpc.calls"; }
	declare -A c0 s0
	for i in $ALL; do c0[$i]=$(ticks "${DPID[$i]}"); s0[$i]=$(served "$i"); done
	m0=$(date +%s%N)
	sleep "$STEADY_S"
	m1=$(date +%s%N)
	HZ=$(getconf CLK_TCK)
	: >"$WORK/cpu"; : >"$WORK/rss"; : >"$WORK/rpc"
	for i in $ALL; do
		c1=$(ticks "${DPID[$i]}"); s1=$(served "$i")
		awk -v a="${c0[$i]}" -v b="$c1" -v hz="$HZ" -v ns=$((m1 - m0)) \
			"BEGIN{printf \"%.3f\n\", (b - a) / hz / (ns / 1e9) * 100}" >>"$WORK/cpu"
		awk "/VmRSS/{printf \"%.1f\n\", \$2 / 1024}" "/proc/${DPID[$i]}/status" >>"$WORK/rss"
		awk -v a="${s0[$i]}" -v b="$s1" -v ns=$((m1 - m0)) "BEGIN{printf \"%.2f\n\", (b - a) / (ns / 1e9)}" >>"$WORK/rpc"
		[ "$i" = "$HOLDER" ] && { HC=$(tail -1 "$WORK/cpu"); HR=$(tail -1 "$WORK/rpc"); }
	done
	med() { sort -g "$1" | awk "{a[NR]=\$1} END{print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}"; }
	mean() { awk "{s += \$1} END{printf \"%.3f\", s / NR}" "$1"; }
	mx() { sort -g "$1" | tail -1; }
	daemon_kill "$HOLDER"
	VICTIM=n$HOLDER:$KILL_NS
	FO=none
	for _ in $(seq 80); do
		if runlog failover --victim "$VICTIM" >"$WORK/fo" 2>&1; then
			FO=$(sed -n "s/^failover: \([0-9.]*\) s.*/\1/p" "$WORK/fo"); break
		fi
		sleep 0.25
	done
	printf "%d %.1f %.1f %s %s %s %s %s %s %s %s\n" "$N" \
		"$(awk "BEGIN{print ($t1 - $t0) / 1e9}")" "$(awk "BEGIN{print ($t2 - $t1) / 1e9}")" \
		"$(mean "$WORK/cpu")" "$(mx "$WORK/cpu")" "$HC" "$(med "$WORK/rss")" "$(mx "$WORK/rss")" \
		"$(med "$WORK/rpc")" "$HR" "$FO"
	FAILS=0
	' one "$N" "$ROOT" "$CLI" "$DAEMON" "$STEADY_S" "$SETTLE_S"
}

echo "cluster_scale: $(nproc) cores, $(date -u +%FT%TZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), topology ${TOPO:-routed}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%5s %8s %8s %17s %10s %12s %15s %11s\n" N joins_s agree_s "cpu_% mean/max" cpu_%_hold "rss_MiB med/max" "rpc/s med/hold" failover_s
for n in "$@"; do
	r=$(one "$n" | tail -1)
	echo "$r" >>"$OUT"
	set -- $r
	if [ $# = 11 ]; then
		printf "%5s %8s %8s %17s %10s %12s %15s %11s\n" "$1" "$2" "$3" "$4/$5" "$6" "$7/$8" "$9/${10}" "${11}"
	else
		printf "%5s  failed (see above)\n" "$n"
	fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
first=$(head -1 "$OUT"); last=$(tail -1 "$OUT")
set -- $first; N0=${1:-}; C0=${4:-}
set -- $last; N1=${1:-}; C1=${4:-}
if [ -n "$N0" ] && [ -n "$N1" ] && [ "$N0" != "$N1" ] && [ -n "$C0" ] && [ -n "$C1" ]; then
	echo "mean CPU per daemon at $N1 / at $N0: $(awk -v a="$C1" -v b="$C0" 'BEGIN{printf "%.2f", (b > 0) ? a / b : 0}') (target <= 2)"
fi
