#!/bin/bash
# Installs the emulator (telegram-test-api 4.2.1 exactly as the lockfile
# pins it) into the build tree: `npm ci`, only when the lockfile changed.
# usage: setup.sh SRC_DIR DEST_DIR
set -eu
src=$1 dest=$2
command -v node >/dev/null || { echo "node not found: scripts/install-deps.sh installs nodejs"; exit 1; }
command -v npm >/dev/null || { echo "npm not found: scripts/install-deps.sh installs npm"; exit 1; }
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$src/server.js" "$src/client.js" "$dest/"
if [ -f "$dest/node_modules/telegram-test-api/package.json" ] &&
   cmp -s "$src/package-lock.json" "$dest/node_modules/.installed-lock"; then
	echo "emulator: telegram-test-api already installed in $dest"
	exit 0
fi
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
cp "$src/package-lock.json" "$dest/node_modules/.installed-lock"
v=$(node -p "require('$dest/node_modules/telegram-test-api/package.json').version")
[ "$v" = 4.2.1 ] || { echo "emulator: telegram-test-api $v installed, want 4.2.1"; exit 1; }
echo "emulator: telegram-test-api $v installed in $dest (node $(node --version))"
