#!/usr/bin/env bash
# Runs every benchmark script in bench/ against the build directory given.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
for s in "$here"/*.sh; do
  [ "$(basename "$s")" = run-all.sh ] && continue
  echo "== $(basename "$s")"
  BUILD="$build" bash "$s"
done
