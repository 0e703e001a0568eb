#!/usr/bin/env bash
# constella-wg as a drop-in for wireguard-go: invocation, exit codes, clear
# errors, daemon mode, and clean shutdown on SIGTERM.
CWG=$1
. "$(dirname "$0")/lib.sh"
N=cl$SUF; IF=wcl$((SUF % 100000))
ns_new $N
fail=0
expect() { # DESC WANT_RC CMD...
  local d=$1 want=$2; shift 2
  set +e; "$@" > "$WORK/out" 2>&1; local rc=$?; set -e
  if [ "$rc" = "$want" ]; then echo "ok: $d (exit $rc)"; else echo "FAIL: $d: exit $rc, wanted $want"; cat "$WORK/out"; fail=1; fi
}
expect "no interface name is a usage error" 2 "$CWG"
expect "unknown flag is a usage error" 2 "$CWG" --bogus x
expect "bad LOG_LEVEL rejected" 2 env LOG_LEVEL=loud "$CWG" -f x
expect "malformed test timers rejected" 2 env CONSTELLA_WG_TEST_TIMERS=foo "$CWG" -f x
expect "--version" 0 "$CWG" --version
IFS_CREATED+=("$IF")
# daemon mode: the parent returns once the interface is ready
expect "daemonizes" 0 ip netns exec $N "$CWG" $IF
[ -S /var/run/wireguard/$IF.sock ] && echo "ok: UAPI socket exists" || { echo "FAIL: no socket"; fail=1; }
ip -n $N link show $IF >/dev/null && echo "ok: interface exists" || { echo "FAIL: no interface"; fail=1; }
expect "second instance on the same name refused" 1 ip netns exec $N "$CWG" -f $IF
grep -q "already in use" "$WORK/out" && echo "ok: clear message" || { echo "FAIL: message: $(cat "$WORK/out")"; fail=1; }
pid=$(ip netns exec $N ss -xlpn | grep "/var/run/wireguard/$IF.sock" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
[ -n "$pid" ] || { echo "FAIL: cannot find daemon pid"; exit 1; }
PIDS+=("$pid")
kill -TERM "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { echo "FAIL: still running after SIGTERM"; fail=1; } || echo "ok: exited on SIGTERM"
[ ! -e /var/run/wireguard/$IF.sock ] && echo "ok: socket removed" || { echo "FAIL: socket left behind"; fail=1; }
! ip -n $N link show $IF >/dev/null 2>&1 && echo "ok: interface removed" || { echo "FAIL: interface left behind"; fail=1; }
exit $fail
