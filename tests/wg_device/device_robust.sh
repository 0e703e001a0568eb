#!/usr/bin/env bash
# Garbage on the UDP port never crashes constella-wg nor disturbs an
# established session; a flood of handshake initiations (valid mac1, from
# many source ports) makes it answer with cookie replies.
CWG=$1
. "$(dirname "$0")/lib.sh"
NA=ra$SUF; NB=rb$SUF; NX=rx$SUF; IA=wra$((SUF % 100000)); IB=wrb$((SUF % 100000))
ns_new $NA; ns_new $NB; ns_new $NX
link $NA 10.213.0.1/30 $NB 10.213.0.2/30
link $NX 10.213.1.1/30 $NB 10.213.1.2/30
keypair A; keypair B
start_dev cwg $NA $IA; start_dev cwg $NB $IB; BPID=$LAST_PID
ip netns exec $NA wg set $IA private-key "$WORK/A.key" listen-port 51840 \
  peer "$(pub B)" allowed-ips 10.214.0.2/32 endpoint 10.213.0.2:51841
ip netns exec $NB wg set $IB private-key "$WORK/B.key" listen-port 51841 \
  peer "$(pub A)" allowed-ips 10.214.0.1/32
tunaddr $NA $IA 10.214.0.1/24; tunaddr $NB $IB 10.214.0.2/24
fail=0
must_ping $NA 10.214.0.2 || fail=1
hs_before=$(ip netns exec $NB wg show $IB latest-handshakes | cut -f2)

# Steady traffic during the whole attack.
ip netns exec $NA ping -i 0.1 -c 60 -W 1 10.214.0.2 > "$WORK/steady.out" 2>&1 &
PIDS+=($!); steady=$!

ip netns exec $NX python3 - 10.213.1.2 51841 "$(pub B)" > "$WORK/attack.out" 2>&1 <<'PY'
import base64, hashlib, os, random, socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
pub = base64.b64decode(sys.argv[3])
mac1_key = hashlib.blake2s(b"mac1----" + pub).digest()
random.seed(1)
socks = []
for _ in range(200):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.213.1.1", 0)); s.setblocking(False)
    socks.append(s)
def send(b): random.choice(socks).sendto(b, (host, port))
# 1. random garbage of every length
for _ in range(3000):
    send(os.urandom(random.randrange(0, 1500)))
# 2. truncated and oversized messages of each type, wrong reserved bytes
for t, n in ((1, 148), (2, 92), (3, 64), (4, 32)):
    for cut in (1, 4, n - 1, n + 1, n + 100):
        send(bytes([t, 0, 0, 0]) + os.urandom(max(cut - 4, 0)))
    send(bytes([t, 1, 0, 0]) + os.urandom(n - 4))
# 3. transport messages with random receiver indices and counters, replayed
for _ in range(500):
    m = bytes([4, 0, 0, 0]) + os.urandom(60)
    send(m); send(m)
# 4. handshake flood: valid mac1, from 200 source ports
def initiation():
    body = bytes([1, 0, 0, 0]) + os.urandom(112)
    return body + hashlib.blake2s(body, digest_size=16, key=mac1_key).digest() + bytes(16)
cookies = 0
deadline = time.time() + 4
while time.time() < deadline:
    for _ in range(200):
        send(initiation())
    time.sleep(0.02)
    for s in socks:
        try:
            while True:
                r = s.recv(2048)
                if len(r) == 64 and r[0] == 3:
                    cookies += 1
        except BlockingIOError:
            pass
print("cookie_replies", cookies)
PY
cat "$WORK/attack.out"
wait $steady || true
cookies=$(awk '/cookie_replies/{print $2}' "$WORK/attack.out")
if [ "${cookies:-0}" -gt 0 ]; then echo "ok: flood answered with $cookies cookie replies"; else echo "FAIL: no cookie replies under a handshake flood"; fail=1; fi
if kill -0 $BPID; then echo "ok: constella-wg survived"; else echo "FAIL: constella-wg died"; fail=1; fi
loss=$(grep -o '[0-9.]*% packet loss' "$WORK/steady.out" | cut -d% -f1)
echo "steady ping during the attack: ${loss}% loss"
if awk -v l="${loss:-100}" 'BEGIN{exit !(l <= 10)}'; then echo "ok: established session undisturbed"; else echo "FAIL: session disturbed"; fail=1; fi
must_ping $NA 10.214.0.2 || fail=1
hs_after=$(ip netns exec $NB wg show $IB latest-handshakes | cut -f2)
echo "handshake time before/after: $hs_before / $hs_after"
exit $fail
