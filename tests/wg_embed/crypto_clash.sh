#!/usr/bin/env bash
# The proof that the libcrypto clash is settled: crypto_clash (one process:
# libcurl-gnutls, hence OpenSSL's libcrypto.so.3, and wg_userspace with
# BoringSSL behind the AEAD backend) does a TLS-verified HTTPS GET through
# libcurl to a local server with a throwaway certificate, runs the RFC 8439
# vector through the backend, and carries data through a real tunnel to
# wireguard-go in another namespace, checked by SHA-256 at both ends.
# Runs in the plain and the ASan build alike.
CLASH=$1
CWG=${CWG:-unused}
. "$(dirname "$0")/../wg_device/lib.sh"
command -v openssl > /dev/null || { echo "SKIP: openssl (the tool) not installed"; exit 77; }
MB=${TRANSFER_MB:-20}
P=cp$SUF; Q=cq$SUF; IP=wcp$((SUF % 100000)); IQ=wcq$((SUF % 100000))
fail=0

ns_new $P; ns_new $Q
link $P 10.227.0.1/30 $Q 10.227.0.2/30
keypair p; keypair q

# The TLS server, on the proof process's own loopback, with a certificate
# made for this run (EC P-256, for 127.0.0.1 only) and a random body.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2> "$WORK/openssl.log" || {
  echo "FAIL: cannot make a certificate"; cat "$WORK/openssl.log"; exit 1; }
head -c 300000 /dev/urandom > "$WORK/body"
body_sha=$(sha256sum "$WORK/body" | cut -d' ' -f1)
ip netns exec $P python3 -c '
import http.server, ssl, sys
body = open(sys.argv[3], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()' "$WORK/tls.crt" "$WORK/tls.key" "$WORK/body" > "$WORK/https.port" 2> "$WORK/https.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/https.port" ] && break; sleep 0.05; done
port=$(cat "$WORK/https.port")
[ -n "$port" ] || { echo "FAIL: the TLS server did not start"; cat "$WORK/https.log"; exit 1; }

# The far end: wireguard-go and an echo server that hashes what it got.
start_dev wgo $Q $IQ
ip netns exec $Q wg set $IQ private-key "$WORK/q.key" listen-port 51820 \
  peer "$(pub p)" allowed-ips 10.228.0.1/32 endpoint 10.227.0.1:51820
tunaddr $Q $IQ 10.228.0.2/24
ip netns exec $Q python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.228.0.2", 7000)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60); h = hashlib.sha256(); chunks = []; n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    h.update(b); chunks.append(b); n += len(b)
for b in chunks: c.sendall(b)
c.close(); print(n, h.hexdigest())' > "$WORK/echo.out" 2>&1 &
ECHO_PID=$!
PIDS+=($ECHO_PID)

IFS_CREATED+=("$IP")
timeout 120 ip netns exec $P "$CLASH" "https://127.0.0.1:$port/body" "$WORK/tls.crt" "$body_sha" \
  $IP "$WORK/p.key" "$(pub q)" 10.227.0.2:51820 10.228.0.1/24 10.228.0.2 7000 $MB \
  > "$WORK/clash.out" 2> "$WORK/clash.err" || fail=1
cat "$WORK/clash.out"
grep -E "AEAD|ERROR|error|AddressSanitizer|runtime error" "$WORK/clash.err" || true
wait $ECHO_PID 2>/dev/null || true
sent=$(sed -n 's/^sent //p' "$WORK/clash.out")
if [ -n "$sent" ] && [ "$sent" = "$(cat "$WORK/echo.out")" ]; then
  echo "ok: wireguard-go's side received exactly what was sent: $sent"
else
  echo "FAIL: sent [$sent], wireguard-go's side received [$(cat "$WORK/echo.out")]"; fail=1
fi
grep -q "^all held$" "$WORK/clash.out" || fail=1
exit $fail
