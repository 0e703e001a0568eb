#!/usr/bin/env bash
# Speed tests between two daemons in network namespaces over veth (a
# bridge), against iperf3 measured in the same run: the node-to-node figures
# are within a factor of iperf3's; a second test while one runs is refused
# with "already running" (as the tester, as the tested peer, and over the
# RPC); the data port takes only the token of its signed Speedtest.Open; the
# internet test works against a local HTTP endpoint and is refused where
# SPEEDTEST_URL is unset; results appear in GetTS and /metrics, which the
# strict checker accepts; a background test runs bounded to 10 MB a
# direction, and none runs with ENABLE_BG_SPEEDTEST=0; an upload the
# endpoint refuses is printed as failed, with the reason.
# usage: netns_speedtest.sh CONSTELLA CONSTELLAD TEL_RPC PROMCHECK
. "$(cd "$(dirname "$0")" && pwd)/lib_tel.sh" "$@"
command -v iperf3 >/dev/null || { echo "SKIP: iperf3 not installed"; exit 77; }

SECS=2
FACTOR=3
HTTP_PORT=18080
METRICS_PORT=9477
COMMON=(SAMPLE_EVERY_SEC=1 HEARTBEAT_INTERVAL=0.5 SPEEDTEST_MAX_MB=100000)
N1_VARS=(SPEEDTEST_URL=http://127.0.0.1:$HTTP_PORT/blob
	 SPEEDTEST_UPLOAD_URL=http://127.0.0.1:$HTTP_PORT/sink
	 METRICS_LISTEN=127.0.0.1:$METRICS_PORT)
N2_VARS=()
two_nodes "${COMMON[@]}"

# the internet endpoint, on n1's loopback
nsx 1 python3 "$TEL_HERE/http_sink.py" 127.0.0.1 $HTTP_PORT "$WORK/http.pid" &
DPID[http]=$! # killed and reaped by lib.sh's cleanup, with the server itself:
for _ in $(seq 50); do [ -s "$WORK/http.pid" ] && break; sleep 0.1; done
DPID[http2]=$(cat "$WORK/http.pid")

# ---- iperf3, then ours, same path, same run ----
# iperf VAR ARGS: iperf3 from n1 to n2 (-R: back), Mbit/s received into VAR
iperf() {
	local var=$1 spid; shift
	nsx 2 iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
	spid=$!
	DPID[iperf]=$spid # cleanup kills it should anything below fail
	for _ in $(seq 50); do
		nsx 2 ss -Hltn 'sport = :5201' | grep -q . && break
		sleep 0.1
	done
	nsx 1 iperf3 -c "$(addr 2)" -p 5201 -t $SECS -J "$@" >"$WORK/iperf.json" 2>&1
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	unset 'DPID[iperf]'
	printf -v "$var" '%s' "$(jq '.end.sum_received.bits_per_second / 1e6' "$WORK/iperf.json" 2>/dev/null)"
	[ -n "${!var}" ] || { printf -v "$var" 0; echo "  iperf3 $*: $(head -c 300 "$WORK/iperf.json")"; }
}
iperf IPERF_UP
iperf IPERF_DOWN -R
"$CLI" --state-dir "$WORK/n1" speedtest n2 --seconds $SECS --json >"$WORK/st.json" 2>"$WORK/st.err" ||
	fail "speedtest n1 -> n2: $(cat "$WORK/st.err")"
OUR_DOWN=$(jq '.down_bytes_per_s * 8 / 1e6' "$WORK/st.json")
OUR_UP=$(jq '.up_bytes_per_s * 8 / 1e6' "$WORK/st.json")
RTT=$(jq '.rtt_ms' "$WORK/st.json")
echo "  iperf3: up ${IPERF_UP} Mbit/s, down ${IPERF_DOWN} Mbit/s"
echo "  constella: up ${OUR_UP} Mbit/s, down ${OUR_DOWN} Mbit/s, rtt ${RTT} ms ($(jq -r .limited_by "$WORK/st.json")-bound)"
if [ "$(echo "$IPERF_UP > 0 && $IPERF_DOWN > 0" | bc)" = 1 ]; then
	within "$OUR_UP" "$IPERF_UP" $FACTOR &&
		ok "upload $(ratio "$OUR_UP" "$IPERF_UP") x iperf3 (bound: within ${FACTOR}x)" ||
		fail "upload ${OUR_UP} vs iperf3 ${IPERF_UP} Mbit/s: not within ${FACTOR}x"
	within "$OUR_DOWN" "$IPERF_DOWN" $FACTOR &&
		ok "download $(ratio "$OUR_DOWN" "$IPERF_DOWN") x iperf3 (bound: within ${FACTOR}x)" ||
		fail "download ${OUR_DOWN} vs iperf3 ${IPERF_DOWN} Mbit/s: not within ${FACTOR}x"
else
	fail "iperf3 measured nothing"
fi
[ "$(echo "$RTT > 0 && $RTT < 50" | bc)" = 1 ] && ok "rtt ${RTT} ms" || fail "rtt ${RTT} ms"
[ "$(jq -r .peer "$WORK/st.json")" = n2 ] || fail "result names $(jq -r .peer "$WORK/st.json")"
# the text form, with its progress line on stderr (one line per phase: not a tty)
"$CLI" --state-dir "$WORK/n1" speedtest n2 --seconds 1 >"$WORK/st.txt" 2>"$WORK/st.err" ||
	fail "speedtest (text): $(cat "$WORK/st.err")"
grep -q "^n2: down .* Mbit/s, up .* Mbit/s, rtt" "$WORK/st.txt" && grep -q "speedtest: upload" "$WORK/st.err" &&
	ok "text result and progress: $(cat "$WORK/st.txt")" || fail "text form: $(cat "$WORK/st.txt" "$WORK/st.err")"
# stats speaks the speed test's unit too
"$CLI" --state-dir "$WORK/n1" stats >"$WORK/stats.txt" 2>&1
grep -Eq "^speed    peer n2: down [0-9.]+ Mbit/s, up [0-9.]+ Mbit/s, rtt" "$WORK/stats.txt" &&
	ok "stats: $(grep '^speed' "$WORK/stats.txt")" || fail "stats' speed line: $(cat "$WORK/stats.txt")"

# ---- the results are a time series ----
rpc 2 1 GetTS '{"kind":"peer_down"}' >"$WORK/ts.json" || fail "GetTS peer_down: $(cat "$WORK/ts.json")"
N=$(jq '.points | length' "$WORK/ts.json")
FIRST=$(jq '.points[0][1]' "$WORK/ts.json")
# stored as 32-bit floats: 7 significant digits
[ "$N" = 2 ] && jq -e --argjson d "$(jq .down_bytes_per_s "$WORK/st.json")" \
	'((.points[0][1] - $d) / $d) | fabs < 1e-6' "$WORK/ts.json" >/dev/null &&
	ok "GetTS peer_down: 2 points, the first one the test's" ||
	fail "GetTS peer_down: $N points, first $FIRST"

# ---- one test at a time ----
"$CLI" --state-dir "$WORK/n1" speedtest n2 --seconds 4 >"$WORK/long.out" 2>"$WORK/long.err" &
LONG=$!
for _ in $(seq 50); do
	rpc 2 1 GetStats | jq -e '.speedtest.running == "peer"' >/dev/null 2>&1 && break
	sleep 0.1
done
"$CLI" --state-dir "$WORK/n1" speedtest n2 --seconds 1 >/dev/null 2>"$WORK/busy1" &&
	fail "a second test from the same node was accepted"
"$CLI" --state-dir "$WORK/n2" speedtest n1 --seconds 1 >/dev/null 2>"$WORK/busy2" &&
	fail "a test towards a busy node was accepted"
rpc 2 1 RunSpeedtest '{"peer":"n2","seconds":1}' >"$WORK/busy3" && fail "RunSpeedtest accepted while busy"
grep -q "already running" "$WORK/busy1" && grep -q "already running" "$WORK/busy2" &&
	grep -q "already running" "$WORK/busy3" && ok "second requests refused: already running" ||
	fail "busy answers: $(cat "$WORK/busy1" "$WORK/busy2" "$WORK/busy3")"
wait $LONG && ok "the running test finished: $(cat "$WORK/long.out")" || fail "the long test: $(cat "$WORK/long.err")"
rpc 2 1 RunSpeedtest '{"peer":"n2","seconds":1}' 30 >"$WORK/rpc.json" &&
	jq -e '.kind == "peer" and .down_bytes_per_s > 0 and .up_bytes_per_s > 0' "$WORK/rpc.json" >/dev/null &&
	ok "RunSpeedtest over the RPC after it: $(jq -c '{down_bytes_per_s, up_bytes_per_s, rtt_ms}' "$WORK/rpc.json")" ||
	fail "RunSpeedtest over the RPC: $(cat "$WORK/rpc.json")"

# ---- the data port takes the token of its signed Open only ----
rpc 1 2 Speedtest.Open "{\"from\":\"$(node_id 1)\",\"seconds\":1,\"max_bytes\":1000}" >"$WORK/open.json" ||
	fail "Speedtest.Open: $(cat "$WORK/open.json")"
DPORT=$(jq .port "$WORK/open.json")
TOKEN=$(jq -r .token "$WORK/open.json")
nsx 1 python3 - "$(addr 2)" "$DPORT" "$TOKEN" >"$WORK/token.out" 2>&1 <<'PY'
import socket, sys
host, port, token = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
def hello(tok):
    s = socket.create_connection((host, port), timeout=3)
    s.sendall(b"CSTSPD01" + tok)
    try:
        got = s.recv(8)
    except socket.timeout:
        got = b"timeout"
    return s, got
s, got = hello(bytes(32))
print("wrong token:", got)
s.close()
s, got = hello(token)
print("right token:", got)
s.sendall(b"Q")
s.close()
PY
grep -q "wrong token: b''" "$WORK/token.out" && grep -q "right token: b'CSTSPDOK'" "$WORK/token.out" &&
	ok "data port: a wrong token is closed, the right one served" || fail "data port: $(cat "$WORK/token.out")"
sleep 0.5 # the session above ends when the worker sees 'Q'
rpc 1 2 Speedtest.Open '{"from":"0123456789abcdef0123456789abcdef","seconds":1,"max_bytes":1}' >"$WORK/open2" &&
	fail "Speedtest.Open from a non-member accepted"
grep -q "another member" "$WORK/open2" && ok "Speedtest.Open from a non-member refused" ||
	fail "Speedtest.Open from a non-member: $(cat "$WORK/open2")"

# ---- internet ----
for _ in $(seq 30); do nsx 1 curl -s -o /dev/null -r 0-0 "http://127.0.0.1:$HTTP_PORT/blob" && break; sleep 0.1; done
"$CLI" --state-dir "$WORK/n1" speedtest --internet --seconds 1 --json >"$WORK/inet.json" 2>"$WORK/inet.err" &&
	jq -e '.kind == "internet" and .host == "127.0.0.1" and .down_bytes_per_s > 0 and .up_bytes_per_s > 0 and (has("up_error") | not)' "$WORK/inet.json" >/dev/null &&
	ok "internet test: $(jq -c '{down_bytes_per_s, up_bytes_per_s, rtt_ms, seconds}' "$WORK/inet.json")" ||
	fail "internet test: $(cat "$WORK/inet.json" "$WORK/inet.err")"
[ "$(jq '.seconds < 6' "$WORK/inet.json")" = true ] || fail "internet test took $(jq .seconds "$WORK/inet.json") s for 1 s a direction"
"$CLI" --state-dir "$WORK/n2" speedtest --internet >/dev/null 2>"$WORK/inet2.err" &&
	fail "internet test without SPEEDTEST_URL accepted"
grep -q "SPEEDTEST_URL is not set" "$WORK/inet2.err" && ok "no SPEEDTEST_URL: refused" ||
	fail "no SPEEDTEST_URL: $(cat "$WORK/inet2.err")"

# ---- /metrics ----
nsx 1 curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/metrics.txt" || fail "GET /metrics"
"$PROMCHECK" --prefix constella_ "$WORK/metrics.txt" >"$WORK/pc.out" && ok "/metrics: $(cat "$WORK/pc.out")" ||
	fail "/metrics refused by the checker: $(cat "$WORK/pc.out")"
grep -q '^constella_speedtest_download_bytes_per_second{kind="peer",target="n2"} ' "$WORK/metrics.txt" &&
	grep -q '^constella_speedtest_download_bytes_per_second{kind="internet",target="127.0.0.1"} ' "$WORK/metrics.txt" &&
	grep -q '^constella_network_receive_bytes_total{interface="eth0"} ' "$WORK/metrics.txt" &&
	ok "/metrics carries the speed tests and the interfaces" || fail "/metrics content: $(head -c 600 "$WORK/metrics.txt")"
CODE=$(nsx 1 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/")
CODE2=$(nsx 1 curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$METRICS_PORT/metrics")
[ "$CODE" = 404 ] && [ "$CODE2" = 405 ] && ok "/ 404, POST 405" || fail "/ $CODE, POST $CODE2"
nsx 2 curl -s -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics" && fail "n2 serves /metrics without METRICS_LISTEN"
nsx 2 curl -s -o /dev/null --max-time 2 "http://$(addr 1):$METRICS_PORT/metrics" &&
	fail "n1's /metrics answers on its public address"

# ---- background tests: bounded, and off when asked ----
nsx 2 python3 "$TEL_HERE/http_sink.py" 127.0.0.1 $HTTP_PORT "$WORK/http2.pid" &
DPID[http3]=$!
for _ in $(seq 50); do [ -s "$WORK/http2.pid" ] && break; sleep 0.1; done
DPID[http4]=$(cat "$WORK/http2.pid")
BG=(SPEEDTEST_URL=http://127.0.0.1:$HTTP_PORT/blob SPEEDTEST_UPLOAD_URL=http://127.0.0.1:$HTTP_PORT/sink
    CONSTELLA_TEST_BG_FIRST_S=1)
daemon_stop 2
daemon_start 2 "${COMMON[@]}" "${BG[@]}" ENABLE_BG_SPEEDTEST=0 || finish
sleep 3
rpc 1 2 GetStats | jq -e '.speedtest.internet == null' >/dev/null &&
	ok "ENABLE_BG_SPEEDTEST=0: no background test" || fail "a background test ran with ENABLE_BG_SPEEDTEST=0"
daemon_stop 2
daemon_start 2 "${COMMON[@]}" "${BG[@]}" ENABLE_BG_SPEEDTEST=1 || finish
for _ in $(seq 150); do
	rpc 1 2 GetStats >"$WORK/bg.json" 2>/dev/null && jq -e '.speedtest.internet != null' "$WORK/bg.json" >/dev/null && break
	sleep 0.1
done
# SPEEDTEST_MAX_MB is 100000 here: the 10 MB a direction are the background
# bound (a download stops within the read that crosses it: libcurl's 16 KiB)
jq -e '.speedtest.internet | .down_bytes <= 10000000 + 16384 and .up_bytes <= 10000000 and .limited_by == "bytes" and .down_bytes_per_s > 0' "$WORK/bg.json" >/dev/null &&
	grep -q "speed test 1 (background) 127.0.0.1" "$WORK/n2.log" &&
	ok "background test: $(jq -c '.speedtest.internet | {down_bytes, up_bytes, limited_by}' "$WORK/bg.json")" ||
	fail "background test: $(jq -c .speedtest "$WORK/bg.json" 2>&1)"

# ---- an upload the endpoint refuses: said in words, never "nan" ----
daemon_stop 2
daemon_start 2 "${COMMON[@]}" SPEEDTEST_URL=http://127.0.0.1:$HTTP_PORT/blob \
	SPEEDTEST_UPLOAD_URL=http://127.0.0.1:$HTTP_PORT/nope ENABLE_BG_SPEEDTEST=0 || finish
"$CLI" --state-dir "$WORK/n2" speedtest --internet --seconds 1 >"$WORK/upfail.txt" 2>"$WORK/upfail.err" ||
	fail "internet test with a refused upload: $(cat "$WORK/upfail.err")"
"$CLI" --state-dir "$WORK/n2" stats >"$WORK/upfail.stats" 2>&1
grep -Eq "^127\.0\.0\.1: down [0-9.]+ Mbit/s, up failed, rtt .*upload failed: HTTP 405" "$WORK/upfail.txt" &&
	grep -Eq "^speed    internet 127\.0\.0\.1: down [0-9.]+ Mbit/s, up failed, .*upload: HTTP 405" "$WORK/upfail.stats" &&
	! grep -qiw nan "$WORK/upfail.txt" "$WORK/upfail.stats" &&
	ok "a refused upload: $(cat "$WORK/upfail.txt")" ||
	fail "a refused upload: $(cat "$WORK/upfail.txt" "$WORK/upfail.stats")"

finish
