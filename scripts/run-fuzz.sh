#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/fuzz for SECONDS each, with the
# seed corpus from fuzz/corpus/<target> when present, JOBS targets at a time
# (default: the number of online CPUs; each target is single-threaded, so the
# total wall time is about targets x SECONDS / JOBS). Exits non-zero when any
# target crashed, leaked or made a sanitizer report (all are run and reported).
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-30}
jobs=${3:-${FUZZ_JOBS:-$(nproc)}}
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
targets=("$build"/fuzz/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
  echo "run-fuzz: no fuzz targets in $build/fuzz" >&2
  exit 1
fi
case $jobs in ''|*[!0-9]*|0) echo "run-fuzz: JOBS must be a positive integer" >&2; exit 2;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One target: its verdict goes to $work/NAME.rc, its output to $work/NAME.log.
run_one() {
  local t=$1 name corpus rc=0
  name=$(basename "$t")
  corpus="$work/$name"
  mkdir -p "$corpus"
  if [ -d "$root/fuzz/corpus/$name" ]; then
    cp -r "$root/fuzz/corpus/$name/." "$corpus/"
  fi
  timeout $((seconds + 60)) "$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$name-" \
    "$corpus" >"$work/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$work/$name.rc"
}

running=0
for t in "${targets[@]}"; do
  [ -x "$t" ] || continue
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  echo "run-fuzz: $(basename "$t") for ${seconds}s"
  run_one "$t" &
  running=$((running + 1))
done
wait || true

fail=0
for t in "${targets[@]}"; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  if [ "$(cat "$work/$name.rc" 2>/dev/null || echo missing)" != 0 ]; then
    echo "run-fuzz: $name FAILED" >&2
    tail -n 60 "$work/$name.log" >&2 || true
    fail=1
  else
    echo "run-fuzz: $name: $(grep -E 'stat::number_of_executed_units' "$work/$name.log" || echo 'no stats')"
  fi
done
exit $fail
