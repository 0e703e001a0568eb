#!/usr/bin/env bash
# Telemetry: the cost of one sampling round against the floor (the same
# reads with no parsing) in the same run, and the memory of the history.
#   BUILD=build bash bench/telemetry.sh [rounds]
set -euo pipefail
build=${BUILD:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x "$build/bench/telemetry/telemetry_bench" ]; then
  cmake -S "$here" -B "$build" >/dev/null
  cmake --build "$build" --target telemetry_bench -j "$(nproc)" >/dev/null
fi
echo "# telemetry_bench on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/telemetry/telemetry_bench" "${1:-2000}"
