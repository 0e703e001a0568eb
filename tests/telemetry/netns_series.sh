#!/usr/bin/env bash
# Time series, stats of another member, reboot and persistence, with two
# daemons in network namespaces: GetTS returns the points collected every
# SAMPLE_EVERY_SEC (1 s here) with a matching summary; `constella stats n1`
# on n2 shows n1's figures; Reboot is refused without the opt-in, runs the
# dry run (one line per call, a second call while one is under way
# refused), REBOOT_CMD really, and is refused without CAP_SYS_BOOT; a node
# that announced its reboot shows as "rebooting" on its peer when it goes,
# and "alive" again when it is back, while a plain crash shows "down"; the
# history survives a restart and a crash (less what came after the last
# periodic save), and a corrupt history file is one log line and
# an empty history; METRICS_LISTEN on a public address or on a port in use
# is refused at start.
# usage: netns_series.sh CONSTELLA CONSTELLAD TEL_RPC PROMCHECK
. "$(cd "$(dirname "$0")" && pwd)/lib_tel.sh" "$@"

COMMON=(SAMPLE_EVERY_SEC=1 HEARTBEAT_INTERVAL=0.5)
DRY=$WORK/reboot-dry.log
N1_VARS=(CONSTELLA_ALLOW_REBOOT=1 CONSTELLA_REBOOT_DRY_RUN=$DRY)
N2_VARS=()
T0=$(date +%s)
two_nodes "${COMMON[@]}"

# ---- GetTS: the points collected ----
sleep 5
rpc 2 1 GetTS '{"kind":"cpu"}' >"$WORK/cpu.json" || fail "GetTS cpu: $(cat "$WORK/cpu.json")"
N=$(jq '.points | length' "$WORK/cpu.json")
ELAPSED=$(( $(date +%s) - T0 ))
jq -e '.kind == "cpu" and .unit == "percent" and .sample_every_s == 1 and .hours == 6' "$WORK/cpu.json" >/dev/null ||
	fail "GetTS header: $(jq -c 'del(.points)' "$WORK/cpu.json")"
jq -e '[.points[] | .[0]] as $t | [range(1; $t | length) | $t[.] - $t[. - 1]] | all(. >= 0 and . <= 2)' "$WORK/cpu.json" >/dev/null ||
	fail "GetTS cpu: timestamps not one a second: $(jq -c '[.points[] | .[0]]' "$WORK/cpu.json")"
jq -e '(.points | length) == .summary.count and (.points | map(.[1]) | max) == .summary.max and .points[-1][1] == .summary.last and ([.points[] | .[1] | select(. < 0 or . > 100)] | length) == 0' "$WORK/cpu.json" >/dev/null ||
	fail "GetTS cpu: summary does not match the points: $(jq -c .summary "$WORK/cpu.json")"
[ "$N" -ge 5 ] && [ "$N" -le $((ELAPSED + 2)) ] && ok "GetTS cpu: $N points in ${ELAPSED}s, summary $(jq -c .summary "$WORK/cpu.json")" ||
	fail "GetTS cpu: $N points after ${ELAPSED}s"
rpc 2 1 GetTS '{"kind":"mem","hours":0.001}' >"$WORK/mem.json"
M=$(jq '.points | length' "$WORK/mem.json")
[ "$M" -ge 2 ] && [ "$M" -le 5 ] && ok "GetTS mem over 3.6 s: $M points" || fail "GetTS mem over 3.6 s: $M points"
rpc 2 1 GetTS '{"kind":"net_rx","points":2}' | jq -e '.points | length <= 2' >/dev/null &&
	ok "GetTS points=2 averages into 2 buckets" || fail "GetTS points=2"
rpc 2 1 GetTS '{"kind":"nope"}' >"$WORK/bad.json" && fail "GetTS of an unknown kind answered"
grep -q 'unknown kind "nope" (known: cpu, mem' "$WORK/bad.json" && ok "GetTS unknown kind: 400 with the list" ||
	fail "GetTS unknown kind: $(cat "$WORK/bad.json")"

# ---- stats of another member, through the local daemon ----
"$CLI" --state-dir "$WORK/n2" stats n1 --json >"$WORK/stats.json" 2>"$WORK/stats.err" ||
	fail "stats n1 from n2: $(cat "$WORK/stats.err")"
jq -e '.v == 2 and .name == "n1" and .summaries.cpu.count >= 5 and (.cpu.per_core_pct | length) >= 1 and .mem.total_b > 0 and (.net | map(.iface) | index("eth0")) != null and .overlay == null' "$WORK/stats.json" >/dev/null &&
	ok "stats n1 from n2: cpu $(jq .cpu.total_pct "$WORK/stats.json") %, $(jq .summaries.cpu.count "$WORK/stats.json") cpu points" ||
	fail "stats n1 from n2: $(head -c 800 "$WORK/stats.json")"
jq -e '.summaries.cpu.unit == "percent" and .summaries.net_rx.unit == "bytes_per_s" and .summaries.peer_rtt.unit == "ms"' "$WORK/stats.json" >/dev/null ||
	fail "stats n1: summaries without their units: $(jq -c .summaries.cpu "$WORK/stats.json")"
# the text form gives each series in its unit
"$CLI" --state-dir "$WORK/n2" stats >"$WORK/stats.txt" 2>&1 && grep -q "^n2 " "$WORK/stats.txt" &&
	grep -q "^SERIES" "$WORK/stats.txt" && grep -Eq "^cpu +[0-9.]+ % +[0-9.]+ % +[0-9.]+ % +[0-9]+$" "$WORK/stats.txt" &&
	grep -Eq "^net_rx +[0-9.]+ (Ki|Mi)?B/s " "$WORK/stats.txt" && grep -Eq "^procs +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+$" "$WORK/stats.txt" &&
	ok "stats (text) of this node: $(grep -E '^(cpu|net_rx) ' "$WORK/stats.txt" | tr -s ' ' | paste -sd'|')" ||
	fail "stats (text): $(cat "$WORK/stats.txt")"
"$CLI" --state-dir "$WORK/n2" stats nobody >/dev/null 2>"$WORK/nobody.err" && fail "stats of a non-member"
grep -q "no member" "$WORK/nobody.err" || fail "stats nobody: $(cat "$WORK/nobody.err")"

# ---- reboot: refusal, dry run, already under way ----
rpc 1 2 Reboot >"$WORK/r2.out" && fail "n2 accepted Reboot without CONSTELLA_ALLOW_REBOOT"
grep -q "reboot disabled" "$WORK/r2.out" && ok "Reboot refused without the opt-in" || fail "Reboot on n2: $(cat "$WORK/r2.out")"
rpc 2 1 Reboot >"$WORK/r1.json" || fail "Reboot n1: $(cat "$WORK/r1.json")"
rpc 2 1 Reboot >"$WORK/r1b.out" && fail "a second Reboot during the first accepted"
jq -e '.rebooting == true and .dry_run == true and .action == "reboot(2)"' "$WORK/r1.json" >/dev/null &&
	grep -q "already under way" "$WORK/r1b.out" && ok "Reboot n1: $(cat "$WORK/r1.json"); the second: refused" ||
	fail "Reboot n1: $(cat "$WORK/r1.json" "$WORK/r1b.out")"
for _ in $(seq 30); do [ -s "$DRY" ] && break; sleep 0.1; done
sleep 1
[ "$(wc -l <"$DRY")" = 1 ] && grep -Eq "^reboot ts=[0-9]+ from=$(addr 2):[0-9]+ action=reboot\(2\)$" "$DRY" &&
	ok "dry run recorded: $(cat "$DRY")" || fail "dry-run file: $(cat "$DRY" 2>&1)"

# ---- rebooting, not down ----
wait_status 2 n1 alive 5 || fail "n1 not alive again on n2 after the dry run (it keeps running)"
daemon_kill 1 # the machine "goes down" after announcing its reboot
wait_status 2 n1 rebooting 6 && ok "n2 shows n1 as rebooting" || fail "n1 not shown as rebooting"
sleep 2
[ "$(peer_status 2 n1)" = rebooting ] || fail "n1 shown as $(peer_status 2 n1) 2 s later"
daemon_start 1 "${COMMON[@]}" "${N1_VARS[@]}" || finish
wait_status 2 n1 alive 10 && ok "n1 back: alive" || fail "n1 back: not alive"
daemon_kill 1 # a crash without announcement
wait_status 2 n1 down 6 && ok "a crash without announcement shows down" || fail "the crash: not down"

# ---- REBOOT_CMD runs; no CAP_SYS_BOOT is refused ----
daemon_start 1 "${COMMON[@]}" CONSTELLA_ALLOW_REBOOT=1 "REBOOT_CMD=touch $WORK/rebooted" || finish
rpc 2 1 Reboot | jq -e '.action == "REBOOT_CMD" and .dry_run == false' >/dev/null || fail "Reboot with REBOOT_CMD"
for _ in $(seq 30); do [ -e "$WORK/rebooted" ] && break; sleep 0.1; done
[ -e "$WORK/rebooted" ] && ok "REBOOT_CMD ran" || fail "REBOOT_CMD did not run"
daemon_stop 1
daemon_start 1 "${COMMON[@]}" "${N1_VARS[@]}" setpriv --bounding-set -sys_boot || finish
rpc 2 1 Reboot >"$WORK/cap.out" && fail "Reboot without CAP_SYS_BOOT accepted"
sleep 1
grep -q "lacks CAP_SYS_BOOT" "$WORK/cap.out" && [ "$(wc -l <"$DRY")" = 1 ] &&
	ok "no CAP_SYS_BOOT: refused, nothing recorded" || fail "no CAP_SYS_BOOT: $(cat "$WORK/cap.out")"

# ---- the history survives a restart; a corrupt file does not stop the node ----
sleep 4
BEFORE=$(rpc 2 1 GetTS '{"kind":"mem"}' | jq '.summary.count')
daemon_stop 1
[ -s "$WORK/n1/telemetry.bin" ] && [ "$(stat -c %a "$WORK/n1/telemetry.bin")" = 600 ] ||
	fail "telemetry.bin not written 0600 at stop"
daemon_start 1 "${COMMON[@]}" || finish
AFTER=$(rpc 2 1 GetTS '{"kind":"mem"}' | jq '.summary.count')
grep -q "points of history loaded" "$WORK/n1.log" && [ "$BEFORE" -ge 5 ] && [ "$AFTER" -gt "$BEFORE" ] &&
	ok "history kept across a restart: $BEFORE points before, $AFTER after" ||
	fail "history across a restart: $BEFORE before, $AFTER after"
# a crash (SIGKILL) loses only what came after the last periodic save
# (every 5 minutes; every second here)
daemon_stop 1
daemon_start 1 "${COMMON[@]}" CONSTELLA_TEST_TEL_SAVE_S=1 || finish
sleep 4
BEFORE=$(rpc 2 1 GetTS '{"kind":"mem"}' | jq '.summary.count')
daemon_kill 1
daemon_start 1 "${COMMON[@]}" || finish
AFTER=$(rpc 2 1 GetTS '{"kind":"mem"}' | jq '.summary.count')
[ "$AFTER" -ge $((BEFORE - 1)) ] && ok "history kept across a crash: $BEFORE points before SIGKILL, $AFTER after" ||
	fail "history across a crash: $BEFORE points before SIGKILL, $AFTER after"
daemon_stop 1
printf 'garbage' | dd of="$WORK/n1/telemetry.bin" bs=1 seek=30 conv=notrunc 2>/dev/null
daemon_start 1 "${COMMON[@]}" || finish
AFTER=$(rpc 2 1 GetTS '{"kind":"mem"}' | jq '.summary.count')
grep -q "telemetry.bin is unusable (checksum mismatch" "$WORK/n1.log" && [ -e "$WORK/n1/telemetry.bin.corrupt" ] &&
	[ "$AFTER" -lt 5 ] && ok "corrupt history: logged, set aside, empty history ($AFTER points)" ||
	fail "corrupt history: $AFTER points; $(grep telemetry "$WORK/n1.log" | tail -2)"

# ---- /metrics never on a public address ----
cp -a "$WORK/n1" "$WORK/n1copy"
rm -f "$WORK/n1copy/control.sock"
nsx 1 timeout 5 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin METRICS_LISTEN=0.0.0.0:9477 \
	"$DAEMON" --state-dir "$WORK/n1copy" --listen "$(addr 1):4999" >"$WORK/pub.log" 2>&1 &&
	fail "METRICS_LISTEN=0.0.0.0 accepted"
grep -q "METRICS_LISTEN: 0.0.0.0 is neither loopback nor this node's overlay address" "$WORK/pub.log" &&
	ok "METRICS_LISTEN on a public address refused" || fail "METRICS_LISTEN=0.0.0.0: $(cat "$WORK/pub.log")"
# a port someone else holds is refused at start with the reason, not
# retried forever as if the address were not up yet
# (it writes its own PID: $! would be the subshell's; cleanup kills both)
nsx 1 python3 -c 'import os, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9478)); s.listen(); open(sys.argv[1], "w").write(str(os.getpid())); time.sleep(30)' \
	"$WORK/holder.pid" >/dev/null 2>&1 &
DPID[holder]=$!
for _ in $(seq 50); do [ -s "$WORK/holder.pid" ] && break; sleep 0.1; done
DPID[holder2]=$(cat "$WORK/holder.pid")
nsx 1 timeout 5 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin METRICS_LISTEN=127.0.0.1:9478 \
	"$DAEMON" --state-dir "$WORK/n1copy" --listen "$(addr 1):4999" >"$WORK/busy.log" 2>&1
RC=$?
[ "$RC" = 1 ] && grep -q "METRICS_LISTEN 127.0.0.1:9478: Address already in use" "$WORK/busy.log" &&
	ok "METRICS_LISTEN on a port in use: refused at start" ||
	fail "METRICS_LISTEN on a port in use: exit $RC, $(grep -i metrics "$WORK/busy.log")"

finish
