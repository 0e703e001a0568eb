#!/usr/bin/env bash
# Runs the TUN configuration test inside a namespace of its own.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
ns=cstun$$
ip netns add $ns
trap 'ip netns del $ns 2>/dev/null || true' EXIT
ip -n $ns link set lo up
ip netns exec $ns "$1"
