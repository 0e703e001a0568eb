#!/usr/bin/env python3
"""Writes the constructed snapshots (the recorded ones, vm2core and
longnames, were copied from a live host and a network namespace: see
README). The constructed ones reproduce cases this machine cannot show,
in the kernel's exact formats: a 128-core host with an offline core and
swap (manycore), 32-bit counters that wrap and a counter reset (wrap32),
and a kernel before 3.14 (no MemAvailable, 4-field cpu lines, 11-field
block stats: oldkernel). Run from this directory; the output is committed."""
import os

def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)

def cpu_line(name, v):
    return name + " " + " ".join(str(x) for x in v) + "\n"

def stat(cores, step, offline=(), fields=10):
    # user nice system idle iowait irq softirq steal guest guest_nice
    lines, total = [], [0] * fields
    for i in range(cores):
        if i in offline:
            continue
        v = [1000 + 10 * i + 7 * step, 3 * i, 400 + 5 * i + 3 * step, 90000 + 100 * i + 10 * step,
             20 + step, 0, 15 + i, 2, 0, 0][:fields]
        total = [a + b for a, b in zip(total, v)]
        lines.append(cpu_line("cpu%d" % i, v))
    out = cpu_line("cpu ", total).replace("cpu  ", "cpu  ", 1)
    out += "".join(lines)
    out += "intr 123456 0 0\nctxt 987654\nbtime 1700000000\nprocesses 4242\nprocs_running 3\nprocs_blocked 0\nsoftirq 1 2 3\n"
    return out

def meminfo(total_kb, avail_kb, swap_total_kb, swap_free_kb, with_avail=True):
    rows = [("MemTotal", total_kb), ("MemFree", avail_kb // 2)]
    if with_avail:
        rows.append(("MemAvailable", avail_kb))
    rows += [("Buffers", 1024), ("Cached", avail_kb // 4), ("SwapCached", 0),
             ("SwapTotal", swap_total_kb), ("SwapFree", swap_free_kb)]
    out = "".join("%-15s %8d kB\n" % (k + ":", v) for k, v in rows)
    out += "HugePages_Total:       0\nHugePages_Free:        0\nHugepagesize:       2048 kB\n"
    return out

def netdev(rows):
    out = ("Inter-|   Receive                                                |  Transmit\n"
           " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n")
    for name, rx, rxp, tx, txp in rows:
        out += "%6s: %7d %7d    0    0    0     0          0         0 %8d %7d    0    0    0     0       0          0\n" % (
            name, rx, rxp, tx, txp)
    return out

MOUNTS = r"""22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw,errors=remount-ro
28 27 8:1 / /boot/efi rw,relatime shared:2 - vfat /dev/sda1 rw,fmask=0077
29 27 259:3 / /srv/my\040data rw,noatime shared:3 - xfs /dev/nvme0n1p3 rw,attr2
30 27 259:3 /sub /var/lib/bind\040mount rw,noatime shared:3 - xfs /dev/nvme0n1p3 rw,attr2
31 27 0:45 / /home rw,relatime shared:4 - btrfs /dev/sdb rw,space_cache=v2
32 27 7:3 / /snap/core/123 ro,nodev,relatime shared:5 - squashfs /dev/loop3 ro
33 27 253:0 / /var rw,relatime shared:6 - ext4 /dev/mapper/vg-var rw
34 27 0:50 / /run rw,nosuid shared:7 - tmpfs tmpfs rw,size=1630000k
35 27 0:51 / /var/lib/docker/overlay2/x/merged rw,relatime - overlay overlay rw,lowerdir=/a:/b
"""

def blockstat(r_sect, w_sect, fields=17):
    v = [5000, 100, r_sect, 900, 7000, 300, w_sect, 4000, 0, 3000, 4900, 0, 0, 0, 0, 10, 5][:fields]
    return " ".join("%8d" % x for x in v) + "\n"

def manycore():
    base = "manycore"
    for t, step in (("t0", 0), ("t1", 1)):
        r = "%s/%s" % (base, t)
        write(r + "/proc/stat", stat(128, step * 100, offline=(17,)))
        write(r + "/proc/meminfo", meminfo(527999960, 400000000, 8388604, 8000000 - step * 4096))
        write(r + "/proc/loadavg", "12.50 11.25 10.00 9/2048 123456\n")
        write(r + "/proc/uptime", "%d.%02d 98765432.10\n" % (864000 + 10 * step, 0))
        write(r + "/proc/net/dev", netdev([("lo", 1000, 10, 1000, 10),
                                            ("eno1", 10**12 + step * 10_000_000, 5, 5 * 10**11 + step * 5_000_000, 5),
                                            ("wg0", 4096 + step * 100_000, 1, 2048 + step * 50_000, 1)]))
        write(r + "/proc/self/mountinfo", MOUNTS)
        write(r + "/sys/dev/block/8:2/stat", blockstat(2_000_000 + step * 20_480, 3_000_000 + step * 40_960))
        write(r + "/sys/dev/block/8:1/stat", blockstat(100, 10))
        write(r + "/sys/dev/block/259:3/stat", blockstat(50_000_000 + step * 2048, 60_000_000))
        write(r + "/sys/dev/block/253:0/stat", blockstat(4_000 + step * 8, 9_000 + step * 16))
        # btrfs mounts show an anonymous 0:N: found by the device's name
        write(r + "/sys/class/block/sdb/stat", blockstat(7_000 + step * 1_000, 8_000 + step * 2_000))
        for p in (1, 2, 3, 4, 5, 1000, 31337):
            write("%s/proc/%d/comm" % (r, p), "x\n")
        os.makedirs(r + "/proc/sys", exist_ok=True)  # not a process
        write(r + "/proc/sys/.keep", "")

def wrap32():
    base = "wrap32"
    # eth0 wraps at 2^32 between t0 and t1 (a 32-bit kernel's counter);
    # eth1 goes back from above 2^32: a reset (the interface was re-created)
    rows0 = [("lo", 0, 0, 0, 0), ("eth0", 4294967000, 100, 4294966000, 90),
             ("eth1", 6_000_000_000, 10, 7_000_000_000, 10)]
    rows1 = [("lo", 0, 0, 0, 0), ("eth0", 704, 130, 2704, 120), ("eth1", 1000, 2, 3000, 3)]
    for t, rows in (("t0", rows0), ("t1", rows1)):
        write("%s/%s/proc/net/dev" % (base, t), netdev(rows))

def oldkernel():
    r = "oldkernel/t0"
    write(r + "/proc/stat", stat(4, 0, fields=4))
    write(r + "/proc/meminfo", meminfo(1024000, 512000, 0, 0, with_avail=False))
    write(r + "/sys/dev/block/8:2/stat", blockstat(1234, 5678, fields=11))

if __name__ == "__main__":
    manycore()
    wrap32()
    oldkernel()
