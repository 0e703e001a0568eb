#!/usr/bin/env python3
"""A TCP bulk transfer checked by SHA-256, for the overlay tests.

  xfer.py recv HOST PORT   listens once, prints "BYTES SHA256" of what arrived
  xfer.py send HOST PORT FILE   connects (retrying up to 10 s), sends FILE
"""
import hashlib
import socket
import sys
import time


def recv(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(1)
    s.settimeout(60)
    c, _ = s.accept()
    c.settimeout(60)
    h = hashlib.sha256()
    n = 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(n, h.hexdigest(), flush=True)


def send(host, port, path):
    deadline = time.monotonic() + 10
    while True:
        try:
            c = socket.create_connection((host, port), timeout=10)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    c.settimeout(60)
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            c.sendall(b)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit("usage: xfer.py recv HOST PORT | send HOST PORT FILE")
