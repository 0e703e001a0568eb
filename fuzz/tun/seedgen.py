# Writes the seed corpus of fuzz_tun_gso / fuzz_tun_gro (valid inputs
# built with an independent checksum implementation).
import struct, socket, sys
def csum(b, s=0):
    if len(b) % 2: b += b'\0'
    for i in range(0, len(b), 2): s += (b[i] << 8) | b[i+1]
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return s
def ip4(src, dst, proto, l4):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 0x1234, 0x4000, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    h = h[:10] + struct.pack('!H', (~csum(h)) & 0xffff) + h[12:]
    return h + l4
def ip6(src, dst, proto, l4):
    return struct.pack('!IHBB16s16s', 0x60000000, len(l4), proto, 64,
                       socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)) + l4
def pseudo(pkt, proto, l4len):
    if pkt[0] >> 4 == 4: return csum(pkt[12:20] + struct.pack('!BBH', 0, proto, l4len))
    return csum(pkt[8:40] + struct.pack('!IxxxB', l4len, proto))
def tcp(seq, flags, data, opts=b'\x01\x01\x08\x0a\0\0\0\x07\0\0\0\x05'):
    return struct.pack('!HHIIBBHHH', 40000, 5001, seq, 777, ((20 + len(opts)) // 4) << 4, flags,
                       512, 0, 0) + opts + data
def fill(pkt, off, full):
    """full: complete checksum; else leave the pseudo-header sum (NEEDS_CSUM)."""
    proto = pkt[9] if pkt[0] >> 4 == 4 else pkt[6]
    co = off + (16 if proto == 6 else 6)
    ps = pseudo(pkt, proto, len(pkt) - off)
    if full:
        b = bytearray(pkt); b[co:co+2] = b'\0\0'
        c = (~csum(bytes(b[off:]), ps)) & 0xffff
    else:
        c = ps
    return pkt[:co] + struct.pack('!H', c) + pkt[co+2:]
def vnet(flags, gso, hdr_len, gso_size, cstart, coff):
    return struct.pack('<BBHHHH', flags, gso, hdr_len, gso_size, cstart, coff)
data = bytes((i * 7 + 3) & 0xff for i in range(8000))
out = sys.argv[1]
def w(name, b): open(out + '/' + name, 'wb').write(b)
# GSO seeds: TCPv4 TSO, TCPv6 TSO, UDPv4 USO, plain NEEDS_CSUM, truncated
p = fill(ip4('10.0.0.1', '10.0.0.2', 6, tcp(1000, 0x18, data[:4000])), 20, False)
w('fuzz_tun_gso/tso4', vnet(1, 1, 52, 1448, 20, 16) + b'\x58' + p)
p = fill(ip6('fd00::1', 'fd00::2', 6, tcp(1000, 0x19, data[:3000])), 40, False)
w('fuzz_tun_gso/tso6', vnet(1, 4, 72, 1000, 40, 16) + b'\x58' + p)
u = struct.pack('!HHHH', 5000, 53, 8 + 2500, 0) + data[:2500]
p = fill(ip4('10.0.0.1', '10.0.0.2', 17, u), 20, False)
w('fuzz_tun_gso/uso4', vnet(1, 5, 28, 1000, 20, 6) + b'\x58' + p)
p = fill(ip4('10.0.0.1', '10.0.0.2', 6, tcp(5, 0x10, data[:300])), 20, False)
w('fuzz_tun_gso/csum_partial', vnet(1, 0, 0, 0, 20, 16) + b'\x20' + p)
w('fuzz_tun_gso/short', vnet(1, 1, 52, 1448, 20, 16) + b'\x58' + p[:30])
# GRO seeds: an in-order stream of 6 segments with a PSH at the end,
# interleaved with a second flow, a UDP datagram and a FIN
def seg(seq, flags, n, sport=40000, v6=False):
    t = bytearray(tcp(seq, flags, data[seq % 1000: seq % 1000 + n])); t[0:2] = struct.pack('!H', sport)
    p = ip6('fd00::1', 'fd00::2', 6, bytes(t)) if v6 else ip4('10.0.0.1', '10.0.0.2', 6, bytes(t))
    return fill(p, 40 if v6 else 20, True)
def frames(pkts): return b''.join(struct.pack('!H', len(p)) + p for p in pkts)
w('fuzz_tun_gro/stream4', frames([seg(1 + i * 1000, 0x18 if i == 5 else 0x10, 1000) for i in range(6)]))
w('fuzz_tun_gro/stream6', frames([seg(1 + i * 1200, 0x10, 1200 if i < 3 else 500, v6=True) for i in range(4)]))
mix = []
for i in range(4):
    mix.append(seg(1 + i * 900, 0x10, 900))
    mix.append(seg(50000 + i * 700, 0x10, 700, sport=40001))
mix.append(fill(ip4('10.0.0.1', '10.0.0.2', 17, u[:208]), 20, True))
mix.append(seg(1 + 4 * 900, 0x11, 0))
w('fuzz_tun_gro/two_flows_udp_fin', frames(mix))
bad = [seg(1, 0x10, 1000), bytearray(seg(1001, 0x10, 1000)), seg(2001, 0x10, 1000)]
bad[1][100] ^= 1
w('fuzz_tun_gro/bad_checksum', frames([bytes(b) for b in bad]))
