#!/bin/bash
# Authentication over the namespace network. rpc_probe, run from n2's
# namespace against n1's daemon, sends POST /rpc signed correctly, with a
# wrong secret, 60 s stale, 60 s ahead, replayed, and unsigned: only the
# correct one passes, each other one is a 401 with its reason. A signed Reboot
# passes authentication (403: reboot disabled; the daemon runs with env -i, so
# CONSTELLA_ALLOW_REBOOT is never set) and its replay is refused. Joins over
# the bridge with an unknown, an expired, a used and a revoked token fail,
# each with its own reason, and leave no state behind.
# usage: cluster_security.sh CONSTELLA CONSTELLAD RPC_PROBE
. "$(dirname "$0")/lib.sh"
[ -x "$PROBE" ] || { echo "FAIL: no rpc_probe"; exit 1; }

net_up 3
cluster_init 1 || finish
daemon_start 1 || finish
URL=http://$(addr 1):$PORT/rpc
STATE=$WORK/n1/network_state.json

# probe DESC MODE METHOD EXPECT...: EXPECT = "CODE:substring", one per
# request the mode sends (two for replay)
probe() {
	local desc=$1 mode=$2 method=$3 n=0 e line; shift 3
	nsx 2 "$PROBE" --url "$URL" --state "$STATE" --method "$method" --mode "$mode" \
		>"$WORK/probe.out" 2>&1 || { fail "$desc: rpc_probe failed: $(cat "$WORK/probe.out")"; return; }
	for e in "$@"; do
		n=$((n + 1))
		line=$(sed -n "${n}p" "$WORK/probe.out")
		case "$line" in
		"${e%%:*} "*"${e#*:}"*) ok "$desc #$n: $line";;
		*) fail "$desc #$n: got [$line], want ${e%%:*} with '${e#*:}'";;
		esac
	done
}

probe "signed GetPeers" ok GetPeers '200:n1'
probe "wrong secret" forged GetPeers '401:bad signature'
probe "timestamp 60 s old" stale GetPeers '401:timestamp outside the accepted window'
probe "timestamp 60 s ahead" future GetPeers '401:timestamp outside the accepted window'
probe "replayed GetPeers" replay GetPeers '200:n1' '401:replayed request'
probe "unsigned" unsigned GetPeers '401:missing authentication header'
probe "signed Reboot, then its replay" replay Reboot '403:reboot disabled' '401:replayed request'
kill -0 "${DPID[1]}" 2>/dev/null && ok "n1 still running" || fail "n1 died"

# --- joins over the bridge, from n2 and n3's namespaces
LINK=$(invite 1) || fail "invite: $(cat "$WORK/invite.err")"
L_EXP=$(invite 1 --ttl 1s)
L_REV=$(invite 1 --ttl 1h)
"$CLI" --state-dir "$WORK/n1" invite --revoke "$L_REV" >"$WORK/out" 2>&1 || fail "revoke: $(cat "$WORK/out")"
BADTOK=$(echo "$LINK" | sed -E 's/token=[^&]+/token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/')
WRONGNET=$(echo "$LINK" | sed -E 's/net=[0-9a-f]+/net=00000000000000000000000000000000/')
case "$LINK" in "join://$(addr 1):$PORT?"*) ok "link points at n1 over the bridge";; *) fail "link $LINK";; esac

# join_fails DESC LINK PATTERN: from n3's namespace, into a fresh state dir
k=0
join_fails() {
	local dir
	k=$((k + 1)); dir=$WORK/f$k
	nsx 3 "$CLI" --state-dir "$dir" join --server-name "f$k" --join "$2" \
		--public-addr "$(addr 3):$PORT" >"$WORK/out" 2>"$WORK/err"
	local rc=$?
	if [ "$rc" = 1 ] && grep -q -- "$3" "$WORK/err"; then ok "$1: '$3'"
	else fail "$1: rc $rc, stderr: $(cat "$WORK/err")"; fi
	[ ! -e "$dir" ] || fail "$1 left $dir behind"
}
join_fails "unknown token" "$BADTOK" "unknown invite token"
join_fails "wrong network" "$WRONGNET" "wrong network"
join_fails "revoked token" "$L_REV" "invite token revoked"
cluster_join 2 "$LINK" && ok "n2 joins with the link"
join_fails "reused token" "$LINK" "invite token already used"
sleep 2.1 # the 1 s invite expires (the seed compares wall-clock seconds)
join_fails "expired token" "$L_EXP" "invite token expired"
jq -e '[.peers[].name] | sort == ["n1", "n2"]' "$STATE" >/dev/null \
	&& ok "n1 lists exactly n1 and n2" || fail "n1's peers: $(jq -c '[.peers[].name]' "$STATE")"
grep -q "$(jq -r .network_secret "$STATE")" "$WORK"/n*.log "$WORK/probe.out" \
	&& fail "network secret in a log" || ok "secret not logged"
finish
