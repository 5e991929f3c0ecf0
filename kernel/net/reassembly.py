"""IP reassembly (RFC 791 §3.2, RFC 815), with the limits that keep a
hostile station from using it to hold the host's memory or to smuggle data.

Fragments are kept per datagram, keyed by (source, destination, protocol,
identification) as RFC 791 says, in offset order. The rules:

- **Overlaps kill the datagram.** A fragment that overlaps another, by a
  byte or by all of them with different contents, discards the whole
  datagram and every fragment of it still to come (RFC 5722, written for
  IPv6 and what Linux does for IPv4 since 4.19): overlapping fragments are
  how one datagram is made to read differently to a monitor and to the
  host (RFC 3128's "tiny fragment" and overlap attacks). An exact
  duplicate -- a retransmitted fragment -- is dropped on its own.
- **Sizes are checked.** Every fragment but the last carries a multiple of
  8 bytes (RFC 791); fragments must agree on where the datagram ends; a
  datagram that would pass 65,535 bytes is discarded (the "ping of death";
  RFC 8900 §2).
- **Time is bounded.** A datagram not complete within ``REASM_TIMEOUT_US``
  (30 s virtual) is freed. RFC 1122 §3.3.2 suggests 60-120 s, for the
  Internet of 1989; this is one 10 Mb/s wire on which every fragment of a
  datagram is on its way within milliseconds, and the timeout is the time
  an attacker's never-finished datagram holds memory, and the window in
  which a wrapped 16-bit identification can splice fragments of two
  datagrams together (RFC 4963 §2). Linux uses 30 s. If fragment zero had
  arrived, the source gets ICMP time exceeded, reassembly (RFC 792, RFC
  1122 §3.3.2), unless the datagram was sent to a broadcast (§3.2.2).
- **Memory is bounded.** At most ``REASM_MAX_DATAGRAMS`` datagrams and
  ``REASM_MAX_BYTES`` bytes are held, each fragment charged its payload and
  ``REASM_OVERHEAD`` (an mbuf's header, as BSD charges), so thousands of
  empty fragments cost as much as they occupy; past either bound the
  oldest datagram is shed (Linux's ipfrag_high_thresh, but shedding rather
  than refusing, so an attacker cannot block reassembly for everyone else
  by keeping the table full).

The complete datagram is given a fresh header (no fragment fields, total
length and checksum redone) in a frame of its own; the stack raises it on
``IP.PacketArrived`` like any other packet, under the id of the fragment
that completed it.
"""

from __future__ import annotations

import bisect
import struct
from typing import TYPE_CHECKING

from kernel.core import costs
from kernel.net import packet as P
from kernel.params import REASM_MAX_BYTES, REASM_MAX_DATAGRAMS, REASM_OVERHEAD, REASM_TIMEOUT_US

if TYPE_CHECKING:
    from kernel.net.stack import NetStack, Timer

IP_MAX = 65_535


class _Datagram:
    __slots__ = ("key", "deadline", "starts", "pieces", "end", "have", "held", "first", "dead")

    def __init__(self, key: tuple[str, str, int, int], deadline: int) -> None:
        self.key = key
        self.deadline = deadline
        self.starts: list[int] = []  # sorted offsets of the pieces
        self.pieces: dict[int, tuple[int, bytes, int]] = {}  # offset -> (end, bytes, packet id)
        self.end: int | None = None  # known once the last fragment came
        self.have = 0  # payload bytes held
        self.held = 0  # bytes charged
        self.first: bytes = b""  # fragment zero's frame header (Ether + IP), once it came
        self.dead = False  # discarded: its fragments still to come are dropped too (RFC 5722)


class Reassembler:
    def __init__(self, stack: NetStack) -> None:
        self.stack = stack
        self.table: dict[tuple[str, str, int, int], _Datagram] = {}  # oldest first
        self.bytes = 0
        self.timeout = REASM_TIMEOUT_US * costs.CLOCK_MHZ  # cycles
        self.max_datagrams = REASM_MAX_DATAGRAMS
        self.max_bytes = REASM_MAX_BYTES
        self._timer: Timer | None = None

    # --- bookkeeping -------------------------------------------------------------------

    def _free(self, dg: _Datagram, reason: str = "", tombstone: bool = False) -> None:
        """Release a datagram's fragments (each counted dropped with ``reason``
        if given); a tombstone stays in the table until its deadline."""
        for _, _, pid in dg.pieces.values():
            if reason:
                self.stack.drop(pid, "IP", reason)
        self.bytes -= dg.held
        dg.pieces.clear()
        dg.starts.clear()
        dg.have = 0
        dg.held = 0
        if tombstone:
            dg.dead = True
            dg.held = REASM_OVERHEAD
            self.bytes += REASM_OVERHEAD
        else:
            self.table.pop(dg.key, None)

    def _shed_oldest(self, keep: _Datagram | None) -> bool:
        for dg in self.table.values():
            if dg is not keep:
                self._free(dg, "reassembly shed (memory bound)")
                self.stack.counters["ip reassemblies shed"] += 1
                return True
        return False

    def _expire(self) -> None:
        """Free every datagram past its deadline; arm the timer for the next."""
        now = self.stack.now
        while self.table:
            dg = next(iter(self.table.values()))
            if dg.deadline > now:
                break
            if not dg.dead:
                self._time_exceeded(dg)
                self.stack.counters["ip reassemblies timed out"] += 1
            self._free(dg, "" if dg.dead else "reassembly timed out")
        if self.table and self._timer is None:
            first = next(iter(self.table.values()))
            self._timer = self.stack.timer(first.deadline - now, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._expire()

    def _time_exceeded(self, dg: _Datagram) -> None:
        """ICMP time exceeded, reassembly, if fragment zero came and the
        datagram was for this host alone (RFC 1122 §3.3.2, §3.2.2)."""
        st = self.stack
        piece = dg.pieces.get(0)
        if piece is None or not dg.first or dg.key[1] != st.address or not st.icmp_error_allowed():
            return
        quote = dg.first[P.ETH_HLEN :] + piece[1][:8]
        st.counters["icmp time exceeded sent"] += 1
        st.ip_send(dg.key[0], P.PROTO_ICMP, P.icmp(P.ICMP_TIME_EXCEEDED, 1, 0, 0, quote))

    # --- a fragment --------------------------------------------------------------------

    def add(self, p: P.IpPacket) -> P.IpPacket | None:
        """Take one fragment; the whole datagram if this one completed it."""
        st = self.stack
        self._expire()
        d, o = p.data, p.offset
        field = (d[o + 6] << 8) | d[o + 7]
        more = bool(field & 0x2000)
        off = (field & 0x1FFF) * 8
        body = p.payload
        n = len(body)
        end = off + n
        if more and (n == 0 or n % 8):
            st.drop(p.id, "IP", "fragment not a multiple of 8 bytes", f"{n} bytes at {off}")
            return None
        key = (p.src, p.dst, p.proto, p.ident)
        dg = self.table.get(key)
        if dg is not None and dg.dead:
            st.drop(p.id, "IP", "fragment of a discarded datagram")
            return None
        if 4 * p.ihl + end > IP_MAX:
            st.drop(p.id, "IP", "reassembled datagram too large", f"{4 * p.ihl + end} bytes")
            if dg is not None:
                self._free(dg, "reassembled datagram too large", tombstone=True)
            return None
        if dg is None:
            while len(self.table) >= self.max_datagrams and self._shed_oldest(None):
                pass
            dg = self.table[key] = _Datagram(key, st.now + self.timeout)
            if self._timer is None:
                self._timer = st.timer(self.timeout, self._fire)
        why = self._conflict(dg, off, end, more, body)
        if why == "duplicate":
            st.drop(p.id, "IP", "duplicate fragment", f"{n} bytes at {off}")
            return None
        if why:
            st.drop(p.id, "IP", why, f"{n} bytes at {off}")
            self._free(dg, why, tombstone=True)
            return None
        cost = n + REASM_OVERHEAD
        while self.bytes + cost > self.max_bytes:
            if not self._shed_oldest(dg):
                st.drop(p.id, "IP", "reassembly shed (memory bound)")
                self._free(dg, "reassembly shed (memory bound)")
                st.counters["ip reassemblies shed"] += 1
                return None
        if not more:
            dg.end = end
        bisect.insort(dg.starts, off)
        dg.pieces[off] = (end, bytes(body), p.id)
        dg.have += n
        dg.held += cost
        self.bytes += cost
        st.counters["ip fragments held"] += 1
        if off == 0:
            dg.first = bytes(d[: o + 4 * p.ihl])
        if dg.end is None or dg.have != dg.end or not dg.first:
            return None
        return self._complete(dg, p.id)

    def _conflict(self, dg: _Datagram, off: int, end: int, more: bool, body: memoryview) -> str:
        """'' if the fragment fits, 'duplicate', or why the datagram dies."""
        if dg.end is not None and (end > dg.end or (not more and end != dg.end)):
            return "fragments disagree on the datagram's end"
        if not more and dg.starts and dg.pieces[dg.starts[-1]][0] > end:
            return "fragments disagree on the datagram's end"
        i = bisect.bisect_left(dg.starts, off)
        if i < len(dg.starts) and dg.starts[i] == off:
            pend, data, _ = dg.pieces[off]
            return "duplicate" if pend == end and data == body else "overlapping fragment (RFC 5722)"
        if i > 0 and dg.pieces[dg.starts[i - 1]][0] > off:
            return "overlapping fragment (RFC 5722)"
        if i < len(dg.starts) and dg.starts[i] < end:
            return "overlapping fragment (RFC 5722)"
        return ""

    def _complete(self, dg: _Datagram, pid: int) -> P.IpPacket | None:
        st = self.stack
        payload = b"".join(dg.pieces[s][1] for s in dg.starts)
        head = bytearray(dg.first)
        o = P.ETH_HLEN
        struct.pack_into("!H", head, o + 2, len(head) - o + len(payload))
        struct.pack_into("!H", head, o + 6, 0)  # no fragment fields
        struct.pack_into("!H", head, o + 10, 0)  # the checksum, zero while it is summed
        struct.pack_into("!H", head, o + 10, P.checksum(bytes(head[o:])))
        self._free(dg)
        frame = bytes(head) + payload
        st.sal.charge(costs.BYTE_COPY_PER_8 * (len(payload) // 8 + 1))
        st.copy(pid, len(payload), "reassembled")
        st.counters["ip datagrams reassembled"] += 1
        try:
            return P.parse_ip(P.parse_ether(pid, frame))
        except P.Malformed as e:  # cannot happen with the header just built; counted, never raised
            st.malformed(pid, "IP", e)
            return None
