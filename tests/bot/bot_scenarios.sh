#!/bin/bash
# The bot against the Bot API emulator (telegram-test-api 4.2.1), driven as
# the owner through the emulator's client side, with real daemons on
# loopback: the state and deleteWebhook at start; a stranger is refused;
# /start binds the owner; the node card and every button (Stats, Network,
# Metrics with its PNG, Reboot cancelled and confirmed, Back, Refresh); a
# speed test that waits on a stopped node while the bot answers a command; a
# stale button; /stats; /invite (15 min by default) and a real join with the link;
# the token reaches the joiner; `constella bot-token set` replaces it
# everywhere; 429 is obeyed; 409 makes the runner yield; a bad token is one
# log line and a state; /remove with confirmation. No token in any log.
# Over the signed RPC: GetSettings seals the token, BotCursor is fenced.
# n1 has priority -1, so it leads and holds the bot throughout.
# usage: bot_scenarios.sh CONSTELLA CONSTELLAD EMU_DIR RPC_PROBE
set -u
CLI=$1
DAEMON=$2
PROBE=$4
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/botsc.XXXXXX)
. "$HERE/botlib.sh" "$3"
FAILS=0
PIDS=()
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	emu_stop
	rm -rf "$WORK"
}
trap cleanup EXIT
finish() {
	if [ "$FAILS" != 0 ]; then
		for f in "$WORK"/n*.log "$WORK/emu.log"; do
			[ -f "$f" ] && { echo "--- tail of $(basename "$f")"; tail -25 "$f"; }
		done
		echo "$FAILS failures"
		exit 1
	fi
	# a clean stop of every daemon: a sanitizer report at exit fails the test
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
	grep -h -A12 "Sanitizer" "$WORK"/n*.log && exit 1
	echo PASS
	exit 0
}

TOKEN=123456789:AAtest-$$-first_token_of_the_bot
TOKEN1=$TOKEN
P1=$((20000 + $$ % 20000))
P2=$((P1 + 1))
emu_start 127.0.0.1

# daemon I PORT [VAR=VALUE...]: constellad for node I on loopback, pointed at the emulator
daemon() {
	local i=$1 port=$2
	shift 2
	(cd "$WORK" && exec env TELEGRAM_API_URL="$EMU_URL" CONSTELLA_BOT_POLL_TIMEOUT=5 \
		LEADER_GRACE_SEC=1 HEARTBEAT_INTERVAL=0.5 "$@" "$DAEMON" --state-dir "$WORK/n$i" \
		--listen "127.0.0.1:$port" -v >>"$WORK/n$i.log" 2>&1) &
	PIDS+=($!)
	eval "PID$i=$!"
}

"$CLI" --state-dir "$WORK/n1" init --server-name n1 --public-addr "127.0.0.1:$P1" --owner @$OWNER_NAME --priority -1 \
	--bot-token "$TOKEN" >/dev/null || { fail "init"; finish; }
# the Reboot RPC allowed but in its dry run: the call is recorded in a file
# (REBOOT_CMD=/bin/true as well, so nothing could ever reboot this machine)
REBOOT_LOG=$WORK/reboot.log
daemon 1 "$P1" CONSTELLA_ALLOW_REBOOT=1 CONSTELLA_REBOOT_DRY_RUN="$REBOOT_LOG" REBOOT_CMD=/bin/true
wait_bot_state "$CLI" "$WORK/n1" running 20 && ok "bot running on n1" || { fail "bot not running"; finish; }
# "running" from the moment the long poll starts, not when the first one
# comes back (CONSTELLA_BOT_POLL_TIMEOUT later: 5 s here, 25 s by default)
PT=$(date -d "$(grep -m1 "polling from update" "$WORK/n1.log" | cut -d' ' -f1)" +%s)
SINCE=$("$CLI" --state-dir "$WORK/n1" status --json | jq .bot.since)
[ "$SINCE" -le $((PT + 1)) ] && ok "state running since the poll started ($SINCE, poll at $PT)" ||
	fail "state running only since $SINCE, the poll started at $PT"
# a webhook would make getUpdates fail with 409: deleted before the first poll
emu_log | jq -e --arg t "$TOKEN" '[.result[] | select(.token == $t) | .method] |
	index("deleteWebhook") != null and index("deleteWebhook") < index("getUpdates")' >/dev/null &&
	ok "deleteWebhook before the first getUpdates" || fail "no deleteWebhook before polling"

# setMyCommands reached the emulator
C=$(emu_curl "$EMU_URL/_harness/commands?token=$TOKEN" | jq -r '[.result[].command] | join(",")')
[ "$C" = "start,nodes,stats,invite,remove,help" ] && ok "commands registered: $C" || fail "setMyCommands: [$C]"

# --- a stranger first: refused once, not bound
as_stranger
M=$(say /start)
R=$(tg wait-text "owner only" 10 | jq -r .text)
[ "$R" = "⛔ This bot serves its owner only." ] && ok "stranger refused" || fail "stranger got [$R]"
say /nodes >/dev/null
sleep 1.5
N=$(bot_count)
[ "$N" = 1 ] && ok "stranger refused once ($N message)" || fail "stranger got $N messages"
grep -q "refused Telegram user 2002 (@mallory)" "$WORK/n1.log" && ok "refusal logged with the id" || fail "no refusal log line"
[ "$("$CLI" --state-dir "$WORK/n1" status --json | jq -r .bot.owner_bound)" = false ] && ok "stranger did not bind" || fail "owner bound by a stranger"

# --- the owner: /start binds and shows the list
as_owner
M=$(say /start)
R=$(reply_to "$M" 10 | jq -r .text)
echo "$R" | grep -q "1 node, 1 online" && ok "/start: node list" || fail "/start answered [$R]"
J=$("$CLI" --state-dir "$WORK/n1" status --json)
[ "$(echo "$J" | jq -r .bot.owner_bound)/$(echo "$J" | jq -r .bot.owner_id)" = "true/$OWNER_ID" ] &&
	ok "owner bound to id $OWNER_ID" || fail "owner binding: $(echo "$J" | jq -c .bot)"
# the username now belongs to someone else: the numeric id decides
TG_USER_ID=3003 TG_USERNAME=$OWNER_NAME
M=$(say /start)
R=$(tg wait-text "owner only" 10 | jq -r .text)
[ "$R" = "⛔ This bot serves its owner only." ] && ok "the owner's username under another id is refused" || fail "username taken over: [$R]"
as_owner
OLD_LIST_DATA=$(tg button "n1" | jq -r .data)
OLD_LIST_MSG=$(tg button "n1" | jq -r .message_id)

# --- node card and every button
press "n1" >/dev/null
wait_screen "🖥 <b>n1</b>" && ok "card opened" || fail "no card"
screen_text | grep -q "🟢 online · 👑 leader · 🤖 runs this bot" && ok "card marks leader and bot host" || fail "card marks"
press "Stats" >/dev/null
wait_screen "📊 <b>Stats</b>" && screen_text | grep -q "CPU: <b>" && screen_text | grep -q "Memory: <b>" &&
	ok "📊 Stats on the card" || fail "stats"
press "Network" >/dev/null
# alone, n1 has no member to test against and no SPEEDTEST_URL: said politely
wait_screen "internet test is off" 20 && ok "🌐 Network alone: $(screen_text | tail -1)" || fail "network"
PHOTOS0=$(tg bot | jq '[.[] | select(.photo)] | length')
press "Metrics" >/dev/null
wait_screen "Chart above" 15 && ok "📈 Metrics: card moved below the chart" || fail "metrics"
PH=$(tg bot | jq -c '[.[] | select(.photo)] | last')
[ "$(tg bot | jq '[.[] | select(.photo)] | length')" = $((PHOTOS0 + 1)) ] && ok "one photo sent" || fail "photos"
echo "$PH" | jq -r .caption | grep -q "📈 <b>n1</b>: last 6 h" && ok "caption: $(echo "$PH" | jq -r .caption | tr '\n' '|')" || fail "caption [$PH]"
emu_curl "$EMU_URL/_harness/photo?message_id=$(echo "$PH" | jq -r .message_id)" -o "$WORK/chart.png"
png_check "$WORK/chart.png" 900 600 && ok "chart PNG decodes, 900x600" || fail "chart PNG"
[ "$(tg screen | jq .message_id)" -gt "$(echo "$PH" | jq .message_id)" ] && ok "screen is below the chart" || fail "screen above chart"

press "Reboot" >/dev/null
wait_screen "Reboot <b>n1</b>\\?" && ok "reboot asks first" || fail "no reboot confirmation"
press "Cancel" >/dev/null
wait_screen "🖥 <b>n1</b>" && ! screen_text | grep -q "Reboot" && ok "reboot cancelled: back on the card" || fail "cancel"
{ grep -q "owner asked to reboot" "$WORK/n1.log" || [ -s "$REBOOT_LOG" ]; } && fail "cancel still rebooted" ||
	ok "no Reboot RPC after cancel"
press "Reboot" >/dev/null
wait_screen "Reboot <b>n1</b>\\?" || fail "no reboot confirmation (2)"
press "Yes, reboot" >/dev/null
wait_screen "Reboot recorded \\(dry run\\)" 10 && ok "reboot confirmed: $(screen_text | tail -1)" || fail "reboot result"
wait_for 5 grep -q "^reboot ts=" "$REBOOT_LOG" && [ "$(wc -l <"$REBOOT_LOG")" = 1 ] &&
	ok "the dry run recorded one reboot: $(cat "$REBOOT_LOG")" || fail "reboot log: $(cat "$REBOOT_LOG" 2>&1)"
press "Back" >/dev/null
wait_screen "Choose a node" && ok "← Back to the list" || fail "back"

# --- a button from an old screen
tg press "$OLD_LIST_MSG" "$OLD_LIST_DATA" >/dev/null
stale_answered() { emu_log | jq -e '[.result[] | select(.method == "answerCallbackQuery" and ((.text // "") | test("out of date")))] | length == 1'; }
wait_for 10 stale_answered &&
	ok "stale button: polite answer" || fail "stale button not answered politely"

# --- /stats
M=$(say /stats)
reply_to "$M" 10 >/dev/null
wait_for 10 tg wait-text '<b>n1</b>\nCPU: <b>' 1 &&
	ok "/stats answered with every node" || fail "/stats"

# a list drawn while n1 is alone, for 🔄 Refresh once n2 is up
M=$(say /nodes)
reply_to "$M" 10 | jq -r .text | grep -q "1 node, 1 online" || fail "/nodes alone"

# --- /invite: 15 min by default; then /invite 1h and a real join with that link
M=$(say /invite)
R=$(reply_to "$M" 10 | jq -r .text)
echo "$R" | grep -q "valid 15 min" && echo "$R" | grep -q "ttl=900s</code>" && ok "/invite: 15 min by default" ||
	fail "/invite answered [$R]"
M=$(say "/invite 1h")
R=$(reply_to "$M" 10 | jq -r .text)
LINK=$(echo "$R" | sed -n 's/^<code>\(join:[^<]*\)<\/code>$/\1/p' | head -1 | sed 's/&amp;/\&/g')
echo "$R" | grep -q "valid 1 h" && [ -n "$LINK" ] && ok "/invite 1h: link" || fail "/invite answered [$R]"
"$CLI" --state-dir "$WORK/n2" join --server-name n2 --join "$LINK" --public-addr "127.0.0.1:$P2" \
	>"$WORK/join.out" 2>&1 && ok "n2 joined with the bot's link" || fail "join: $(cat "$WORK/join.out")"
[ "$(cat "$WORK/n2/bot_token" 2>/dev/null)" = "$TOKEN" ] && ok "token reached the joiner in the sealed join reply" || fail "joiner has no token"
for f in n1/bot_token n1/bot.json n2/bot_token n2/bot.json; do
	[ "$(stat -c %a "$WORK/$f" 2>/dev/null)" = 600 ] || fail "$f mode $(stat -c %a "$WORK/$f" 2>&1)"
done
ok "bot_token and bot.json are 0600 on both nodes"
daemon 2 "$P2"
two_alive() { "$CLI" --state-dir "$WORK/n1" status --json | jq -e '[.peers[] | select(.status == "alive")] | length == 2' >/dev/null; }
wait_for 20 two_alive && ok "n2 alive" || fail "n2 not alive"
# 🔄 Refresh: the list drawn while n1 was alone, redrawn in place
S0=$(tg screen | jq .message_id)
press "Refresh" >/dev/null
wait_screen "2 nodes, 2 online" && [ "$(tg screen | jq .message_id)" = "$S0" ] &&
	ok "🔄 Refresh: the same message now lists n2" || fail "refresh"
M=$(say /nodes)
R=$(reply_to "$M" 10 | jq -r .text)
echo "$R" | grep -q "2 nodes, 2 online" && ok "/nodes: 2 nodes" || fail "/nodes answered [$R]"
# n2's card: a real node-to-node speed test against the bot's node
press "n2" >/dev/null
wait_screen "🖥 <b>n2</b>" || fail "no card for n2"
# A long action blocks nothing: n2 is stopped (SIGSTOP) before the button,
# so the test waits on n2; meanwhile the bot answers a command at once and
# the card keeps "running…". Then n2 goes on and the result arrives.
kill -STOP "$PID2"
press "Network" >/dev/null
wait_screen "Speed test: <i>running…</i>" 5 || fail "no running… on the card"
M=$(say /help)
reply_to "$M" 5 >/dev/null && screen_text | grep -q "Speed test: <i>running…</i>" &&
	ok "/help answered while the speed test waits on n2" || fail "/help not answered during the speed test"
kill -CONT "$PID2"
wait_screen "Speed test</b> with n1" 40 && screen_text | grep -q "Mbit/s · ⬆️ <b>" &&
	ok "🌐 Network n2 ⇄ n1: $(screen_text | tail -1)" || fail "node-to-node speed test"
press "Back" >/dev/null

# --- the settings and the cursor over the signed RPC, as a member sees them
# (rpc_probe signs with the network secret from n1's state file)
probe() {
	"$PROBE" --url "http://127.0.0.1:$P2/rpc" --state "$WORK/n1/network_state.json" --method "$1" \
		--params "$2" 2>&1
}
R=$(probe GetSettings '{}')
echo "$R" | grep -q '^200 ' && echo "$R" | grep -q '"token"' && ! echo "$R" | grep -qF "$TOKEN" &&
	! echo "$R" | grep -qF "${TOKEN#*:}" && ok "GetSettings: the token only sealed" ||
	fail "GetSettings answered [$R]"
# BotCursor is fenced by the lease: a member that is not the holder of the
# lease n2 knows (n2 itself, at the current epoch) is refused, and so is a
# request without an epoch; the cursor does not move
E=$("$CLI" --state-dir "$WORK/n1" status --json | jq .bot_lease_epoch)
C0=$(probe GetBotCursor '{}' | cut -d' ' -f2- | jq -c .result.cursor)
BIG=$(echo "$C0" | jq -c '.update_id += 1000 | .answered = .update_id')
R1=$(probe BotCursor "{\"holder\": \"$(cat "$WORK/n2/node_id")\", \"epoch\": $E, \"cursor\": $BIG}")
R2=$(probe BotCursor "{\"holder\": \"$(cat "$WORK/n1/node_id")\", \"epoch\": 0, \"cursor\": $BIG}")
C1=$(probe GetBotCursor '{}' | cut -d' ' -f2- | jq -c .result.cursor)
echo "$R1" | grep -q '^409 .*stale lease' && echo "$R2" | grep -q '^400 ' && [ -n "$C0" ] && [ "$C1" = "$C0" ] &&
	ok "BotCursor from a non-holder: 409; without an epoch: 400; cursor kept: $C1" ||
	fail "BotCursor: [$R1] [$R2], cursor $C0 -> $C1"

# --- 429: the retry waits retry_after
harness inject '{"method": "sendMessage", "status": 429, "description": "Too Many Requests: retry after 2", "retry_after": 2, "count": 1}' >/dev/null
M=$(say /help)
R=$(reply_to "$M" 15 | jq -r .text)
echo "$R" | grep -q "your nodes from here" && ok "/help answered after a 429" || fail "/help after 429: [$R]"
GAP=$(emu_log | jq '[.result[] | select(.method == "sendMessage")] | .[-2:] | if .[0].status == 429 and .[1].status == 200 then .[1].t - .[0].t else -1 end')
python3 -c "import sys; sys.exit(0 if $GAP >= 2.0 else 1)" && ok "429 obeyed: resent after ${GAP} s (retry_after 2)" || fail "429 gap $GAP"
N=$(tg bot | jq "[.[] | select(.reply_to_message_id == $M)] | length")
[ "$N" = 1 ] && ok "answered once despite the 429" || fail "$N answers"

# --- 409: the runner yields and re-checks the lease, then polls again
harness inject '{"method": "getUpdates", "status": 409, "description": "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running", "count": 1}' >/dev/null
wait_for 15 grep -q "409 Conflict from Telegram" "$WORK/n1.log" && ok "409: $(grep -m1 -o '409 Conflict.*' "$WORK/n1.log")" || fail "no 409 handling"
wait_bot_state "$CLI" "$WORK/n1" conflict 5 && ok "status shows the conflict" || fail "no conflict state"
wait_bot_state "$CLI" "$WORK/n1" running 15 && ok "running again after the yield" || fail "not running after 409"
YIELD=$(emu_log | jq '[.result[] | select(.method == "getUpdates")] | (map(.injected == true) | index(true)) as $i | .[$i + 1].t - .[$i].t')
python3 -c "import sys; sys.exit(0 if $YIELD >= 4.0 else 1)" && ok "next poll ${YIELD} s after the 409 (yield 5 s)" || fail "yield $YIELD"
M=$(say /nodes)
reply_to "$M" 15 >/dev/null && ok "answers after the conflict" || fail "no answer after 409"

# --- server errors back off: 1 s, doubling, ±25 % jitter; one warning, then
# debug lines; running again once a poll succeeds
W0=$(grep -c "warn .*Telegram getUpdates failed" "$WORK/n1.log")
harness inject '{"method": "getUpdates", "status": 502, "description": "Bad Gateway", "count": 3}' >/dev/null
wait_bot_state "$CLI" "$WORK/n1" backoff 10 && ok "502: state backoff" || fail "no backoff state"
wait_bot_state "$CLI" "$WORK/n1" running 20 && ok "running again after the back-off" || fail "not running after 502s"
GAPS=$(emu_log | jq -c '[.result[] | select(.method == "getUpdates")] | (map(.status == 502) | index(true)) as $i |
	[.[$i:$i + 4][] | .t] | [.[1] - .[0], .[2] - .[1], .[3] - .[2]]')
python3 -c "import sys; g = $GAPS; sys.exit(0 if all(0.75 * d - 0.05 <= x <= 1.25 * d + 0.3 for x, d in zip(g, (1, 2, 4))) else 1)" &&
	ok "back-off between polls: $GAPS s (1, 2, 4 ± 25 %)" || fail "back-off gaps $GAPS"
[ "$(grep -c "warn .*Telegram getUpdates failed" "$WORK/n1.log")" = $((W0 + 1)) ] &&
	ok "one warning for the three failures" || fail "$(($(grep -c "warn .*Telegram getUpdates failed" "$WORK/n1.log") - W0)) warnings"
M=$(say /nodes)
reply_to "$M" 15 >/dev/null && ok "answers after the back-off" || fail "no answer after the back-off"

# --- bot-token set replaces the token everywhere
TOKEN2=987654321:AAsecond-$$-token_of_the_bot
echo "$TOKEN2" | "$CLI" --state-dir "$WORK/n1" bot-token set >"$WORK/bt.out" 2>&1 && ok "bot-token set: $(cat "$WORK/bt.out")" || fail "bot-token set: $(cat "$WORK/bt.out")"
wait_for 15 sh -c "[ \"\$(cat $WORK/n2/bot_token)\" = '$TOKEN2' ]" && ok "new token reached n2 by gossip" || fail "n2 still has $(cat "$WORK/n2/bot_token")"
TOKEN=$TOKEN2
wait_bot_state "$CLI" "$WORK/n1" running 15 || fail "not running with the new token"
M=$(say /nodes)
reply_to "$M" 15 >/dev/null && ok "the bot answers on the new token" || fail "no answer on the new token"
[ "$("$CLI" --state-dir "$WORK/n2" status --json | jq -r .bot.token_version)" = 2 ] && ok "n2 has token version 2" || fail "n2 token version"

# --- a bad token: one clear line and a state, no crash loop
harness badtoken "{\"token\": \"$TOKEN2\", \"bad\": true}" >/dev/null
# the next poll (within CONSTELLA_BOT_POLL_TIMEOUT) meets 401
wait_bot_state "$CLI" "$WORK/n1" bad_token 15 && ok "bad token: state bad_token" || fail "no bad_token state"
sleep 4
N=$(grep -c "the bot token is refused by Telegram" "$WORK/n1.log")
[ "$N" = 1 ] && ok "bad token logged once" || fail "bad token logged $N times"
[ "$(emu_log | jq --arg t "$TOKEN2" '[.result[] | select(.token == $t and .status == 401)] | length')" -le 2 ] &&
	ok "no retry loop on a bad token" || fail "retries on a bad token"
kill -0 "$PID1" && ok "daemon still up" || fail "daemon died"
TOKEN3=555555555:AAthird-$$-token_of_the_bot
# typed at a terminal this time: the prompt does not echo it
python3 - "$CLI" "$WORK/n1" "$TOKEN3" >"$WORK/tty.out" <<'PY'
import os, pty, select, sys, time
cli, sd, tok = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(cli, [cli, '--state-dir', sd, 'bot-token', 'set'])
out = b''
def read_until(pred, secs):
    global out
    end = time.time() + secs
    while time.time() < end and not pred():
        if select.select([fd], [], [], 0.1)[0]:
            try:
                d = os.read(fd, 4096)
            except OSError:
                return
            if not d:
                return
            out += d
read_until(lambda: b'BotFather' in out, 10)
os.write(fd, tok.encode() + b'\n')
read_until(lambda: False, 10)
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace'))
sys.exit(0 if os.WEXITSTATUS(st) == 0 and tok.encode() not in out and b'replaced' in out else 1)
PY
[ $? = 0 ] && ok "bot-token set at a terminal: token not echoed ($(tr -d '\r' <"$WORK/tty.out" | tail -1))" ||
	fail "bot-token set at a terminal: $(cat "$WORK/tty.out")"
TOKEN=$TOKEN3
wait_bot_state "$CLI" "$WORK/n1" running 15 && ok "a good token again: running" || fail "not running with token 3"

# --- /remove with confirmation (cancel first)
M=$(say "/remove n2")
wait_screen "Remove <b>n2</b>\\?" && ok "/remove asks first" || fail "no remove confirmation"
press "Cancel" >/dev/null
wait_screen "Choose a node" && "$CLI" --state-dir "$WORK/n1" status --json | jq -e '[.peers[].name] | index("n2")' >/dev/null &&
	ok "remove cancelled: n2 still a member" || fail "cancel remove"
M=$(say "/remove n2")
wait_screen "Remove <b>n2</b>\\?" || fail "no remove confirmation (2)"
press "Yes, remove" >/dev/null
wait_screen "n2</b> was removed" && ok "/remove confirmed" || fail "remove"
"$CLI" --state-dir "$WORK/n1" status --json | jq -e '[.peers[].name] == ["n1"]' >/dev/null && ok "n2 gone from n1's peers" || fail "n2 still listed"
wait_for 10 grep -q "this node was removed from the network" "$WORK/n2.log" && ok "n2 learnt it was removed" || fail "n2 not told"

# --- secrets never in logs or status
for t in "$TOKEN1" "$TOKEN2" "$TOKEN3"; do
	"$CLI" --state-dir "$WORK/n1" status --json >"$WORK/status.json"
	if grep -qF "$t" "$WORK"/n*.log "$WORK/status.json"; then fail "a token appears in a log or status"; fi
done
ok "no token in the daemons' logs or in status"
finish
