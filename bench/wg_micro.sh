#!/usr/bin/env bash
# Protocol-core microbenchmarks (no network): responder handshakes/s and
# transport seal/open vs the raw AEADs, one core, same run.
#   BUILD=build bash bench/wg_micro.sh [seconds-per-measure]
set -euo pipefail
build=${BUILD:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x "$build/bench/wg_micro/wg_micro" ]; then
  cmake -S "$here" -B "$build" >/dev/null
  cmake --build "$build" --target wg_micro -j "$(nproc)" >/dev/null
fi
echo "# wg_micro on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(date -u +%Y-%m-%d)"
"$build/bench/wg_micro/wg_micro" "${1:-2}"
