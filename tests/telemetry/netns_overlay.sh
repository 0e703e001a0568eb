#!/usr/bin/env bash
# Telemetry over the overlay, in the seed's scenario (tests/overlay/lib.sh:
# a public hub, usa-01 public, home-01 behind a NAT router; nothing but
# init, two joins and the daemons):
#   - usa-01's speed test to home-01 takes home-01's RPC address, its overlay
#     address: the data connection crosses the overlay, relayed by the hub
#     (the hub's relay counter and home-01's WireGuard interface move by at
#     least the bytes measured), and its figures are within a factor of
#     iperf3's over the same overlay addresses in the same run;
#   - home-01's speed test to usa-01 takes usa-01's RPC address, its public
#     one (through the NAT, not the overlay): the path the cluster uses;
#   - `constella stats` (GetStats, here and through the RPC) reports the
#     overlay interface apart from `net`, with its rates, and the embedded
#     device's peers by member name with rx/tx and a recent handshake, on
#     daemons started without VPN_MODE (the overlay's mode is in the state);
#     GetTS overlay_rx holds the speed test's traffic;
#   - /metrics on the overlay address (METRICS_LISTEN=overlay:PORT), scraped
#     from the hub over the tunnel, passes the strict checker and carries the
#     per-peer families.
# usage: netns_overlay.sh CONSTELLA CONSTELLAD TEL_RPC PROMCHECK
TEL_HERE=$(cd "$(dirname "$0")" && pwd)
TEL_RPC=$3
PROMCHECK=$4
. "$TEL_HERE/../overlay/lib.sh" "$1" "$2"
for t in iperf3 curl bc; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done

SECS=2
FACTOR=3
METRICS_PORT=9478
IPERF_PORT=5201
# no VPN_MODE, no VPN_INTERFACE_NAME: the overlay comes from the state alone
COMMON=(SAMPLE_EVERY_SEC=1 HEARTBEAT_INTERVAL=0.5 SPEEDTEST_MAX_MB=100000)

# ratio A B: A / B with 2 decimals; within A B F: 1/F <= A/B <= F
ratio() { printf '%.2f' "$(echo "scale=4; $1 / $2" | bc)"; }
within() { [ "$(echo "$1 * $3 >= $2 && $1 <= $2 * $3" | bc)" = 1 ]; }
# ifbytes NODE IFACE rx|tx: the kernel's byte counter of IFACE in NODE
ifbytes() { nsx "$1" cat "/sys/class/net/$2/statistics/$3_bytes"; }
relay_bytes() { show hub && jq '.stats.relay_bytes' "$WORK/show-hub.json"; }
# rpc FROM TO METHOD [PARAMS]: FROM calls TO's RPC address (signed)
rpc() {
	local i=$1 j=$2 a; shift 2
	a=$(jq -r --arg n "$j" '.peers[] | select(.name == $n) | .addr' "$WORK/$i/network_state.json")
	nsx "$i" "$TEL_RPC" "$WORK/$i/network_state.json" "$a" "$@"
}

net_up hub usa nat
hub_init hub hub || finish
daemon_start hub "${COMMON[@]}" || finish
join usa usa-01 "$(invite hub)" --public-addr 10.231.0.2:$PORT || finish
daemon_start usa "${COMMON[@]}" METRICS_LISTEN=overlay:$METRICS_PORT || finish
join home home-01 "$(invite hub)" --public-addr 192.168.77.2:$PORT || finish
grep -q "RPC address: 10.42.0.3:$PORT" "$WORK/join-home.out" ||
	{ fail "home-01's join: $(cat "$WORK/join-home.out")"; finish; }
# home-01 listens on its overlay address alone: the speed test's data port
# (on LISTEN_ADDR's address) cannot be reached any other way
LISTEN[home]=10.42.0.3:$PORT
daemon_start home "${COMMON[@]}" || finish
all_alive "hub usa home" "home-01,hub,usa-01" 30 &&
	ok "all three alive after $WAIT_MS ms" || { fail "the three nodes do not agree"; finish; }
T_START=$(date +%s)

# ---- usa-01 -> home-01: over the overlay, relayed by the hub ----
[ "$(jq -r '.peers[] | select(.name == "home-01") | .addr' "$WORK/st-usa.json")" = 10.42.0.3:$PORT ] &&
	ok "usa-01 calls home-01 at its overlay address" || fail "usa-01's view of home-01's address"
# iperf VAR ARGS: iperf3 usa-01 -> home-01's overlay address (-R: back), Mbit/s received
iperf() {
	local var=$1 spid; shift
	nsx home iperf3 -s -1 -B 10.42.0.3 -p $IPERF_PORT >/dev/null 2>&1 &
	spid=$!
	DPID[iperf]=$spid # lib.sh's cleanup kills it should anything below fail
	for _ in $(seq 50); do
		nsx home ss -Hltn "sport = :$IPERF_PORT" | grep -q . && break
		sleep 0.1
	done
	nsx usa iperf3 -c 10.42.0.3 -p $IPERF_PORT -t $SECS -J "$@" >"$WORK/iperf.json" 2>&1
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	unset 'DPID[iperf]'
	printf -v "$var" '%s' "$(jq '.end.sum_received.bits_per_second / 1e6' "$WORK/iperf.json" 2>/dev/null)"
	[ -n "${!var}" ] || { printf -v "$var" 0; echo "  iperf3 $*: $(head -c 300 "$WORK/iperf.json")"; }
}
iperf IPERF_UP
iperf IPERF_DOWN -R

R0=$(relay_bytes)
HRX0=$(ifbytes home "${IFN[home]}" rx); HTX0=$(ifbytes home "${IFN[home]}" tx)
"$CLI" --state-dir "$WORK/usa" speedtest home-01 --seconds $SECS --json >"$WORK/st.json" 2>"$WORK/st.err" ||
	fail "speedtest usa-01 -> home-01: $(cat "$WORK/st.err")"
R1=$(relay_bytes)
HRX1=$(ifbytes home "${IFN[home]}" rx); HTX1=$(ifbytes home "${IFN[home]}" tx)
UPB=$(jq .up_bytes "$WORK/st.json"); DOWNB=$(jq .down_bytes "$WORK/st.json")
OUR_UP=$(jq '.up_bytes_per_s * 8 / 1e6' "$WORK/st.json")
OUR_DOWN=$(jq '.down_bytes_per_s * 8 / 1e6' "$WORK/st.json")
RTT=$(jq .rtt_ms "$WORK/st.json")
echo "  iperf3 over the overlay: up ${IPERF_UP} Mbit/s, down ${IPERF_DOWN} Mbit/s"
echo "  constella over the overlay: up ${OUR_UP} Mbit/s, down ${OUR_DOWN} Mbit/s, rtt ${RTT} ms ($(jq -r .limited_by "$WORK/st.json")-bound)"
if [ "$(echo "$IPERF_UP > 0 && $IPERF_DOWN > 0 && ${OUR_UP:-0} > 0 && ${OUR_DOWN:-0} > 0" | bc)" = 1 ]; then
	within "$OUR_UP" "$IPERF_UP" $FACTOR &&
		ok "upload $(ratio "$OUR_UP" "$IPERF_UP") x iperf3 over the overlay (bound: within ${FACTOR}x)" ||
		fail "upload ${OUR_UP} vs iperf3 ${IPERF_UP} Mbit/s: not within ${FACTOR}x"
	within "$OUR_DOWN" "$IPERF_DOWN" $FACTOR &&
		ok "download $(ratio "$OUR_DOWN" "$IPERF_DOWN") x iperf3 over the overlay (bound: within ${FACTOR}x)" ||
		fail "download ${OUR_DOWN} vs iperf3 ${IPERF_DOWN} Mbit/s: not within ${FACTOR}x"
	echo "MEASURED overlay_speedtest_mbit up=$OUR_UP down=$OUR_DOWN iperf3_up=$IPERF_UP iperf3_down=$IPERF_DOWN ratio_up=$(ratio "$OUR_UP" "$IPERF_UP") ratio_down=$(ratio "$OUR_DOWN" "$IPERF_DOWN") rtt_ms=$RTT"
else
	fail "nothing measured: iperf3 $IPERF_UP/$IPERF_DOWN, constella $OUR_UP/$OUR_DOWN Mbit/s"
fi
[ "$(echo "$RTT > 0 && $RTT < 200" | bc)" = 1 ] && ok "rtt ${RTT} ms" || fail "rtt ${RTT} ms"
[ "$(jq -r .peer "$WORK/st.json")" = home-01 ] || fail "result names $(jq -r .peer "$WORK/st.json")"
# the hub relays inner packets (headers included): at least the payload
[ "$UPB" -gt 0 ] && [ $((R1 - R0)) -ge $((UPB + DOWNB)) ] &&
	ok "the hub relayed $((R1 - R0)) bytes during the test (measured $UPB up + $DOWNB down)" ||
	fail "hub relay_bytes $R0 -> $R1 for $UPB + $DOWNB bytes measured"
[ $((HRX1 - HRX0)) -ge "$UPB" ] && [ $((HTX1 - HTX0)) -ge "$DOWNB" ] &&
	ok "home-01's ${IFN[home]}: rx +$((HRX1 - HRX0)), tx +$((HTX1 - HTX0)) bytes" ||
	fail "home-01's ${IFN[home]}: rx +$((HRX1 - HRX0)) (want >= $UPB), tx +$((HTX1 - HTX0)) (want >= $DOWNB)"
grep -q "speed test for usa-01: port" "$WORK/home.log" || fail "home-01 did not log the test it served"

# ---- home-01 -> usa-01: usa-01's RPC address is its public one ----
WRX0=$(ifbytes home "${IFN[home]}" rx); WTX0=$(ifbytes home "${IFN[home]}" tx)
ETX0=$(ifbytes home eth0 tx)
"$CLI" --state-dir "$WORK/home" speedtest usa-01 --seconds 1 --json >"$WORK/st2.json" 2>"$WORK/st2.err" ||
	fail "speedtest home-01 -> usa-01: $(cat "$WORK/st2.err")"
WRX1=$(ifbytes home "${IFN[home]}" rx); WTX1=$(ifbytes home "${IFN[home]}" tx)
ETX1=$(ifbytes home eth0 tx)
UPB2=$(jq .up_bytes "$WORK/st2.json")
# eth0 carries the test itself; the tunnel only the cluster's own chatter
[ "${UPB2:-0}" -gt 0 ] && [ $((ETX1 - ETX0)) -ge "$UPB2" ] &&
	[ $((WRX1 - WRX0 + WTX1 - WTX0)) -lt $((UPB2 / 10)) ] &&
	ok "home-01 -> usa-01 went to 10.231.0.2 through the NAT: eth0 tx +$((ETX1 - ETX0)), tunnel +$((WRX1 - WRX0 + WTX1 - WTX0)) bytes for $UPB2 up" ||
	fail "home-01 -> usa-01: eth0 tx +$((ETX1 - ETX0)), tunnel +$((WRX1 - WRX0 + WTX1 - WTX0)) for $UPB2 up"

# ---- the overlay's own figures ----
sleep 1.5 # a sample after the tests
NOW=$(date +%s)
# check_overlay FILE NODE "names": the overlay object of a GetStats answer
check_overlay() {
	local f=$1 n=$2 want=$3 got
	jq -e --arg i "${IFN[$n]}" '.overlay.iface == $i and .overlay.present == true and
		(.overlay.rx_bytes_per_s | type) == "number" and (.overlay.tx_bytes_per_s | type) == "number" and
		([.net[].iface] | index($i)) == null and ([.net[].iface] | index("eth0")) != null' "$f" >/dev/null ||
		{ fail "$n: overlay interface not apart from net: $(jq -c '{overlay: (.overlay | del(.peers)), net: [.net[].iface]}' "$f")"; return; }
	got=$(jq -r '[.overlay.peers[].name] | sort | join(",")' "$f")
	[ "$got" = "$want" ] || { fail "$n: overlay peers [$got], want [$want]"; return; }
	jq -e --argjson t0 "$T_START" --argjson now "$NOW" 'all(.overlay.peers[];
		.rx_bytes > 0 and .tx_bytes > 0 and (.public_key | length) == 44 and
		.latest_handshake >= $t0 - 180 and .latest_handshake <= $now + 5)' "$f" >/dev/null ||
		{ fail "$n: overlay peers: $(jq -c .overlay.peers "$f")"; return; }
	ok "$n: ${IFN[$n]} apart from net ($(jq -c '[.net[].iface]' "$f")), peers $(jq -c '[.overlay.peers[] | {name, rx_bytes, tx_bytes, latest_handshake}]' "$f")"
}
"$CLI" --state-dir "$WORK/hub" stats --json >"$WORK/stats-hub.json" 2>"$WORK/stats.err" ||
	fail "stats at the hub: $(cat "$WORK/stats.err")"
check_overlay "$WORK/stats-hub.json" hub "home-01,usa-01"
# the relayed test never reached the hub's TUN: its overlay counters stay small
[ "$(jq '.overlay.rx_bytes' "$WORK/stats-hub.json")" -lt "$UPB" ] &&
	ok "the hub's own ${IFN[hub]} did not carry the relayed test ($(jq .overlay.rx_bytes "$WORK/stats-hub.json") bytes in)" ||
	fail "the hub's ${IFN[hub]} counted $(jq .overlay.rx_bytes "$WORK/stats-hub.json") bytes in"
# home-01's, asked from usa-01: GetStats over the overlay through the relay
"$CLI" --state-dir "$WORK/usa" stats home-01 --json >"$WORK/stats-home.json" 2>"$WORK/stats.err" ||
	fail "stats home-01 from usa-01: $(cat "$WORK/stats.err")"
check_overlay "$WORK/stats-home.json" home hub
jq -e --argjson u "$UPB" --argjson d "$DOWNB" '.overlay.rx_bytes >= $u and .overlay.tx_bytes >= $d and
	(.overlay.peers[0].rx_bytes >= $u) and (.overlay.peers[0].tx_bytes >= $d)' "$WORK/stats-home.json" >/dev/null &&
	ok "home-01's overlay counters hold the test: $(jq -c '.overlay | {rx_bytes, tx_bytes}' "$WORK/stats-home.json")" ||
	fail "home-01's overlay counters: $(jq -c '.overlay | del(.peers)' "$WORK/stats-home.json") for $UPB up, $DOWNB down"
"$CLI" --state-dir "$WORK/usa" stats >"$WORK/stats-usa.txt" 2>&1 &&
	grep -q "^overlay  *${IFN[usa]} *rx " "$WORK/stats-usa.txt" && grep -Eq "peer hub .*handshake [0-9]+ s ago" "$WORK/stats-usa.txt" &&
	ok "constella stats (text) at usa-01: $(grep -A1 '^overlay' "$WORK/stats-usa.txt" | tr -s ' ' | paste -sd'|')" ||
	fail "constella stats (text): $(cat "$WORK/stats-usa.txt")"
# the overlay's rate series: home-01 received the upload at a rate of the test's order
rpc hub home-01 GetTS '{"kind":"overlay_rx"}' >"$WORK/ts.json" || fail "GetTS overlay_rx: $(cat "$WORK/ts.json")"
jq -e --argjson r "$(jq .up_bytes_per_s "$WORK/st.json")" '.summary.count >= 3 and .summary.max >= $r / 10' \
	"$WORK/ts.json" >/dev/null &&
	ok "GetTS overlay_rx at home-01: $(jq -c '.summary | {count, max}' "$WORK/ts.json") (test: $(jq .up_bytes_per_s "$WORK/st.json") B/s)" ||
	fail "GetTS overlay_rx: $(jq -c .summary "$WORK/ts.json") for $(jq .up_bytes_per_s "$WORK/st.json") B/s"

# ---- /metrics on usa-01's overlay address, scraped from the hub ----
nsx hub curl -sf --max-time 5 "http://10.42.0.2:$METRICS_PORT/metrics" >"$WORK/metrics.txt" ||
	fail "GET /metrics over the overlay"
"$PROMCHECK" --prefix constella_ "$WORK/metrics.txt" >"$WORK/pc.out" && ok "/metrics: $(cat "$WORK/pc.out")" ||
	fail "/metrics refused by the checker: $(cat "$WORK/pc.out")"
KHUB=$(wg_key usa hub)
L="{peer=\"hub\",public_key=\"$KHUB\"}"
grep -qF "constella_overlay_peer_receive_bytes_total$L " "$WORK/metrics.txt" &&
	grep -qF "constella_overlay_peer_transmit_bytes_total$L " "$WORK/metrics.txt" &&
	grep -qF "constella_overlay_peer_last_handshake_timestamp_seconds$L " "$WORK/metrics.txt" &&
	grep -q "^constella_network_receive_bytes_total{interface=\"${IFN[usa]}\"} [1-9]" "$WORK/metrics.txt" &&
	grep -q '^constella_speedtest_download_bytes_per_second{kind="peer",target="home-01"} ' "$WORK/metrics.txt" &&
	ok "/metrics carries the overlay's per-peer figures, its interface and the speed test" ||
	fail "/metrics content: $(grep -E 'overlay|network|speedtest' "$WORK/metrics.txt" | head -20)"
nsx hub curl -s -o /dev/null --max-time 2 "http://10.231.0.2:$METRICS_PORT/metrics" &&
	fail "usa-01's /metrics answers on its public address"

for n in hub usa home; do daemon_stop "$n"; done
finish
