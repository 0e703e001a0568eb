#!/usr/bin/env bash
# Runs the TUN integration test inside a network namespace of its own, so
# every interface it creates disappears with the namespace.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
ns=cst-tun-netns-$$
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
ip -n "$ns" link set lo up
timeout 50 ip netns exec "$ns" "$1"
