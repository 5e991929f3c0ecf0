"""TCP: connections, the TCP.PacketArrived and TCP.PacketSend events.

RFC 9293's state machine with the parts a clean transfer and a lossy one
need: the three-way handshake with the MSS option (and simultaneous open,
§3.5 figure 8), a sliding window with slow start and congestion avoidance
(RFC 5681), retransmission on a timeout measured in virtual time (RFC 6298's
estimator, Karn's rule), fast retransmit on three duplicate ACKs,
out-of-order segments held until the gap fills, FIN and RST, TIME_WAIT, a
listen backlog, and a persist timer for a zero window. Every data segment
is acknowledged at once (no delayed ACKs). No window scaling: the receive
buffer is 32 KiB and the sender keeps at most 16 KiB in flight, so a
receiver that keeps up never shows a full window.

It is written to hold against a station on the wire that forges segments,
as BSD and Linux do: a RST resets only at exactly RCV.NXT and an in-window
RST or any SYN on a synchronized connection gets a rate-limited challenge
ACK (RFC 5961 §3, §4); a segment whose ACK is outside [SND.UNA - MAX.SND.WND,
SND.MAX] is dropped with its data and FIN (§5.2); initial sequence numbers
and ephemeral ports come from a keyed hash (RFC 6528, RFC 6056), so probes
do not predict another connection's; a listener's half-open queue is
bounded and answers with SYN cookies when full (RFC 4987 §3.6), its entries
give up after three retransmitted SYN-ACKs; out-of-order data is kept within the window
and charged to it; the peer's MSS is clamped to the interface and floored;
a zero-window peer that answers probes is kept forever (RFC 1122
§4.2.2.17); a RST in TIME_WAIT is ignored (RFC 1337); a SYN to a broadcast
or multicast address is discarded (RFC 1122 §4.2.3.10). None of this
charges virtual time: a transfer nobody attacks costs what it did.

SOSP'95 ran DEC OSF/1's TCP engine as an extension; this engine is the
intrinsic handler of ``TCP.PacketArrived`` -- an extension placed before it
with Cancel (a forwarder) takes a port's segments, control ones included.
Timers are virtual: a 20 ms floor on the retransmission timeout (RFC 6298
says a second; a LAN lesson should not wait that long) and a 100 ms MSL.
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.core.sal import (
    EADDRINUSE,
    EADDRNOTAVAIL,
    ECONNREFUSED,
    ECONNRESET,
    EHOSTUNREACH,
    EINVAL,
    EPIPE,
    ETIMEDOUT,
)
from kernel.net import packet as P
from kernel.net.packet import ACK, FIN, PSH, RST, SYN
from kernel.params import (
    EPHEMERAL,
    TCP_CHALLENGE_ACKS,
    TCP_MAX_FLIGHT,
    TCP_MAX_RETRIES,
    TCP_OOO_SEGMENTS,
    TCP_PORT_TABLE,
    TCP_RCVBUF,
    TCP_SNDBUF,
    TCP_SYNACK_RETRIES,
)
from kernel.sys.interface import Interface

if TYPE_CHECKING:
    from kernel.core.sched import Strand
    from kernel.net.stack import NetStack, Timer

CLOSED, LISTEN, SYN_SENT, SYN_RCVD, ESTABLISHED = "CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"
FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT = (
    "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT")  # fmt: skip
SENDING = (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK)
RECEIVING = (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2)
MSS = P.ETH_MAX - P.ETH_HLEN - P.IP_HLEN - P.TCP_HLEN  # 1460: what the interface carries (MTU 1500 - 40)
MSS_DEFAULT = 536  # RFC 9293 §3.7.1, RFC 1122 §4.2.2.6: a peer that sends no MSS option
MSS_FLOOR = 88  # Linux's TCP_MIN_MSS: a tiny advertised MSS must not shred a transfer into 1-byte segments
US = costs.CLOCK_MHZ  # cycles per virtual microsecond
SECOND = 1_000_000 * US
RTO_MIN, RTO_INITIAL, RTO_MAX = 20_000 * US, 200_000 * US, 2_000_000 * US
PERSIST_MAX = RTO_MAX  # the cap on the zero-window probe interval
MSL = 100_000 * US
ISN_TICK = 4 * US  # RFC 6528's M: a clock that ticks every 4 µs
COOKIE_PERIOD = 8 * SECOND  # a SYN cookie's time counter ticks this often ...
COOKIE_AGE = 2  # ... and a cookie is good for this many ticks
COOKIE_MSS = (88, 256, 536, 1024, 1200, 1300, 1440, 1460)  # 3 bits of a cookie say which the peer asked for
M32 = 0xFFFF_FFFF


def seq_lt(a: int, b: int) -> bool:
    return ((a - b) & M32) > 0x7FFF_FFFF


def seq_le(a: int, b: int) -> bool:
    return a == b or seq_lt(a, b)


def clamp_mss(advertised: int) -> int:
    """The MSS to send with: the peer's option (536 if absent) no larger than
    this interface carries and no smaller than MSS_FLOOR (RFC 1122 §4.2.2.6)."""
    return max(MSS_FLOOR, min(advertised or MSS_DEFAULT, MSS))


class Keys:
    """The host's TCP secret and the keyed hashes made with it: ISNs
    (RFC 6528's F), ephemeral port offsets (RFC 6056's F and G), SYN cookies.

    A real host draws the secret from an entropy source at boot. Here it is
    derived from the host's address and MAC, because a world must replay to
    the same state from the same steps (snapshots and state hashes depend on
    it): the defense is against an off-path attacker, who learns nothing
    from probing one 4-tuple about another's. Anyone who knows this
    derivation and the MAC can compute it; a per-world seed, if the kernel
    gets one, belongs in ``seed``.
    """

    def __init__(self, address: bytes, mac: int, seed: bytes = b"") -> None:
        self.secret = hashlib.blake2b(address + mac.to_bytes(6, "big") + seed, digest_size=32,
                                      person=b"SPIN TCP secret").digest()  # fmt: skip

    def h32(self, purpose: bytes, data: bytes) -> int:
        return int.from_bytes(hashlib.blake2b(data, key=self.secret, person=purpose, digest_size=4).digest(), "big")


def _tuple(laddr: bytes, lport: int, raddr: str, rport: int) -> bytes:
    try:
        r = P.ip_aton(raddr)
    except ValueError:
        r = bytes(4)
    return struct.pack("!4sH4sH", laddr, lport, r, rport)


class Tcb:
    """One connection (or a listener), and the endpoint programs use."""

    def __init__(self, tcp: Tcp, lport: int, owner: str) -> None:
        self.tcp = tcp
        self.owner = owner
        self.state = CLOSED
        self.lport = lport
        self.raddr = ""
        self.rport = 0
        self.iss = self.snd_una = self.snd_nxt = self.snd_max = 0
        self.snd_wnd = 0
        self.max_sndwnd = 0  # the largest window the peer has offered (RFC 5961's MAX.SND.WND)
        self.sndbuf = bytearray()  # from snd_una on: sent but unacknowledged, then unsent
        self.fin_queued = self.fin_sent = False
        self.fin_seq = 0
        self.irs = self.rcv_nxt = 0
        self.rcv_adv = 0  # the right edge of the last window advertised; it never moves left
        self.rcvbuf = bytearray()  # in order, not yet read
        self.ooo: list[tuple[int, bytes]] = []  # out of order: (seq, data), disjoint, in sequence order
        self.ooo_bytes = 0
        self.ooo_fin: int | None = None
        self.eof = False  # the peer's FIN has been taken in order
        self.advertised = TCP_RCVBUF
        self.mss = MSS_DEFAULT
        self.cwnd = 2 * MSS
        self.ssthresh = TCP_MAX_FLIGHT
        self.srtt = 0
        self.rttvar = 0
        self.rto = RTO_INITIAL
        self.rtt_seq: int | None = None
        self.rtt_start = 0
        self.timer: Timer | None = None
        self.retries = 0
        self.dupacks = 0
        self.persisting = False  # the timer is the persist timer: probing a zero window
        self.persist_rto = 0
        self.probes = 0  # window probes since the peer last answered
        self.challenges = 0  # challenge ACKs sent in the current virtual second ...
        self.challenge_second = -1  # ... which is this one
        self.error = 0
        self.listener: Tcb | None = None
        self.backlog = 0
        self.pending: list[Tcb] = []  # a listener's half-open connections, oldest first
        self.accept_queue: deque[Tcb] = deque()
        self.cookies_until = 0  # a listener that sent SYN cookies accepts their ACKs until this cycle
        self.waiters: list[Strand] = []
        self.on_event: Callable[[Tcb], None] | None = None  # in-kernel endpoints: called on data, accept, close
        self.segs_in = self.segs_out = self.retransmits = 0

    # --- what endpoints call --------------------------------------------------------------

    def send(self, data: bytes | memoryview) -> int:
        """Queue data to send; how much fitted (0: the buffer is full), or -errno."""
        if self.error:
            return -self.error
        if self.state not in (ESTABLISHED, CLOSE_WAIT) or self.fin_queued:
            return -EPIPE
        n = min(len(data), TCP_SNDBUF - len(self.sndbuf))
        if n:
            self.sndbuf += data[:n]
            self.tcp.output(self)
        return n

    def recv(self, n: int) -> bytes | int | None:
        """Up to n bytes; b"" at the end of the stream; -errno once the
        connection failed (a reset: -ECONNRESET, on this call and every later
        one, after the data that came before it); None if the caller must wait."""
        if self.rcvbuf:
            data = bytes(self.rcvbuf[:n])
            del self.rcvbuf[:n]
            self.tcp.window_update(self)
            return data
        if self.eof:  # the peer's FIN came in order: the stream was whole, whatever followed
            return b""
        if self.error:
            return -self.error
        if self.state in (CLOSED, TIME_WAIT, LISTEN):
            return b""
        return None

    def accept(self) -> Tcb | None:
        return self.accept_queue.popleft() if self.accept_queue else None

    def close(self) -> None:
        """The application is done: listeners drop their queue, connections send FIN."""
        tcp = self.tcp
        if self.state == LISTEN:
            for c in list(self.pending) + list(self.accept_queue):
                c.abort()
            tcp.listeners.pop(self.lport, None)
            self.state = CLOSED
            return
        if self.state in (SYN_SENT, CLOSED):
            tcp.forget(self)
            return
        if self.state in (SYN_RCVD, ESTABLISHED, CLOSE_WAIT) and not self.fin_queued:
            self.fin_queued = True
            tcp.output(self)

    def abort(self) -> None:
        if self.state not in (CLOSED, LISTEN, SYN_SENT, TIME_WAIT):
            self.tcp.segment(self, self.snd_nxt, RST | ACK)
        self.tcp.forget(self)

    def wake(self) -> None:
        sched = self.tcp.stack.k.sched
        for s in self.waiters:
            sched.wake(s)
        self.waiters.clear()
        if self.on_event is not None:
            self.on_event(self)

    @property
    def window(self) -> int:
        """The receive window: buffer space not taken by unread or out-of-order
        data, but never less than what was advertised (its right edge does
        not move left, RFC 9293 §3.8.6.2.2; the bytes held stay within TCP_RCVBUF)."""
        room = TCP_RCVBUF - len(self.rcvbuf)
        edge = (self.rcv_adv - self.rcv_nxt) & M32
        return max(0, room - self.ooo_bytes, edge if edge <= room else 0)

    def describe(self) -> str:
        return f"{self.lport} <-> {self.raddr}:{self.rport} {self.state}"


class Tcp:
    def __init__(self, stack: NetStack) -> None:
        self.stack = stack
        d = stack.k.dispatcher
        self.iface = Interface("TCP", "segments: PacketArrived per segment (the engine is its intrinsic handler)")
        self.ev_in = d.define(self.iface, "PacketArrived", self._input_segment, self)
        self.ev_out = d.define(self.iface, "PacketSend", self._send, self)
        self.listeners: dict[int, Tcb] = {}
        self.conns: dict[tuple[int, str, int], Tcb] = {}
        self.keys = Keys(stack.addr_bytes, stack.mac)
        self._port_table = [0] * TCP_PORT_TABLE  # RFC 6056 algorithm 4
        self._port_rng = random.Random(self.keys.h32(b"port steps", b""))  # seeded: Linux's random increments
        stack.install_protocol(P.PROTO_TCP, self._input, "IP")
        stack.export("TCP", self.iface)
        stack.unreachable_hooks.append(self._unreachable)
        self.inputting = False  # a segment is being processed: in-kernel endpoints' news waits for the end
        self.after_input: list[Callable[[], None]] = []  # run once each segment is processed (kernel/net/tcp_ext.py)
        from kernel.net import tcp_ext  # late: tcp_ext builds on this module

        tcp_ext.install(self)

    # --- opening --------------------------------------------------------------------------

    def listen(self, port: int, backlog: int, owner: str) -> Tcb | int:
        if not 0 < port < 65536:
            return -EINVAL
        if port in self.listeners:
            return -EADDRINUSE
        t = Tcb(self, port, owner)
        t.state = LISTEN
        t.backlog = max(1, min(backlog, 128))
        self.listeners[port] = t
        return t

    def connect(self, dst: str, dport: int, owner: str, lport: int = 0) -> Tcb | int:
        hop, err = self.stack.route(dst)
        if hop is None:
            return err
        if not 0 < dport < 65536:
            return -EINVAL
        lport = lport or self.ephemeral(dst, dport)
        if not lport:
            return -EADDRNOTAVAIL
        if (lport, dst, dport) in self.conns:
            return -EADDRINUSE
        t = Tcb(self, lport, owner)
        t.raddr, t.rport = dst, dport
        self._start(t)
        t.state = SYN_SENT
        self.conns[(lport, dst, dport)] = t
        self.segment(t, t.iss, SYN, mss=MSS)
        t.snd_nxt = t.snd_max = (t.iss + 1) & M32
        self._arm(t)
        return t

    def _start(self, t: Tcb) -> None:
        t.iss = t.snd_una = t.snd_nxt = t.snd_max = self.isn(t.lport, t.raddr, t.rport)

    def isn(self, lport: int, raddr: str, rport: int) -> int:
        """RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
        M a 4 µs clock. One 4-tuple's ISNs advance with the clock (old
        duplicates stay behind); another's are offset by a hash nobody off
        the path can compute."""
        f = self.keys.h32(b"isn", _tuple(self.stack.addr_bytes, lport, raddr, rport))
        return (self.stack.now // ISN_TICK + f) & M32

    def ephemeral(self, dst: str = "0.0.0.0", dport: int = 0) -> int:
        """A free local port for a connection to dst:dport, 0 if none is left.
        RFC 6056 §3.3.4 (algorithm 4, double-hash): an offset keyed on the
        destination plus a per-destination-bucket counter, advanced by a
        seeded random step (Linux's variant) so ports say little about how
        many connections were made before."""
        tup = _tuple(self.stack.addr_bytes, 0, dst, dport)
        offset = self.keys.h32(b"port offset", tup)
        index = self.keys.h32(b"port index", tup) % TCP_PORT_TABLE
        used = {k[0] for k in self.conns} | set(self.listeners)
        n = len(EPHEMERAL)
        for _ in range(n):
            p = EPHEMERAL.start + (offset + self._port_table[index]) % n
            self._port_table[index] += 1 + self._port_rng.randrange(8)
            if p not in used:
                return p
        return 0

    def forget(self, t: Tcb) -> None:
        if t.timer is not None:
            t.timer.cancel()
            t.timer = None
        t.state = CLOSED
        self.conns.pop((t.lport, t.raddr, t.rport), None)
        if t.listener is not None and t in t.listener.pending:
            t.listener.pending.remove(t)
        t.wake()

    def _unreachable(self, host: str) -> None:
        for t in list(self.conns.values()):
            if t.raddr == host and t.state == SYN_SENT:
                t.error = EHOSTUNREACH
                self.forget(t)

    def _not_unicast(self, addr: str) -> bool:
        """Broadcast (limited or this subnet's directed), multicast (224/4) or 0.0.0.0."""
        try:
            a = int.from_bytes(P.ip_aton(addr), "big")
        except ValueError:
            return True
        host = ~self.stack.mask & M32
        return a in (0, M32) or a >> 28 == 0xE or (a & ~host & M32 == self.stack.net and a & host == host)

    # --- input ------------------------------------------------------------------------------

    def _input(self, p: P.IpPacket) -> None:
        """IP -> TCP: check the segment, then raise TCP.PacketArrived; then
        the ``after_input`` hooks (an extension's handlers run once the
        segment is wholly processed, never in the middle of the engine)."""
        self.inputting = True
        try:
            self.stack.up(p, "TCP", P.parse_tcp, self.iface)
        finally:
            self.inputting = False
        for fn in self.after_input:
            fn()

    def _input_segment(self, seg: P.TcpSegment) -> None:
        """TCP.PacketArrived's intrinsic handler: the engine."""
        if seg.dst != self.stack.address and self._not_unicast(seg.dst):  # RFC 1122 §4.2.3.10
            self.stack.drop(seg.id, "TCP", "segment to a broadcast or multicast address", seg.dst)
            return
        t = self.conns.get((seg.dst_port, seg.src, seg.src_port))
        if t is None:
            self._no_connection(seg)
            return
        t.segs_in += 1
        if t.state == SYN_SENT:
            self._syn_sent(t, seg)
        else:
            self._synchronized(t, seg)

    def _no_connection(self, seg: P.TcpSegment) -> None:
        """A segment for no connection: a SYN to a listener, a SYN cookie's
        ACK, or a reset (never to a reset, nor to a martian source)."""
        if self._not_unicast(seg.src):
            self.stack.drop(seg.id, "TCP", "segment from a broadcast or multicast source", seg.src)
            return
        lst = self.listeners.get(seg.dst_port)
        if lst is not None:
            kind = seg.flags & (SYN | ACK | RST)
            if kind == SYN:
                self._passive_open(lst, seg)
                return
            if kind == ACK and self.stack.now < lst.cookies_until and self._cookie_open(lst, seg):
                return
            if not kind & (ACK | RST):  # RFC 9293 §3.10.7.2, LISTEN's last step: no SYN, no ACK -> drop, no reply
                self.stack.drop(seg.id, "TCP", "neither SYN nor ACK to a listener", str(seg.dst_port))
                return
        self.stack.drop(seg.id, "TCP", "no connection on the port", str(seg.dst_port))
        if not seg.flags & RST:
            self._reset(seg)

    def _passive_open(self, lst: Tcb, seg: P.TcpSegment) -> None:
        if len(lst.accept_queue) >= lst.backlog:
            self.stack.drop(seg.id, "TCP", "listen backlog full", f"port {lst.lport}, backlog {lst.backlog}")
            return
        if len(lst.pending) >= lst.backlog:  # the half-open queue is full: answer without keeping state
            self._send_cookie(lst, seg)
            return
        t = Tcb(self, lst.lport, lst.owner)
        t.raddr, t.rport = seg.src, seg.src_port
        t.listener = lst
        self._start(t)
        t.irs, t.rcv_nxt = seg.seq, (seg.seq + 1) & M32
        t.rcv_adv = t.rcv_nxt
        t.mss = clamp_mss(seg.mss)
        t.snd_wnd = t.max_sndwnd = seg.window
        t.state = SYN_RCVD
        lst.pending.append(t)
        self.conns[(t.lport, t.raddr, t.rport)] = t
        self.segment(t, t.iss, SYN | ACK, mss=MSS)
        t.snd_nxt = t.snd_max = (t.iss + 1) & M32
        self._arm(t)

    # --- SYN cookies (RFC 4987 §3.6; Linux's encoding) -----------------------------------------

    def _cookie_hash(self, seg: P.TcpSegment, count: int | None = None) -> int:
        """Linux's two hashes: of the 4-tuple, and of the 4-tuple with the time counter."""
        tup = _tuple(self.stack.addr_bytes, seg.dst_port, seg.src, seg.src_port)
        if count is None:
            return self.keys.h32(b"cookie", tup)
        return self.keys.h32(b"cookie count", tup + struct.pack("!I", count & M32))

    def _send_cookie(self, lst: Tcb, seg: P.TcpSegment) -> None:
        """SYN-ACK whose ISN encodes the 4-tuple, the peer's ISN, a time
        counter and the MSS: the ACK that answers it rebuilds the connection."""
        count = self.stack.now // COOKIE_PERIOD
        mss = clamp_mss(seg.mss)
        index = max(i for i, m in enumerate(COOKIE_MSS) if m <= mss)
        h1, h2 = self._cookie_hash(seg), self._cookie_hash(seg, count)
        iss = (h1 + seg.seq + ((count & 0xFF) << 24) + ((h2 + index) & 0xFF_FFFF)) & M32
        lst.cookies_until = self.stack.now + COOKIE_AGE * COOKIE_PERIOD
        self.stack.counters["tcp SYN cookies sent"] += 1
        self._emit(seg.src, seg.dst_port, seg.src_port, iss, (seg.seq + 1) & M32, SYN | ACK, TCP_RCVBUF, MSS)

    def _cookie_open(self, lst: Tcb, seg: P.TcpSegment) -> bool:
        """An ACK for no connection: if it answers one of our SYN cookies,
        the connection it stands for, established (and the segment taken)."""
        count = self.stack.now // COOKIE_PERIOD
        iss, irs = (seg.ack - 1) & M32, (seg.seq - 1) & M32
        c = (iss - self._cookie_hash(seg) - irs) & M32
        age = (count - (c >> 24)) & 0xFF
        if age >= COOKIE_AGE:
            return False
        index = (c - self._cookie_hash(seg, count - age)) & 0xFF_FFFF
        if index >= len(COOKIE_MSS):
            return False
        if len(lst.accept_queue) >= lst.backlog:  # the peer retransmits; the cookie stays good
            self.stack.drop(seg.id, "TCP", "listen backlog full", f"port {lst.lport}, backlog {lst.backlog}")
            return True
        self.stack.counters["tcp SYN cookies accepted"] += 1
        t = Tcb(self, lst.lport, lst.owner)
        t.raddr, t.rport, t.listener = seg.src, seg.src_port, lst
        t.iss, t.snd_una = iss, seg.ack
        t.snd_nxt = t.snd_max = seg.ack
        t.irs, t.rcv_nxt = irs, seg.seq
        t.rcv_adv = (t.rcv_nxt + TCP_RCVBUF) & M32
        t.mss = COOKIE_MSS[index]
        t.snd_wnd = t.max_sndwnd = seg.window
        t.state = ESTABLISHED
        self.conns[(t.lport, t.raddr, t.rport)] = t
        lst.accept_queue.append(t)
        lst.wake()
        t.segs_in += 1
        self._synchronized(t, seg)
        return True

    # --- synchronizing --------------------------------------------------------------------------

    def _syn_sent(self, t: Tcb, seg: P.TcpSegment) -> None:
        if seg.flags & ACK and seg.ack != t.snd_nxt:
            if not seg.flags & RST:
                self._reset(seg)
            self.stack.drop(seg.id, "TCP", "SYN_SENT: unacceptable ACK")
            return
        if seg.flags & RST:
            if seg.flags & ACK:
                t.error = ECONNREFUSED
                self.forget(t)
            else:
                self.stack.drop(seg.id, "TCP", "SYN_SENT: RST without ACK")
            return
        if not seg.flags & SYN:
            self.stack.drop(seg.id, "TCP", "SYN_SENT: neither SYN nor RST")
            return
        t.irs, t.rcv_nxt = seg.seq, (seg.seq + 1) & M32
        t.rcv_adv = t.rcv_nxt
        t.mss = clamp_mss(seg.mss)
        t.snd_wnd = t.max_sndwnd = seg.window
        if seg.flags & ACK:
            t.snd_una = seg.ack
            t.state = ESTABLISHED
            t.retries = 0
            self._rtt_sample(t, self.stack.now - t.rtt_start if t.rtt_seq is not None else 0)
            self._disarm(t)
            self.ack(t)
            self.output(t)
            t.wake()
        else:  # simultaneous open (RFC 9293 §3.5, figure 8): both sent SYNs
            t.state = SYN_RCVD
            self.segment(t, t.iss, SYN | ACK, mss=MSS)

    def _synchronized(self, t: Tcb, seg: P.TcpSegment) -> None:
        n = len(seg.payload)
        if seg.flags & RST:
            self._rst_in(t, seg)
            return
        if seg.flags & SYN:
            if t.state == SYN_RCVD and seg.flags & ACK and seg.ack == t.snd_nxt and (seg.seq + 1) & M32 == t.rcv_nxt:
                # figure 8, line 6: the other side's SYN-ACK completes a simultaneous open
                seg = seg._replace(seq=t.rcv_nxt, flags=seg.flags & ~(SYN | FIN), payload=memoryview(b""))
                n = 0
            elif t.state == SYN_RCVD and not seg.flags & ACK and seg.seq == t.irs:
                if self._challenge_allowed(t):  # their SYN again: our SYN-ACK was lost
                    self.segment(t, t.iss, SYN | ACK, mss=MSS)
                return
            else:  # RFC 5961 §4.2: never a reset, whatever the sequence number
                self._challenge(t, seg, "SYN on a synchronized connection")
                return
        # sequence check: wholly old, or beyond the window, gets an ACK and is dropped
        end = (seg.seq + n + (1 if seg.flags & FIN else 0)) & M32
        if (n or seg.flags & FIN) and seq_le(end, t.rcv_nxt):
            self.stack.counters["tcp duplicate segments"] += 1
            if t.state == TIME_WAIT and seg.flags & FIN:
                self._time_wait(t)  # the peer did not hear our last ACK: 2 MSL again (RFC 9293 §3.10.7.4)
            self.ack(t)
            return
        if seq_lt((t.rcv_nxt + max(t.window, 1)) & M32, seg.seq) or (
            n and seq_le((t.rcv_nxt + t.window) & M32, seg.seq)
        ):
            self.stack.drop(seg.id, "TCP", "segment beyond the receive window")
            self.ack(t)
            return
        if not (n or seg.flags & FIN) and seq_lt(seg.seq, (t.rcv_nxt - TCP_RCVBUF) & M32):
            self.stack.drop(seg.id, "TCP", "segment before the receive window")
            self.ack(t)
            return
        if not seg.flags & ACK:
            self.stack.drop(seg.id, "TCP", "segment without ACK")
            return
        if t.state == SYN_RCVD:
            if seg.ack != t.snd_nxt:
                self.stack.drop(seg.id, "TCP", "SYN_RCVD: unacceptable ACK")
                self._reset(seg)
                return
            lst = t.listener
            if lst is not None and len(lst.accept_queue) >= lst.backlog:  # stay half-open; the peer retransmits
                self.stack.drop(seg.id, "TCP", "listen backlog full", f"port {lst.lport}, backlog {lst.backlog}")
                return
            t.state = ESTABLISHED
            t.snd_una = seg.ack
            t.snd_wnd = seg.window
            t.max_sndwnd = max(t.max_sndwnd, seg.window)
            t.retries = 0
            self._disarm(t)
            if lst is not None and t in lst.pending:
                lst.pending.remove(t)
                lst.accept_queue.append(t)
                lst.wake()
            t.wake()
        elif seq_lt(t.snd_max, seg.ack):  # RFC 5961 §5.2: nothing of this segment is taken
            self._challenge(t, seg, "ACK for data never sent")
            return
        elif seq_lt(seg.ack, (t.snd_una - t.max_sndwnd) & M32):
            self._challenge(t, seg, "ACK below the send window")
            return
        self._ack_in(t, seg)
        if t.state == CLOSED:
            return
        if n and t.state in RECEIVING:
            self._data_in(t, seg)
        if seg.flags & FIN:
            fin_at = (seg.seq + n) & M32
            if fin_at == t.rcv_nxt:
                self._fin_in(t)
            elif seq_lt(t.rcv_nxt, fin_at) and t.state in RECEIVING:
                t.ooo_fin = fin_at
        if n or seg.flags & FIN:
            self.ack(t)
        self.output(t)
        if t.timer is None and t.state in SENDING and (t.sndbuf or t.snd_una != t.snd_max):
            self._arm(t)  # left persist with nothing sent yet: keep a timer on what is owed

    def _rst_in(self, t: Tcb, seg: P.TcpSegment) -> None:
        """RFC 5961 §3.2: reset only at exactly RCV.NXT; elsewhere in the
        window a challenge ACK (the real peer, if it did reset, answers it
        with a RST that matches); outside it, nothing. RFC 1337: none in TIME_WAIT."""
        if t.state == TIME_WAIT:
            self.stack.drop(seg.id, "TCP", "RST in TIME_WAIT (RFC 1337)")
            return
        if seg.seq == t.rcv_nxt:
            self.stack.counters["tcp resets received"] += 1
            if t.state == SYN_RCVD:
                t.error = 0 if t.listener is not None else ECONNREFUSED
            elif t.state == CLOSE_WAIT:
                t.error = EPIPE  # the reader has had the whole stream; a writer learns (Linux's tcp_reset)
            elif t.state not in (CLOSING, LAST_ACK):
                t.error = ECONNRESET
            self.forget(t)
        elif seq_le(t.rcv_nxt, seg.seq) and seq_lt(seg.seq, (t.rcv_nxt + max(t.window, 1)) & M32):
            self._challenge(t, seg, "RST in the window, not at RCV.NXT")
        else:
            self.stack.drop(seg.id, "TCP", "RST outside the receive window")

    def _challenge_allowed(self, t: Tcb) -> bool:
        second = self.stack.now // SECOND
        if second != t.challenge_second:
            t.challenge_second, t.challenges = second, 0
        if t.challenges >= TCP_CHALLENGE_ACKS:
            self.stack.counters["tcp challenge ACKs rate-limited"] += 1
            return False
        t.challenges += 1
        return True

    def _challenge(self, t: Tcb, seg: P.TcpSegment, why: str) -> None:
        """Drop ``seg`` and send a challenge ACK (RFC 5961 §3.2, §4.2, §5.2),
        at most TCP_CHALLENGE_ACKS a virtual second on this connection (§7)."""
        self.stack.drop(seg.id, "TCP", why)
        if self._challenge_allowed(t):
            self.stack.counters["tcp challenge ACKs sent"] += 1
            self.ack(t)

    def _ack_in(self, t: Tcb, seg: P.TcpSegment) -> None:
        ack = seg.ack
        t.max_sndwnd = max(t.max_sndwnd, seg.window)
        if t.persisting:  # the peer answers our probes: it is alive, however long its window stays shut
            t.probes = 0
            if seg.window:
                t.persisting, t.persist_rto = False, 0
                self._disarm(t)
        if seq_lt(t.snd_una, ack) and seq_le(ack, t.snd_max):
            acked = (ack - t.snd_una) & M32
            data_acked = acked - (1 if t.fin_sent and ack == ((t.fin_seq + 1) & M32) else 0)
            del t.sndbuf[: max(0, data_acked)]
            t.snd_una = ack
            if seq_lt(t.snd_nxt, ack):
                t.snd_nxt = ack
            t.snd_wnd = seg.window
            t.dupacks = 0
            t.retries = 0
            if t.rtt_seq is not None and seq_lt(t.rtt_seq, ack):
                self._rtt_sample(t, self.stack.now - t.rtt_start)
                t.rtt_seq = None
            if t.cwnd < t.ssthresh:
                t.cwnd += min(data_acked, t.mss)
            else:
                t.cwnd += max(1, t.mss * t.mss // t.cwnd)
            t.cwnd = min(t.cwnd, TCP_MAX_FLIGHT)
            if t.snd_una == t.snd_max:
                self._disarm(t)
            else:
                self._arm(t, restart=True)
            if t.fin_sent and ack == ((t.fin_seq + 1) & M32):
                if t.state == FIN_WAIT_1:
                    t.state = FIN_WAIT_2
                elif t.state == CLOSING:
                    self._time_wait(t)
                elif t.state == LAST_ACK:
                    self.forget(t)
                    return
            if data_acked > 0:
                t.wake()  # room in the send buffer
        elif ack == t.snd_una:
            outstanding = t.snd_una != t.snd_max
            if (outstanding and not len(seg.payload) and seg.window == t.snd_wnd and not seg.flags & FIN
                    and not t.persisting and seg.window):  # fmt: skip
                t.dupacks += 1
                if t.dupacks == 3:
                    self._fast_retransmit(t)
            t.snd_wnd = seg.window

    def _data_in(self, t: Tcb, seg: P.TcpSegment) -> None:
        """Take in-order data into the buffer and out-of-order data into the
        hole list, both within the window: what lies beyond it is cut off."""
        data, seq = seg.payload, seg.seq
        if seq_lt(seq, t.rcv_nxt):  # partly old: keep the new part
            skip = (t.rcv_nxt - seq) & M32
            data, seq = data[skip:], t.rcv_nxt
        room = t.window
        off = (seq - t.rcv_nxt) & M32
        if off + len(data) > room:
            self.stack.counters["tcp bytes beyond the window cut off"] += off + len(data) - max(room, off)
            data = data[: max(0, room - off)]
        if not data:
            return
        if off == 0:
            t.rcvbuf += data
            t.rcv_nxt = (t.rcv_nxt + len(data)) & M32
            self._ooo_drain(t)
            if t.ooo_fin is not None and t.ooo_fin == t.rcv_nxt:
                t.ooo_fin = None
                self._fin_in(t)
            t.wake()
        else:
            self._ooo_hold(t, seg, off, bytes(data))

    def _ooo_hold(self, t: Tcb, seg: P.TcpSegment, off: int, data: bytes) -> None:
        """Keep the parts of an out-of-order segment no held piece covers
        (the first copy of a byte wins, as BSD keeps it); pieces that touch merge."""
        pieces = [((s - t.rcv_nxt) & M32, d) for s, d in t.ooo]
        end, cur, new = off + len(data), off, []
        for so, d in pieces:
            eo = so + len(d)
            if eo <= cur or so >= end:
                continue
            if so > cur:
                new.append((cur, data[cur - off : so - off]))
            cur = max(cur, eo)
        if cur < end:
            new.append((cur, data[cur - off :]))
        if not new:
            self.stack.counters["tcp duplicate segments"] += 1
            return
        merged: list[tuple[int, bytes]] = []
        for so, d in sorted(pieces + new):
            if merged and merged[-1][0] + len(merged[-1][1]) == so:
                merged[-1] = (merged[-1][0], merged[-1][1] + d)
            else:
                merged.append((so, d))
        if len(merged) > TCP_OOO_SEGMENTS:
            self.stack.drop(seg.id, "TCP", "out-of-order queue full", f"{len(pieces)} pieces held")
            return
        t.ooo = [((t.rcv_nxt + so) & M32, d) for so, d in merged]
        t.ooo_bytes += sum(len(d) for _, d in new)
        self.stack.counters["tcp out-of-order segments held"] += 1

    def _ooo_drain(self, t: Tcb) -> None:
        """RCV.NXT moved: pieces it reached join the buffer, pieces it passed are freed."""
        while t.ooo:
            s, d = t.ooo[0]
            behind = (t.rcv_nxt - s) & M32
            if behind > 0x7FFF_FFFF:  # still ahead: a hole remains
                break
            t.ooo.pop(0)
            t.ooo_bytes -= len(d)
            if behind < len(d):
                t.rcvbuf += d[behind:]
                t.rcv_nxt = (t.rcv_nxt + len(d) - behind) & M32

    def _fin_in(self, t: Tcb) -> None:
        t.rcv_nxt = (t.rcv_nxt + 1) & M32
        t.eof = True
        t.ooo, t.ooo_bytes, t.ooo_fin = [], 0, None  # nothing comes after a FIN
        if t.state == ESTABLISHED:
            t.state = CLOSE_WAIT
        elif t.state == FIN_WAIT_1:
            t.state = CLOSING
        elif t.state == FIN_WAIT_2:
            self._time_wait(t)
        t.wake()

    def _time_wait(self, t: Tcb) -> None:
        t.state = TIME_WAIT
        if t.timer is not None:
            t.timer.cancel()
        t.timer = self.stack.timer(2 * MSL, lambda: self.forget(t))
        t.wake()

    # --- output -----------------------------------------------------------------------------

    def output(self, t: Tcb) -> None:
        """Send what the windows allow, then a FIN if the application closed."""
        if t.state not in SENDING:
            return
        while True:
            flight = (t.snd_nxt - t.snd_una) & M32
            wnd = min(t.snd_wnd, t.cwnd, TCP_MAX_FLIGHT)
            off = flight - (1 if t.fin_sent and seq_lt(t.fin_seq, t.snd_nxt) else 0)
            avail = len(t.sndbuf) - off
            if avail > 0 and flight < wnd:
                n = min(avail, t.mss, wnd - flight)
                if n < avail and n < t.mss and flight:  # avoid silly small segments while data is in flight
                    break
                last = n == avail
                self.segment(t, t.snd_nxt, ACK | (PSH if last else 0), t.sndbuf[off : off + n])
                if t.rtt_seq is None and t.snd_nxt == t.snd_max:
                    t.rtt_seq, t.rtt_start = t.snd_nxt, self.stack.now
                t.snd_nxt = (t.snd_nxt + n) & M32
                if seq_lt(t.snd_max, t.snd_nxt):
                    t.snd_max = t.snd_nxt
                self._arm(t)
                continue
            if t.fin_queued and avail <= 0 and not t.fin_sent:
                t.fin_seq = t.snd_nxt
                self.segment(t, t.snd_nxt, FIN | ACK)
                t.fin_sent = True
                t.snd_nxt = (t.snd_nxt + 1) & M32
                if seq_lt(t.snd_max, t.snd_nxt):
                    t.snd_max = t.snd_nxt
                if t.state in (ESTABLISHED, SYN_RCVD):
                    t.state = FIN_WAIT_1
                elif t.state == CLOSE_WAIT:
                    t.state = LAST_ACK
                self._arm(t)
            if avail > 0 and t.snd_wnd == 0 and t.snd_una == t.snd_max:
                self._arm(t)  # the persist timer: probe a zero window
            return

    def segment(self, t: Tcb, seq: int, flags: int, payload: bytes | bytearray | memoryview = b"",
                mss: int = 0) -> None:  # fmt: skip
        """Raise TCP.PacketSend for one segment of ``t``."""
        t.segs_out += 1
        t.advertised = t.window
        t.rcv_adv = (t.rcv_nxt + t.advertised) & M32
        ack = t.rcv_nxt if flags & ACK else 0
        seg = P.TcpSegment(next(self.stack.ids), self.stack.address, t.raddr, t.lport, t.rport, seq, ack, flags,
                           t.advertised, mss, memoryview(bytes(payload)), None)  # fmt: skip
        self.iface.PacketSend(seg)

    def _send(self, seg: P.TcpSegment) -> None:
        """TCP.PacketSend's intrinsic handler: header, checksum, to IP."""
        self.stack.counters["tcp out"] += 1
        self.stack.sal.charge(costs.NET_LAYER + costs.CHECKSUM_PER_8 * (len(seg.payload) // 8 + 3))
        data = P.tcp(seg.src, seg.dst, seg.src_port, seg.dst_port, seg.seq, seg.ack, seg.flags, seg.window,
                     seg.payload, seg.mss)  # fmt: skip
        self.stack.ip_send(seg.dst, P.PROTO_TCP, data)

    def ack(self, t: Tcb) -> None:
        self.segment(t, t.snd_nxt, ACK)

    def window_update(self, t: Tcb) -> None:
        """After the application read: tell the sender if the window opened a lot."""
        if t.state in RECEIVING and t.window - t.advertised >= 2 * MSS and t.advertised < TCP_RCVBUF // 2:
            self.ack(t)

    def _reset(self, seg: P.TcpSegment) -> None:
        """RST for a segment that belongs to no connection (RFC 9293 §3.10.7.1)."""
        self.stack.counters["tcp resets sent"] += 1
        if seg.flags & ACK:
            seq, ack, flags = seg.ack, 0, RST
        else:
            seq, ack = 0, (seg.seq + len(seg.payload) + (1 if seg.flags & SYN else 0) + (1 if seg.flags & FIN else 0))
            flags = RST | ACK
        self._emit(seg.src, seg.dst_port, seg.src_port, seq, ack & M32, flags)

    def _emit(self, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int, window: int = 0,
              mss: int = 0) -> None:  # fmt: skip
        """Raise TCP.PacketSend for a segment of no connection (a reset, a SYN cookie)."""
        out = P.TcpSegment(next(self.stack.ids), self.stack.address, dst, sport, dport, seq, ack, flags, window, mss,
                           memoryview(b""), None)  # fmt: skip
        self.iface.PacketSend(out)

    # --- timers ----------------------------------------------------------------------------------

    def _arm(self, t: Tcb, restart: bool = False, delay: int = 0) -> None:
        if t.timer is not None and not restart:
            return
        if t.timer is not None:
            t.timer.cancel()
        t.timer = self.stack.timer(delay or t.rto, lambda: self._timeout(t))

    def _disarm(self, t: Tcb) -> None:
        if t.timer is not None:
            t.timer.cancel()
            t.timer = None

    def _rtt_sample(self, t: Tcb, r: int) -> None:
        """RFC 6298's smoothed round-trip time and variance."""
        if r <= 0:
            return
        if t.srtt == 0:
            t.srtt, t.rttvar = r, r // 2
        else:
            t.rttvar = (3 * t.rttvar + abs(t.srtt - r)) // 4
            t.srtt = (7 * t.srtt + r) // 8
        t.rto = min(RTO_MAX, max(RTO_MIN, t.srtt + 4 * t.rttvar))

    def _timeout(self, t: Tcb) -> None:
        t.timer = None
        if t.state in (CLOSED, LISTEN, TIME_WAIT):
            return
        if t.state in SENDING and t.snd_wnd == 0 and t.sndbuf:
            self._probe(t)
            return
        t.retries += 1
        half_open = t.state == SYN_RCVD and t.listener is not None
        if t.retries > (TCP_SYNACK_RETRIES if half_open else TCP_MAX_RETRIES):
            if half_open:
                self.stack.counters["tcp half-open connections timed out"] += 1
            else:
                t.error = ETIMEDOUT
                self.stack.counters["tcp connections timed out"] += 1
            self.forget(t)
            return
        t.rto = min(RTO_MAX, t.rto * 2)
        t.rtt_seq = None  # Karn: no sample from a retransmitted segment
        self.stack.counters["tcp timeouts"] += 1
        if t.state == SYN_SENT:
            self.segment(t, t.iss, SYN, mss=MSS)
        elif t.state == SYN_RCVD:
            self.segment(t, t.iss, SYN | ACK, mss=MSS)
        else:
            flight = (t.snd_max - t.snd_una) & M32
            t.ssthresh = max(flight // 2, 2 * t.mss)
            t.cwnd = t.mss
            t.snd_nxt = t.snd_una  # go back: resend from the first unacknowledged byte
            if t.fin_sent and seq_lt(t.snd_una, (t.fin_seq + 1) & M32):
                t.fin_sent = False
            t.retransmits += 1
            self.output(t)
        self._arm(t)

    def _probe(self, t: Tcb) -> None:
        """The persist timer (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17): one byte
        at SND.UNA into the zero window, whether or not data was in flight
        when it closed; the interval backs off to PERSIST_MAX and the
        connection stays open as long as the peer answers."""
        t.probes += 1
        if t.probes > TCP_MAX_RETRIES:
            t.error = ETIMEDOUT
            self.stack.counters["tcp connections timed out"] += 1
            self.forget(t)
            return
        t.snd_nxt = t.snd_una  # a shut window takes back what was in flight; it goes again when it opens
        if t.fin_sent and seq_lt(t.snd_una, (t.fin_seq + 1) & M32):
            t.fin_sent = False
        if seq_lt(t.snd_max, (t.snd_una + 1) & M32):
            t.snd_max = (t.snd_una + 1) & M32  # the probe's byte may be taken and acknowledged
        t.rtt_seq = None
        t.persisting = True
        t.persist_rto = min(PERSIST_MAX, max(t.rto, 2 * t.persist_rto))
        self.stack.counters["tcp window probes"] += 1
        self.segment(t, t.snd_una, ACK, t.sndbuf[:1])
        self._arm(t, delay=t.persist_rto)

    def _fast_retransmit(self, t: Tcb) -> None:
        self.stack.counters["tcp fast retransmits"] += 1
        t.retransmits += 1
        flight = (t.snd_max - t.snd_una) & M32
        t.ssthresh = max(flight // 2, 2 * t.mss)
        t.cwnd = t.ssthresh
        t.rtt_seq = None
        if t.sndbuf:
            self.segment(t, t.snd_una, ACK, t.sndbuf[: t.mss])
        elif t.fin_sent:
            self.segment(t, t.fin_seq, FIN | ACK)
        self._arm(t, restart=True)

    # --- inspection ----------------------------------------------------------------------------------

    def connections(self) -> list[dict[str, Any]]:
        rows = [{"local": t.lport, "remote": "*", "state": LISTEN, "owner": t.owner, "queued": len(t.accept_queue),
                 "half-open": len(t.pending)} for t in self.listeners.values()]  # fmt: skip
        rows += [{"local": t.lport, "remote": f"{t.raddr}:{t.rport}", "state": t.state, "owner": t.owner,
                  "unacked": (t.snd_max - t.snd_una) & M32, "unread": len(t.rcvbuf), "rto_us": t.rto // US,
                  "retransmits": t.retransmits} for t in self.conns.values()]  # fmt: skip
        return rows
