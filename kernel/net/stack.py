"""One machine's network stack: the protocol graph as events (SOSP'95 §5.3,
Fig. 5; spin-reference.md §5).

Receive: the Lance driver queues each frame for the *network thread*, a
kernel strand, which raises ``Ether.PacketArrived``. The kernel's own
bindings on it are guarded by the ethertype and raise ``IP.PacketArrived``
or hand the frame to ARP; IP's bindings are guarded by version, header
length, not-a-fragment and protocol, and raise ``ICMP``, ``UDP`` or
``TCP.PacketArrived``; endpoints' guards select ports. An event nobody's
guard selects runs its default handler, which drops the packet and counts
why. Send is events too, top down: ``UDP.PacketSend`` -> ``IP.PacketSend``
-> ``Ether.PacketSend`` -> the driver; an extension may interpose on any.

Every packet has an id. The trace gets a ``PacketIn``/``PacketOut`` for it,
a ``Dispatch`` for each event it passes (``subject`` = the id: guard results
and handlers), ``PacketCopy`` for each copy and ``PacketDrop`` with the reason.
Drops are also counted by layer and reason (``drops``; the Packets pane).

Against a hostile station on the wire: IP input discards martian sources
(RFC 1122 §3.2.1.3, RFC 1812 §5.3.7) and what is not addressed to this
host; fragments are reassembled under a timeout and a memory bound
(kernel/net/reassembly.py); ARP believes little (kernel/net/arp.py); ICMP
ignores echo requests sent to a broadcast and records only the echo
replies it asked for. The network thread drains a bounded batch per
wake-up and then rests, so no rate of input -- from the wire or from this
host's own loopback -- can keep it from letting the clock run.
"""

from __future__ import annotations

import heapq
import itertools
import struct
from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.core.sal import EHOSTUNREACH, EMSGSIZE, ENETUNREACH
from kernel.core.sched import BLOCKED
from kernel.net import packet as P
from kernel.net.arp import Arp
from kernel.net.driver import Lance
from kernel.net.reassembly import Reassembler
from kernel.net.records import PacketCopy, PacketDrop, PacketFrame, PacketIn, PacketOut
from kernel.net.tcp import Tcp
from kernel.net.udp import Udp
from kernel.params import (
    ICMP_ERROR_BURST,
    ICMP_ERROR_INTERVAL_US,
    NET_BATCH,
    NET_QUEUE_LIMIT,
    NET_REST_US,
    PING_REPLIES,
    PINGS_OUTSTANDING,
)
from kernel.sys import authority
from kernel.sys.dispatcher import LAST, FieldEquals
from kernel.sys.errors import SpinError
from kernel.sys.interface import Interface
from kernel.sys.sandbox import shown
from kernel.sys.trace import Dispatch

if TYPE_CHECKING:
    from kernel.kernel import Kernel

NET_PRIORITY = 5000  # above every user strand: protocol processing is not starved by programs
MTU = P.ETH_MAX - P.ETH_HLEN  # 1500: IP datagrams this stack sends fit one frame
_TIMERS = object()  # a work item: some timers are due
NET_INTERFACES = ("Ether.", "IP.", "ICMP.", "UDP.", "TCP.")
PACKET_RECORDS = (PacketFrame, PacketDrop, PacketCopy)


def packet_path(trace: Any, pid: int) -> list[Any]:
    """One packet's records in order: in or out, each network event it was
    raised on (the Dispatch: guard results, handlers), copies, the drop."""
    out: list[Any] = []
    for r in trace:
        if isinstance(r, PACKET_RECORDS) and r.packet == pid:
            out.append(r)
        elif isinstance(r, Dispatch) and r.subject == pid and r.event.startswith(NET_INTERFACES):
            out.append(r)
    return out


class _Looped:
    """A frame this host sent to itself: from the loopback, not the wire."""

    __slots__ = ("frame",)

    def __init__(self, frame: bytes) -> None:
        self.frame = frame


class _Call:
    """A work item: kernel code to run in the network thread (``NetStack.defer``)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn


class Timer:
    __slots__ = ("at", "fn", "cancelled")

    def __init__(self, at: int, fn: Callable[[], None]) -> None:
        self.at = at
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def _ip_guard(proto: int, p: P.IpPacket) -> bool:
    """The IP layer's guard for one protocol (spin-reference.md §5, step 4)."""
    return p.proto == proto and p.version == 4 and not p.fragment  # options are skipped: RFC 1122 §3.2.1.8


def martian(addr: int, bcast: int) -> str:
    """Why no host may send from ``addr`` (RFC 1122 §3.2.1.3, RFC 1812
    §5.3.7), or '': ``bcast`` is the subnet's directed broadcast."""
    top = addr >> 24
    if top == 0:
        return "martian source (0.0.0.0/8)"
    if top == 127:
        return "martian source (loopback 127.0.0.0/8)"
    if addr == 0xFFFF_FFFF or addr == bcast:
        return "martian source (broadcast)"
    if 224 <= top < 240:
        return "martian source (multicast)"
    if top >= 240:
        return "martian source (class E)"
    return ""


class NetStack:
    def __init__(self, k: Kernel, address: str, netmask: str = "255.255.255.0", gateway: str | None = None) -> None:
        self.k = k
        self.sal = k.sal
        self.address = address
        self.addr_bytes = P.ip_aton(address)
        self.addr_int = int.from_bytes(self.addr_bytes, "big")
        self.mask = int.from_bytes(P.ip_aton(netmask), "big")
        self.net = self.addr_int & self.mask
        self.bcast_int = self.net | (~self.mask & 0xFFFF_FFFF)  # the subnet's directed broadcast
        self.bcast = P.ip_ntoa(self.bcast_int.to_bytes(4, "big"))
        self.gateway = gateway
        self.ids = itertools.count(1)
        self.ip_ident = itertools.count(1)
        self.counters: Counter[str] = Counter()
        self.drops: Counter[tuple[str, str]] = Counter()  # (layer, reason) -> packets dropped
        self.queue: deque[Any] = deque()
        self.queue_limit = NET_QUEUE_LIMIT
        self.batch = NET_BATCH
        self._resting = False  # after a full batch: arrivals do not wake the thread
        self._looped = False  # the frame being received came from this host's loopback
        self._timers_queued = False
        self._whole: P.IpPacket | None = None  # a datagram reassembly just completed
        self.timers: list[tuple[int, int, Timer]] = []
        self._timer_seq = itertools.count()
        self.arp = Arp(self)
        self.arp_cache = self.arp.cache  # host -> MAC (a bounded, aged mapping)
        self.arp_failed = self.arp.failed  # host -> cycle until which it counts as unreachable
        self.arp_pending = self.arp.pending
        self.reassembly = Reassembler(self)
        self.unreachable_hooks: list[Callable[[str], None]] = []
        self.ping_replies: deque[tuple[int, str, int, int]] = deque(maxlen=PING_REPLIES)  # (cycle, from, ident, seq)
        self.pings: dict[tuple[str, int, int], int] = {}  # (to, ident, seq) -> cycle sent, oldest first
        self.icmp_echo_ignore_broadcasts = True  # Linux's setting of the same name; False answers them
        self._icmp_error_due = 0  # the rate limit's theoretical arrival time (a GCRA), in cycles
        self.protocols: set[int] = set()
        self.driver = Lance(k, self._frame_arrived)
        self.mac = self.driver.mac
        self._define()
        self.udp = Udp(self)
        self.tcp = Tcp(self)
        self.thread = k.sched.fork(self._thread_main, name="netisr", priority=NET_PRIORITY)

    # --- the interfaces and the graph ---------------------------------------------------

    def _define(self) -> None:
        d = self.k.dispatcher
        ether = Interface("Ether", "Ethernet: frames from the Lance driver; sending hands a frame to it",
                          Address=lambda: P.mac_str(self.mac))  # fmt: skip
        ip = Interface("IP", "IPv4: input checks, routing on one subnet, ARP",
                       Address=lambda: self.address, Send=self.ip_send_view, Copy=self.copy_view,
                       Forward=self.forward_view)  # fmt: skip
        icmp = Interface("ICMP", "echo request and reply, port unreachable")
        self.ifaces = {i.__name__: i for i in (ether, ip, icmp)}
        self.ev_ether_in = d.define(ether, "PacketArrived", self._no_ether_handler, self)
        self.ev_ether_out = d.define(ether, "PacketSend", self._ether_send, self)
        self.ev_ip_in = d.define(ip, "PacketArrived", self._no_ip_handler, self)
        self.ev_ip_out = d.define(ip, "PacketSend", self._ip_send, self)
        self.ev_icmp_in = d.define(icmp, "PacketArrived", self._icmp_input, self)
        self.unclaimed(self.ev_ether_in, lambda f: f.type not in (P.ETH_IP, P.ETH_ARP))
        self.unclaimed(self.ev_ip_in, lambda p: p.proto not in self.protocols or p.fragment)
        d.install_handler(self.ev_ether_in, self._ip_input, FieldEquals(0, "type", P.ETH_IP), owner="Ether")
        d.install_handler(self.ev_ether_in, self._arp_input, FieldEquals(0, "type", P.ETH_ARP), owner="Ether")
        self.install_protocol(P.PROTO_ICMP, self._icmp_from_ip, "IP")
        self.ether, self.ip, self.icmp = ether, ip, icmp
        for iface in (ether, ip, icmp):
            self.export(iface.__name__, iface)
        self.k.system.public.exports["IP"] = lambda ext: _ExtensionIP(self, ext)  # a user's may not forge sources

    def unclaimed(self, ev: Any, guard: Callable[[Any], bool]) -> None:
        """Make ev's intrinsic handler the drop-and-count for packets no layer
        above claims: guarded, and Last, so watchers elsewhere in the list
        (a monitor) do not hide a drop."""
        ev.original.guard = guard
        self.k.dispatcher.reinstall_original(ev, LAST)

    def export(self, name: str, iface: Any) -> None:
        self.k.ifaces[name] = iface
        self.k.system.export(iface)

    # --- bookkeeping --------------------------------------------------------------------

    @property
    def now(self) -> int:
        return self.sal.now

    def drop(self, pid: int, layer: str, reason: str, detail: str = "") -> None:
        """Count a dropped packet under ``layer: reason`` (a fixed phrase); the
        trace record also gets this packet's ``detail``."""
        self.counters[f"{layer}: {reason}"] += 1
        self.counters["dropped"] += 1
        self.drops[layer, reason] += 1
        why = f"{reason} ({detail})" if detail else reason
        self.k.trace.add(PacketDrop(cycle=self.now, packet=pid, layer=layer, reason=why))

    def malformed(self, pid: int, layer: str, e: P.Malformed) -> None:
        self.drop(pid, layer, e.kind, e.detail)

    def copy(self, pid: int, nbytes: int, where: str) -> None:
        self.counters["copies"] += 1
        self.counters["bytes copied"] += nbytes
        self.k.trace.add(PacketCopy(cycle=self.now, packet=pid, nbytes=nbytes, where=where))

    def timer(self, delay_cycles: int, fn: Callable[[], None]) -> Timer:
        t = Timer(self.now + max(1, delay_cycles), fn)
        heapq.heappush(self.timers, (t.at, next(self._timer_seq), t))
        return t

    def tick(self) -> None:
        """The clock interrupt (a kernel tick hook, from ``Kernel.attach_net``):
        wake the network thread if a timer is due."""
        if self.timers and self.timers[0][0] <= self.now and not self._timers_queued:
            self._timers_queued = True
            self._enqueue(_TIMERS)

    # --- the network thread --------------------------------------------------------------

    def _frame_arrived(self, frame: bytes) -> None:
        self._enqueue(frame)

    def inject(self, frame: bytes) -> None:
        """A frame as if the driver had received it from the wire (tests)."""
        self._enqueue(frame)

    def _loopback(self, frame: bytes) -> None:
        self._enqueue(_Looped(frame))

    def defer(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the network thread, after what is queued (a disk
        interrupt's completion that must send: the NFS server's answer)."""
        self._enqueue(_Call(fn))

    def _enqueue(self, item: Any) -> None:
        if item is not _TIMERS and type(item) is not _Call and len(self.queue) >= self.queue_limit:
            self.drop(next(self.ids), "Ether", "input queue full")
            return
        self.queue.append(item)
        th = self.thread
        if th.state == BLOCKED and not self._resting:
            self.k.sched.wake(th)

    def _thread_main(self) -> None:
        """Drain at most ``batch`` items, then, if more wait, rest for
        ``NET_REST_US`` before the next batch: the input a flood brings is
        processed at a bounded share of the processor, and virtual time, the
        other strands and the other machines go on (receive livelock;
        Mogul & Ramakrishnan, TOCS 15(3), 1997; Linux's NAPI budget). A frame
        this host sends itself counts like one from the wire, so two
        services answering each other through the loopback cannot stop the
        clock either."""
        sched = self.k.sched
        q = self.queue
        while True:
            n = self.batch
            while q and n > 0:
                n -= 1
                item = q.popleft()
                if item is _TIMERS:
                    self._timers_queued = False
                    self._run_timers()
                elif type(item) is _Looped:
                    self.receive(item.frame, looped=True)
                elif type(item) is _Call:
                    try:
                        item.fn()
                    except Exception as e:  # noqa: BLE001 - one completion's bug must not take the network down
                        self.k.report(f"network: deferred work raised {type(e).__name__}: {e}")
                else:
                    self.receive(item)
            if q:
                self.counters["net thread rests (input beyond a batch)"] += 1
                self._resting = True
                self.thread.blocked_on = "net: resting after a full batch"
                sched.sleep(NET_REST_US * costs.CLOCK_MHZ)
                self._resting = False
                continue
            self.thread.blocked_on = "net: waiting for frames"
            sched.block()

    def _run_timers(self) -> None:
        while self.timers and self.timers[0][0] <= self.now:
            _, _, t = heapq.heappop(self.timers)
            if not t.cancelled:
                t.fn()

    def receive(self, data: bytes, looped: bool = False) -> None:
        """One frame up the graph: Ether.PacketArrived and whatever it raises.
        ``looped``: this host sent it to itself (no martian check)."""
        self._looped = looped
        pid = next(self.ids)
        self.counters["frames in"] += 1
        try:
            f = P.parse_ether(pid, data)
        except P.Malformed as e:
            self.k.trace.add(PacketIn(cycle=self.now, packet=pid, frame=data))
            self.malformed(pid, "Ether", e)
            return
        self.k.trace.add(PacketIn(cycle=self.now, packet=pid, frame=data))
        self.sal.charge(costs.NET_LAYER)
        try:
            self.ether.PacketArrived(f)
        except Exception as e:  # noqa: BLE001 - a kernel bug on one packet must not take the network down
            self.drop(pid, "stack", "internal error", f"{type(e).__name__}: {e}")
            self.k.report(f"network: packet {pid} raised {type(e).__name__}: {e}; dropped")

    # --- Ether ------------------------------------------------------------------------------

    def _no_ether_handler(self, f: P.EtherFrame) -> None:
        self.drop(f.id, "Ether", "no handler for the ethertype", f"{f.type:#06x}")

    def _ether_send(self, f: P.EtherFrame) -> None:
        """Ether.PacketSend's intrinsic handler: to the driver."""
        self.k.trace.add(PacketOut(cycle=self.now, packet=f.id, frame=f.data))
        self.counters["frames out"] += 1
        if not self.driver.transmit(f.data):
            self.drop(f.id, "Ether", "transmit queue full")

    def send_frame(self, dst_mac: int, etype: int, payload: bytes, pid: int | None = None) -> None:
        data = P.ether(dst_mac, self.mac, etype, payload)
        self.ether.PacketSend(P.EtherFrame(pid or next(self.ids), data, dst_mac, self.mac, etype))

    # --- ARP ----------------------------------------------------------------------------------

    def _arp_input(self, f: P.EtherFrame) -> None:
        self.arp.input(f)

    # --- IP input --------------------------------------------------------------------------------

    def _ip_input(self, f: P.EtherFrame) -> None:
        """Ether -> IP: parse and check the header, then raise IP.PacketArrived."""
        try:
            p = P.parse_ip(f)
        except P.Malformed as e:
            self.malformed(f.id, "IP", e)
            return
        self.sal.charge(costs.NET_LAYER + costs.CHECKSUM_PER_8 * (4 * p.ihl // 8))
        dst = p.dst
        if dst != self.address:
            if dst != "255.255.255.255" and dst != self.bcast:
                self.drop(f.id, "IP", "not for this host", dst)
                return
            if p.proto == P.PROTO_TCP:  # a connection has two ends: RFC 1122 §4.2.3.10
                self.drop(f.id, "IP", "TCP to a broadcast", dst)
                return
        if not self._looped:
            o = p.offset + 12
            src = int.from_bytes(p.data[o : o + 4], "big")
            why = "martian source (this host's address)" if src == self.addr_int else martian(src, self.bcast_int)
            if why:
                self.drop(f.id, "IP", why, p.src)
                return
        self.counters["ip in"] += 1
        self.ip.PacketArrived(p)
        whole = self._whole
        if whole is not None:  # the fragment completed a datagram: up the graph like any other
            self._whole = None
            self.counters["ip in"] += 1
            self.ip.PacketArrived(whole)

    def is_broadcast(self, addr: str) -> bool:
        """The limited or this subnet's directed broadcast."""
        return addr == "255.255.255.255" or addr == self.bcast

    def _no_ip_handler(self, p: P.IpPacket) -> None:
        if p.fragment:
            self._whole = self.reassembly.add(p)
        else:
            self.drop(p.id, "IP", "no handler for the protocol", str(p.proto))

    def up(self, p: P.IpPacket, layer: str, parse: Callable[[P.IpPacket], Any], iface: Any) -> None:
        """IP -> a transport: check the packet with ``parse`` (lengths and
        checksum), charge the layer's work, raise ``iface.PacketArrived``."""
        try:
            x = parse(p)
        except P.Malformed as e:
            self.malformed(p.id, layer, e)
            return
        self.sal.charge(costs.NET_LAYER + costs.CHECKSUM_PER_8 * ((len(p.payload) + 12) // 8))  # + pseudo-header
        self.counters[f"{layer.lower()} in"] += 1
        iface.PacketArrived(x)

    def install_protocol(self, proto: int, handler: Callable[[P.IpPacket], None], owner: str) -> None:
        """A transport's binding on IP.PacketArrived, guarded as SPIN's were."""
        self.protocols.add(proto)
        self.k.dispatcher.install_handler(self.ev_ip_in, handler, _ip_guard, guard_closure=proto, owner=owner)

    # --- IP output ---------------------------------------------------------------------------------

    def route(self, dst: str) -> tuple[str | None, int]:
        """(next hop, 0) or (None, -errno)."""
        try:
            d = int.from_bytes(P.ip_aton(dst), "big")
        except ValueError:
            return None, -ENETUNREACH
        if d & self.mask == self.net:
            hop = dst
        elif self.gateway is not None:
            hop = self.gateway
        else:
            return None, -ENETUNREACH
        if self.arp.unreachable(hop):
            return None, -EHOSTUNREACH
        return hop, 0

    def ip_send(self, dst: str, proto: int, payload: bytes, src: str | None = None, fragment: bool = False) -> int:
        """Build an IP packet and raise IP.PacketSend; 0 or -errno. Larger than
        the MTU, it is EMSGSIZE, unless the caller asks it ``fragment``ed (the
        NFS READ replies: RFC 791 §3.2)."""
        if len(payload) > MTU - P.IP_HLEN:  # a reassembled request's answer, say: not fragmented unless asked
            if fragment and len(payload) <= 65_535 - P.IP_HLEN:
                return self._ip_send_fragments(dst, proto, payload, src)
            self.counters["ip out: larger than the MTU"] += 1
            return -EMSGSIZE
        hop, err = self.route(dst)
        if hop is None:
            self.counters["ip out: unroutable"] += 1
            return err
        src = src or self.address
        data = P.ip(src, dst, proto, payload, next(self.ip_ident))
        pid = next(self.ids)
        self.sal.charge(costs.NET_LAYER + costs.CHECKSUM_PER_8 * 2)
        self.ip.PacketSend(P.IpPacket(pid, data, 0, 4, 5, len(data), 0, False, 64, proto, src, dst))
        return 0

    def _ip_send_fragments(self, dst: str, proto: int, payload: bytes, src: str | None) -> int:
        """One datagram as fragments of 1480 bytes (a multiple of 8) and the
        rest, one identification, MF on all but the last, DF clear (RFC 791
        §3.2, "Fragmentation"); each raises IP.PacketSend as a packet does."""
        hop, err = self.route(dst)
        if hop is None:
            self.counters["ip out: unroutable"] += 1
            return err
        src = src or self.address
        ident = next(self.ip_ident) & 0xFFFF
        step = (MTU - P.IP_HLEN) // 8 * 8
        s, d = P.ip_aton(src), P.ip_aton(dst)
        for off in range(0, len(payload), step):
            piece = payload[off : off + step]
            more = 0x2000 if off + step < len(payload) else 0
            h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, P.IP_HLEN + len(piece), ident, more | (off // 8), 64, proto, 0,
                            s, d)  # fmt: skip
            data = h[:10] + struct.pack("!H", P.checksum(h)) + h[12:] + piece
            self.sal.charge(costs.NET_LAYER + costs.CHECKSUM_PER_8 * 2)
            self.counters["ip fragments out"] += 1
            self.ip.PacketSend(P.IpPacket(next(self.ids), data, 0, 4, 5, len(data), ident, True, 64, proto, src, dst))
        return 0

    def _ip_send(self, p: P.IpPacket) -> None:
        """IP.PacketSend's intrinsic handler: route, resolve, hand to Ether."""
        self.counters["ip out"] += 1
        if p.dst == self.address:  # to ourselves: back up the graph without touching the wire
            self._loopback(P.ether(self.mac, self.mac, P.ETH_IP, p.data))
            return
        hop, _ = self.route(p.dst)
        if hop is None:
            self.drop(p.id, "IP", "no route", p.dst)
            return
        self.arp.output(hop, p.id, p.data)

    # --- ICMP ----------------------------------------------------------------------------------------

    def _icmp_input(self, m: P.IcmpMessage) -> None:
        """ICMP.PacketArrived's intrinsic: answer echo requests, note the
        replies to our own. An echo request to a broadcast is ignored unless
        ``icmp_echo_ignore_broadcasts`` is off (RFC 1122 §3.2.2.6 leaves it to
        the host; answering lets one datagram draw a reply from every host:
        the "smurf" amplifier). A reply that answers no ping of ours is not
        recorded (nor could a flood of them grow the list: it is a ring)."""
        if m.type == P.ICMP_ECHO:
            if m.dst != self.address and self.icmp_echo_ignore_broadcasts:
                self.drop(m.id, "ICMP", "echo request to a broadcast ignored", m.dst)
                return
            self.counters["icmp echo replies sent"] += 1
            self.ip_send(m.src, P.PROTO_ICMP, P.icmp(P.ICMP_ECHO_REPLY, 0, m.ident, m.seqno, m.payload))
        elif m.type == P.ICMP_ECHO_REPLY:
            if self.pings.pop((m.src, m.ident, m.seqno), None) is None:
                self.drop(m.id, "ICMP", "echo reply to no ping of ours", m.src)
                return
            self.ping_replies.append((self.now, m.src, m.ident, m.seqno))
        elif m.type == P.ICMP_UNREACH:
            self.counters["icmp unreachable received"] += 1
        elif m.type == P.ICMP_TIME_EXCEEDED:
            self.counters["icmp time exceeded received"] += 1

    def _icmp_from_ip(self, p: P.IpPacket) -> None:
        self.up(p, "ICMP", P.parse_icmp, self.icmp)

    def ping(self, dst: str, seqno: int, ident: int = 0x5350, size: int = 56) -> int:
        """Send one echo request; its reply lands in ``ping_replies``."""
        data = bytes((i & 0xFF) for i in range(size))
        pings = self.pings
        pings.pop((dst, ident, seqno), None)
        while len(pings) >= PINGS_OUTSTANDING:
            del pings[next(iter(pings))]  # the oldest unanswered is forgotten
        pings[dst, ident, seqno] = self.now
        return self.ip_send(dst, P.PROTO_ICMP, P.icmp(P.ICMP_ECHO, 0, ident, seqno, data))

    def icmp_error_allowed(self) -> bool:
        """May an ICMP error go out now? A rate limit (RFC 1812 §4.3.2.8; RFC
        4443 §2.4 makes it a MUST for IPv6), so a flood of datagrams to closed
        ports, with a victim's forged source, draws no flood of errors at it."""
        now = self.now
        step = ICMP_ERROR_INTERVAL_US * costs.CLOCK_MHZ
        due = max(self._icmp_error_due, now)
        if due - now > ICMP_ERROR_BURST * step:
            self.counters["icmp errors not sent (rate limit)"] += 1
            return False
        self._icmp_error_due = due + step
        return True

    def port_unreachable(self, p: P.IpPacket) -> None:
        """ICMP port unreachable, quoting the offending header and 8 bytes;
        never about a datagram sent to a broadcast (RFC 1122 §3.2.2)."""
        if self.is_broadcast(p.dst) or not self.icmp_error_allowed():
            return
        quote = bytes(p.header) + bytes(p.payload[:8])
        self.ip_send(p.src, P.PROTO_ICMP, P.icmp(P.ICMP_UNREACH, P.UNREACH_PORT, 0, 0, quote))

    # --- procedures extensions call -------------------------------------------------------------

    def copy_view(self, pkt: Any) -> bytes:
        """IP.Copy(pkt): a writable copy of a packet's payload, traced and charged."""
        payload = getattr(pkt, "payload", None)
        if not isinstance(payload, memoryview):
            raise SpinError(f"IP.Copy: {shown(pkt)} is not a packet an event passed you")
        data = bytes(payload)
        self.sal.charge(costs.BYTE_COPY_PER_8 * (len(data) // 8 + 1))
        self.copy(pkt.id, len(data), "a handler's copy")
        return data

    def ip_send_view(self, dst: str, proto: int, payload: bytes) -> int:
        """IP.Send(dst, proto, payload) for extensions."""
        if not isinstance(dst, str) or not isinstance(proto, int) or not isinstance(payload, (bytes, bytearray)):
            raise SpinError("IP.Send(dst, proto, payload): an address 'a.b.c.d', a protocol number and bytes")
        return self.ip_send(dst, proto, bytes(payload))

    def forward_view(self, pkt: Any, src: str, dst: str) -> int:
        """IP.Forward(pkt, src, dst): send a copy of a UDP or TCP packet with new
        addresses, its transport checksum redone -- a forwarding node in the
        graph (SOSP'95 Table 6; spin-reference.md §5, Forwarding)."""
        ipp = getattr(pkt, "ip", None)
        if not isinstance(ipp, P.IpPacket):
            raise SpinError(f"IP.Forward: {shown(pkt)} is not a UDP or TCP packet an event passed you")
        if not isinstance(src, str) or not isinstance(dst, str):
            raise SpinError("IP.Forward(pkt, src, dst): addresses as 'a.b.c.d'")
        body = P.rewrite_transport(ipp, src, dst)
        self.sal.charge(costs.BYTE_COPY_PER_8 * (len(body) // 8 + 1) + costs.CHECKSUM_PER_8 * (len(body) // 8 + 1))
        self.copy(pkt.id, len(body), f"forwarded to {dst}")
        self.counters["forwarded"] += 1
        return self.ip_send(dst, ipp.proto, body, src=src)

    # --- inspection ---------------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        out = dict(sorted(self.counters.items()))
        out["driver frames received"] = self.driver.received
        out["driver frames sent"] = self.driver.sent
        out["card drops (ring full)"] = self.driver.card_drops
        out["arp cache entries"] = len(self.arp_cache)
        out["ip reassembly bytes held"] = self.reassembly.bytes
        return out

    def drop_counts(self) -> list[tuple[str, str, int]]:
        """(layer, reason, packets) for every reason a packet was dropped,
        most frequent first (the Packets pane)."""
        return [(layer, reason, n) for (layer, reason), n in sorted(self.drops.items(), key=lambda x: (-x[1], x[0]))]


class _ExtensionIP:
    """IP as one extension sees it: a user's extension forwards only with
    this host's address as the source (kernel/sys/authority.py; the owner's
    forwarders, extensions/forward.py, may write any)."""

    __name__ = "IP"

    def __init__(self, stack: NetStack, ext: Any) -> None:
        self._stack = stack
        self._ext = ext

    def Address(self) -> str:  # noqa: N802 - SPIN's names
        return self._stack.address

    def Send(self, dst: Any, proto: Any, payload: Any) -> int:  # noqa: N802
        return self._stack.ip_send_view(dst, proto, payload)

    def Copy(self, pkt: Any) -> Any:  # noqa: N802
        return self._stack.copy_view(pkt)

    def Forward(self, pkt: Any, src: Any, dst: Any) -> int:  # noqa: N802
        if authority.RAISE not in self._ext.rights and src != self._stack.address:
            raise SpinError(f"{self._ext.name}: IP.Forward: source {shown(src)} is not this host's address "
                            f"{self._stack.address} (a user's extension cannot forge sources)")  # fmt: skip
        return self._stack.forward_view(pkt, src, dst)
