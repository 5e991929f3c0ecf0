"""A rogue station on a ``kernel.net.topology.Network`` wire (issue 16).

The attack tests need frames the stack's own builders would never make, and
a judge that shares no code with what it judges: so every frame here is
packed with ``struct`` by this module -- Ethernet, ARP, IPv4 with its header
checksum, options and fragments, ICMP, UDP and TCP with pseudo-header
checksums and options -- and never with ``kernel/net/packet.py``. The
checksum is RFC 1071's word sum with end-around carry, not the stack's
mod-0xFFFF identity, so a bug in one cannot hide the same bug in the other.

A ``Station`` is a card on the wire that no machine owns: ``Wire.carry``
hands it every frame the hosts send (through the ``schedule`` of a stand-in
machine, which takes the frame off the wire at once), and what it sends goes
through ``Wire.carry`` like a real card's, so the pcap tap sees it. Its
transmissions are paced at the wire's bit rate: a rogue cannot send faster
than 10 Mb/s allows. A ``Rogue`` is the attacker: unless it is on the path
(``promiscuous``) it hears only frames for its own address or broadcast, as
a blind attacker on a switched LAN would; it answers ARP for its address and
can run scripted TCP ends (``TcpPeer``). A ``Witness`` hears everything and
sends nothing: the tests' oracle, like tshark on the capture.

``Watchdog`` turns a stack that stops the clock (a drain loop that never
yields runs for ever in host time) into a failed test instead of a hung run.
It reads the host clock, which is the point: it judges the emulation from
outside (the house rule against host time binds machine/ and kernel/).
"""

from __future__ import annotations

import ctypes
import signal
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from machine.alpha.constants import CLOCK_HZ

if TYPE_CHECKING:
    from kernel.net.topology import Network

ETH_IP, ETH_ARP, ETH_IP6 = 0x0800, 0x0806, 0x86DD
BROADCAST_MAC = 0xFFFF_FFFF_FFFF
PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17
ICMP_ECHO_REPLY, ICMP_UNREACH, ICMP_ECHO = 0, 3, 8
FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
IP_DF, IP_MF = 0x4000, 0x2000
OPT_EOL, OPT_NOP, OPT_MSS, OPT_WSCALE, OPT_SACK_OK, OPT_TIMESTAMP = 0, 1, 2, 3, 4, 8
ROGUE_MAC = 0x0200_0000_BAD0  # locally administered, like the hosts'
ROGUE_IP = "10.0.0.66"
WITNESS_MAC = 0x0200_0000_0BE0
FRAMING_BYTES = 8 + 4 + 12  # preamble, FCS, inter-frame gap: the wire time a frame takes beyond its bytes
M32 = 0xFFFF_FFFF


# --- crafting ------------------------------------------------------------------------------------


def ip_bytes(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


def ip_str(b: bytes) -> str:
    return ".".join(str(x) for x in b)


def inet_checksum(*parts: bytes) -> int:
    """RFC 1071: the one's complement of the one's-complement sum of 16-bit
    words, with the end-around carry folded in (the parts are concatenated;
    an odd total length is padded with a zero byte)."""
    data = b"".join(parts)
    if len(data) & 1:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ether(dst: int, src: int, etype: int, payload: bytes, pad: bool = True) -> bytes:
    """An Ethernet II frame without FCS, padded to the 60-byte minimum unless ``pad`` is false."""
    f = struct.pack("!6s6sH", dst.to_bytes(6, "big"), src.to_bytes(6, "big"), etype) + payload
    return f.ljust(60, b"\0") if pad else f


def arp(op: int, sha: int, spa: str, tha: int, tpa: str, *, htype: int = 1, ptype: int = ETH_IP, hlen: int = 6,
        plen: int = 4) -> bytes:  # fmt: skip
    """An ARP packet (RFC 826): 1 request, 2 reply."""
    return struct.pack("!HHBBH6s4s6s4s", htype, ptype, hlen, plen, op, sha.to_bytes(6, "big"), ip_bytes(spa),
                       tha.to_bytes(6, "big"), ip_bytes(tpa))  # fmt: skip


def ipv4(src: str, dst: str, proto: int, payload: bytes, *, ident: int = 0, ttl: int = 64, tos: int = 0,
         df: bool = False, mf: bool = False, frag_offset: int = 0, options: bytes = b"", version: int = 4,
         ihl: int | None = None, total_length: int | None = None, checksum: int | None = None) -> bytes:  # fmt: skip
    """An IPv4 datagram (RFC 791). ``frag_offset`` is in bytes (a multiple of
    8); ``options`` are padded to a word; the other keywords let a test lie
    about any header field, the checksum last of all."""
    options = options + b"\0" * (-len(options) % 4)
    hwords = ihl if ihl is not None else 5 + len(options) // 4
    length = total_length if total_length is not None else 20 + len(options) + len(payload)
    frag = (IP_DF if df else 0) | (IP_MF if mf else 0) | ((frag_offset // 8) & 0x1FFF)
    h = struct.pack("!BBHHHBBH4s4s", (version << 4) | (hwords & 15), tos, length & 0xFFFF, ident & 0xFFFF, frag,
                    ttl, proto, 0, ip_bytes(src), ip_bytes(dst)) + options  # fmt: skip
    c = inet_checksum(h) if checksum is None else checksum
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def fragments(src: str, dst: str, proto: int, body: bytes, ident: int,
              pieces: Iterable[tuple[int, int]], **kw: Any) -> list[bytes]:  # fmt: skip
    """IPv4 fragments of one datagram whose transport bytes are ``body``:
    one per (offset, length) in bytes, MF set on all but the piece that ends
    the datagram. Overlaps, gaps and duplicates are the caller's to choose."""
    out = []
    for off, n in pieces:
        more = off + n < len(body)
        out.append(ipv4(src, dst, proto, body[off : off + n], ident=ident, mf=more, frag_offset=off, **kw))
    return out


def split(n: int, size: int) -> list[tuple[int, int]]:
    """(offset, length) pieces that cover n bytes in order, each ``size`` bytes (a multiple of 8) but the last."""
    return [(off, min(size, n - off)) for off in range(0, n, size)]


def icmp(typ: int, code: int, rest: bytes, payload: bytes = b"", checksum: int | None = None) -> bytes:
    """An ICMP message (RFC 792): type, code, checksum, the 4 header bytes ``rest``, data."""
    h = struct.pack("!BBH", typ, code, 0) + rest
    c = inet_checksum(h, payload) if checksum is None else checksum
    return h[:2] + struct.pack("!H", c) + h[4:] + payload


def icmp_echo(ident: int, seq: int, payload: bytes = b"", reply: bool = False) -> bytes:
    return icmp(ICMP_ECHO_REPLY if reply else ICMP_ECHO, 0, struct.pack("!HH", ident, seq), payload)


def pseudo(src: str, dst: str, proto: int, length: int) -> bytes:
    """The pseudo-header TCP and UDP checksums cover (RFC 793 §3.1, RFC 768)."""
    return ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, proto, length)


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes, *, length: int | None = None,
        checksum: int | None = None) -> bytes:  # fmt: skip
    """A UDP datagram (RFC 768); a computed checksum of 0 is sent as 0xFFFF (0 means none)."""
    n = length if length is not None else 8 + len(payload)
    h = struct.pack("!HHHH", sport, dport, n & 0xFFFF, 0)
    if checksum is None:
        checksum = inet_checksum(pseudo(src, dst, PROTO_UDP, 8 + len(payload)), h, payload) or 0xFFFF
    return h[:6] + struct.pack("!H", checksum) + payload


def mss(value: int) -> bytes:
    return struct.pack("!BBH", OPT_MSS, 4, value)


def tcp(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int, window: int = 8192,
        payload: bytes = b"", *, options: bytes = b"", offset: int | None = None, urgent: int = 0,
        checksum: int | None = None) -> bytes:  # fmt: skip
    """A TCP segment (RFC 9293 §3.1); ``options`` are padded to a word with
    EOL; ``offset`` (in words) and ``checksum`` may lie."""
    options = options + bytes(-len(options) % 4)
    words = offset if offset is not None else 5 + len(options) // 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & M32, ack & M32, (words & 15) << 4, flags & 0xFF,
                    window & 0xFFFF, 0, urgent) + options  # fmt: skip
    if checksum is None:
        checksum = inet_checksum(pseudo(src, dst, PROTO_TCP, len(h) + len(payload)), h, payload)
    return h[:16] + struct.pack("!H", checksum) + h[18:] + payload


# --- parsing what is heard ------------------------------------------------------------------------


@dataclass
class Heard:
    """One frame off the wire, parsed by this module's own code. ``bad`` says
    what is wrong with it ("" for a well-formed frame); fields of layers the
    frame does not have keep their defaults."""

    cycle: int
    raw: bytes
    dst_mac: int = 0
    src_mac: int = 0
    etype: int = 0
    bad: str = ""
    op: int = 0  # ARP
    sha: int = 0
    spa: str = ""
    tha: int = 0
    tpa: str = ""
    src: str = ""  # IPv4
    dst: str = ""
    proto: int = -1
    ttl: int = 0
    ident: int = 0
    frag_offset: int = 0
    more_fragments: bool = False
    sport: int = 0  # UDP, TCP
    dport: int = 0
    seq: int = 0  # TCP
    ack: int = 0
    flags: int = 0
    window: int = 0
    mss: int | None = None
    icmp_type: int = -1  # ICMP
    icmp_code: int = 0
    icmp_ident: int = 0
    icmp_seq: int = 0
    payload: bytes = b""

    @property
    def kind(self) -> str:
        """One of arp, tcp, udp, icmp, fragment, ip (another protocol) or ether (another type)."""
        if self.etype == ETH_ARP and self.op:
            return "arp"
        if self.proto < 0:
            return "ether"
        if self.more_fragments or self.frag_offset:
            return "fragment"
        return {PROTO_TCP: "tcp", PROTO_UDP: "udp", PROTO_ICMP: "icmp"}.get(self.proto, "ip")

    def has(self, flags: int) -> bool:
        return self.kind == "tcp" and self.flags & flags == flags


def parse(raw: bytes, cycle: int = 0) -> Heard:
    """A frame as this module reads it; never raises."""
    h = Heard(cycle, raw)
    if len(raw) < 14:
        h.bad = "runt"
        return h
    h.dst_mac, h.src_mac, h.etype = int.from_bytes(raw[:6], "big"), int.from_bytes(raw[6:12], "big"), \
        struct.unpack_from("!H", raw, 12)[0]  # fmt: skip
    if len(raw) < 60:
        h.bad = f"short frame: {len(raw)} bytes, Ethernet needs 60"
    body = raw[14:]
    if h.etype == ETH_ARP:
        if len(body) < 28:
            h.bad = "truncated ARP"
            return h
        htype, ptype, hlen, plen, op, sha, spa, tha, tpa = struct.unpack_from("!HHBBH6s4s6s4s", body)
        if (htype, ptype, hlen, plen) != (1, ETH_IP, 6, 4) or op not in (1, 2):
            h.bad = "not Ethernet/IPv4 ARP"
            return h
        h.op, h.sha, h.spa = op, int.from_bytes(sha, "big"), ip_str(spa)
        h.tha, h.tpa = int.from_bytes(tha, "big"), ip_str(tpa)
        return h
    if h.etype != ETH_IP:
        return h
    if len(body) < 20 or body[0] >> 4 != 4:
        h.bad = "not an IPv4 header"
        return h
    hl = 4 * (body[0] & 15)
    total, ident, frag, ttl, proto = struct.unpack_from("!HHHBB", body, 2)
    if hl < 20 or hl > len(body) or total < hl or total > len(body):
        h.bad = f"bad IPv4 lengths: header {hl}, total {total}, carried {len(body)}"
        return h
    if inet_checksum(body[:hl]) != 0:
        h.bad = "bad IPv4 header checksum"
        return h
    h.src, h.dst, h.proto, h.ttl, h.ident = ip_str(body[12:16]), ip_str(body[16:20]), proto, ttl, ident
    h.frag_offset, h.more_fragments = 8 * (frag & 0x1FFF), bool(frag & IP_MF)
    seg = body[hl:total]
    if h.kind == "fragment":
        h.payload = seg
        return h
    if proto == PROTO_ICMP:
        if len(seg) < 8 or inet_checksum(seg) != 0:
            h.bad = "bad ICMP"
            return h
        h.icmp_type, h.icmp_code, _, h.icmp_ident, h.icmp_seq = struct.unpack_from("!BBHHH", seg)
        h.payload = seg[8:]
    elif proto == PROTO_UDP:
        if len(seg) < 8:
            h.bad = "truncated UDP"
            return h
        h.sport, h.dport, n, c = struct.unpack_from("!HHHH", seg)
        if n < 8 or n > len(seg):
            h.bad = "bad UDP length"
            return h
        if c and inet_checksum(pseudo(h.src, h.dst, PROTO_UDP, n), seg[:n]) != 0:
            h.bad = "bad UDP checksum"
            return h
        h.payload = seg[8:n]
    elif proto == PROTO_TCP:
        if len(seg) < 20:
            h.bad = "truncated TCP"
            return h
        h.sport, h.dport, h.seq, h.ack, off, h.flags, h.window = struct.unpack_from("!HHIIBBH", seg)
        thl = 4 * (off >> 4)
        if thl < 20 or thl > len(seg):
            h.bad = "bad TCP data offset"
            return h
        if inet_checksum(pseudo(h.src, h.dst, PROTO_TCP, len(seg)), seg) != 0:
            h.bad = "bad TCP checksum"
            return h
        i = 20
        while i < thl:
            kind = seg[i]
            if kind == OPT_EOL:
                break
            if kind == OPT_NOP:
                i += 1
                continue
            if i + 1 >= thl or seg[i + 1] < 2 or i + seg[i + 1] > thl:
                h.bad = "bad TCP option length"
                return h
            if kind == OPT_MSS and seg[i + 1] == 4:
                h.mss = struct.unpack_from("!H", seg, i + 2)[0]
            i += seg[i + 1]
        h.payload = seg[thl:]
    return h


# --- stations -------------------------------------------------------------------------------------


class _Card:
    """What ``Wire`` needs of a card: ``mac``, ``wire`` and ``arrive``. The wire
    tells a card when a frame will reach it; the station's card takes it off
    the wire at once (so nothing waits in the wire's in-flight table) and hears
    it, stamped with the cycle it arrives."""

    def __init__(self, station: Station, mac: int) -> None:
        self.station = station
        self.mac = mac
        self.wire: Any = None

    def arrive(self, cycle: int, frame_id: int) -> None:
        self.station.hear(self.station.wire.take(frame_id), cycle)


class Station:
    """A card on the wire no machine owns; subclasses choose what it hears."""

    def __init__(self, net: Network, mac: int) -> None:
        self.net = net
        self.wire = net.wire
        self.mac = mac
        self.card = _Card(self, mac)
        self.wire.attach(self.card)  # type: ignore[arg-type]
        self.heard: list[Heard] = []
        self.sent = 0
        self.busy_until = 0

    @property
    def now(self) -> int:
        return self.net.now

    def hear(self, frame: bytes, cycle: int) -> None:
        self.heard.append(parse(frame, cycle))

    def send(self, frame: bytes, at: int | None = None) -> int:
        """Put a frame on the wire no earlier than ``at`` (default: now), after
        the station's previous frame has left; the cycle its last bit leaves."""
        start = max(self.now if at is None else at, self.busy_until)
        done = start + (len(frame) + FRAMING_BYTES) * 8 * CLOCK_HZ // self.wire.bandwidth
        self.busy_until = done
        self.sent += 1
        self.wire.carry(self.card, frame, done)  # type: ignore[arg-type]
        return done

    def since(self, cycle: int, pred: Callable[[Heard], bool] = lambda h: True) -> list[Heard]:
        """What was heard at or after ``cycle`` that ``pred`` accepts."""
        return [h for h in self.heard if h.cycle >= cycle and pred(h)]


class Witness(Station):
    """Hears every frame and sends none: the tests' view of the wire."""

    def __init__(self, net: Network) -> None:
        super().__init__(net, WITNESS_MAC)


class Rogue(Station):
    """The attacker: a station at ``ip``/``mac``. It answers ARP for its own
    address and runs its ``peers``; unless ``promiscuous`` (on the path), it
    hears only frames sent to its MAC or to broadcast."""

    def __init__(self, net: Network, *, mac: int = ROGUE_MAC, ip: str = ROGUE_IP, promiscuous: bool = False) -> None:
        super().__init__(net, mac)
        self.ip = ip
        self.promiscuous = promiscuous
        self.peers: list[TcpPeer] = []
        self.reactions: list[Callable[[Heard], None]] = []

    def hear(self, frame: bytes, cycle: int) -> None:
        dst = int.from_bytes(frame[:6], "big") if len(frame) >= 6 else 0
        if not self.promiscuous and dst not in (self.mac, BROADCAST_MAC):
            return
        h = parse(frame, cycle)
        self.heard.append(h)
        if h.kind == "arp" and h.op == 1 and h.tpa == self.ip:
            self.send(ether(h.sha, self.mac, ETH_ARP, arp(2, self.mac, self.ip, h.sha, h.spa)), at=cycle)
        for p in list(self.peers):
            p.hear(h)
        for react in list(self.reactions):
            react(h)

    # --- shorthand for the frames attacks send most ---------------------------------------------

    def ip_frame(self, dst_mac: int, src: str, dst: str, proto: int, body: bytes, **kw: Any) -> bytes:
        return ether(dst_mac, self.mac, ETH_IP, ipv4(src, dst, proto, body, **kw))

    def send_udp(self, dst_mac: int, src: str, dst: str, sport: int, dport: int, payload: bytes,
                 **kw: Any) -> int:  # fmt: skip
        return self.send(self.ip_frame(dst_mac, src, dst, PROTO_UDP, udp(src, dst, sport, dport, payload), **kw))

    def send_tcp(self, dst_mac: int, src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
                 window: int = 8192, payload: bytes = b"", options: bytes = b"", at: int | None = None) -> int:  # fmt: skip
        body = tcp(src, dst, sport, dport, seq, ack, flags, window, payload, options=options)
        return self.send(self.ip_frame(dst_mac, src, dst, PROTO_TCP, body), at=at)

    def send_ping(self, dst_mac: int, src: str, dst: str, ident: int, seq: int, payload: bytes = b"",
                  reply: bool = False) -> int:  # fmt: skip
        return self.send(self.ip_frame(dst_mac, src, dst, PROTO_ICMP, icmp_echo(ident, seq, payload, reply)))


@dataclass
class TcpPeer:
    """A scripted TCP end on the rogue's address: enough of RFC 9293 to open
    (actively, passively, or simultaneously), send, take data in order and
    advertise whatever window the attack wants -- answering at once, from
    ``Rogue.hear``. It never retransmits; what it heard is in ``segments``.

    ``rport`` 0 with ``listen()`` takes the first SYN from any port.
    ``capacity`` is how many bytes it takes in all before its window shuts
    (None: no limit); ``probes`` counts segments with data or FIN that
    arrived while it was shut, each answered with a zero-window ACK."""

    rogue: Rogue
    host_mac: int
    host: str
    rport: int
    lport: int
    iss: int = 0x5EED_0000
    window: int = 8192
    syn_options: bytes = b""
    capacity: int | None = None
    state: str = "CLOSED"
    snd_nxt: int = 0
    snd_una: int = 0
    rcv_nxt: int = 0
    received: bytearray = field(default_factory=bytearray)
    segments: list[Heard] = field(default_factory=list)
    probes: int = 0
    fin: bool = False

    def __post_init__(self) -> None:
        self.snd_nxt = self.snd_una = self.iss
        self.rogue.peers.append(self)

    @property
    def advertised(self) -> int:
        full = self.capacity is not None and len(self.received) >= self.capacity
        return 0 if full else self.window

    def _send(self, flags: int, payload: bytes = b"", seq: int | None = None, at: int | None = None,
              options: bytes = b"") -> None:  # fmt: skip
        s = self.snd_nxt if seq is None else seq
        ack = self.rcv_nxt if flags & ACK else 0
        self.rogue.send_tcp(self.host_mac, self.rogue.ip, self.host, self.lport, self.rport, s, ack, flags,
                            self.advertised, payload, options, at=at)  # fmt: skip

    def open(self) -> None:
        """Active open: a SYN with ``syn_options``."""
        self._send(SYN, options=self.syn_options)
        self.snd_nxt = (self.iss + 1) & M32
        self.state = "SYN_SENT"

    def listen(self) -> None:
        self.state = "LISTEN"

    def send(self, data: bytes, size: int = 1024) -> None:
        for off in range(0, len(data), size):
            chunk = data[off : off + size]
            self._send(ACK | PSH, chunk)
            self.snd_nxt = (self.snd_nxt + len(chunk)) & M32

    def ack(self, at: int | None = None) -> None:
        self._send(ACK, at=at)

    def reopen(self, window: int | None = None) -> None:
        """Take without limit from now on and say so with a window update."""
        self.capacity = None
        if window is not None:
            self.window = window
        self.ack()

    def hear(self, h: Heard) -> None:
        if h.kind != "tcp" or h.bad or h.src != self.host or h.dport != self.lport:
            return
        if self.state == "LISTEN" and self.rport == 0 and h.flags & (SYN | ACK | RST) == SYN:
            self.rport = h.sport
        if h.sport != self.rport:
            return
        self.segments.append(h)
        at = h.cycle
        if h.flags & RST:
            self.state = "CLOSED"
            return
        if h.flags & SYN:
            if self.state == "LISTEN" and not h.flags & ACK:
                self.rcv_nxt = (h.seq + 1) & M32
                self._send(SYN | ACK, seq=self.iss, at=at, options=self.syn_options)
                self.snd_nxt = (self.iss + 1) & M32
                self.state = "SYN_RCVD"
            elif self.state in ("SYN_SENT", "SYN_RCVD"):
                self.rcv_nxt = (h.seq + 1) & M32
                if h.flags & ACK and h.ack == self.snd_nxt:
                    self.snd_una, self.state = h.ack, "ESTABLISHED"
                    self.ack(at)
                else:  # simultaneous open: the host's SYN crossed ours; ours is the SYN-ACK that is lost
                    self.state = "SYN_RCVD"
            else:
                self.ack(at)
            return
        if h.flags & ACK:
            if self.state == "SYN_RCVD" and h.ack == self.snd_nxt:
                self.state = "ESTABLISHED"
            if ((h.ack - self.snd_una) & M32) <= ((self.snd_nxt - self.snd_una) & M32):
                self.snd_una = h.ack
        if self.state != "ESTABLISHED" or not (h.payload or h.flags & FIN):
            return
        if self.advertised == 0:
            self.probes += 1
        elif h.seq == self.rcv_nxt:
            room = self.advertised
            if self.capacity is not None:
                room = min(room, self.capacity - len(self.received))
            take = h.payload[:room]
            self.received += take
            self.rcv_nxt = (self.rcv_nxt + len(take)) & M32
            if h.flags & FIN and len(take) == len(h.payload):
                self.rcv_nxt = (self.rcv_nxt + 1) & M32
                self.fin = True
        self.ack(at)


# --- the host-time watchdog ------------------------------------------------------------------------


_ROOT = str(Path(__file__).resolve().parent.parent)
_WORLD_CODE = tuple(f"{_ROOT}/{d}" for d in ("kernel/", "machine/", "extensions/", "tests/"))


class Hung(BaseException):  # noqa: N818 - not an Exception: the kernel's "except Exception" must not swallow it
    """The world stopped advancing in host time: a stack that never yields."""


class Watchdog:
    """Fails the run with ``Hung`` when the world's clock stops: while the
    main thread is inside ``World.run``, the watched worlds' ``now`` must move
    within ``stall`` seconds of host time (a network thread that never yields
    keeps the world in one round for ever); and no run may take more than
    ``seconds`` in all. It looks once a second (SIGALRM, main thread) and
    raises only while the world's or the test's code runs, never inside
    pytest's reporting. Then it stops the kernel strands of the watched
    worlds still spinning in host threads, so one hung world does not slow
    every later test."""

    def __init__(self, seconds: float, stall: float = 10.0) -> None:
        self.seconds = seconds
        self.stall = stall
        self.networks: list[Network] = []
        self.fired = False
        self._old: Any = None
        self._start = self._since = 0.0
        self._clocks: tuple[int, ...] | None = None

    def watch(self, net: Network) -> Network:
        self.networks.append(net)
        return net

    def _look(self, signum: int, frame: FrameType | None) -> None:
        files = []
        f = frame
        while f is not None:
            files.append(f.f_code.co_filename)
            f = f.f_back
        if not any(name.startswith(_WORLD_CODE) for name in files):
            return  # pytest's own work (a report), not the world's
        now = time.monotonic()
        if now - self._start > self.seconds:
            self._fire(f"the run took more than {self.seconds:.0f} s of host time")
        if any(name.endswith("machine/world.py") for name in files):
            clocks = tuple(net.world.now for net in self.networks)
            if clocks != self._clocks:
                self._clocks, self._since = clocks, now
            elif now - self._since > self.stall:
                self._fire(f"the world's clock stood still for {self.stall:.0f} s of host time")
        else:
            self._clocks, self._since = None, now

    def _fire(self, why: str) -> None:
        self.fired = True
        raise Hung(why)

    def __enter__(self) -> Watchdog:
        self._start = self._since = time.monotonic()
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGALRM, self._look)
            signal.setitimer(signal.ITIMER_REAL, 1.0, 1.0)
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)
        if self.fired:
            self.stop_strands()

    def stop_strands(self) -> None:
        """Raise SystemExit in each live kernel-strand thread of the watched worlds
        (the scheduler's strand body catches it and ends the strand)."""
        for net in self.networks:
            for k in net.hosts:
                for s in list(k.sched.strands.values()):
                    th = getattr(s, "_thread", None)
                    if th is not None and th.is_alive() and th.ident is not None:
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(th.ident),
                                                                   ctypes.py_object(SystemExit))  # fmt: skip
