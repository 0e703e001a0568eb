#!/bin/bash
# The ghost (issue 11): three nodes run, a fourth joins with the best
# priority but its daemon is never started (a user joins, then sets up the
# service). Nobody has heard it run, so it is neither leader nor a blocker of
# the lease: for longer than the failure timeout and the startup grace, the
# leader, the lease (holder and epoch) and the runner stay as they were, and
# every node shows the ghost as "unknown" (never heard). The leader then
# restarts: it leads again at once, not after its startup grace. When the
# ghost's daemon finally starts, it leads and takes the lease by a clean
# handover.
# usage: cluster_ghost.sh CONSTELLA CONSTELLAD RPC_PROBE
. "$(dirname "$0")/lib.sh"

net_up 4
cluster_init 1 --priority 10 || finish
daemon_start 1 || finish
join_nodes "2 3" --priority 10
wait_group "1 2 3" n1,n2,n3 20 || { fail "3 nodes did not agree within 20 s"; finish; }
ok "3 alive after ${G_SECS}s; leader $G_LEADER, lease $G_OWNER (epoch $G_EPOCH)"
L0=$G_LEADER O0=$G_OWNER E0=$G_EPOCH
STARTS0=$(grep -c '^start' "$RUNLOG")
STOPS0=$(grep -c '^stop' "$RUNLOG")
LEADS0=$(count_in_logs "leader is now")

LINK=$(invite 1) || { fail "invite: $(cat "$WORK/invite.err")"; finish; }
cluster_join 4 "$LINK" --priority 1 || finish
ok "n4 joined with priority 1; its daemon is not started"
# Long enough for the record to reach everyone, the failure timeout (6 s)
# and the startup grace (8 s) to pass: 14 s, sampled every 0.5 s.
bad=0
for k in $(seq 28); do
	for i in 1 2 3; do
		s=$(summary "$i"); set -- $s
		if [ "$1 $2 $3 $4" != "$L0 $O0 $E0 $([ "n$i" = "$O0" ] && echo true || echo false)" ]; then
			[ $bad -lt 5 ] && fail "sample $k, n$i: leader/lease/runner $1 $2 $3 $4, want $L0 $O0 $E0"
			bad=$((bad + 1))
		fi
	done
	sleep 0.5
done
[ $bad = 0 ] && ok "14 s after the ghost joined: leader $L0, lease $O0 epoch $E0 and the runner unchanged on n1 n2 n3"
for i in 1 2 3; do
	status "$i"
	st4=$(jq -r '.peers[] | select(.name == "n4") | "\(.status)|\(.detail)|\(.leader)"' "$WORK/st$i.json")
	case "$st4" in
	"unknown|never heard"*"|false") ok "n$i shows n4 as: $st4";;
	*) fail "n$i shows n4 as [$st4], want unknown, never heard, not leader";;
	esac
done
[ "$(grep -c '^start' "$RUNLOG")" = "$STARTS0" ] && [ "$(grep -c '^stop' "$RUNLOG")" = "$STOPS0" ] \
	&& ok "runner log: no start, no stop while the ghost was there" \
	|| fail "runner log changed: $(runlog intervals)"
[ "$(count_in_logs "leader is now")" = "$LEADS0" ] && ok "no leader change logged" \
	|| fail "leader changes logged: $(grep -h "leader is now" "$WORK"/n*.log | tail -3)"

# --- the leader restarts while the ghost is there. The ghost was a member
# when it started, so it first waits to hear it; but the others, running
# for longer than the failure timeout, never heard it either: it must not
# wait its whole startup grace (made 30 s here) for a node that never ran.
V=${L0#n}
daemon_stop "$V"
daemon_start "$V" LEADER_GRACE_SEC=30 || finish
if wait_group "1 2 3" n1,n2,n3 12; then
	ok "$L0 restarted (startup grace 30 s): leads again after ${G_SECS}s, lease $G_OWNER (epoch $G_EPOCH)"
	[ "$G_LEADER $G_OWNER" = "$L0 $L0" ] || fail "leader $G_LEADER lease $G_OWNER, want $L0"
else
	fail "$L0 restarted: no leader and runner within 12 s (waiting out its grace for the ghost?)"
fi
status "$V"
st4=$(jq -r '.peers[] | select(.name == "n4") | "\(.status)|\(.detail)"' "$WORK/st$V.json")
case "$st4" in
"unknown|never heard"*) ok "$L0 shows n4 as: $st4";;
*) fail "$L0 shows n4 as [$st4], want unknown, never heard";;
esac

# --- the ghost comes to life: it leads, and the lease moves to it cleanly
daemon_start 4 || finish
if wait_group "1 2 3 4" n1,n2,n3,n4 20; then
	ok "n4 started: 4 alive after ${G_SECS}s, leader $G_LEADER, lease $G_OWNER (epoch $G_EPOCH)"
	[ "$G_LEADER" = n4 ] && [ "$G_OWNER" = n4 ] || fail "leader $G_LEADER lease $G_OWNER, want n4"
else
	fail "no agreement after n4 started"
fi
runlog overlap || fail "runner intervals overlap"
finish
