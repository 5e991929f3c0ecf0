"""TCP for extensions: ``TCP.Listen(port, handler)`` and connection handles
(extensions/web_server.py, the SPIN web server of SOSP'95 §5.4, runs on it).

An extension gets connections, never the engine's control blocks: each is
a ``Conn``, a capability handle (kernel/sys/capability.py) whose one
object slot the verifier keeps it from reading, with the calls
``Recv Send Pending Close Abort Peer Id Closed Again``. Its handler runs in the
network thread under its own fuel, the way UDP.Listen's do
(kernel/net/udp.py): the TCP module installs the binding itself on the
event ``TCP.Ready``, guarded by the port (``port == P``, indexed), with
``creator=ext, trusted=False`` -- so a fault or a runaway loop is
contained, charged and reported by the dispatcher. Only ``TCP.Listen``
installs on ``TCP.Ready`` (its authorizer says so), so no extension sees
another's connections.

Unlike UDP, the binding is *kept* when the handler faults: a connection
server's fault belongs to one connection, which is aborted (and reported),
and the others go on being served.

The handler is called once the segment that brought the news is wholly
processed (``Tcp.after_input``), never inside the engine, and only when
something changed: the connection was accepted, data arrived, the peer
closed or reset it, or the extension's queued output drained -- or it asked
to be: ``conn.Again()``. A handler that takes a bounded share of what
arrived (the web server's PIPELINE_MAX requests) leaves the rest in its own
buffer, where no news would ever come for it; Again has the handler called
once more. Any number of ``Again()`` calls in one handler call make one call
again, queued behind what the network thread already holds
(``NetStack.defer``): a handler that always asks cannot spin the network
thread, it gets one call per turn, within the thread's batch and rest like
a flood's frames.

``Send`` keeps a reference to the bytes (SPIN passed data by reference,
SOSP'95 §5.3): they are streamed into TCP's send buffer as its window
opens; nothing is copied on the way in. ``Recv`` copies out of the receive
buffer into a new bytes object, and that copy is counted (``stack.copy``)
like the socket layer's. Bounds per extension: ports (TCP_EXT_PORTS), live
connections (TCP_EXT_CONNS), bytes queued (TCP_EXT_QUEUED). When the
connections are all taken, a new one resets the one idle longest, if it has
been idle TCP_EXT_IDLE_EVICT or more (nothing in or out, nothing queued):
slowloris's peers that open connections and say nothing cannot hold a
server shut -- what a header timeout does in Apache or nginx, without a
timer per connection. A user's
extension listens only on ports >= 1024 unless it holds the raise right
(kernel/sys/authority.py: the right to act as the kernel). Unloading the
extension aborts its connections, closes its ports and frees its queues.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.core.sal import EADDRINUSE
from kernel.net import tcp as T
from kernel.params import (
    TCP_EXT_BACKLOG,
    TCP_EXT_CONNS,
    TCP_EXT_IDLE_EVICT,
    TCP_EXT_PORTS,
    TCP_EXT_QUEUED,
    TCP_EXT_RECV_MAX,
)
from kernel.sys import authority, capability, fuel
from kernel.sys.dispatcher import FieldEquals
from kernel.sys.errors import AuthError, SpinError
from kernel.sys.sandbox import shown

if TYPE_CHECKING:
    from kernel.net.stack import Timer
    from kernel.sys.dispatcher import Binding, Event

PRIVILEGED_PORTS = 1024  # below this, only an extension holding the raise right listens (BSD's reserved ports)
_LIVE = (T.SYN_RCVD, T.ESTABLISHED, T.CLOSE_WAIT, T.FIN_WAIT_1, T.FIN_WAIT_2, T.CLOSING, T.LAST_ACK)


def install(tcp: T.Tcp) -> None:
    """Called by Tcp at boot: SpinPublic's TCP becomes a per-extension view."""
    service = TcpService(tcp)
    tcp.after_input.append(service.drain)
    tcp.stack.k.system.public.exports["TCP"] = lambda ext: ExtensionTcp(service, ext)
    tcp.ext_service = service  # type: ignore[attr-defined]
    # The web server (extensions/web_server.py) is what needs these, and it needs a network: offered with
    # it, a kernel without one keeps the SpinPublic it had (the boot tour's golden lists it).
    from kernel import inspect_ext
    from kernel.fs import files_ext

    inspect_ext.install(tcp.stack.k)
    files_ext.export_none(tcp.stack.k)  # a disk mounted at boot has exported the real Files already


class Conn(capability.Handle):
    """A connection as an extension holds it (opaque: the record is in ``_obj``)."""

    __slots__ = ()

    @property
    def port(self) -> int:
        """The local port: what TCP.Ready's guard compares."""
        return int(self._rec().port)

    def _rec(self) -> _Record:
        return capability.unwrap(self, "tcp connection")

    def Recv(self, n: Any = TCP_EXT_RECV_MAX) -> bytes | None:  # noqa: N802 - SPIN's names
        return self._rec().recv(n)

    def Send(self, data: Any) -> int:  # noqa: N802
        return self._rec().send(data)

    def Pending(self) -> int:  # noqa: N802
        return self._rec().queued

    def Close(self) -> None:  # noqa: N802
        self._rec().close()

    def Abort(self) -> None:  # noqa: N802
        self._rec().abort()

    def Peer(self) -> tuple[str, int]:  # noqa: N802
        r = self._rec()
        return (r.tcb.raddr, r.tcb.rport)

    def Id(self) -> int:  # noqa: N802
        return self._rec().id

    def Again(self) -> None:  # noqa: N802
        """Call the handler once more for this connection, after the news already waiting."""
        r = self._rec()
        r.view.service.stack.sal.charge(costs.TCP_EXT_OP)
        r.view.service.again(r)

    def Closed(self) -> bool:  # noqa: N802
        r = self._rec()
        return r.dead or r.closing or r.tcb.state not in (T.ESTABLISHED, T.CLOSE_WAIT, T.SYN_RCVD)

    def __repr__(self) -> str:
        return "<tcp connection handle>"


class _Record:
    """The kernel's side of one extension connection."""

    def __init__(self, view: ExtensionTcp, tcb: T.Tcb, ident: int) -> None:
        self.view = view
        self.tcb = tcb
        self.id = ident
        self.port = tcb.lport
        self.out: deque[memoryview] = deque()  # references to what Send was given, not yet in TCP's buffer
        self.queued = 0
        self.closing = False  # Close was called: FIN once the queue is in TCP
        self.dead = False  # over: closed, reset, aborted; out of the extension's count
        self.self_aborted = False
        self.last: tuple[int, ...] | None = None  # what the handler last saw (see signature)
        self.asked = False  # Again() was called during the handler's call now running
        self.again_queued = False  # a call again is in the network thread's queue
        self.rerun = False  # the next delivery calls the handler even if nothing changed (Again)
        self.active = view.service.stack.now  # the last news, Send or Recv with bytes (idle eviction)
        self.handle = Conn(self, "tcp connection")

    @property
    def who(self) -> str:
        return f"{self.view.ext.name}: TCP connection {self.id}"

    def signature(self) -> tuple[int, ...]:
        t = self.tcb
        return (len(t.rcvbuf), int(t.eof), _LIVE.index(t.state) if t.state in _LIVE else -1, t.error,
                int(self.queued == 0), int(self.dead))  # fmt: skip

    # --- what the extension calls ---------------------------------------------------------

    def recv(self, n: Any) -> bytes | None:
        if type(n) is not int or n <= 0:
            raise SpinError(f"{self.who}: Recv(n): n is a positive number of bytes, not {shown(n)}")
        stack = self.view.service.stack
        stack.sal.charge(costs.TCP_EXT_OP)
        got = self.tcb.recv(min(n, TCP_EXT_RECV_MAX))
        if got is None:
            return None if not self.dead else b""
        if isinstance(got, int):  # reset: the stream ends here
            return b""
        if got:
            self.active = stack.now
            stack.sal.charge(costs.BYTE_COPY_PER_8 * (len(got) // 8 + 1))
            stack.copy(0, len(got), f"{self.view.ext.name}: TCP.Recv out of the receive buffer")
        return got

    def send(self, data: Any) -> int:
        if isinstance(data, bytearray):  # mutable: keep a copy, not what the extension may change
            data = bytes(data)
            self.view.service.stack.copy(0, len(data), f"{self.view.ext.name}: TCP.Send of a bytearray")
        if type(data) is not bytes:
            raise SpinError(f"{self.who}: Send(data): data is bytes, not {shown(data)}")
        if self.dead or self.closing or self.tcb.state not in (T.ESTABLISHED, T.CLOSE_WAIT):
            raise SpinError(f"{self.who}: Send after the connection was closed ({self.tcb.state.lower()})")
        v = self.view
        if v.queued + len(data) > TCP_EXT_QUEUED:
            raise SpinError(f"{self.who}: Send: {v.queued + len(data):,} bytes queued would pass the bound of "
                            f"{TCP_EXT_QUEUED:,} an extension (wait for the queue to drain: the handler is "
                            f"called when it has)")  # fmt: skip
        v.service.stack.sal.charge(costs.TCP_EXT_OP)
        if data:
            self.active = v.service.stack.now
            self.out.append(memoryview(data))  # a reference, not a copy
            self.queued += len(data)
            v.queued += len(data)
            self.pump()
        return len(data)

    def close(self) -> None:
        if self.dead or self.closing:
            return
        self.closing = True
        self.pump()

    def abort(self) -> None:
        if self.dead:
            return
        self.self_aborted = True
        self.tcb.abort()
        self.finish()

    # --- the kernel's side --------------------------------------------------------------------

    def pump(self) -> None:
        """Hand queued references to TCP as its send buffer has room; FIN after the last."""
        t = self.tcb
        while self.out:
            head = self.out[0]
            n = t.send(head)
            if n < 0:  # the connection failed: what is queued will never go
                self.drop_queue()
                break
            if n == 0:
                break
            self.queued -= n
            self.view.queued -= n
            if n < len(head):
                self.out[0] = head[n:]
            else:
                self.out.popleft()
        if self.closing and not self.out and not self.dead:
            t.close()
        if self.closing and t.rcvbuf and not self.dead:
            # A lingering close: what the peer still sends after Close is read and dropped, so the
            # window never stays shut and the peer can finish (RFC 1122 §4.2.2.13 says a RST may
            # show the data was lost, but a RST can destroy the answer queued before it; Apache
            # lingers for the same reason). A server that closed on a 100 KB header left the peer
            # probing a zero window for ever.
            self.view.service.discarded += len(t.rcvbuf)
            t.rcvbuf.clear()
            t.tcp.window_update(t)

    def drop_queue(self) -> None:
        self.view.queued -= self.queued
        self.queued = 0
        self.out.clear()

    def finish(self) -> None:
        """The connection is over for the extension: out of its count, its queue freed."""
        if self.dead:
            return
        self.dead = True
        self.drop_queue()
        self.view.conns.pop(self.id, None)
        self.tcb.on_event = None


class TcpService:
    """The TCP module's side of every extension's connections on one host."""

    def __init__(self, tcp: T.Tcp) -> None:
        self.tcp = tcp
        self.stack = tcp.stack
        self.event: Event | None = None  # TCP.Ready, defined when an extension first listens
        self.news: dict[int, _Record] = {}  # connections with something to tell, in order of arrival
        self.draining = False
        self.ids = itertools.count(1)
        self._key = object()  # only TCP.Listen's installs carry it (TCP.Ready's authorizer)
        self.refused = 0  # connections reset for an extension at its bound
        self.evicted = 0  # idle connections reset to make room (_evict_idle)
        self.discarded = 0  # bytes that arrived after an extension's Close, read and dropped
        self.timer: Timer | None = None  # a drain the network thread owes (news while an extension ran)
        self.calling: _Record | None = None  # the connection whose handler is running (deliver)

    def ready_event(self) -> Event:
        if self.event is None:
            d = self.stack.k.dispatcher
            self.event = d.define(self.tcp.iface, "Ready", self._unclaimed, self, policy="keep")
            d.install_authorizer(self.event, self._authorize, self)
        return self.event

    def _authorize(self, b: Binding, key: Any) -> bool:
        if b.trusted or key is self._key:
            return True
        raise AuthError(f"{b.owner}: cannot install a handler on TCP.Ready: TCP.Listen installs it, for the "
                        f"listener's own port (a connection's news is for the extension that owns it)")  # fmt: skip

    def _unclaimed(self, conn: Conn) -> None:
        """TCP.Ready's intrinsic: nothing to do (the extension's binding handles its port)."""

    def post(self, rec: _Record) -> None:
        """``Tcb.on_event`` of an extension's connection: note the news, and
        deliver it now unless the engine is mid-segment or a handler is
        running (then at the end of that)."""
        self.news[rec.id] = rec
        rec.active = self.stack.now
        if self.draining or self.tcp.inputting:
            return
        if rec.view.ext.namespace.get(fuel.FUEL_NAME, fuel.EMPTY) is not fuel.EMPTY:
            # the extension is running (a disk completion's handler aborted a connection, say):
            # never call into it again from inside itself; the news waits for the network thread
            if self.timer is None:
                self.timer = self.stack.timer(1, self._timer_drain)
            return
        self.drain()

    def again(self, rec: _Record) -> None:
        """``Conn.Again``: from inside the connection's handler, queued when
        it returns (``deliver``); from elsewhere (a disk completion), now."""
        if self.calling is rec:
            rec.asked = True
            return
        if rec.dead or rec.again_queued:
            return
        rec.again_queued = True
        self.stack.defer(lambda: self._rerun(rec))

    def _rerun(self, rec: _Record) -> None:
        """The network thread reached a call again: deliver it like news."""
        rec.again_queued = False
        if rec.dead:
            return
        rec.rerun = True
        self.news[rec.id] = rec
        if not self.draining and not self.tcp.inputting:
            self.drain()

    def _timer_drain(self) -> None:
        self.timer = None
        self.drain()

    def drain(self) -> None:
        """Call each connection's handler for the news waiting (``after_input``)."""
        if self.draining or not self.news:
            return
        self.draining = True
        try:
            while self.news:
                ident = next(iter(self.news))
                rec = self.news.pop(ident)
                self.deliver(rec)
        finally:
            self.draining = False

    def deliver(self, rec: _Record) -> None:
        """Pump the connection's queue, then call its handler if anything changed."""
        if not rec.dead:
            rec.pump()
            if rec.tcb.state in (T.CLOSED, T.TIME_WAIT):
                rec.finish()
        v = rec.view
        b = v.bindings.get(rec.port)
        if not v.ext.loaded or rec.self_aborted or b is None or not b.installed:
            return
        sig = rec.signature()
        if sig == rec.last and not rec.rerun:
            return
        rec.rerun = False
        before = b.faulted
        b.faulted = None
        ev = self.ready_event()
        outer, self.calling = self.calling, rec
        try:
            getattr(ev.interface, ev.attr)(rec.handle)  # the dispatch: guard port == P, the handler contained
        finally:
            self.calling = outer
        failed = b.faulted
        if failed is None:
            b.faulted = before
        rec.last = rec.signature()
        if rec.asked:
            rec.asked = False
            if not failed:
                self.again(rec)  # one call again, queued behind what the network thread holds
        if failed and not rec.dead:
            v.faults += 1
            self.stack.k.dispatcher.report(f"{rec.who} from {rec.tcb.raddr}:{rec.tcb.rport} aborted: its "
                                           f"handler {failed}")  # fmt: skip
            rec.abort()

    def accept(self, v: ExtensionTcp, lst: T.Tcb) -> None:
        """A listener's ``on_event``: take what completed the handshake."""
        while (t := lst.accept()) is not None:
            if v.ext.loaded and len(v.conns) >= TCP_EXT_CONNS:
                self._evict_idle(v)
            if not v.ext.loaded or len(v.conns) >= TCP_EXT_CONNS:
                self.refused += 1
                v.refused += 1
                t.abort()
                continue
            rec = _Record(v, t, next(self.ids))
            v.conns[rec.id] = rec
            t.on_event = lambda _t, rec=rec: self.post(rec)
            self.post(rec)

    def _evict_idle(self, v: ExtensionTcp) -> None:
        """Make room: reset the connection idle longest, if long enough."""
        idle = [r for r in v.conns.values() if not r.dead and r.queued == 0 and not r.tcb.sndbuf]
        if not idle:
            return
        victim = min(idle, key=lambda r: (r.active, r.id))
        if self.stack.now - victim.active < TCP_EXT_IDLE_EVICT:
            return
        self.evicted += 1
        v.evicted += 1
        self.stack.k.dispatcher.report(f"{victim.who} from {victim.tcb.raddr}:{victim.tcb.rport} reset: idle "
                                       f"longest while all {TCP_EXT_CONNS} connections were taken")  # fmt: skip
        victim.tcb.abort()
        victim.finish()
        self.post(victim)  # its handler hears the reset (Closed) and forgets the connection


class ExtensionTcp:
    """TCP as one extension sees it: Listen, plus the interface's events."""

    __name__ = "TCP"

    def __init__(self, service: TcpService, ext: Any) -> None:
        self.service = service
        self.ext = ext
        self.listeners: dict[int, T.Tcb] = {}
        self.bindings: dict[int, Binding] = {}
        self.conns: dict[int, _Record] = {}
        self.queued = 0
        self.faults = self.refused = self.evicted = 0
        ext.releases.append(self.release)

    def Listen(self, port: Any, handler: Any) -> capability.Handle:  # noqa: N802
        """Claim ``port``: ``handler(conn)`` runs whenever a connection to it has news."""
        name = self.ext.name
        if type(port) is not int or not callable(handler):
            raise SpinError(f"{name}: TCP.Listen(port, handler) takes a port number and a function, "
                            f"not {shown(port)}, {shown(handler)}")  # fmt: skip
        if not self.ext.loaded:
            raise SpinError(f"{name}: unloaded; it can listen on no port")
        if not 0 < port < 65536:
            raise SpinError(f"{name}: TCP.Listen: {port} is not a port number (1..65535)")
        if port < PRIVILEGED_PORTS and authority.RAISE not in self.ext.rights:
            raise SpinError(f"{name}: TCP.Listen: port {port} is below {PRIVILEGED_PORTS}: a user's extension "
                            f"listens on ports >= {PRIVILEGED_PORTS} (load it as the machine's owner for {port})")  # fmt: skip
        if len(self.listeners) >= TCP_EXT_PORTS:
            raise SpinError(f"{name}: TCP.Listen: at most {TCP_EXT_PORTS} TCP ports an extension")
        s = self.service
        lst = s.tcp.listen(port, TCP_EXT_BACKLOG, name)
        if isinstance(lst, int):
            what = "is in use" if lst == -EADDRINUSE else "is not a port number"
            raise SpinError(f"{name}: TCP.Listen: port {port} {what}")
        d = s.stack.k.dispatcher
        try:
            b = d.install_handler(s.ready_event(), handler, FieldEquals(0, "port", port), owner=name, creator=self.ext,
                                  trusted=False, namespace=self.ext.namespace, key=s._key)  # fmt: skip
        except SpinError:
            lst.close()
            raise
        self.ext.bindings.append(b)
        lst.on_event = lambda _t: s.accept(self, lst)
        self.listeners[port] = lst
        self.bindings[port] = b
        return capability.wrap(b, "binding")

    def release(self) -> None:
        """The extension is unloaded: abort its connections, close its ports."""
        for rec in list(self.conns.values()):
            rec.abort()
        for lst in self.listeners.values():
            lst.on_event = None
            lst.close()
        self.listeners.clear()
        self.bindings.clear()
