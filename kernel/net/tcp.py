"""TCP: connections, the TCP.PacketArrived and TCP.PacketSend events.

RFC 793's state machine with the parts a clean transfer and a lossy one
need: the three-way handshake with the MSS option, a sliding window with
slow start and congestion avoidance (RFC 5681), retransmission on a timeout
measured in virtual time (RFC 6298's estimator, Karn's rule), fast
retransmit on three duplicate ACKs, out-of-order segments held until the
gap fills, FIN and RST, TIME_WAIT, and a listen backlog. Every data segment
is acknowledged at once (no delayed ACKs). No window scaling: the receive
buffer is 32 KiB and the sender keeps at most 16 KiB in flight, so a
receiver that keeps up never shows a full window.

SOSP'95 ran DEC OSF/1's TCP engine as an extension; this engine is the
intrinsic handler of ``TCP.PacketArrived`` -- an extension placed before it
with Cancel (a forwarder) takes a port's segments, control ones included.
Timers are virtual: a 20 ms floor on the retransmission timeout (RFC 6298
says a second; a LAN lesson should not wait that long) and a 100 ms MSL.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.net import packet as P
from kernel.net.errno import EADDRINUSE, ECONNREFUSED, ECONNRESET, EHOSTUNREACH, EINVAL, EPHEMERAL, EPIPE, ETIMEDOUT
from kernel.net.packet import ACK, FIN, PSH, RST, SYN
from kernel.sys.interface import Interface

if TYPE_CHECKING:
    from kernel.core.sched import Strand
    from kernel.net.stack import NetStack, Timer

CLOSED, LISTEN, SYN_SENT, SYN_RCVD, ESTABLISHED = "CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"
FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT = (
    "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT")  # fmt: skip
SENDING = (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK)
RECEIVING = (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2)
MSS = 1460
RCVBUF = 32 * 1024
SNDBUF = 32 * 1024
MAX_FLIGHT = 16 * 1024
US = costs.CLOCK_MHZ  # cycles per virtual microsecond
RTO_MIN, RTO_INITIAL, RTO_MAX = 20_000 * US, 200_000 * US, 2_000_000 * US
MSL = 100_000 * US
MAX_RETRIES = 12
M32 = 0xFFFF_FFFF


def seq_lt(a: int, b: int) -> bool:
    return ((a - b) & M32) > 0x7FFF_FFFF


def seq_le(a: int, b: int) -> bool:
    return a == b or seq_lt(a, b)


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
        self.sndbuf = bytearray()  # from snd_una on: sent but unacknowledged, then unsent
        self.fin_queued = self.fin_sent = False
        self.fin_seq = 0
        self.irs = self.rcv_nxt = 0
        self.rcvbuf = bytearray()  # in order, not yet read
        self.ooo: dict[int, bytes] = {}  # out-of-order segments by sequence number
        self.ooo_fin: int | None = None
        self.eof = False  # the peer's FIN has been taken in order
        self.advertised = RCVBUF
        self.mss = 536
        self.cwnd = 2 * MSS
        self.ssthresh = MAX_FLIGHT
        self.srtt = 0
        self.rttvar = 0
        self.rto = RTO_INITIAL
        self.rtt_seq: int | None = None
        self.rtt_start = 0
        self.timer: Timer | None = None
        self.retries = 0
        self.dupacks = 0
        self.error = 0
        self.listener: Tcb | None = None
        self.backlog = 0
        self.pending: list[Tcb] = []  # a listener's half-open connections
        self.accept_queue: deque[Tcb] = deque()
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
        n = min(len(data), SNDBUF - len(self.sndbuf))
        if n:
            self.sndbuf += data[:n]
            self.tcp.output(self)
        return n

    def recv(self, n: int) -> bytes | None:
        """Up to n bytes; b"" at end of stream; None if the caller must wait."""
        if self.rcvbuf:
            data = bytes(self.rcvbuf[:n])
            del self.rcvbuf[:n]
            self.tcp.window_update(self)
            return data
        if self.eof or self.error or self.state in (CLOSED, TIME_WAIT, LISTEN):
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
        return max(0, RCVBUF - len(self.rcvbuf))

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
        self._next_port = EPHEMERAL.start
        self._iss = 0x1000_0000
        stack.install_protocol(P.PROTO_TCP, self._input, "IP")
        stack.export("TCP", self.iface)
        stack.unreachable_hooks.append(self._unreachable)

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
        lport = lport or self._ephemeral()
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
        self._iss = (self._iss + 64_000 + self.stack.now // 128) & M32  # RFC 793's clock-driven ISS
        t.iss = t.snd_una = t.snd_nxt = t.snd_max = self._iss

    def _ephemeral(self) -> int:
        used = {k[0] for k in self.conns} | set(self.listeners)
        for _ in range(len(EPHEMERAL)):
            p = self._next_port
            self._next_port = p + 1 if p + 1 < EPHEMERAL.stop else EPHEMERAL.start
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

    # --- input ------------------------------------------------------------------------------

    def _input(self, p: P.IpPacket) -> None:
        """IP -> TCP: check the segment, then raise TCP.PacketArrived."""
        self.stack.up(p, "TCP", P.parse_tcp, self.iface)

    def _input_segment(self, seg: P.TcpSegment) -> None:
        """TCP.PacketArrived's intrinsic handler: the engine."""
        t = self.conns.get((seg.dst_port, seg.src, seg.src_port))
        if t is None:
            lst = self.listeners.get(seg.dst_port)
            if lst is not None and seg.flags & (SYN | ACK | RST) == SYN:
                self._passive_open(lst, seg)
                return
            self.stack.drop(seg.id, "TCP", "no connection on the port", str(seg.dst_port))
            if not seg.flags & RST:
                self._reset(seg)
            return
        t.segs_in += 1
        if t.state == SYN_SENT:
            self._syn_sent(t, seg)
        else:
            self._synchronized(t, seg)

    def _passive_open(self, lst: Tcb, seg: P.TcpSegment) -> None:
        if len(lst.pending) + len(lst.accept_queue) >= lst.backlog:
            self.stack.drop(seg.id, "TCP", "listen backlog full", f"port {lst.lport}, backlog {lst.backlog}")
            return
        t = Tcb(self, lst.lport, lst.owner)
        t.raddr, t.rport = seg.src, seg.src_port
        t.listener = lst
        self._start(t)
        t.irs, t.rcv_nxt = seg.seq, (seg.seq + 1) & M32
        t.mss = seg.mss or 536
        t.snd_wnd = seg.window
        t.state = SYN_RCVD
        lst.pending.append(t)
        self.conns[(t.lport, t.raddr, t.rport)] = t
        self.segment(t, t.iss, SYN | ACK, mss=MSS)
        t.snd_nxt = t.snd_max = (t.iss + 1) & M32
        self._arm(t)

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
            return
        if not seg.flags & SYN:
            return
        t.irs, t.rcv_nxt = seg.seq, (seg.seq + 1) & M32
        t.mss = seg.mss or 536
        if seg.flags & ACK:
            t.snd_una = seg.ack
            t.snd_wnd = seg.window
            t.state = ESTABLISHED
            t.retries = 0
            self._rtt_sample(t, self.stack.now - t.rtt_start if t.rtt_seq is not None else 0)
            self._disarm(t)
            self.ack(t)
            self.output(t)
            t.wake()

    def _synchronized(self, t: Tcb, seg: P.TcpSegment) -> None:
        n = len(seg.payload)
        if seg.flags & RST:
            if seq_le(t.rcv_nxt, seg.seq) and seq_lt(seg.seq, (t.rcv_nxt + max(t.window, 1)) & M32):
                t.error = ECONNRESET if t.state != SYN_RCVD else 0
                self.forget(t)
            return
        if seg.flags & SYN:
            if seg.seq == t.irs:  # a retransmitted SYN or SYN-ACK: our answer was lost
                if t.state == SYN_RCVD:
                    self.segment(t, t.iss, SYN | ACK, mss=MSS)
                else:
                    self.ack(t)
                return
            self._reset(seg)
            return
        # sequence check: wholly old, or beyond the window, gets an ACK and is dropped
        end = (seg.seq + n + (1 if seg.flags & FIN else 0)) & M32
        if (n or seg.flags & FIN) and seq_le(end, t.rcv_nxt):
            self.stack.counters["tcp duplicate segments"] += 1
            self.ack(t)
            return
        if seq_lt((t.rcv_nxt + max(t.window, 1)) & M32, seg.seq) or (
            n and seq_le((t.rcv_nxt + t.window) & M32, seg.seq)
        ):
            self.stack.drop(seg.id, "TCP", "segment beyond the receive window")
            self.ack(t)
            return
        if not seg.flags & ACK:
            return
        if t.state == SYN_RCVD:
            if seg.ack != t.snd_nxt:
                self._reset(seg)
                return
            t.state = ESTABLISHED
            t.snd_una = seg.ack
            t.snd_wnd = seg.window
            t.retries = 0
            self._disarm(t)
            lst = t.listener
            if lst is not None and t in lst.pending:
                lst.pending.remove(t)
                lst.accept_queue.append(t)
                lst.wake()
        self._ack_in(t, seg)
        if t.state == CLOSED:
            return
        if n and t.state in RECEIVING:
            self._data_in(t, seg)
        if seg.flags & FIN:
            fin_at = (seg.seq + n) & M32
            if fin_at == t.rcv_nxt:
                self._fin_in(t)
            elif seq_lt(t.rcv_nxt, fin_at):
                t.ooo_fin = fin_at
        if n or seg.flags & FIN:
            self.ack(t)
        self.output(t)

    def _ack_in(self, t: Tcb, seg: P.TcpSegment) -> None:
        ack = seg.ack
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
            t.cwnd = min(t.cwnd, MAX_FLIGHT)
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
            if outstanding and not len(seg.payload) and seg.window == t.snd_wnd and not seg.flags & FIN:
                t.dupacks += 1
                if t.dupacks == 3:
                    self._fast_retransmit(t)
            t.snd_wnd = seg.window
        elif seq_lt(t.snd_max, ack):
            self.stack.drop(seg.id, "TCP", "ACK for data never sent")
            self.ack(t)

    def _data_in(self, t: Tcb, seg: P.TcpSegment) -> None:
        data, seq = seg.payload, seg.seq
        if seq_lt(seq, t.rcv_nxt):  # partly old: keep the new part
            skip = (t.rcv_nxt - seq) & M32
            data, seq = data[skip:], t.rcv_nxt
        room = t.window
        if seq == t.rcv_nxt:
            take = bytes(data[:room])
            t.rcvbuf += take
            t.rcv_nxt = (t.rcv_nxt + len(take)) & M32
            while t.rcv_nxt in t.ooo:
                more = t.ooo.pop(t.rcv_nxt)[: t.window]
                t.rcvbuf += more
                t.rcv_nxt = (t.rcv_nxt + len(more)) & M32
                if not more:
                    break
            if t.ooo_fin is not None and t.ooo_fin == t.rcv_nxt:
                t.ooo_fin = None
                self._fin_in(t)
            t.wake()
        else:
            if (seq - t.rcv_nxt) & M32 < room and seq not in t.ooo:
                t.ooo[seq] = bytes(data[: room - ((seq - t.rcv_nxt) & M32)])
                self.stack.counters["tcp out-of-order segments held"] += 1

    def _fin_in(self, t: Tcb) -> None:
        t.rcv_nxt = (t.rcv_nxt + 1) & M32
        t.eof = True
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
            wnd = min(t.snd_wnd, t.cwnd, MAX_FLIGHT)
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
        ack = t.rcv_nxt if flags & ACK else 0
        seg = P.TcpSegment(next(self.stack.ids), self.stack.address, t.raddr, t.lport, t.rport, seq, ack, flags,
                           t.window, mss, memoryview(bytes(payload)), None)  # type: ignore[arg-type]  # fmt: skip
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
        if t.state in RECEIVING and t.window - t.advertised >= 2 * MSS and t.advertised < RCVBUF // 2:
            self.ack(t)

    def _reset(self, seg: P.TcpSegment) -> None:
        """RST for a segment that belongs to no connection (RFC 793 p. 36)."""
        self.stack.counters["tcp resets sent"] += 1
        if seg.flags & ACK:
            seq, ack, flags = seg.ack, 0, RST
        else:
            seq, ack = 0, (seg.seq + len(seg.payload) + (1 if seg.flags & SYN else 0) + (1 if seg.flags & FIN else 0))
            flags = RST | ACK
        out = P.TcpSegment(next(self.stack.ids), self.stack.address, seg.src, seg.dst_port, seg.src_port, seq,
                           ack & M32, flags, 0, 0, memoryview(b""), None)  # type: ignore[arg-type]  # fmt: skip
        self.iface.PacketSend(out)

    # --- timers ----------------------------------------------------------------------------------

    def _arm(self, t: Tcb, restart: bool = False) -> None:
        if t.timer is not None and not restart:
            return
        if t.timer is not None:
            t.timer.cancel()
        t.timer = self.stack.timer(t.rto, lambda: self._timeout(t))

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
        t.retries += 1
        if t.retries > MAX_RETRIES:
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
        elif t.snd_una == t.snd_max and t.snd_wnd == 0 and t.sndbuf:
            self.segment(t, t.snd_nxt, ACK, t.sndbuf[:1])  # window probe
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
        rows = [{"local": t.lport, "remote": "*", "state": LISTEN, "owner": t.owner, "queued": len(t.accept_queue)}
                for t in self.listeners.values()]  # fmt: skip
        rows += [{"local": t.lport, "remote": f"{t.raddr}:{t.rport}", "state": t.state, "owner": t.owner,
                  "unacked": (t.snd_max - t.snd_una) & M32, "unread": len(t.rcvbuf), "rto_us": t.rto // US,
                  "retransmits": t.retransmits} for t in self.conns.values()]  # fmt: skip
        return rows
