"""kernel/net/relay.py, the kernel half of the host bridge, without any host
socket: back-pressure both ways, half-close from either end, resets and
refusals as plain values, and ``busy``/``next_activity`` over a world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kernel import inspect
from kernel.core.costs import CLOCK_MHZ
from kernel.core.sal import ECONNREFUSED, ECONNRESET, EPIPE
from kernel.kernel import Kernel
from kernel.net import endpoints as E
from kernel.net import relay
from kernel.net import tcp as T
from kernel.net.topology import Network
from kernel.params import TCP_RCVBUF, TCP_SNDBUF


class Peer:
    """A scripted in-kernel server on one host: accepts connections on
    ``port``, runs ``on_accept`` on each, and reads all that arrives."""

    def __init__(self, k: Kernel, port: int, on_accept: Callable[[T.Tcb], None] = lambda c: None) -> None:
        assert k.net is not None
        lst = k.net.tcp.listen(port, 4, "test peer")
        assert isinstance(lst, T.Tcb)
        self.on_accept = on_accept
        self.conn: T.Tcb | None = None
        self.got = bytearray()
        self.eof = False
        self.error = 0
        lst.on_event = self._accept

    def _accept(self, lst: T.Tcb) -> None:
        while (c := lst.accept()) is not None:
            self.conn = c
            c.on_event = self._event
            self.on_accept(c)
            self._event(c)

    def _event(self, c: T.Tcb) -> None:
        while True:
            d = c.recv(65536)
            if isinstance(d, bytes) and d:
                self.got += d
                continue
            if d == b"":
                self.eof = True
            elif isinstance(d, int):
                self.error = -d
            return


def _world() -> tuple[Network, Kernel, Kernel]:
    net = Network(2)
    server, client = net.hosts
    return net, server, client


def _open(net: Network, client: Kernel, port: int, **kw: Any) -> relay.Relay:
    r = relay.connect(client, net.addresses[0], port, "test relay", **kw)
    assert isinstance(r, relay.Relay), r
    return r


def _take_all(net: Network, r: relay.Relay, limit_us: float = 5_000_000) -> bytes:
    got = bytearray()

    def done() -> bool:
        while d := r.take(65536):
            got.extend(d)
        return r.eof or bool(r.reset)

    assert net.run_until(done, limit_us), f"no end of stream: {r.state}, {len(got)} bytes"
    return bytes(got)


def test_push_waits_for_the_handshake_and_then_takes_what_fits() -> None:
    net, server, client = _world()
    Peer(server, 80)
    r = _open(net, client, 80)
    assert r.opening and not r.writable
    assert r.push(b"early") == 0, "bytes queued before the connection was synchronized"
    assert net.run_until(lambda: not r.opening)
    assert r.state == T.ESTABLISHED and r.writable
    blob = bytes(range(256)) * (2 * TCP_SNDBUF // 256)
    n = r.push(blob)
    assert n == TCP_SNDBUF and r.room == 0
    assert r.push(blob[n:]) == 0, "a full send buffer took more"


def test_back_pressure_through_an_echo_server_that_we_do_not_read() -> None:
    """Nobody takes: the echo server's replies fill our receive window, its
    sends stall, it stops reading, and our pushes stop fitting. Then every
    byte comes back in order."""
    net, server, client = _world()
    server.sched.fork(E.tcp_echo_server, server, 7, {}, name="echo")
    r = _open(net, client, 7)
    data = bytes((i * 31) & 0xFF for i in range(1 << 20))
    sent = 0

    def push() -> bool:
        nonlocal sent
        sent += max(0, r.push(data[sent:]))
        return False

    net.run_until(push, 3_000_000)  # three virtual seconds with nothing taken
    assert r.pending <= TCP_RCVBUF
    assert r.pending > 0, "nothing came back at all"
    assert sent < len(data) // 2, f"{sent} bytes pushed while nobody read: no back-pressure"
    assert r.push(data[sent:]) == 0
    got = bytearray()

    def pump() -> bool:
        nonlocal sent
        if sent < len(data):
            sent += max(0, r.push(data[sent:]))
            if sent == len(data):
                r.close()
        while d := r.take(65536):
            got.extend(d)
        return r.eof or bool(r.reset)

    assert net.run_until(pump, 60_000_000), f"{len(got)} of {len(data)} bytes back"
    assert bytes(got) == data and r.eof and not r.reset


def test_our_half_close_reaches_the_peer_and_its_fin_ends_our_stream() -> None:
    net, server, client = _world()
    served: dict[str, int] = {}
    server.sched.fork(E.tcp_echo_server, server, 7, served, name="echo")
    r = _open(net, client, 7)
    assert net.run_until(lambda: r.writable)
    assert r.push(b"hello, half-closed world") == 24
    r.close()
    assert r.push(b"more") == -EPIPE, "bytes taken after close"
    assert _take_all(net, r) == b"hello, half-closed world"
    assert r.eof and not r.reset and r.take(10) == b""
    assert served.get("served") == 1 and not served.get("errors")
    assert net.run_until(lambda: r.gone, 2_000_000), r.state  # TIME-WAIT's 2 MSL, then forgotten


def test_the_peers_half_close_leaves_our_direction_open() -> None:
    """The server sends a banner and its FIN first (CLOSE_WAIT here): we see
    the end of its stream and may still push, and our close ends it."""
    net, server, client = _world()

    def banner(c: T.Tcb) -> None:
        c.send(b"banner")
        c.close()

    peer = Peer(server, 25, banner)
    r = _open(net, client, 25)
    assert _take_all(net, r) == b"banner" and r.eof
    assert r.state == T.CLOSE_WAIT and r.writable
    assert r.push(b"late words") == 10
    assert net.run_until(lambda: bytes(peer.got) == b"late words"), bytes(peer.got)
    assert not peer.eof
    r.close()
    assert net.run_until(lambda: peer.eof and r.gone), (peer.eof, r.state)
    assert not r.reset and not peer.error


def test_refusal_is_a_reset_value_and_no_exception() -> None:
    net, _, client = _world()
    r = _open(net, client, 9)  # nothing listens
    assert _take_all(net, r) == b""
    assert r.reset == ECONNREFUSED and not r.eof and r.gone
    assert r.push(b"x") == -ECONNREFUSED


def test_a_peer_reset_comes_after_the_data_before_it() -> None:
    net, server, client = _world()

    def send_and_reset(c: T.Tcb) -> None:
        c.send(b"partial answer")
        c.abort()

    Peer(server, 80, send_and_reset)
    r = _open(net, client, 80)
    assert _take_all(net, r) == b"partial answer"
    assert r.reset == ECONNRESET and not r.eof
    assert r.push(b"x") == -ECONNRESET


def test_our_abort_resets_the_peer() -> None:
    net, server, client = _world()
    peer = Peer(server, 80)
    r = _open(net, client, 80)
    assert net.run_until(lambda: peer.conn is not None and r.writable)
    r.abort()
    assert r.gone
    assert net.run_until(lambda: peer.error == ECONNRESET), peer.error


def test_on_change_is_called_with_the_relay_on_news() -> None:
    net, server, client = _world()
    server.sched.fork(E.tcp_echo_server, server, 7, {}, name="echo")
    seen: list[tuple[str, int]] = []
    r = _open(net, client, 7, on_change=lambda rl: seen.append((rl.state, rl.pending)))
    assert net.run_until(lambda: r.writable)
    assert seen and seen[0][0] == T.ESTABLISHED, seen  # the handshake finished
    r.push(b"ping")
    assert net.run_until(lambda: r.pending == 4)
    assert any(p == 4 for _, p in seen), seen


def test_no_network_is_an_errno() -> None:
    net, _, client = _world()
    assert relay.networked(client)
    bad = relay.connect(client, "10.9.9.9", 0, "test relay")
    assert isinstance(bad, int) and bad < 0


def _settle(net: Network) -> None:
    assert net.run_until(lambda: not relay.busy(net), 10_000_000), "the world never went idle"


def test_busy_while_frames_are_in_flight_and_idle_after() -> None:
    net, server, client = _world()
    _settle(net)
    assert not relay.busy(net)
    nxt = relay.next_activity(net)
    assert nxt is None or nxt > net.now + relay.TIMER_HORIZON_US * CLOCK_MHZ
    assert inspect.wire(net).in_flight == 0
    r = _open(net, client, 9)  # the SYN is queued or on the wire now
    assert relay.busy(net) and relay.next_activity(net) == net.now
    seen_in_flight = 0

    def step() -> bool:
        nonlocal seen_in_flight
        if inspect.wire(net).in_flight:
            seen_in_flight += 1
            assert relay.busy(net), "frames on the wire but not busy"
            assert relay.next_activity(net) == net.now
        r.take(10)
        return bool(r.reset)

    assert net.run_until(step, 1_000_000, step_us=20)
    assert seen_in_flight, "never caught a frame on the wire"
    _settle(net)  # the refused SYN leaves no timer behind
    assert not relay.busy(net)
    assert inspect.wire(net).carried >= 2  # the SYN and its RST crossed the wire


def test_a_timer_counts_only_within_the_horizon() -> None:
    """A clean close leaves TIME-WAIT's 2 MSL timer: busy by default, not with a zero horizon."""
    net, server, client = _world()
    served: dict[str, int] = {}
    server.sched.fork(E.tcp_echo_server, server, 7, served, name="echo")
    r = _open(net, client, 7)
    assert net.run_until(lambda: r.writable)
    r.close()
    _take_all(net, r)
    assert net.run_until(lambda: r.state == T.TIME_WAIT and not relay.in_flight(net))
    nxt = relay.next_activity(net)
    assert nxt is not None and net.now < nxt <= net.now + 2 * T.MSL
    assert relay.busy(net)
    assert not relay.busy(net, horizon_us=0)
    assert net.run_until(lambda: r.gone, 1_000_000)
    _settle(net)


@pytest.mark.parametrize("n", [0, 1])
def test_take_of_nothing_is_empty_not_an_error(n: int) -> None:
    net, server, client = _world()
    Peer(server, 80)
    r = _open(net, client, 80)
    assert r.take(n) == b"" and not r.eof and not r.reset
    assert net.run_until(lambda: r.writable)
    assert r.take(n) == b"" and not r.eof and not r.reset
