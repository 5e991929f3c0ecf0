"""Multicast: one datagram down the protocol graph, one copy per client at the driver.

SOSP'95 §5.4: the video server's third extension "registers itself as a
handler on the SendPacket event, transforming the single send into a
multicast to a list of clients. Because each outgoing packet is pushed
through the protocol graph only once, and not once per client stream,
SPIN's server can support a larger number of clients." The extension
(extensions/video_multicast.py) installs the handler on UDP.PacketSend
and calls ``Multicast.Send(datagram, clients)`` from it: the UDP layer's
header and checksum over the payload, the IP layer's and the Ethernet
layer's work are done (and charged, with the same costs as kernel/net/udp.py
and stack.py charge) once; then each client's copy gets its own
addresses written into the headers with the checksums adjusted
incrementally (RFC 1624; costs.MCAST_PATCH), and the driver is handed
the copies in one list (kernel/net/driver.py, transmit_list) -- what
the device does per copy is the driver's cost model: per frame and per
byte on programmed I/O, per frame only on DMA.

A client whose address ARP has not resolved gets its copy the ordinary
way (IP's full path, which resolves it); the copy is counted as such.
Copies are whole frames here (the emulated card takes one buffer per
frame); what is modeled is the work, not Python's bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.net import packet as P
from kernel.net.records import PacketOut
from kernel.params import MULTICAST_CLIENTS
from kernel.sys import authority
from kernel.sys.errors import SpinError
from kernel.sys.sandbox import shown

if TYPE_CHECKING:
    from kernel.kernel import Kernel
    from kernel.net.stack import NetStack


class Multicast:
    """The kernel side; counters for the bench and the tests."""

    def __init__(self, stack: NetStack) -> None:
        self.stack = stack
        self.sends = 0  # datagrams that went down the graph once for their clients
        self.copies = 0  # copies handed to the driver
        self.slow = 0  # copies that took IP's full path (the client's address not yet resolved)

    def send(self, who: str, d: Any, clients: Any, ext: Any = None) -> int:
        """Send datagram ``d`` (one an event passed the caller) to each (address, port) in ``clients``.

        The copies go out with ``d``'s source, so that source must be this
        host, and, for a user's extension, one of its own UDP ports -- what
        UDP.Send asks (kernel/net/udp.py): a datagram a handler was *given*
        (one that arrived from another host, or another extension's or the
        NFS client's on UDP.PacketSend) is not one it may send as."""
        if not isinstance(d, P.UdpDatagram):
            raise SpinError(f"{who}: Multicast.Send: {shown(d)} is not a datagram UDP.PacketSend passed you")
        if d.src != self.stack.address:
            raise SpinError(f"{who}: Multicast.Send: the datagram is from {d.src}, not this host "
                            f"({self.stack.address}): a datagram that arrived is not one to send as its sender")  # fmt: skip
        if ext is not None and authority.RAISE not in ext.rights:
            ep = self.stack.udp.ports.get(d.src_port)
            b = getattr(ep, "binding", None)
            if b is None or b.creator is not ext or not b.installed:
                raise SpinError(f"{who}: Multicast.Send: source port {d.src_port} is not one this extension "
                                f"listens on (a user's extension sends only from its own ports)")  # fmt: skip
        if not isinstance(clients, (list, tuple)) or len(clients) > MULTICAST_CLIENTS:
            raise SpinError(f"{who}: Multicast.Send(datagram, clients): clients is a list of at most "
                            f"{MULTICAST_CLIENTS} (address, port) pairs")  # fmt: skip
        dests: list[tuple[str, int]] = []
        for c in clients:
            ok = isinstance(c, tuple) and len(c) == 2 and isinstance(c[0], str) and type(c[1]) is int
            if ok:
                try:
                    P.ip_aton(c[0])
                except (ValueError, OSError):
                    ok = False
            if not ok or not 0 < c[1] < 65536:
                raise SpinError(f"{who}: Multicast.Send: {shown(c)} is not an (address 'a.b.c.d', port) pair")
            dests.append(c)
        st = self.stack
        if len(d.payload) > P.ETH_MAX - P.ETH_HLEN - P.IP_HLEN - P.UDP_HLEN:
            raise SpinError(f"{who}: Multicast.Send: {len(d.payload)} bytes do not fit one frame")
        if not dests:
            return 0
        # Once: UDP's header and checksum (udp.py's _send), IP's header (stack.py's ip_send and _ip_send),
        # Ether's output bookkeeping.
        st.counters["udp out"] += 1
        st.counters["ip out"] += 1
        st.sal.charge(costs.NET_LAYER + costs.CHECKSUM_PER_8 * (len(d.payload) // 8 + 2))
        st.sal.charge(costs.NET_LAYER + costs.CHECKSUM_PER_8 * 2)
        self.sends += 1
        frames: list[bytes] = []
        slow = 0
        cache = st.arp.cache
        for addr, port in dests:
            st.sal.charge(costs.MCAST_PATCH)
            body = P.udp(d.src, addr, d.src_port, port, d.payload)
            hop, _ = st.route(addr)
            e = cache.entries.get(hop) if hop is not None else None
            if hop is None or e is None or not cache.fresh(e) or addr == st.address:
                slow += 1
                self.slow += 1
                st.counters["multicast copies by IP's full path"] += 1
                st.ip_send(addr, P.PROTO_UDP, body)
                continue
            cache.use(hop)
            data = P.ether(e.mac, st.mac, P.ETH_IP, P.ip(d.src, addr, P.PROTO_UDP, body, next(st.ip_ident)))
            pid = next(st.ids)
            st.k.trace.add(PacketOut(cycle=st.now, packet=pid, frame=data))
            st.counters["frames out"] += 1
            frames.append(data)
        sent = st.driver.transmit_list(frames)
        if sent < len(frames):
            st.counters["Ether: transmit queue full"] += len(frames) - sent
            st.counters["dropped"] += len(frames) - sent
        st.counters["multicast copies"] += len(frames)
        self.copies += len(frames)
        return sent + slow


class _ExtensionMulticast:
    __name__ = "Multicast"

    def __init__(self, m: Multicast, ext: Any) -> None:
        self._m = m
        self._ext = ext

    def Send(self, datagram: Any, clients: Any) -> int:  # noqa: N802 - SPIN's names
        """One copy of ``datagram`` to each (address, port) in ``clients``; how many went."""
        return self._m.send(self._ext.name, datagram, clients, self._ext)


def install_multicast(k: Kernel) -> Multicast:
    """Offer Multicast to extensions on a booted, networked kernel (once)."""
    if k.multicast is not None:
        return k.multicast
    if k.net is None:
        raise SpinError("Multicast needs a networked kernel")
    m = k.multicast = Multicast(k.net)
    k.system.public.exports["Multicast"] = lambda ext: _ExtensionMulticast(m, ext)
    return m
