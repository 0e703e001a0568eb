#!/bin/bash
# Exactly-once across a handover: three nodes in network namespaces (as
# tests/cluster), the Bot API emulator on the bridge. The owner sends five
# commands, each answered; the lease holder is killed with SIGKILL; the
# owner sends five more at once. The new holder answers those, and every
# one of the ten commands is answered exactly once (counted by the replies
# to each command's message id, after a pause for any late duplicate). The
# replies after the kill come from the new holder's address, and the runner
# log shows no two runners at once. Then the residual window (a holder killed
# with an answer in flight), and a graceful handover: the first victim comes
# back, takes the lease, and the holder it replaces stops polling at once.
# usage: bot_failover.sh CONSTELLA CONSTELLAD EMU_DIR
. "$(dirname "$0")/../cluster/lib.sh" "$1" "$2"
. "$HERE/../bot/botlib.sh" "$3"
trap 'emu_stop; cleanup' EXIT
OWNER_NAME=tester # lib.sh's cluster_init makes @tester the owner

net_up 3
# the emulator lives in the bridge's namespace, reachable by every node
ip -n "$SW" addr add 10.230.0.254/24 dev br0
emu_start 10.230.0.254 "$SW"
TOKEN=424242424:AAfailover-$$-token
ENVS=(TELEGRAM_API_URL="$EMU_URL" CONSTELLA_BOT_POLL_TIMEOUT=5)

cluster_init 1 --bot-token "$TOKEN" || finish
daemon_start 1 "${ENVS[@]}" || finish
for i in 2 3; do
	LINK=$(invite 1) || { fail "invite: $(cat "$WORK/invite.err")"; finish; }
	cluster_join "$i" "$LINK" || finish
	daemon_start "$i" "${ENVS[@]}" || finish
done
wait_group "1 2 3" n1,n2,n3 25 || { fail "3 nodes did not agree"; finish; }
V=${G_OWNER#n}
wait_bot_state "$CLI" "$WORK/n$V" running 20 && ok "bot running on the holder n$V (epoch $G_EPOCH)" ||
	{ fail "bot not running on n$V"; finish; }
for i in 1 2 3; do
	[ "$(cat "$WORK/n$i/bot_token")" = "$TOKEN" ] || fail "n$i lacks the token"
done

as_owner
IDS=()
for c in /start /nodes "/stats n1" /help /nodes; do
	M=$(say "$c")
	IDS+=("$M")
	reply_to "$M" 15 >/dev/null || fail "no answer to $c before the kill"
done
ok "5 commands answered before the kill"
for i in 1 2 3; do
	[ "$("$CLI" --state-dir "$WORK/n$i" status --json | jq -r '"\(.bot.owner_bound)/\(.bot.owner_id)"')" = "true/$OWNER_ID" ] ||
		fail "n$i does not know the owner binding"
done
ok "every member holds the owner binding (id $OWNER_ID)"
sleep 1 # the holder records the last batch as answered

daemon_kill "$V"
VICTIM=n$V:$KILL_NS
echo "killed n$V (bot holder) with SIGKILL"
AFTER=()
for c in /nodes /help "/stats n2" /nodes /help; do
	M=$(say "$c")
	AFTER+=("$M")
done
T0=$SECONDS
for M in "${AFTER[@]}"; do
	reply_to "$M" 30 >/dev/null || fail "command $M sent after the kill not answered"
done
ok "5 commands sent after the kill answered within $((SECONDS - T0)) s"
sleep 6 # time for a duplicate to show up, if there were one
tg bot >"$WORK/bot.json"
for M in "${IDS[@]}" "${AFTER[@]}"; do
	N=$(jq "[.[] | select(.reply_to_message_id == $M)] | length" "$WORK/bot.json")
	[ "$N" = 1 ] || fail "command $M answered $N times"
done
ok "every one of the ${#IDS[@]} + ${#AFTER[@]} commands answered exactly once"

# who answered after the kill
emu_log >"$WORK/emu_log.json"
NEW=$(for M in "${AFTER[@]}"; do
	jq -r --argjson m "$M" '.result[] | select(.method == "sendMessage" and .reply_to == $m and .status == 200) | .remote' "$WORK/emu_log.json"
done | sort -u)
case "$NEW" in
"$(addr "$V")" | "") fail "replies after the kill came from [$NEW]" ;;
*) [ "$(echo "$NEW" | wc -l)" = 1 ] && ok "replies after the kill all from the new holder $NEW (old: $(addr "$V"))" || fail "replies from [$NEW]" ;;
esac
REST=$(for i in 1 2 3; do [ "$i" = "$V" ] || echo -n "$i "; done)
ALIVE=$(for i in $REST; do echo "n$i"; done | paste -sd,)
wait_group "$REST" "$ALIVE" 15 && ok "survivors agree: lease $G_OWNER (epoch $G_EPOCH)" || fail "survivors disagree"
runlog overlap || fail "two bot runners at once"
runlog failover --victim "$VICTIM"

# --- the residual window: the new holder is killed while its answer is in
# flight (committed, not yet sent). The command is not answered twice; the
# last node tells the owner to send it again.
W=${G_OWNER#n}
H0=$(grep -c "owner command /help" "$WORK/n$W.log")
help_seen() { [ "$(grep -c "owner command /help" "$WORK/n$W.log")" -gt "$H0" ]; }
harness inject '{"method": "sendMessage", "hold": 8, "count": 1}' >/dev/null
M=$(say /help)
wait_for 10 help_seen || fail "n$W did not take the command"
sleep 1 # committed; its answer is now held by the emulator
daemon_kill "$W"
echo "killed n$W (bot holder, its answer to /help in flight) with SIGKILL"
LAST=$(for i in $REST; do [ "$i" = "$W" ] || echo "$i"; done)
tg wait-text "moved to another node while it was answering" 20 >"$WORK/note.json" &&
	ok "the last node (n$LAST) told the owner: $(jq -r .text "$WORK/note.json" | head -c 80)..." ||
	fail "no note after a kill with an answer in flight"
M2=$(say /nodes)
reply_to "$M2" 15 >/dev/null && ok "n$LAST answers the next command" || fail "no answer from n$LAST"
sleep 3
tg bot >"$WORK/bot.json"
N=$(jq "[.[] | select(.reply_to_message_id == $M)] | length" "$WORK/bot.json")
[ "$N" = 0 ] && ok "the command in flight was not answered twice (its held answer died with n$W)" ||
	fail "command in flight answered $N times"
N=$(jq '[.[] | select((.text // "") | test("moved to another node"))] | length' "$WORK/bot.json")
[ "$N" = 1 ] && ok "one note" || fail "$N notes"

# --- a graceful handover: the first victim comes back and, as the preferred
# leader, takes the lease from n$LAST (release, then claim). n$LAST stops
# polling at once: the emulator never sees two polls at once (a second
# getUpdates on a token ends the first with 409, as on Telegram), and no
# poll of n$LAST starts after n$V's first. n$V resumes from the cursor and
# answers each command once.
C0=$(emu_log | jq .conflicts)
TB=$(date +%s.%N)
daemon_start "$V" "${ENVS[@]}" || finish
BOTH=$(printf 'n%s\n' "$V" "$LAST" | sort | paste -sd,)
wait_group "$V $LAST" "$BOTH" 20 && [ "$G_OWNER" = "n$V" ] &&
	ok "n$V is back and holds the lease again (epoch $G_EPOCH) in $G_SECS s" ||
	fail "the lease did not move back to n$V ($G_OWNER)"
wait_bot_state "$CLI" "$WORK/n$V" running 15 || fail "the bot does not run on n$V"
wait_bot_state "$CLI" "$WORK/n$LAST" stopped 5 && ok "n$LAST's runner stopped" || fail "n$LAST's runner still runs"
BACK=()
for c in /nodes /help "/stats n$LAST"; do
	M=$(say "$c")
	BACK+=("$M")
done
for M in "${BACK[@]}"; do
	reply_to "$M" 15 >/dev/null || fail "command $M not answered after the handover"
done
sleep 3 # time for a duplicate to show up, if there were one
tg bot >"$WORK/bot.json"
for M in "${BACK[@]}"; do
	N=$(jq "[.[] | select(.reply_to_message_id == $M)] | length" "$WORK/bot.json")
	[ "$N" = 1 ] || fail "command $M answered $N times after the handover"
done
ok "the ${#BACK[@]} commands after the handover answered once each"
emu_log >"$WORK/emu_log.json"
NEW=$(for M in "${BACK[@]}"; do
	jq -r --argjson m "$M" '.result[] | select(.method == "sendMessage" and .reply_to == $m and .status == 200) | .remote' "$WORK/emu_log.json"
done | sort -u)
[ "$NEW" = "$(addr "$V")" ] && ok "answered by n$V ($NEW)" || fail "answers after the handover came from [$NEW]"
[ "$(jq .conflicts "$WORK/emu_log.json")" = "$C0" ] && ok "no two polls at once during the handover (no 409)" ||
	fail "$(($(jq .conflicts "$WORK/emu_log.json") - C0)) polls met another one during the handover"
LATE=$(jq --argjson tb "$TB" --arg v "$(addr "$V")" --arg l "$(addr "$LAST")" '
	[.result[] | select(.method == "getUpdates")] as $g |
	([$g[] | select(.remote == $v and .t > $tb) | .t] | min) as $first |
	[$g[] | select(.remote == $l and .t >= $first)] | length' "$WORK/emu_log.json")
[ "$LATE" = 0 ] && ok "n$LAST started no poll after n$V's first" || fail "n$LAST polled $LATE times after n$V took over"
N=$(jq '[.[] | select((.text // "") | test("moved to another node"))] | length' "$WORK/bot.json")
[ "$N" = 1 ] && ok "no note after a clean handover" || fail "$N notes"
runlog overlap || fail "two bot runners at once"
REST="$V $LAST"
# clean stops: under ASan a leak or error report at exit fails the test
for i in $REST; do daemon_stop "$i"; done
finish
