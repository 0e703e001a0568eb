#!/usr/bin/env bash
# Installs the Debian packages Constella needs to build, test, fuzz and
# benchmark. Idempotent: only missing packages are installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libsodium-dev android-libboringssl-dev libb2-dev libcjson-dev libev-dev
  libcurl4-gnutls-dev libmicrohttpd-dev libmnl-dev
  libcairo2-dev fonts-dejavu-core
  wireguard-go wireguard-tools iproute2 iptables nftables iputils-ping iperf3
  procps psmisc bc python3 curl ca-certificates jq openssl faketime
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm run the Bot API emulator of the bot's tests (npm package
# telegram-test-api, pinned in tests/bot/emulator/package-lock.json). Checked
# by command, not by package: a machine may have Node.js from elsewhere
# (NodeSource's nodejs conflicts with Debian's npm, which it already
# contains); Debian 12 has both as nodejs and npm.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
