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
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.core.sched import BLOCKED
from kernel.net import packet as P
from kernel.net.driver import Lance
from kernel.net.errno import EHOSTUNREACH, ENETUNREACH
from kernel.net.records import PacketCopy, PacketDrop, PacketFrame, PacketIn, PacketOut
from kernel.sys import authority
from kernel.sys.dispatcher import LAST, FieldEquals
from kernel.sys.errors import SpinError
from kernel.sys.interface import Interface
from kernel.sys.sandbox import shown
from kernel.sys.trace import Dispatch

if TYPE_CHECKING:
    from kernel.kernel import Kernel

NET_PRIORITY = 5000  # above every user strand: protocol processing is not starved by programs
ARP_TRIES = 3
ARP_RETRY_US = 50_000  # virtual: SPIN's and OSF/1's were a second; a lesson should not wait that long
ARP_NEGATIVE_US = 1_000_000  # how long a host that did not answer stays unreachable
ARP_PENDING_LIMIT = 32  # packets held per unresolved host
_TIMERS = object()  # a work item: some timers are due
NET_INTERFACES = ("Ether.", "IP.", "ICMP.", "UDP.", "TCP.")
PACKET_RECORDS = (PacketFrame, PacketDrop, PacketCopy)


def packet_path(trace: Any, pid: int) -> list[Any]:
    """One packet's records in order: in or out, each network event it was
    raised on (the Dispatch: guard results, handlers), copies, the drop."""
    out = []
    for r in trace:
        if isinstance(r, PACKET_RECORDS) and r.packet == pid:
            out.append(r)
        elif isinstance(r, Dispatch) and r.subject == pid and r.event.startswith(NET_INTERFACES):
            out.append(r)
    return out


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
    return p.proto == proto and p.version == 4 and p.ihl == 5 and not p.fragment


class NetStack:
    def __init__(self, k: Kernel, address: str, netmask: str = "255.255.255.0", gateway: str | None = None) -> None:
        self.k = k
        self.sal = k.sal
        self.address = address
        self.addr_bytes = P.ip_aton(address)
        self.mask = int.from_bytes(P.ip_aton(netmask), "big")
        self.net = int.from_bytes(self.addr_bytes, "big") & self.mask
        self.gateway = gateway
        self.ids = itertools.count(1)
        self.ip_ident = itertools.count(1)
        self.counters: Counter[str] = Counter()
        self.queue: deque[Any] = deque()
        self.timers: list[tuple[int, int, Timer]] = []
        self._timer_seq = itertools.count()
        self.arp_cache: dict[str, int] = {}
        self.arp_failed: dict[str, int] = {}  # host -> cycle until which it counts as unreachable
        self.arp_pending: dict[str, list[tuple[int, bytes]]] = {}
        self.arp_tries: dict[str, int] = {}
        self.unreachable_hooks: list[Callable[[str], None]] = []
        self.ping_replies: list[tuple[int, str, int, int]] = []  # (cycle, from, ident, seq)
        self.protocols: set[int] = set()
        self.driver = Lance(k, self._frame_arrived)
        self.mac = self.driver.mac
        self._define()
        from kernel.net.tcp import Tcp
        from kernel.net.udp import Udp

        self.udp = Udp(self)
        self.tcp = Tcp(self)
        self.thread = k.sched.fork(self._thread_main, name="netisr", priority=NET_PRIORITY)
        k.devices.append(self.driver.interrupt)
        k.tick_hooks.append(self._tick)
        k.net = self

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
        self.unclaimed(self.ev_ip_in, lambda p: p.proto not in self.protocols or p.fragment or p.ihl != 5)
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

    def _tick(self) -> None:
        """The clock interrupt: wake the network thread if a timer is due."""
        if self.timers and self.timers[0][0] <= self.now and _TIMERS not in self.queue:
            self._enqueue(_TIMERS)

    # --- the network thread --------------------------------------------------------------

    def _frame_arrived(self, frame: bytes) -> None:
        self._enqueue(frame)

    def inject(self, frame: bytes) -> None:
        """A frame as if the driver had received it (loopback, tests)."""
        self._enqueue(frame)

    def _enqueue(self, item: Any) -> None:
        self.queue.append(item)
        th = self.thread
        if th.state == BLOCKED:
            self.k.sched.wake(th)

    def _thread_main(self) -> None:
        sched = self.k.sched
        while True:
            while self.queue:
                item = self.queue.popleft()
                if item is _TIMERS:
                    self._run_timers()
                else:
                    self.receive(item)
            self.thread.blocked_on = "net: waiting for frames"
            sched.block()

    def _run_timers(self) -> None:
        while self.timers and self.timers[0][0] <= self.now:
            _, _, t = heapq.heappop(self.timers)
            if not t.cancelled:
                t.fn()

    def receive(self, data: bytes) -> None:
        """One frame up the graph: Ether.PacketArrived and whatever it raises."""
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
        try:
            a = P.parse_arp(f)
        except P.Malformed as e:
            self.malformed(f.id, "ARP", e)
            return
        self.sal.charge(costs.NET_LAYER)
        if a.target == self.address or a.sender in self.arp_cache or a.sender in self.arp_pending:
            self._learn(a.sender, a.sender_mac)
        if a.op == 1 and a.target == self.address:
            self.counters["arp replies sent"] += 1
            self.send_frame(a.sender_mac, P.ETH_ARP, P.arp(2, self.mac, self.address, a.sender_mac, a.sender))

    def _learn(self, host: str, mac: int) -> None:
        self.arp_cache[host] = mac
        self.arp_failed.pop(host, None)
        self.arp_tries.pop(host, None)
        for pid, ipdata in self.arp_pending.pop(host, []):
            self.send_frame(mac, P.ETH_IP, ipdata, pid)

    def _arp_request(self, host: str) -> None:
        if host not in self.arp_pending:
            return
        tries = self.arp_tries.get(host, 0)
        if tries >= ARP_TRIES:
            self.arp_tries.pop(host, None)
            self.arp_failed[host] = self.now + ARP_NEGATIVE_US * costs.CLOCK_MHZ
            for pid, _ in self.arp_pending.pop(host, []):
                self.drop(pid, "IP", "host unreachable: no ARP reply", host)
            for hook in self.unreachable_hooks:
                hook(host)
            return
        self.arp_tries[host] = tries + 1
        self.counters["arp requests sent"] += 1
        self.send_frame(P.BROADCAST, P.ETH_ARP, P.arp(1, self.mac, self.address, 0, host))
        self.timer(ARP_RETRY_US * costs.CLOCK_MHZ, lambda: self._arp_request(host))

    # --- IP input --------------------------------------------------------------------------------

    def _ip_input(self, f: P.EtherFrame) -> None:
        """Ether -> IP: parse and check the header, then raise IP.PacketArrived."""
        try:
            p = P.parse_ip(f)
        except P.Malformed as e:
            self.malformed(f.id, "IP", e)
            return
        self.sal.charge(costs.NET_LAYER + costs.CHECKSUM_PER_8 * (4 * p.ihl // 8))
        if p.dst != self.address and p.dst != "255.255.255.255":
            self.drop(f.id, "IP", "not for this host", p.dst)
            return
        self.counters["ip in"] += 1
        self.ip.PacketArrived(p)

    def _no_ip_handler(self, p: P.IpPacket) -> None:
        if p.fragment:
            self.drop(p.id, "IP", "a fragment (this stack does not reassemble)")
        elif p.ihl != 5:
            self.drop(p.id, "IP", "IP options (header length is not 20)")
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
        until = self.arp_failed.get(hop)
        if until is not None and self.now < until:
            return None, -EHOSTUNREACH
        return hop, 0

    def ip_send(self, dst: str, proto: int, payload: bytes, src: str | None = None) -> int:
        """Build an IP packet and raise IP.PacketSend; 0 or -errno."""
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

    def _ip_send(self, p: P.IpPacket) -> None:
        """IP.PacketSend's intrinsic handler: route, resolve, hand to Ether."""
        self.counters["ip out"] += 1
        if p.dst == self.address:  # to ourselves: back up the graph without touching the wire
            self.inject(P.ether(self.mac, self.mac, P.ETH_IP, p.data))
            return
        hop, _ = self.route(p.dst)
        if hop is None:
            self.drop(p.id, "IP", "no route", p.dst)
            return
        mac = self.arp_cache.get(hop)
        if mac is not None:
            self.send_frame(mac, P.ETH_IP, p.data, p.id)
            return
        q = self.arp_pending.setdefault(hop, [])
        if len(q) >= ARP_PENDING_LIMIT:
            self.drop(p.id, "IP", "ARP queue full", hop)
            return
        q.append((p.id, p.data))
        if hop not in self.arp_tries:
            self._arp_request(hop)

    # --- ICMP ----------------------------------------------------------------------------------------

    def _icmp_input(self, m: P.IcmpMessage) -> None:
        """ICMP.PacketArrived's intrinsic: answer echo requests, note replies."""
        if m.type == P.ICMP_ECHO:
            self.counters["icmp echo replies sent"] += 1
            self.ip_send(m.src, P.PROTO_ICMP, P.icmp(P.ICMP_ECHO_REPLY, 0, m.ident, m.seqno, m.payload))
        elif m.type == P.ICMP_ECHO_REPLY:
            self.ping_replies.append((self.now, m.src, m.ident, m.seqno))
        elif m.type == P.ICMP_UNREACH:
            self.counters["icmp unreachable received"] += 1

    def _icmp_from_ip(self, p: P.IpPacket) -> None:
        self.up(p, "ICMP", P.parse_icmp, self.icmp)

    def ping(self, dst: str, seqno: int, ident: int = 0x5350, size: int = 56) -> int:
        """Send one echo request; replies land in ``ping_replies``."""
        data = bytes((i & 0xFF) for i in range(size))
        return self.ip_send(dst, P.PROTO_ICMP, P.icmp(P.ICMP_ECHO, 0, ident, seqno, data))

    def port_unreachable(self, p: P.IpPacket) -> None:
        """ICMP port unreachable, quoting the offending header and 8 bytes."""
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
        return out


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
