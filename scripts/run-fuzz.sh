#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/fuzz for SECONDS each, with the
# seed corpus from fuzz/corpus/<target> when present. Exits non-zero on the
# first crash, leak or sanitizer report.
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
targets=("$build"/fuzz/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
  echo "run-fuzz: no fuzz targets in $build/fuzz" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
for t in "${targets[@]}"; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  corpus="$work/$name"
  mkdir -p "$corpus"
  if [ -d "$root/fuzz/corpus/$name" ]; then
    cp -r "$root/fuzz/corpus/$name/." "$corpus/"
  fi
  echo "run-fuzz: $name for ${seconds}s"
  if ! timeout $((seconds + 60)) "$t" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$name-" \
        "$corpus" >"$work/$name.log" 2>&1; then
    echo "run-fuzz: $name FAILED" >&2
    tail -n 60 "$work/$name.log" >&2
    fail=1
  else
    grep -E 'stat::number_of_executed_units' "$work/$name.log" || true
  fi
done
exit $fail
