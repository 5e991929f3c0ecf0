"""Packets as the protocol graph passes them (spin-reference.md §5).

A received frame is one immutable ``bytes`` -- the mbuf. Each layer's event
gets a small header view (a NamedTuple: read-only, cheap to make) whose
``payload`` is a read-only ``memoryview`` into that same frame, so passing a
packet up the graph copies nothing (SOSP'95 §5.3: handlers get packets by
reference and may not change them; one that wants to must copy, through
``IP.Copy``, which the trace records).

Every parser checks lengths and checksums before it builds a view and
raises ``Malformed`` with the reason otherwise; the stack counts the drop.
Checksums are the Internet checksum (RFC 1071), computed with the identity
that a one's-complement sum of 16-bit words is the number mod 0xFFFF.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

ETH_IP, ETH_ARP = 0x0800, 0x0806
PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17
PROTO_NAMES = {PROTO_ICMP: "ICMP", PROTO_TCP: "TCP", PROTO_UDP: "UDP"}
ETH_HLEN, IP_HLEN, UDP_HLEN, TCP_HLEN, ICMP_HLEN = 14, 20, 8, 20, 8
ETH_MIN, ETH_MAX = 60, 1514  # without the FCS
BROADCAST = 0xFFFF_FFFF_FFFF
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
TCP_FLAG_NAMES = ((SYN, "S"), (ACK, "."), (FIN, "F"), (RST, "R"), (PSH, "P"))
ICMP_ECHO_REPLY, ICMP_UNREACH, ICMP_ECHO, ICMP_TIME_EXCEEDED = 0, 3, 8, 11
UNREACH_PORT = 3
ICMP_NAMES = {ICMP_ECHO_REPLY: "echo reply", ICMP_ECHO: "echo request", ICMP_UNREACH: "unreachable",
              ICMP_TIME_EXCEEDED: "time exceeded"}  # fmt: skip


class Malformed(Exception):
    """A frame the stack cannot accept: ``kind`` names the check that failed
    (the drop counters use it), ``detail`` gives this frame's numbers."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


# --- addresses ---------------------------------------------------------------------------


def ip_aton(a: str) -> bytes:
    parts = a.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise ValueError(f"{a!r} is not an IPv4 address (write it as a.b.c.d)")
    return bytes(int(p) for p in parts)


def ip_ntoa(b: bytes | memoryview) -> str:
    return f"{b[0]}.{b[1]}.{b[2]}.{b[3]}"


def mac_str(mac: int) -> str:
    return ":".join(f"{(mac >> (8 * i)) & 0xFF:02x}" for i in range(5, -1, -1))


# --- checksums ---------------------------------------------------------------------------


def ones_sum(data: bytes | bytearray | memoryview) -> int:
    """The 16-bit one's-complement sum of ``data`` (padded to even length)."""
    n = int.from_bytes(data, "big")
    if len(data) & 1:
        n <<= 8
    s = n % 0xFFFF
    return 0xFFFF if s == 0 and n else s


def checksum(*parts: bytes | bytearray | memoryview) -> int:
    """The Internet checksum over the concatenation of ``parts``; every part
    but the last must have even length (pseudo-headers and headers do)."""
    total = 0
    for p in parts:
        total += ones_sum(p)
    total = total % 0xFFFF or (0xFFFF if total else 0)
    return ~total & 0xFFFF


def pseudo_header(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    return src + dst + struct.pack("!BBH", 0, proto, length)


# --- views -------------------------------------------------------------------------------


class EtherFrame(NamedTuple):
    """What ``Ether.PacketArrived`` passes: the frame and its header."""

    id: int
    data: bytes
    dst: int
    src: int
    type: int

    @property
    def payload(self) -> memoryview:
        return memoryview(self.data)[ETH_HLEN:]

    def summary(self) -> str:
        return f"ether {mac_str(self.src)} > {mac_str(self.dst)} type {self.type:#06x}, {len(self.data)} bytes"


class ArpPacket(NamedTuple):
    id: int
    op: int  # 1 request, 2 reply
    sender_mac: int
    sender: str
    target_mac: int
    target: str


class IpPacket(NamedTuple):
    """What ``IP.PacketArrived`` passes. ``fragment`` is true for any piece of
    a fragmented datagram (SPIN's IP guards let none of them up)."""

    id: int
    data: bytes  # the whole frame
    offset: int  # where the IP header starts in it
    version: int
    ihl: int  # header length in 32-bit words
    length: int  # total length from the header
    ident: int
    fragment: bool
    ttl: int
    proto: int
    src: str
    dst: str

    @property
    def header(self) -> memoryview:
        return memoryview(self.data)[self.offset : self.offset + 4 * self.ihl]

    @property
    def payload(self) -> memoryview:
        return memoryview(self.data)[self.offset + 4 * self.ihl : self.offset + self.length]


class UdpDatagram(NamedTuple):
    id: int
    src: str
    dst: str
    src_port: int
    dst_port: int
    payload: memoryview
    ip: IpPacket | None  # None on the way out: IP has not wrapped it yet


class TcpSegment(NamedTuple):
    id: int
    src: str
    dst: str
    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    window: int
    mss: int  # from the MSS option, 0 if absent
    payload: memoryview
    ip: IpPacket | None  # None on the way out, as a UdpDatagram's

    @property
    def flag_text(self) -> str:
        return "".join(ch for bit, ch in TCP_FLAG_NAMES if self.flags & bit) or "-"


class IcmpMessage(NamedTuple):
    id: int
    src: str
    dst: str
    type: int
    code: int
    ident: int
    seqno: int
    payload: memoryview
    ip: IpPacket


# --- parsing -------------------------------------------------------------------------------


def parse_ether(pid: int, data: bytes) -> EtherFrame:
    if len(data) < ETH_HLEN:
        raise Malformed("runt frame", f"{len(data)} bytes, an Ethernet header needs {ETH_HLEN}")
    dst = int.from_bytes(data[0:6], "big")
    src = int.from_bytes(data[6:12], "big")
    return EtherFrame(pid, data, dst, src, (data[12] << 8) | data[13])


def parse_arp(f: EtherFrame) -> ArpPacket:
    d = f.data
    if len(d) < ETH_HLEN + 28:
        raise Malformed("truncated", f"{len(d) - ETH_HLEN} bytes, ARP needs 28")
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", d, ETH_HLEN)
    if (htype, ptype, hlen, plen) != (1, ETH_IP, 6, 4) or op not in (1, 2):
        raise Malformed("not Ethernet/IPv4", f"htype {htype}, ptype {ptype:#x}, op {op}")
    o = ETH_HLEN + 8
    return ArpPacket(f.id, op, int.from_bytes(d[o : o + 6], "big"), ip_ntoa(d[o + 6 : o + 10]),
                     int.from_bytes(d[o + 10 : o + 16], "big"), ip_ntoa(d[o + 16 : o + 20]))  # fmt: skip


def _check_ip_options(d: bytes, i: int, end: int) -> None:
    """Walk the options so a lying length is a drop (RFC 1122 §3.2.1.8: a host
    MUST ignore options it does not understand, so only their framing is judged;
    RFC 791: EOL and NOP are one byte, every other option has a length of at least 2)."""
    while i < end:
        kind = d[i]
        if kind == 0:  # end of the option list: the rest is padding
            return
        if kind == 1:
            i += 1
            continue
        if i + 1 >= end or d[i + 1] < 2 or i + d[i + 1] > end:
            raise Malformed("bad IP option length", f"option {kind}")
        i += d[i + 1]


def parse_ip(f: EtherFrame) -> IpPacket:
    d, o = f.data, ETH_HLEN
    avail = len(d) - o
    if avail < IP_HLEN:
        raise Malformed("truncated header", f"{avail} bytes, a header needs {IP_HLEN}")
    vihl = d[o]
    version, ihl = vihl >> 4, vihl & 15
    if version != 4:
        raise Malformed("not version 4", f"version {version}")
    if ihl < 5 or 4 * ihl > avail:
        raise Malformed("bad header length", f"{4 * ihl} bytes of {avail}")
    length, ident, frag, ttl, proto = struct.unpack_from("!HHHBB", d, o + 2)
    if length < 4 * ihl or length > avail:
        raise Malformed("bad total length", f"{length}, but the header is {4 * ihl} and the frame carries {avail}")
    if ones_sum(memoryview(d)[o : o + 4 * ihl]) != 0xFFFF:
        raise Malformed("bad header checksum")
    if ihl > 5:
        _check_ip_options(d, o + IP_HLEN, o + 4 * ihl)
    fragment = bool(frag & 0x2000) or (frag & 0x1FFF) != 0
    return IpPacket(f.id, d, o, version, ihl, length, ident, fragment, ttl, proto, ip_ntoa(d[o + 12 : o + 16]),
                    ip_ntoa(d[o + 16 : o + 20]))  # fmt: skip


def _pseudo(p: IpPacket) -> bytes:
    o = p.offset
    return p.data[o + 12 : o + 20] + struct.pack("!BBH", 0, p.proto, p.length - 4 * p.ihl)


def parse_udp(p: IpPacket) -> UdpDatagram:
    body = p.payload
    if len(body) < UDP_HLEN:
        raise Malformed("truncated header", f"{len(body)} bytes, a header needs {UDP_HLEN}")
    sport, dport, length, csum = struct.unpack_from("!HHHH", body)
    if length < UDP_HLEN or length > len(body):
        raise Malformed("bad length", f"length field {length}, the datagram carries {len(body)}")
    body = body[:length]
    if csum:
        pseudo = pseudo_header(
            p.data[p.offset + 12 : p.offset + 16], p.data[p.offset + 16 : p.offset + 20], PROTO_UDP, length
        )
        if (ones_sum(pseudo) + ones_sum(body)) % 0xFFFF != 0:
            raise Malformed("bad checksum")
    return UdpDatagram(p.id, p.src, p.dst, sport, dport, body[UDP_HLEN:], p)


def parse_tcp(p: IpPacket) -> TcpSegment:
    body = p.payload
    if len(body) < TCP_HLEN:
        raise Malformed("truncated header", f"{len(body)} bytes, a header needs {TCP_HLEN}")
    sport, dport, seq, ack, off, flags, window = struct.unpack_from("!HHIIBBH", body)
    hlen = 4 * (off >> 4)
    if hlen < TCP_HLEN or hlen > len(body):
        raise Malformed("bad data offset", f"header length {hlen} of {len(body)}")
    if (ones_sum(_pseudo(p)) + ones_sum(body)) % 0xFFFF != 0:
        raise Malformed("bad checksum")
    mss = 0
    i = TCP_HLEN
    while i < hlen:  # options: only MSS matters here
        kind = body[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= hlen or body[i + 1] < 2 or i + body[i + 1] > hlen:
            raise Malformed("bad option length")
        if kind == 2 and body[i + 1] == 4:
            mss = (body[i + 2] << 8) | body[i + 3]
        i += body[i + 1]
    return TcpSegment(p.id, p.src, p.dst, sport, dport, seq, ack, flags & 0x3F, window, mss, body[hlen:], p)


def parse_icmp(p: IpPacket) -> IcmpMessage:
    body = p.payload
    if len(body) < ICMP_HLEN:
        raise Malformed("truncated header", f"{len(body)} bytes, a header needs {ICMP_HLEN}")
    if ones_sum(body) != 0xFFFF:
        raise Malformed("bad checksum")
    typ, code, _, ident, seqno = struct.unpack_from("!BBHHH", body)
    return IcmpMessage(p.id, p.src, p.dst, typ, code, ident, seqno, body[ICMP_HLEN:], p)


# --- building ------------------------------------------------------------------------------


def ether(dst: int, src: int, etype: int, payload: bytes) -> bytes:
    f = dst.to_bytes(6, "big") + src.to_bytes(6, "big") + struct.pack("!H", etype) + payload
    return f + bytes(ETH_MIN - len(f)) if len(f) < ETH_MIN else f


def arp(op: int, sha: int, spa: str, tha: int, tpa: str) -> bytes:
    return struct.pack("!HHBBH", 1, ETH_IP, 6, 4, op) + sha.to_bytes(6, "big") + ip_aton(spa) + \
        tha.to_bytes(6, "big") + ip_aton(tpa)  # fmt: skip


def ip(src: str, dst: str, proto: int, payload: bytes, ident: int, ttl: int = 64) -> bytes:
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, IP_HLEN + len(payload), ident & 0xFFFF, 0x4000, ttl, proto, 0,
                    ip_aton(src), ip_aton(dst))  # fmt: skip
    c = checksum(h)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes | memoryview) -> bytes:
    length = UDP_HLEN + len(payload)
    h = struct.pack("!HHHH", sport, dport, length, 0)
    c = checksum(pseudo_header(ip_aton(src), ip_aton(dst), PROTO_UDP, length), h, payload)
    return h[:6] + struct.pack("!H", c or 0xFFFF) + bytes(payload)


def tcp(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int, window: int,
        payload: bytes | memoryview = b"", mss: int = 0) -> bytes:  # fmt: skip
    opts = struct.pack("!BBH", 2, 4, mss) if mss else b""
    hlen = TCP_HLEN + len(opts)
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFF_FFFF, ack & 0xFFFF_FFFF, (hlen // 4) << 4, flags,
                    min(window, 0xFFFF), 0, 0) + opts  # fmt: skip
    c = checksum(pseudo_header(ip_aton(src), ip_aton(dst), PROTO_TCP, hlen + len(payload)), h, payload)
    return h[:16] + struct.pack("!H", c) + h[18:] + bytes(payload)


def icmp(typ: int, code: int, ident: int, seqno: int, payload: bytes | memoryview) -> bytes:
    h = struct.pack("!BBHHH", typ, code, 0, ident, seqno)
    c = checksum(h, payload)
    return h[:2] + struct.pack("!H", c) + h[4:] + bytes(payload)


def rewrite_transport(p: IpPacket, src: str, dst: str) -> bytes:
    """The transport header and payload of ``p`` with its checksum redone
    for new addresses (a forwarder's copy)."""
    body = bytearray(p.payload)
    where = {PROTO_TCP: 16, PROTO_UDP: 6}.get(p.proto)
    if where is None or len(body) < where + 2:
        return bytes(body)
    if p.proto == PROTO_UDP and body[6:8] == b"\0\0":
        return bytes(body)  # no checksum to keep right
    body[where : where + 2] = b"\0\0"
    c = checksum(pseudo_header(ip_aton(src), ip_aton(dst), p.proto, len(body)), body)
    if p.proto == PROTO_UDP and c == 0:
        c = 0xFFFF
    body[where : where + 2] = struct.pack("!H", c)
    return bytes(body)


def describe(data: bytes) -> str:
    """One line for the trace and the Packets pane (best effort on bad frames)."""
    try:
        f = parse_ether(0, data)
        if f.type == ETH_ARP:
            a = parse_arp(f)
            return f"ARP {'who-has' if a.op == 1 else 'reply'} {a.target} tell {a.sender}"
        if f.type != ETH_IP:
            return f.summary()
        p = parse_ip(f)
        proto = PROTO_NAMES.get(p.proto, f"proto {p.proto}")
        if p.fragment:
            return f"IP {p.src} > {p.dst} {proto} fragment"
        if p.proto == PROTO_UDP:
            u = parse_udp(p)
            return f"UDP {p.src}:{u.src_port} > {p.dst}:{u.dst_port} len {len(u.payload)}"
        if p.proto == PROTO_TCP:
            t = parse_tcp(p)
            return (f"TCP {p.src}:{t.src_port} > {p.dst}:{t.dst_port} [{t.flag_text}] seq {t.seq} ack {t.ack} "
                    f"win {t.window} len {len(t.payload)}")  # fmt: skip
        if p.proto == PROTO_ICMP:
            m = parse_icmp(p)
            what = ICMP_NAMES.get(m.type, f"type {m.type}")
            return f"ICMP {p.src} > {p.dst} {what} id {m.ident} seq {m.seqno}"
        return f"IP {p.src} > {p.dst} {proto}"
    except Malformed as e:
        return f"malformed: {e}"


def ports(data: bytes) -> tuple[int, int] | None:
    """A UDP or TCP frame's (source, destination) ports; None for anything
    else, malformed frames included (the workbench's packet breakpoints)."""
    try:
        f = parse_ether(0, data)
        if f.type != ETH_IP:
            return None
        p = parse_ip(f)
        if p.fragment or p.proto not in (PROTO_UDP, PROTO_TCP):
            return None
        t = parse_udp(p) if p.proto == PROTO_UDP else parse_tcp(p)
        return t.src_port, t.dst_port
    except Malformed:
        return None
