#!/bin/bash
# constella / constellad end to end over 127.0.0.1: flag parsing, init, invites,
# a real join between two state dirs, every join failure (distinct message, no
# state left), status --json, and kill -9 of the daemon during writes.
# usage: test_cli.sh CONSTELLA CONSTELLAD
set -u
CLI=$1
DAEMON=$2
W=$(mktemp -d /tmp/node-cli.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT
# A port per run, away from other engineers' tests.
PORT=$((20000 + ($$ % 20000)))
SEED=127.0.0.1:$PORT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

# expect RC PATTERN cmd... : exit code and a stderr pattern
expect() {
	local want=$1 pat=$2; shift 2
	"$@" >"$W/out" 2>"$W/err"
	local rc=$?
	if [ "$rc" != "$want" ]; then fail "$* -> rc $rc (want $want): $(cat "$W/err")"; return 1; fi
	if [ -n "$pat" ] && ! grep -q -- "$pat" "$W/err"; then
		fail "$* -> stderr lacks '$pat': $(cat "$W/err")"; return 1
	fi
	ok "$* -> rc $rc${pat:+, '$pat'}"
}

A=$W/a
# --- flag parsing
expect 2 "--owner is required" "$CLI" --state-dir "$A" init --server-name alpha --public-addr $SEED
expect 2 "--server-name is required" "$CLI" --state-dir "$A" init --server-name 'bad name' --public-addr $SEED --owner @o
expect 2 "--public-addr is required" "$CLI" --state-dir "$A" init --server-name alpha --public-addr nohost --owner @o
expect 2 "--public-addr is required" "$CLI" --state-dir "$A" init --server-name alpha --public-addr 1.2.3.4:70000 --owner @o
expect 2 "--priority must be" "$CLI" --state-dir "$A" init --server-name alpha --public-addr $SEED --owner @o --priority 5x
expect 2 "unknown option" "$CLI" --state-dir "$A" init --server-name alpha --public-addr $SEED --owner @o --bogus
# what the bot would never recognise, or the daemon refuse to start with
expect 2 "--owner is required: the owner's Telegram" "$CLI" --state-dir "$A" init --server-name alpha --public-addr $SEED --owner '@bob smith'
expect 2 "--bot-token must be the token from @BotFather" "$CLI" --state-dir "$A" init --server-name alpha --public-addr $SEED --owner @o --bot-token 'abc/def?x'
expect 2 "unexpected argument" "$CLI" --state-dir "$A" init --server-name alpha --public-addr $SEED --owner @o extra
expect 2 "unknown command" "$CLI" frobnicate
expect 2 "missing command" "$CLI"
expect 2 "unknown or incomplete option" "$CLI" --state-dir
expect 2 "join link must start with join://" "$CLI" --state-dir "$W/x" join --server-name x --join 'http://1.2.3.4:1?net=a&token=b'
[ ! -e "$A" ] || fail "a rejected init left $A behind"

# --- init
expect 0 "" "$CLI" --state-dir "$A" init --server-name alpha --public-addr $SEED --owner @bob --priority 10 --bot-token 123:abc
[ "$(stat -c %a "$A")" = 700 ] && ok "state dir 0700" || fail "state dir mode $(stat -c %a "$A")"
for f in network_state.json node_id bot_token; do
	[ "$(stat -c %a "$A/$f")" = 600 ] && ok "$f 0600" || fail "$f mode $(stat -c %a "$A/$f")"
done
jq -e '(.network_id|length)==32 and (.network_secret|length)==64 and .owner_username=="@bob" and (.peers|length)==1 and .peers[0].name=="alpha" and .peers[0].priority==10' "$A/network_state.json" >/dev/null \
	&& ok "network_state.json content" || fail "network_state.json: $(cat "$A/network_state.json")"
expect 1 "already in a network" "$CLI" --state-dir "$A" init --server-name alpha --public-addr $SEED --owner @bob
NET=$(jq -r .network_id "$A/network_state.json")

# --- status --json
"$CLI" --state-dir "$A" status --json >"$W/st.json" && jq -e '(.peers|length)==1 and .peers[0].self==true and .network_id=="'"$NET"'" and .daemon==false' "$W/st.json" >/dev/null \
	&& ok "status --json parses (no daemon: daemon false)" || fail "status --json: $(cat "$W/st.json")"
"$CLI" --state-dir "$A" status | grep -q "^warning: constellad does not answer here (not running?)" \
	&& ok "status table without a daemon says so" || fail "status table without a daemon: $("$CLI" --state-dir "$A" status)"
expect 2 "unknown option" "$CLI" --state-dir "$A" status --xml

# --- invites
expect 2 "--ttl must be" "$CLI" --state-dir "$A" invite --ttl 15x
expect 2 "exclusive" "$CLI" --state-dir "$A" invite --list --ttl 1h
LINK=$("$CLI" --state-dir "$A" invite 2>/dev/null)
case "$LINK" in "join://127.0.0.1:$PORT?net=$NET&token="*"&ttl=900s") ok "invite link $(echo "$LINK" | cut -c1-40)...";; *) fail "invite link: $LINK";; esac
[ "$(stat -c %a "$A/invites.json")" = 600 ] && ok "invites.json 0600" || fail "invites.json mode"
"$CLI" --state-dir "$A" invite --list | grep -q " valid " && ok "invite listed valid" || fail "invite --list"
L_REV=$("$CLI" --state-dir "$A" invite --ttl 2d 2>/dev/null)
ID_REV=$("$CLI" --state-dir "$A" invite --list | awk 'NR==3{print $1}')
expect 0 "" "$CLI" --state-dir "$A" invite --revoke "$ID_REV"
expect 1 "already revoked" "$CLI" --state-dir "$A" invite --revoke "$L_REV"
expect 1 "no such invite" "$CLI" --state-dir "$A" invite --revoke abcdefabcdef
"$CLI" --state-dir "$A" invite --list | grep -q "^$ID_REV  revoked" && ok "revoked listed" || fail "revoked not listed"
L_EXP=$("$CLI" --state-dir "$A" invite --ttl 1s 2>/dev/null)
L_USED=$("$CLI" --state-dir "$A" invite --ttl 1h 2>/dev/null)
BADTOK=$(echo "$LINK" | sed -E 's/token=[^&]+/token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/')
WRONGNET=$(echo "$LINK" | sed -E "s/net=[0-9a-f]+/net=00000000000000000000000000000000/")

# --- daemon + join
start_daemon() {
	env -i PATH=/usr/bin:/bin "$DAEMON" --state-dir "$A" --listen $SEED -v >>"$W/daemon.log" 2>&1 &
	DPID=$!
	PIDS+=("$DPID")
	for _ in $(seq 50); do
		grep -q "listening on" "$W/daemon.log" 2>/dev/null && [ "$(grep -c "listening on" "$W/daemon.log")" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "daemon did not start: $(tail -3 "$W/daemon.log")"
}
start_daemon 1
# An overloaded seed says so (issue 11), and the join says "overloaded", not
# "unreachable": hold the seed's per-address limit (16 + 4 per member) full
# of idle connections from 127.0.0.1, then join from the same address.
LIM=$("$CLI" --state-dir "$A" status --json | jq .rpc.max_per_address)
[ "$LIM" = 20 ] && ok "one member: 20 connections per address" || fail "per-address limit $LIM with one member, want 16 + 4"
python3 -c 'import socket, sys, time
s = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(int(sys.argv[2]))]
print("held", flush=True); time.sleep(30)' "$PORT" "$LIM" >"$W/held" 2>&1 &
HOLD=$!
PIDS+=("$HOLD")
for _ in $(seq 50); do
	[ "$("$CLI" --state-dir "$A" status --json 2>/dev/null | jq .rpc.connections)" -ge "$LIM" ] 2>/dev/null && break
	sleep 0.1
done
expect 1 "seed $SEED is overloaded: server busy: $((LIM + 1)) connections open from 127.0.0.1 (limit $LIM per address); try again" \
	"$CLI" --state-dir "$W/busy" join --server-name beta --join "$LINK" --public-addr 127.0.0.1:$((PORT + 1))
[ ! -e "$W/busy/network_state.json" ] && ok "overloaded seed: nothing written" || fail "state written after a refused join"
grep -q "warn  alpha: rpc: refused a request from 127.0.0.1:[0-9]*: server busy: $((LIM + 1)) connections open from 127.0.0.1 (limit $LIM per address)" "$W/daemon.log" \
	&& ok "seed logs the refusal with its reason" || fail "no refusal in the seed's log: $(tail -3 "$W/daemon.log")"
kill "$HOLD"; wait "$HOLD" 2>/dev/null
B=$W/b
expect 0 "" "$CLI" --state-dir "$B" join --server-name beta --join "$LINK" --public-addr 127.0.0.1:$((PORT + 1))
jq -e '[.peers[].name]|sort==["alpha","beta"]' "$B/network_state.json" >/dev/null && ok "joiner lists both" || fail "joiner peers"
jq -e '[.peers[].name]|sort==["alpha","beta"]' "$A/network_state.json" >/dev/null && ok "seed lists both" || fail "seed peers"
cmp -s <(jq -r .network_secret "$A/network_state.json") <(jq -r .network_secret "$B/network_state.json") && ok "same network secret" || fail "secret differs"
[ "$(stat -c %a "$B/network_state.json")" = 600 ] && [ "$(stat -c %a "$B")" = 700 ] && ok "joiner files 0600/0700" || fail "joiner modes"
grep -q "$(jq -r .network_secret "$A/network_state.json")" "$W/daemon.log" && fail "secret in the log" || ok "secret not logged"

# beta runs a daemon too: it must hear of later joins and removals
env -i PATH=/usr/bin:/bin "$DAEMON" --state-dir "$B" --listen 127.0.0.1:$((PORT + 1)) >"$W/beta.log" 2>&1 &
BPID=$!
PIDS+=("$BPID")
for _ in $(seq 50); do grep -q "listening on" "$W/beta.log" && break; sleep 0.1; done
# wait_jq FILE FILTER: up to 5 s for the file to satisfy the filter
wait_jq() { for _ in $(seq 50); do jq -e "$2" "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

# --- control socket (status through the daemon, remove)
[ "$(stat -c %a "$A/control.sock")" = 600 ] && ok "control.sock 0600" || fail "control.sock mode $(stat -c %a "$A/control.sock" 2>&1)"
"$CLI" --state-dir "$A" status --json >"$W/st2.json" && jq -e '([.peers[].name]|sort==["alpha","beta"]) and .daemon==true' "$W/st2.json" >/dev/null \
	&& ok "status --json through the daemon" || fail "status via daemon: $(cat "$W/st2.json")"
"$CLI" --state-dir "$A" status >"$W/st2.txt" && grep -q "^beta " "$W/st2.txt" && ! grep -q "does not answer" "$W/st2.txt" \
	&& ok "status table" || fail "status table: $(cat "$W/st2.txt")"
expect 1 "no member with that name" "$CLI" --state-dir "$A" remove nosuch
expect 1 "cannot remove this node itself" "$CLI" --state-dir "$A" remove alpha
expect 2 "usage" "$CLI" --state-dir "$A" remove
# the limits follow the membership: 4 connections per member more
"$CLI" --state-dir "$A" status --json >"$W/st3.json" && jq -e '.rpc.max_per_address == 24 and .rpc.max_connections == 72' "$W/st3.json" >/dev/null \
	&& ok "two members: limits 72 / 24 per address" || fail "limits with two members: $(jq -c .rpc "$W/st3.json")"
L_RM=$("$CLI" --state-dir "$A" invite 2>/dev/null)
expect 0 "" "$CLI" --state-dir "$W/r" join --server-name rho --join "$L_RM" --public-addr 127.0.0.1:$((PORT + 4))
wait_jq "$B/network_state.json" '[.peers[].name]|index("rho")!=null' && ok "beta heard of rho's join" || fail "beta lacks rho: $(cat "$W/beta.log")"
expect 0 "" "$CLI" --state-dir "$A" remove rho
wait_jq "$B/network_state.json" '[.peers[].name]|index("rho")==null' && ok "beta forgot rho" || fail "beta still has rho"
RHO=$(cat "$W/r/node_id")
jq -e --arg id "$RHO" '.removed==[$id]' "$A/network_state.json" >/dev/null && ok "seed keeps rho's tombstone" || fail "seed tombstone"
wait_jq "$B/network_state.json" '.removed|length==1' && ok "beta keeps rho's tombstone" || fail "beta tombstone"
jq -e '[.peers[].name]|index("rho")==null' "$A/network_state.json" >/dev/null && ok "rho removed from the seed's file" || fail "rho still in state"

# --- join failures: distinct messages, no state left
sleep 1.1 # the 1 s invite must be past its expiry (wall clock; the seed reads time())
expect 1 "unknown invite token" "$CLI" --state-dir "$W/f1" join --server-name f1 --join "$BADTOK"
expect 1 "invite token expired" "$CLI" --state-dir "$W/f2" join --server-name f2 --join "$L_EXP"
expect 0 "" "$CLI" --state-dir "$W/g" join --server-name gamma --join "$L_USED" --public-addr 127.0.0.1:$((PORT + 2))
expect 1 "invite token already used" "$CLI" --state-dir "$W/f3" join --server-name f3 --join "$L_USED"
expect 1 "invite token revoked" "$CLI" --state-dir "$W/f4" join --server-name f4 --join "$L_REV"
expect 1 "wrong network" "$CLI" --state-dir "$W/f5" join --server-name f5 --join "$WRONGNET"
UNREACH=$(echo "$LINK" | sed -E "s/127.0.0.1:$PORT/127.0.0.1:$((PORT + 3))/")
expect 1 "unreachable" "$CLI" --state-dir "$W/f6" join --server-name f6 --join "$UNREACH"
L_DUP=$("$CLI" --state-dir "$A" invite 2>/dev/null)
expect 1 "already in the network" "$CLI" --state-dir "$W/f7" join --server-name beta --join "$L_DUP"
expect 1 "already in a network" "$CLI" --state-dir "$B" join --server-name beta --join "$LINK"
for d in f1 f2 f3 f4 f5 f6 f7; do [ ! -e "$W/$d" ] || fail "failed join left $W/$d"; done
ok "failed joins left no state"

# --- kill -9 during writes: joins and invites write state while the daemon dies
for i in $(seq 15); do
	JP=()
	for j in 1 2 3; do
		L=$("$CLI" --state-dir "$A" invite 2>/dev/null)
		"$CLI" --state-dir "$W/k$i-$j" join --server-name "k$i-$j" --join "$L" >/dev/null 2>&1 &
		JP+=($!)
	done
	sleep 0.0$((RANDOM % 10))
	kill -9 "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null
	wait "${JP[@]}"
	jq -e .network_id "$A/network_state.json" >/dev/null && jq -e .tokens "$A/invites.json" >/dev/null \
		|| { fail "state unparsable after kill -9 #$i"; break; }
	start_daemon $((i + 1))
done
ok "state parsed after 15 kill -9"
N=$(jq '.peers|length' "$A/network_state.json")
U=$(jq '[.tokens[]|select(.used_by!=null)]|length' "$A/invites.json")
# every peer beyond alpha came in with a used token (beta, gamma, k*)
[ "$U" -ge $((N - 1)) ] && ok "peers $N, used tokens $U" || fail "peers $N but used tokens $U"

# clean stop; sanitizer builds report into the log
kill -TERM "$DPID"; wait "$DPID"; RC=$?
[ "$RC" = 0 ] && ok "SIGTERM: clean exit" || fail "daemon exit code $RC"
[ ! -e "$A/control.sock" ] && ok "control.sock removed at exit" || fail "control.sock left"
kill -TERM "$BPID"; wait "$BPID"
grep -q "Sanitizer" "$W/daemon.log" "$W/beta.log" && fail "sanitizer report: $(grep -m3 Sanitizer "$W/daemon.log")"

[ "$FAILS" = 0 ] && echo PASS || echo "$FAILS failures"
[ "$FAILS" = 0 ]
