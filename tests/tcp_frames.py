"""A station on a topology.Network's wire for the TCP defense tests: it
sees every frame the hosts send (a tap on Wire.carry), sends what a test
crafts, and can play scripted TCP peers at addresses no host has (it
answers ARP for them, so the hosts send to it).

Frames are built with kernel/net/packet.py's builders: what these tests
judge is the TCP engine's logic, not parsing (tests/rogue.py crafts its
own bytes for that).
"""

from __future__ import annotations

import itertools
from typing import Any

from kernel.core.costs import CLOCK_MHZ
from kernel.kernel import Kernel
from kernel.net import packet as P
from kernel.net.topology import Network

STATION_MAC = 0x0200_0000_00EE
M32 = 0xFFFF_FFFF


def parse(frame: bytes) -> P.TcpSegment | None:
    """The TCP segment in a frame, or None."""
    try:
        f = P.parse_ether(0, frame)
        if f.type != P.ETH_IP:
            return None
        p = P.parse_ip(f)
        return P.parse_tcp(p) if p.proto == P.PROTO_TCP and not p.fragment else None
    except P.Malformed:
        return None


class Station:
    """The rogue (or scripted) station. ``plays``: addresses it answers ARP
    for; ``gap_us``: the least time between its frames (0: the wire's rate,
    which can overrun a host's receive ring -- a flood)."""

    def __init__(self, net: Network, plays: tuple[str, ...] = (), mac: int = STATION_MAC, gap_us: float = 100) -> None:
        self.net = net
        self.mac = mac
        self.plays = set(plays)
        self.frames: list[tuple[int, bytes]] = []  # (cycle, frame) of every frame a host sent
        self._ident = itertools.count(1)
        self._free = 0  # the cycle the station's own transmitter is free again
        self.gap = int(gap_us * CLOCK_MHZ)  # at least this between its frames: a host's ring keeps up
        self._carry = net.wire.carry
        net.wire.carry = self._tap  # type: ignore[method-assign]

    def _tap(self, sender: Any, frame: bytes, cycle: int) -> None:
        self._carry(sender, frame, cycle)
        if sender is self:
            return
        self.frames.append((cycle, frame))
        if frame[12:14] == b"\x08\x06":
            try:
                a = P.parse_arp(P.parse_ether(0, frame))
            except P.Malformed:
                return
            if a.op == 1 and a.target in self.plays:
                self.frame(a.sender_mac, P.ETH_ARP, P.arp(2, self.mac, a.target, a.sender_mac, a.sender), cycle)

    def frame(self, dst_mac: int, etype: int, payload: bytes, cycle: int | None = None) -> None:
        """Send a frame at ``cycle`` (now), or when the station's last frame has
        left: its frames go one after another at the wire's rate, as a card's do."""
        frame = P.ether(dst_mac, self.mac, etype, payload)
        at = max(self.net.now if cycle is None else cycle, self._free)
        bits = (len(frame) + 24) * 8  # with preamble, FCS and the inter-frame gap
        self._free = at + max(self.gap, bits * CLOCK_MHZ * 1_000_000 // self.net.wire.bandwidth)
        self._carry(self, frame, at)

    def settle(self, us: float = 2_000) -> None:
        """Run until the station's queued frames are out, then ``us`` more."""
        self.net.run_us(max(0, self._free - self.net.now) / CLOCK_MHZ + us)

    def tcp(self, host: Kernel, src: str, sport: int, dport: int, seq: int, ack: int, flags: int,
            payload: bytes = b"", window: int = 32768, mss: int = 0, dst: str | None = None,
            dst_mac: int | None = None) -> None:  # fmt: skip
        """A TCP segment from ``src`` (anyone's address) to ``host`` (or ``dst``)."""
        dst = dst or host.net.address
        body = P.tcp(src, dst, sport, dport, seq & M32, ack & M32, flags, window, payload, mss)
        ip = P.ip(src, dst, P.PROTO_TCP, body, next(self._ident))
        self.frame(host.net.mac if dst_mac is None else dst_mac, P.ETH_IP, ip)

    def segments(self, src: str | None = None, dst: str | None = None, since: int = 0) -> list[P.TcpSegment]:
        """TCP segments hosts sent (from ``src``, to ``dst``), from frame index ``since``."""
        out = []
        for _, f in self.frames[since:]:
            s = parse(f)
            if s is not None and (src is None or s.src == src) and (dst is None or s.dst == dst):
                out.append(s)
        return out

    def timed(self, src: str | None = None, dst: str | None = None) -> list[tuple[int, P.TcpSegment]]:
        out = []
        for cycle, f in self.frames:
            s = parse(f)
            if s is not None and (src is None or s.src == src) and (dst is None or s.dst == dst):
                out.append((cycle, s))
        return out


class Peer:
    """A scripted TCP end at ``addr``:``port`` talking to ``host``:``hport``.
    The test says what it sends; it tracks the host's sequence numbers."""

    def __init__(self, station: Station, host: Kernel, addr: str, port: int, hport: int, isn: int = 7_000_000) -> None:
        station.plays.add(addr)
        self.st, self.host, self.addr, self.port, self.hport = station, host, addr, port, hport
        self.iss = isn
        self.snd_nxt = isn
        self.rcv_nxt = 0
        self.seen = len(station.frames)

    def send(self, flags: int, payload: bytes = b"", seq: int | None = None, ack: int | None = None,
             window: int = 32768, mss: int = 0) -> None:  # fmt: skip
        seq = self.snd_nxt if seq is None else seq
        ack = self.rcv_nxt if ack is None else ack
        self.st.tcp(self.host, self.addr, self.port, self.hport, seq, ack, flags, payload, window, mss)

    def incoming(self) -> list[P.TcpSegment]:
        """The host's segments to this peer since the last call."""
        segs = self.st.segments(self.host.net.address, self.addr, self.seen)
        self.seen = len(self.st.frames)
        return [s for s in segs if s.src_port == self.hport and s.dst_port == self.port]

    def open(self, net: Network, mss: int = 1460, window: int = 32768) -> P.TcpSegment:
        """An active open to the host's listener; the SYN-ACK it answered."""
        self.send(P.SYN, seq=self.iss, ack=0, window=window, mss=mss)
        self.snd_nxt = (self.iss + 1) & M32
        assert net.run_until(lambda: any(s.flags & P.SYN for s in self._peek()), 100_000)
        synack = next(s for s in self.incoming() if s.flags & P.SYN)
        self.rcv_nxt = (synack.seq + 1) & M32
        self.send(P.ACK, window=window)
        net.run_us(2_000)
        return synack

    def _peek(self) -> list[P.TcpSegment]:
        segs = self.st.segments(self.host.net.address, self.addr, self.seen)
        return [s for s in segs if s.src_port == self.hport and s.dst_port == self.port]
