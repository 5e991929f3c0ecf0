"""The host-socket bridge: real clients (curl, ab, a browser) on 127.0.0.1
reach a server inside the emulated world, and every byte crosses the
emulated wire as real TCP.

Each host connection accepted on the listener becomes a relay
(kernel/net/relay.py): a kernel TCP connection opened from the client
host's stack to the server's address and port; the bridge pumps bytes
between the host socket and the relay, and never drives the kernel's TCP
itself. Back-pressure is the kernel's: ``Relay.push`` takes what fits in
the send buffer, and the bridge reads from the host socket only while its
own buffer toward the kernel is below ``BUFFER``; toward the host, it stops
calling ``Relay.take`` while the host socket is behind, so the kernel's
receive window closes and the server's TCP waits, as it would for a slow
reader. Half-close maps both ways (a host EOF is ``Relay.close``, a FIN from
the server is ``shutdown(SHUT_WR)`` on the host socket) and so do resets
(a host RST aborts the relay; a kernel reset or refusal closes the host
socket with SO_LINGER 0, which sends RST).

Time: the world runs in virtual time only while something is in flight --
bytes in the bridge's buffers, frames on the wire or queued at a host,
or within ``GRACE_US`` of virtual time since the last frame (a disk read,
a strand finishing); then it runs flat out. When all that is left is a
network timer (a zero-window probe of a client that stopped reading, a
retransmission, TIME-WAIT), virtual time keeps pace with host time: the
process sleeps in ``select`` until the timer's moment comes in host seconds,
then runs the world to it -- so a connection stuck probing forever costs
a probe every couple of seconds, not a core. With no timer at all it
blocks in ``select`` with no timeout: an idle bridge costs no host CPU. The world
stays deterministic given the bytes and the moments (in virtual time) they
enter; which virtual moment a host byte enters depends on host timing,
which is the one nondeterminism a real client brings in.

Threads: the world is driven from one thread at a time. Headless, ``run()``
is the only driver. Under the workbench (``spinwb web --tui``) the bridge owns
no loop and no thread: the app calls ``poll(0)`` from a Textual interval timer
on the UI thread, holding the app's machine lock (the one its run worker holds
for each slice), and skips the turn while a slice or a long action has the world.
"""

from __future__ import annotations

import contextlib
import selectors
import signal
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from kernel import inspect
from kernel.core.costs import CLOCK_MHZ
from kernel.kernel import Kernel
from kernel.net import relay
from kernel.net.relay import Relay
from kernel.net.topology import Network

BUFFER = 65536  # bytes the bridge holds per direction per connection before it pushes back
STEP_US = 500  # virtual time per turn of the loop while the world is busy
GRACE_US = 50_000  # keep running this long after the last frame: disk reads, strands finishing
MAX_CONNECTIONS = 512


@dataclass
class Stats:
    """What the bridge counted (the server counts requests itself)."""

    connections: int = 0
    refused: int = 0  # host connections the kernel could not open (reset back to the client)
    resets: int = 0  # connections that ended in a reset, either way
    bytes_in: int = 0  # host -> world
    bytes_out: int = 0  # world -> host
    virtual_us: float = 0.0  # virtual time the world ran
    host_busy_s: float = 0.0  # host time spent running the world


@dataclass(eq=False)
class _Conn:
    sock: socket.socket
    relay: Relay
    peer: str
    to_kernel: bytearray = field(default_factory=bytearray)
    to_host: bytearray = field(default_factory=bytearray)
    host_eof: bool = False  # the host client sent FIN
    kernel_closed: bool = False  # Relay.close called (after host EOF and the buffer drained)
    kernel_eof: bool = False  # the server's FIN arrived
    host_shut: bool = False  # shutdown(SHUT_WR) done on the host socket
    events: int = 0  # the selector events registered


class Bridge:
    """127.0.0.1:``port`` on the host -> ``dst``:``dport`` from ``client``'s
    kernel TCP, on ``net``'s wire. ``port`` 0 picks a free port (see
    ``.port``). ``run()`` serves until ``stop()`` or a signal; or whoever
    drives the world calls ``poll()``, a turn at a time (``spinwb web --tui``)."""

    def __init__(self, net: Network, client: Kernel, dst: str, dport: int = 80, *, host: str = "127.0.0.1",
                 port: int = 0, on_idle: Callable[[], None] | None = None) -> None:  # fmt: skip
        assert relay.networked(client), "the client host needs a network"
        self.net = net
        self.client = client
        self.dst, self.dport = dst, dport
        self.stats = Stats()
        self.on_idle = on_idle  # called each time the world goes idle (tests, a status line)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.host, self.port = self.listener.getsockname()[:2]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self.conns: list[_Conn] = []
        self.stopping = False
        self.signal: int | None = None
        w = inspect.wire(net)
        self._carried = w.carried
        self._last_activity = w.now
        self._timer: tuple[float, int] | None = None  # (host moment, virtual cycle) of the timer waited for

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    # --- stopping ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask ``run()`` to return (safe from a signal handler or another thread)."""
        self.stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def install_signals(self) -> None:
        """SIGINT and SIGTERM stop the loop cleanly instead of raising in the middle of a turn."""

        def handler(signum: int, frame: FrameType | None) -> None:
            self.signal = signum
            self.stop()

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def close(self) -> None:
        for c in list(self.conns):
            self._drop(c, reset=True)
        for s in (self.listener, self._wake_r, self._wake_w):
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(s)
            s.close()
        self.sel.close()

    # --- the loop -----------------------------------------------------------------------------------

    def busy(self) -> bool:
        """Whether the world must advance flat out: see the module docstring."""
        w = inspect.wire(self.net)
        if w.carried != self._carried:
            self._carried = w.carried
            self._last_activity = w.now
        if w.in_flight:
            return True
        for c in self.conns:
            r = c.relay
            if (c.to_kernel and r.room > 0) or (c.host_eof and not c.kernel_closed) or r.opening:
                return True
            if r.pending and len(c.to_host) < BUFFER:
                return True
        if w.now - self._last_activity < GRACE_US * CLOCK_MHZ:
            return True
        return relay.in_flight(self.net)

    def _timer_wait(self) -> tuple[float | None, int | None]:
        """(host seconds to sleep, the virtual cycle to run to) when only timers
        are left: one virtual second a host second; (None, None) with none."""
        nxt = relay.next_activity(self.net)
        if nxt is None:
            return None, None
        return max(0.0, (nxt - inspect.wire(self.net).now) / (CLOCK_MHZ * 1e6)), nxt

    def run(self) -> None:
        """Serve until ``stop()``: ``poll()`` with no timeout of its own, so an idle
        world blocks in ``select`` (or sleeps to its next timer) and costs no host CPU."""
        while not self.stopping:
            self.poll(None)

    def poll(self, timeout: float | None = 0.0) -> bool:
        """One turn of the loop: wait in ``select`` at most ``timeout`` host seconds
        (None: as long as the world allows -- not at all while it is busy, until its
        next timer's moment, or for ever), accept and pump the host sockets, and run
        the world a step if it is busy or its timer's moment came. Whether the world ran.

        ``spinwb web --tui`` calls ``poll(0)`` from the workbench's interval timer,
        on the UI thread and under the app's machine lock, so the world is driven
        from one thread at a time (workbench/tui/app.py ``poll``)."""
        if self.stopping:
            return False
        busy = self.busy()
        if busy:
            self._timer = None
            wait: float | None = 0.0
        else:
            seconds, due = self._timer_wait()
            if due is None:
                self._timer = None
            elif self._timer is None or self._timer[1] != due:  # a new timer: its moment in host time from now
                self._timer = (time.monotonic() + seconds, due)
            wait = None if self._timer is None else max(0.0, self._timer[0] - time.monotonic())
            if self.on_idle is not None:
                self.on_idle()
        if timeout is not None:
            wait = timeout if wait is None else min(wait, timeout)
        for key, mask in self.sel.select(wait):
            if key.data == "wake":
                with contextlib.suppress(OSError):
                    self._wake_r.recv(4096)
            elif key.data is None:
                self._accept()
            else:
                self._host_io(key.data, mask)
        if self.stopping:
            return False
        self._pump()
        run_us = 0.0
        if busy or self.busy():
            run_us = STEP_US
        elif self._timer is not None and time.monotonic() >= self._timer[0] - 0.001:  # the timer's moment came
            run_us = max(STEP_US, (self._timer[1] - inspect.wire(self.net).now) / CLOCK_MHZ + 1)
            self._timer = None
        if not run_us:
            return False
        t0 = time.perf_counter()
        self.net.run_us(run_us)
        self.stats.virtual_us += run_us
        self.stats.host_busy_s += time.perf_counter() - t0
        self._pump()
        return True

    # --- host side -----------------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                sock, addr = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EMFILE and the like: leave it in the backlog for now
                return
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                # a fixed send buffer (no autotuning to megabytes): a client that stops reading
                # stops the bridge, and so the kernel's window, within a bounded number of bytes
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)
            if len(self.conns) >= MAX_CONNECTIONS:
                self._reset_host(sock)
                self.stats.refused += 1
                continue
            r = relay.connect(self.client, self.dst, self.dport, "host bridge")
            if isinstance(r, int):  # no port left, no route: the client sees a reset
                self._reset_host(sock)
                self.stats.refused += 1
                continue
            c = _Conn(sock, r, f"{addr[0]}:{addr[1]}")
            self.conns.append(c)
            self.stats.connections += 1
            self._register(c)

    def _register(self, c: _Conn) -> None:
        want = 0
        if not c.host_eof and len(c.to_kernel) < BUFFER:
            want |= selectors.EVENT_READ
        if c.to_host:
            want |= selectors.EVENT_WRITE
        if want == c.events:
            return
        if c.events == 0:
            self.sel.register(c.sock, want, c)
        elif want == 0:
            self.sel.unregister(c.sock)
        else:
            self.sel.modify(c.sock, want, c)
        c.events = want

    def _host_io(self, c: _Conn, mask: int) -> None:
        try:
            if mask & selectors.EVENT_READ and not c.host_eof:
                data = c.sock.recv(BUFFER - len(c.to_kernel))
                if data:
                    c.to_kernel += data
                    self.stats.bytes_in += len(data)
                else:
                    c.host_eof = True
            if mask & selectors.EVENT_WRITE and c.to_host:
                n = c.sock.send(c.to_host)
                del c.to_host[:n]
                self.stats.bytes_out += n
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:  # the host client reset or vanished: so does the kernel connection
            self.stats.resets += 1
            c.relay.abort()
            self._drop(c, reset=True)
            return
        self._register(c)

    @staticmethod
    def _reset_host(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    def _drop(self, c: _Conn, reset: bool = False) -> None:
        if c in self.conns:
            self.conns.remove(c)
        if c.events:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(c.sock)
            c.events = 0
        if reset:
            self._reset_host(c.sock)
        else:
            c.sock.close()

    # --- kernel side ---------------------------------------------------------------------------------

    def _pump(self) -> None:
        """Move bytes between each connection's buffers and its relay."""
        for c in list(self.conns):
            self._pump_one(c)

    def _pump_one(self, c: _Conn) -> None:
        r = c.relay
        if c.to_kernel and r.writable:
            n = r.push(bytes(c.to_kernel[:BUFFER]))
            if n > 0:
                del c.to_kernel[:n]
            elif n < 0:
                c.to_kernel.clear()  # the server stopped reading (EPIPE) or reset: what was left is lost
        if c.host_eof and not c.to_kernel and not c.kernel_closed and not r.opening:
            c.kernel_closed = True
            r.close()
        reset = False
        while not c.kernel_eof and len(c.to_host) < BUFFER:
            d = r.take(BUFFER - len(c.to_host))
            if not d:
                if r.reset:  # reset or refused, after the data that came before it
                    reset = True
                elif r.eof:
                    c.kernel_eof = True
                break
            c.to_host += d
        if c.to_host:
            try:
                n = c.sock.send(c.to_host)
                del c.to_host[:n]
                self.stats.bytes_out += n
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self.stats.resets += 1
                r.abort()
                self._drop(c, reset=True)
                return
        if reset:
            self.stats.resets += 1
            if not c.kernel_closed:
                c.kernel_closed = True
            self._drop(c, reset=True)
            return
        if c.kernel_eof and not c.to_host and not c.host_shut:
            c.host_shut = True
            with contextlib.suppress(OSError):
                c.sock.shutdown(socket.SHUT_WR)
        if c.kernel_eof and c.host_shut and c.host_eof:
            if not c.kernel_closed:
                c.kernel_closed = True
                r.close()
            self._drop(c)
            return
        if c.kernel_eof and c.host_shut and r.gone:
            self._drop(c)
            return
        self._register(c)

    def summary(self) -> dict[str, Any]:
        s = self.stats
        return {"connections": s.connections, "refused": s.refused, "resets": s.resets, "bytes_in": s.bytes_in,
                "bytes_out": s.bytes_out, "virtual_ms": round(s.virtual_us / 1000, 1),
                "host_busy_s": round(s.host_busy_s, 3)}  # fmt: skip
