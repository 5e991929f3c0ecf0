"""UDP: the UDP.PacketArrived and UDP.PacketSend events, ports, and the
datagram endpoint both kinds of application use.

A port belongs to one endpoint. The UDP module installs the endpoint's
binding itself, with a declarative guard ``dst_port == port`` -- the paper's
protocol manager installing guards on an application's behalf, so nobody
snoops on another's port (SOSP'95 §5.3) -- and the dispatcher indexes such
guards, so fifty ports cost one lookup. Extensions may also install their
own guarded handlers on UDP.PacketArrived to watch traffic. A datagram no
binding selects gets ICMP port unreachable (unless it was sent to a
broadcast) and is counted.

A socket's receive queue is bounded in bytes, and each datagram is charged
its payload plus ``DATAGRAM_OVERHEAD`` -- what BSD charges for the mbuf that
holds it (MSIZE) -- so a flood of empty datagrams fills the buffer as surely
as a flood of full ones, instead of growing the queue without bound.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.core.sal import EADDRINUSE, EHOSTUNREACH, EINVAL, EMSGSIZE
from kernel.net import packet as P
from kernel.params import DATAGRAM_OVERHEAD, EPHEMERAL, PORTS_PER_EXTENSION, UDP_RCVBUF
from kernel.sys import authority, capability
from kernel.sys.dispatcher import Binding, FieldEquals
from kernel.sys.errors import SpinError
from kernel.sys.interface import Interface
from kernel.sys.sandbox import shown

if TYPE_CHECKING:
    from kernel.core.sched import Strand
    from kernel.net.stack import NetStack

MAX_DATAGRAM = 1472  # one Ethernet frame: what sockets and extensions may send (they are not fragmented)
MAX_FRAGMENTED = 65_507  # what kernel code may send with ``send(..., fragment=True)``: IP fragments it


class UdpEndpoint:
    """A bound UDP port: a queue of datagrams for sockets, or a callback for
    in-kernel code."""

    def __init__(self, udp: Udp, port: int, owner: str, on_datagram: Callable[[P.UdpDatagram], None] | None) -> None:
        self.udp = udp
        self.port = port
        self.owner = owner
        self.on_datagram = on_datagram
        self.queue: deque[tuple[str, int, bytes, int]] = deque()  # (src, src port, data, packet id)
        self.queued = 0  # bytes charged: payloads and DATAGRAM_OVERHEAD each
        self.rcvbuf = UDP_RCVBUF
        self.waiters: list[Strand] = []
        self.error = 0  # like BSD's so_error: reported by the next call
        self.binding: Binding | None = None
        self.received = self.dropped = 0

    def deliver(self, d: P.UdpDatagram) -> None:
        """The endpoint's handler on UDP.PacketArrived."""
        self.received += 1
        if self.on_datagram is not None:
            self.on_datagram(d)
            return
        n = len(d.payload) + DATAGRAM_OVERHEAD
        if self.queued + n > self.rcvbuf:
            self.dropped += 1
            self.udp.stack.drop(d.id, "UDP", "receive buffer full", f"port {self.port}")
            return
        self.queue.append((d.src, d.src_port, bytes(d.payload), d.id))  # the mbuf, queued (not a copy in SPIN)
        self.queued += n
        self.wake()

    def take(self) -> tuple[str, int, bytes, int] | None:
        if not self.queue:
            return None
        item = self.queue.popleft()
        self.queued -= len(item[2]) + DATAGRAM_OVERHEAD
        return item

    def wake(self) -> None:
        sched = self.udp.stack.k.sched
        for s in self.waiters:
            sched.wake(s)
        self.waiters.clear()

    def close(self) -> None:
        self.udp.unbind(self)
        self.wake()


class Udp:
    def __init__(self, stack: NetStack) -> None:
        self.stack = stack
        k, d = stack.k, stack.k.dispatcher
        self.iface = Interface("UDP", "datagrams: PacketArrived per datagram, PacketSend to send one",
                               Send=self.send_view)  # fmt: skip
        self.ev_in = d.define(self.iface, "PacketArrived", self._no_port, self)
        self.ev_out = d.define(self.iface, "PacketSend", self._send, self)
        self.ports: dict[int, UdpEndpoint] = {}
        stack.unclaimed(self.ev_in, self._unclaimed)
        self._next_ephemeral = EPHEMERAL.start
        stack.install_protocol(P.PROTO_UDP, self._input, "IP")
        k.ifaces["UDP"] = self.iface
        k.system.public.exports["UDP"] = lambda ext: _ExtensionUdp(self, ext)
        stack.unreachable_hooks.append(self._unreachable)

    # --- input -------------------------------------------------------------------------

    def _input(self, p: P.IpPacket) -> None:
        """IP -> UDP: check the datagram, then raise UDP.PacketArrived."""
        self.stack.up(p, "UDP", P.parse_udp, self.iface)

    def _unclaimed(self, d: P.UdpDatagram) -> bool:
        ep = self.ports.get(d.dst_port)
        return ep is None or ep.binding is None or not ep.binding.installed

    def _no_port(self, d: P.UdpDatagram) -> None:
        self.stack.drop(d.id, "UDP", "no endpoint on the port", str(d.dst_port))
        assert d.ip is not None  # an arriving datagram was parsed from its IP packet
        self.stack.port_unreachable(d.ip)

    # --- ports ---------------------------------------------------------------------------

    def bind(self, port: int, owner: str, on_datagram: Callable[[P.UdpDatagram], None] | None = None,
             ext: Any = None) -> UdpEndpoint | int:  # fmt: skip
        """An endpoint on ``port`` (0: any free port), or -errno."""
        if port == 0:
            port = self.ephemeral()
            if port == 0:
                return -EADDRINUSE
        if not 0 < port < 65536:
            return -EINVAL
        old = self.ports.get(port)
        if old is not None and old.binding is not None and old.binding.installed:
            return -EADDRINUSE
        ep = UdpEndpoint(self, port, owner, on_datagram)
        d = self.stack.k.dispatcher
        if ext is None:
            ep.binding = d.install_handler(self.ev_in, ep.deliver, FieldEquals(0, "dst_port", port), owner=owner)
        else:  # an extension's own handler, under its fuel bound, on a guard the UDP module made
            assert on_datagram is not None
            ep.binding = d.install_handler(self.ev_in, on_datagram, FieldEquals(0, "dst_port", port), owner=owner,
                                           creator=ext, trusted=False, namespace=ext.namespace)  # fmt: skip
            ext.bindings.append(ep.binding)
        self.ports[port] = ep
        return ep

    def unbind(self, ep: UdpEndpoint) -> None:
        if self.ports.get(ep.port) is ep:
            del self.ports[ep.port]
        self.stack.k.dispatcher.uninstall(ep.binding, "port closed")

    def ephemeral(self) -> int:
        for _ in range(len(EPHEMERAL)):
            p = self._next_ephemeral
            self._next_ephemeral = p + 1 if p + 1 < EPHEMERAL.stop else EPHEMERAL.start
            if p not in self.ports:
                return p
        return 0

    def _unreachable(self, host: str) -> None:
        """ARP gave up on a host: endpoints hear it on their next call."""
        for ep in self.ports.values():
            if ep.on_datagram is None:
                ep.error = EHOSTUNREACH
                ep.wake()

    # --- output ---------------------------------------------------------------------------

    def send(self, sport: int, dst: str, dport: int, payload: bytes, pid: int | None = None,
             fragment: bool = False) -> int:  # fmt: skip
        """Raise UDP.PacketSend for one datagram; 0 or -errno. ``fragment``:
        kernel code's large datagram (NFS), sent as IP fragments."""
        if len(payload) > (MAX_FRAGMENTED if fragment else MAX_DATAGRAM):
            return -EMSGSIZE
        if not 0 < dport < 65536:
            return -EINVAL
        hop, err = self.stack.route(dst)
        if hop is None:
            return err
        ident = pid if pid is not None else next(self.stack.ids)
        self.iface.PacketSend(P.UdpDatagram(ident, self.stack.address, dst, sport, dport, memoryview(payload), None))
        return 0

    def _send(self, d: P.UdpDatagram) -> None:
        """UDP.PacketSend's intrinsic handler: header, checksum, to IP."""
        self.stack.counters["udp out"] += 1
        self.stack.sal.charge(costs.NET_LAYER + costs.CHECKSUM_PER_8 * (len(d.payload) // 8 + 2))
        self.stack.ip_send(d.dst, P.PROTO_UDP, P.udp(d.src, d.dst, d.src_port, d.dst_port, d.payload),
                           fragment=len(d.payload) > MAX_DATAGRAM)  # only send(fragment=True) lets one through  # fmt: skip

    def send_view(self, src_port: int, dst: str, dst_port: int, data: bytes) -> int:
        """UDP.Send(src_port, dst, dst_port, data) for kernel code."""
        if not isinstance(dst, str) or not isinstance(data, (bytes, bytearray, memoryview)):
            raise SpinError("UDP.Send(src_port, dst, dst_port, data): ports as ints, dst as 'a.b.c.d', data as bytes")
        return self.send(int(src_port), dst, int(dst_port), bytes(data))


class _ExtensionUdp:
    """UDP as one extension sees it: Listen claims a port for the extension's
    handler; Send sends. Events come through the facade."""

    __name__ = "UDP"

    def __init__(self, udp: Udp, ext: Any) -> None:
        self._udp = udp
        self._ext = ext
        self._ports: set[int] = set()

    def Send(self, src_port: Any, dst: Any, dst_port: Any, data: Any) -> int:  # noqa: N802
        if authority.RAISE not in self._ext.rights and src_port not in self._ports:
            raise SpinError(f"{self._ext.name}: UDP.Send: source port {shown(src_port)} is not one this extension "
                            f"listens on (a user's extension sends only from its own ports)")  # fmt: skip
        return self._udp.send_view(src_port, dst, dst_port, data)

    def Listen(self, port: Any, handler: Any) -> Any:  # noqa: N802
        """Claim ``port``: ``handler(datagram)`` runs for each datagram to it."""
        if not isinstance(port, int) or not callable(handler):
            raise SpinError(f"{self._ext.name}: UDP.Listen(port, handler) takes a port number and a function")
        if len(self._ports) >= PORTS_PER_EXTENSION:
            raise SpinError(f"{self._ext.name}: UDP.Listen: at most {PORTS_PER_EXTENSION} ports an extension")
        ep = self._udp.bind(port, self._ext.name, handler, ext=self._ext)
        if isinstance(ep, int):
            what = "is in use" if ep == -EADDRINUSE else "is not a port number"
            raise SpinError(f"{self._ext.name}: UDP.Listen: port {port} {what}")
        self._ports.add(port)
        return capability.wrap(ep.binding, "binding")
