"""A host connection's twin in a kernel: what the host-socket bridge
(workbench/web/bridge.py) holds for each real client, so that the UI side
never drives the kernel's TCP itself (the layering of ARCHITECTURE.md: the
workbench reads and steers the kernel through narrow APIs, not its internals).

``connect`` opens a connection from a kernel's own TCP (kernel/net/tcp.py
``Tcp.connect``, the way kernel/net/http_client.py's client does) to
``dst:port``. The ``Relay`` it returns carries bytes both ways with the
kernel's back-pressure: ``push`` takes what fits in the send buffer and says
how much; ``take`` hands over what arrived in order, and bytes left untaken
keep the receive window closed, so the peer's TCP waits as it would for a
slow reader (RFC 9293 §3.8.6). ``close`` half-closes (FIN after what was
pushed), ``abort`` resets (RFC 9293 §3.10.5); the stream's end and a reset
show as plain values (``eof``, ``reset``) once ``take`` has reached them.
``on_change`` is called in the network thread whenever the connection has
news (the handshake, data, room, FIN, reset).

``busy(net)`` and ``next_activity(net)`` answer the bridge's other question,
whether the world must keep running: frames on the wire or queued at a
host, or network timers (retransmission, persist, TIME-WAIT) due soon.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kernel.core.costs import CLOCK_MHZ
from kernel.core.sal import ENETUNREACH, EPIPE
from kernel.net import tcp as T
from kernel.params import TCP_SNDBUF

if TYPE_CHECKING:
    from kernel.kernel import Kernel
    from kernel.net.topology import Network

TIMER_HORIZON_US = 2_000_000  # a network timer due within this much virtual time counts as "soon"
OPENING = (T.SYN_SENT, T.SYN_RCVD)
WRITABLE = (T.ESTABLISHED, T.CLOSE_WAIT)  # states in which pushed bytes are queued (RFC 9293 §3.10.2)


class Relay:
    """One connection opened for a host client. Plain values only: the
    caller never sees the ``Tcb``."""

    def __init__(self, tcb: T.Tcb, on_change: Callable[[Relay], None] | None = None) -> None:
        self._tcb = tcb
        self.eof = False  # ``take`` reached the end of the stream (the peer's FIN, or the connection is gone)
        self.reset = 0  # ``take`` reached a failure after all data before it: its errno (ECONNRESET, ECONNREFUSED, ...)
        self.closed_by_us = False  # ``close`` was called
        if on_change is not None:
            tcb.on_event = lambda _t: on_change(self)

    # --- plain values ---------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """The RFC 9293 state name ("SYN_SENT", "ESTABLISHED", ..., "CLOSED")."""
        return self._tcb.state

    @property
    def opening(self) -> bool:
        """The handshake has not finished: ``push`` takes nothing yet and ``close`` would abandon the open."""
        return self._tcb.state in OPENING

    @property
    def writable(self) -> bool:
        """``push`` may queue bytes now (the buffer may still be full)."""
        return self._tcb.state in WRITABLE

    @property
    def gone(self) -> bool:
        """The kernel has forgotten the connection (CLOSED): nothing more will happen on it."""
        return self._tcb.state == T.CLOSED

    @property
    def room(self) -> int:
        """Bytes the send buffer has room for (it holds sent-but-unacknowledged bytes too)."""
        return TCP_SNDBUF - len(self._tcb.sndbuf)

    @property
    def pending(self) -> int:
        """Bytes that arrived in order and wait for ``take``."""
        return len(self._tcb.rcvbuf)

    @property
    def local_port(self) -> int:
        return self._tcb.lport

    # --- moving bytes ----------------------------------------------------------------------------

    def push(self, data: bytes | memoryview) -> int:
        """Queue bytes toward the peer: how many fitted (0: the buffer is full
        or the handshake is not done yet, push the rest later), or -errno once
        the connection cannot carry more (EPIPE after ``close`` or the peer's
        reset, the failure's own errno otherwise)."""
        if self._tcb.state in OPENING:
            return 0
        if self._tcb.state not in WRITABLE:
            return -(self._tcb.error or EPIPE)
        return self._tcb.send(data)

    def take(self, n: int) -> bytes:
        """Up to ``n`` bytes that arrived, in order; b"" when there are none
        now. An empty answer may mean the stream ended: then ``eof`` is set
        (the peer's FIN, after every byte before it) or ``reset`` (the errno
        of the failure, after every byte that came before it)."""
        if self.eof or self.reset:
            return b""
        d = self._tcb.recv(n)
        if d is None:
            return b""
        if isinstance(d, int):
            self.reset = -d
            return b""
        if not d:
            self.eof = True
        return d

    def close(self) -> None:
        """Half-close: a FIN follows the bytes already pushed; ``take`` goes on
        until the peer's FIN. While ``opening``, the kernel abandons the open
        (kernel/net/tcp.py ``Tcb.close``): wait for the handshake first."""
        self.closed_by_us = True
        self._tcb.close()

    def abort(self) -> None:
        """Reset the connection (RST to the peer if it was synchronized) and forget it."""
        self._tcb.abort()


def networked(k: Kernel) -> bool:
    """Whether ``k`` has a network stack to open relays from."""
    return k.net is not None


def connect(k: Kernel, dst: str, port: int, owner: str = "host relay",
            on_change: Callable[[Relay], None] | None = None) -> Relay | int:  # fmt: skip
    """A connection from ``k``'s TCP to ``dst:port`` (the SYN is sent now), or
    -errno: no route (EHOSTUNREACH, ENETUNREACH), no ephemeral port left
    (EADDRNOTAVAIL), a bad port (EINVAL)."""
    if k.net is None:
        return -ENETUNREACH
    t = k.net.tcp.connect(dst, port, owner)
    if isinstance(t, int):
        return t
    return Relay(t, on_change)


# --- whether the world is busy ----------------------------------------------------------------------


def in_flight(net: Network) -> bool:
    """Frames on the wire, or waiting in a host's network queue (interrupts, packets, timer runs)."""
    if net.wire.in_flight:
        return True
    return any(k.net is not None and k.net.queue for k in net.hosts)


def busy(net: Network, horizon_us: float = TIMER_HORIZON_US) -> bool:
    """Whether anything in the network is in flight or due within ``horizon_us`` of virtual time."""
    if in_flight(net):
        return True
    horizon = net.now + horizon_us * CLOCK_MHZ
    for k in net.hosts:
        if k.net is not None and any(not t.cancelled and at <= horizon for at, _, t in k.net.timers):
            return True
    return False


def next_activity(net: Network) -> int | None:
    """The virtual cycle at which the network next has something to do: now
    while frames are in flight or queued, else the earliest live network
    timer's; None when nothing is pending at all."""
    if in_flight(net):
        return net.now
    due = [at for k in net.hosts if k.net is not None for at, _, t in k.net.timers if not t.cancelled]
    return min(due) if due else None
