#!/usr/bin/env python3
"""Checks the bot runner log (CONSTELLA_TEST_RUNNER_LOG).

Each daemon appends `start NAME EPOCH MONO_NS` and `stop NAME EPOCH MONO_NS`
(CLOCK_MONOTONIC, shared by all namespaces). A daemon killed with SIGKILL
writes no stop line, so the test passes the kill instants (--kill NAME:NS);
they end that node's open interval. An interval still open at the end of the
log ends at --now.

  runlog.py LOG overlap [--from NS] [--to NS] [--kill NAME:NS ...] [--now NS]
      prints every instant two nodes ran at once inside [from, to];
      exit 1 if there is one.
  runlog.py LOG failover --victim NAME:NS
      prints "failover: X.XXX s": first start by another node after the
      kill, minus the kill time; exit 1 if there is none.
  runlog.py LOG running [--kill ...] [--now NS]
      prints the names of the nodes whose runner is running at the end of
      the log (sorted, space separated).
  runlog.py LOG intervals [--kill ...] [--now NS]
      prints the intervals (for the test log).
"""
import argparse
import sys


def parse(path):
    events = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 4 or parts[0] not in ("start", "stop"):
                sys.exit(f"runlog: {path}:{n}: malformed line: {line.rstrip()!r}")
            events.append((int(parts[3]), parts[0], parts[1], int(parts[2])))
    # O_APPEND writes from several processes land in write order, which is
    # not necessarily timestamp order; sort by time (stop before start on a tie).
    events.sort(key=lambda e: (e[0], e[1] != "stop"))
    return events


def intervals(events, kills, now):
    """[(name, epoch, start_ns, end_ns, how_ended)] in start order."""
    kills = sorted(kills, key=lambda k: k[1])
    out, open_ = [], {}

    def close_killed(upto):
        # A kill ends whatever that node had open before it.
        while kills and kills[0][1] <= upto:
            name, t = kills.pop(0)
            if name in open_:
                ep, s = open_.pop(name)
                out.append((name, ep, s, t, "killed"))

    for t, kind, name, ep in events:
        close_killed(t)
        if kind == "start":
            if name in open_:
                # Two starts without a stop or a kill: keep the earlier one
                # open until now (pessimistic) and flag it.
                pep, ps = open_.pop(name)
                out.append((name, pep, ps, t, "restarted-without-stop"))
            open_[name] = (ep, t)
        else:
            if name in open_:
                sep, s = open_.pop(name)
                out.append((name, sep, s, t, "stopped"))
            # A stop with no open interval (a stop logged twice) is harmless.
    close_killed(float("inf"))
    for name, (ep, s) in open_.items():
        out.append((name, ep, s, now, "open"))
    out.sort(key=lambda i: i[2])
    return out


def overlaps(ivs, lo, hi):
    found = []
    for i, a in enumerate(ivs):
        for b in ivs[i + 1:]:
            if a[0] == b[0]:
                continue
            s, e = max(a[2], b[2], lo), min(a[3], b[3], hi)
            if s < e:
                found.append((a, b, s, e))
    return found


def kill_arg(s):
    name, _, t = s.rpartition(":")
    return (name, int(t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("cmd", choices=("overlap", "failover", "intervals", "running"))
    ap.add_argument("--from", dest="lo", type=int, default=0)
    ap.add_argument("--to", dest="hi", type=int, default=None)
    ap.add_argument("--kill", action="append", type=kill_arg, default=[])
    ap.add_argument("--now", type=int, default=None)
    ap.add_argument("--victim", type=kill_arg, default=None)
    a = ap.parse_args()

    try:
        events = parse(a.log)
    except FileNotFoundError:
        events = []
    now = a.now if a.now is not None else max([e[0] for e in events] + [k[1] for k in a.kill] + [0]) + 1
    ivs = intervals(events, a.kill, now)

    if a.cmd == "intervals":
        for name, ep, s, e, how in ivs:
            print(f"  {name} epoch {ep}: {s / 1e9:.3f} .. {e / 1e9:.3f} ({(e - s) / 1e9:.3f} s, {how})")
        return 0
    if a.cmd == "running":
        print(" ".join(sorted(i[0] for i in ivs if i[4] == "open")))
        return 0
    if a.cmd == "overlap":
        hi = a.hi if a.hi is not None else now
        found = overlaps(ivs, a.lo, hi)
        for x, y, s, e in found:
            print(f"overlap: {x[0]} (epoch {x[1]}) and {y[0]} (epoch {y[1]}) both ran "
                  f"{s / 1e9:.3f} .. {e / 1e9:.3f} ({(e - s) / 1e6:.1f} ms)")
        if not found:
            print(f"no overlap in {a.lo / 1e9:.3f} .. {hi / 1e9:.3f} ({len(ivs)} intervals)")
        return 1 if found else 0
    # failover
    if not a.victim:
        sys.exit("runlog: failover wants --victim NAME:NS")
    victim, t = a.victim
    for et, kind, name, ep in events:
        if kind == "start" and et > t and name != victim:
            print(f"failover: {(et - t) / 1e9:.3f} s ({name} epoch {ep})")
            return 0
    print(f"failover: none (no start by another node after killing {victim})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
