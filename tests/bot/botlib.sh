# Helpers for the bot scenarios: the emulator (emulator/server.js around the
# npm package telegram-test-api 4.2.1), the user's side through the
# package's client (emulator/client.js), waits with bounds. Everything
# started here is stopped by PID in bot_cleanup.
#
# usage: . botlib.sh EMU_DIR   (sets EMU_URL after emu_start)
EMU_DIR=$1
EMU_PID=
command -v node >/dev/null || { echo "FAIL: node not installed (scripts/install-deps.sh)"; exit 1; }
[ -f "$EMU_DIR/node_modules/telegram-test-api/package.json" ] ||
	{ echo "FAIL: emulator not installed in $EMU_DIR (the bot_emulator_setup test does it)"; exit 1; }

# emu_start HOST [NETNS]: the emulator on HOST, port chosen by the kernel
emu_start() {
	local host=$1 ns=${2:-} i
	rm -f "$WORK/emu.port"
	if [ -n "$ns" ]; then
		ip netns exec "$ns" node "$EMU_DIR/server.js" --host "$host" --port 0 \
			--portfile "$WORK/emu.port" >"$WORK/emu.log" 2>&1 &
	else
		node "$EMU_DIR/server.js" --host "$host" --port 0 --portfile "$WORK/emu.port" \
			>"$WORK/emu.log" 2>&1 &
	fi
	EMU_PID=$!
	for i in $(seq 100); do
		[ -s "$WORK/emu.port" ] && break
		sleep 0.1
	done
	[ -s "$WORK/emu.port" ] || { echo "FAIL: emulator did not start: $(cat "$WORK/emu.log")"; exit 1; }
	EMU_HOST=$host
	EMU_NS=$ns
	EMU_URL=http://$host:$(cat "$WORK/emu.port")
	echo "emulator: $(head -1 "$WORK/emu.log")"
}

emu_stop() { [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null; wait "$EMU_PID" 2>/dev/null; EMU_PID=; }

# emu_curl ARGS...: curl to the emulator (inside its namespace when it has one)
emu_curl() {
	if [ -n "$EMU_NS" ]; then ip netns exec "$EMU_NS" curl -s "$@"; else curl -s "$@"; fi
}
# harness ROUTE JSON: POST a harness control
harness() { emu_curl -X POST -H 'Content-Type: application/json' -d "$2" "$EMU_URL/_harness/$1"; }
emu_log() { emu_curl "$EMU_URL/_harness/log"; }

# The user on the client side: TG_USER_ID / TG_USERNAME / TOKEN select who.
OWNER_ID=1001
OWNER_NAME=owner
as_owner() { TG_USER_ID=$OWNER_ID; TG_USERNAME=$OWNER_NAME; }
as_stranger() { TG_USER_ID=2002; TG_USERNAME=mallory; }
tg() {
	local env=(TG_URL="$EMU_URL" TG_TOKEN="$TOKEN" TG_USER_ID="$TG_USER_ID" TG_USERNAME="$TG_USERNAME"
		TG_CHAT_ID="$TG_USER_ID")
	if [ -n "$EMU_NS" ]; then
		ip netns exec "$EMU_NS" env "${env[@]}" node "$EMU_DIR/client.js" "$@"
	else
		env "${env[@]}" node "$EMU_DIR/client.js" "$@"
	fi
}

# say TEXT: sends as the current user; prints the message id
say() { tg say "$1" | jq -r .message_id; }
# reply_to ID [SECS]: the bot's reply to message ID (JSON), or fails
reply_to() { tg wait-reply "$1" "${2:-10}"; }
# screen_text: the text of the current screen (the last message with buttons)
screen_text() { tg screen | jq -r '.text // ""'; }
# wait_screen REGEX [SECS]: until the screen's text matches
wait_screen() {
	local t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "${2:-10}" ]; do
		screen_text | grep -Eq -- "$1" && return 0
		sleep 0.2
	done
	echo "  screen now: $(screen_text | head -c 400)"
	return 1
}
# press LABEL_REGEX: presses the button of the current screen; prints its data
press() {
	local b
	b=$(tg button "$1") || { echo "no button /$1/ on: $(screen_text | head -c 300)" >&2; return 1; }
	tg press "$(echo "$b" | jq -r .message_id)" "$(echo "$b" | jq -r .data)" >/dev/null
	echo "$b" | jq -r .data
}
# bot_count: messages the bot has in the current chat
bot_count() { tg bot | jq length; }

# bot_state CLI STATE_DIR: the runner's state from constella status --json
bot_state() { "$1" --state-dir "$2" status --json 2>/dev/null | jq -r '.bot.state // "none"'; }
# wait_bot_state CLI STATE_DIR REGEX SECS
wait_bot_state() {
	local t0=$SECONDS s
	while [ $((SECONDS - t0)) -lt "$4" ]; do
		s=$(bot_state "$1" "$2")
		echo "$s" | grep -Eq "^($3)$" && return 0
		sleep 0.25
	done
	echo "  bot state is $s, want $3"
	return 1
}
# wait_for SECS CMD...: until CMD succeeds
wait_for() {
	local secs=$1 t0=$SECONDS; shift
	while [ $((SECONDS - t0)) -lt "$secs" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# png_check FILE W H: decodes the PNG (zlib, every row) and checks its size
png_check() {
	python3 - "$@" <<'PY'
import struct, sys, zlib
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = open(path, 'rb').read()
assert d[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, ihdr = 8, b'', None
while pos < len(d):
    n, t = struct.unpack('>I4s', d[pos:pos + 8])
    body = d[pos + 8:pos + 8 + n]
    crc = struct.unpack('>I', d[pos + 8 + n:pos + 12 + n])[0]
    assert zlib.crc32(t + body) & 0xffffffff == crc, 'bad CRC in ' + t.decode()
    if t == b'IHDR': ihdr = struct.unpack('>IIBBBBB', body)
    if t == b'IDAT': idat += body
    pos += 12 + n
width, height, depth, ctype = ihdr[:4]
bpp = {2: 3, 6: 4, 0: 1, 4: 2}[ctype] * depth // 8
raw = zlib.decompress(idat)
assert len(raw) == height * (1 + width * bpp), 'decoded %d bytes' % len(raw)
assert (width, height) == (w, h), 'size %dx%d' % (width, height)
print('PNG %dx%d, %d-bit colour type %d, %d bytes decoded' % (width, height, depth, ctype, len(raw)))
PY
}
