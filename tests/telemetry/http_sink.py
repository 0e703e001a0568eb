#!/usr/bin/env python3
"""A stand-in for SPEEDTEST_URL in the namespace tests: GET /blob streams
SIZE bytes (default 8 GiB, so the test's time bound stops it), POST /sink
reads and drops the body, anything else is 404/405.
usage: http_sink.py ADDR PORT PIDFILE (its own pid, for the test's cleanup:
a python3 found through a version-manager shim is not the PID $! gives)"""
import http.server
import socketserver
import sys

CHUNK = b"\xa5" * 65536
SIZE = 8 << 30


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path != "/blob":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(SIZE))
        self.end_headers()
        sent = 0
        try:
            while sent < SIZE:
                self.wfile.write(CHUNK)
                sent += len(CHUNK)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self):
        if self.path != "/sink":
            self.send_error(405)
            return
        left = int(self.headers.get("Content-Length", "0"))
        try:
            while left > 0:
                got = self.rfile.read(min(left, 1 << 20))
                if not got:
                    return
                left -= len(got)
        except (BrokenPipeError, ConnectionResetError):
            return
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    import os
    with open(sys.argv[3], "w") as f:
        f.write("%d\n" % os.getpid())
    Server((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
