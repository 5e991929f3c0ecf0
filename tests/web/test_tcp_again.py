"""``conn.Again()`` (kernel/net/tcp_ext.py): a handler asks to be called once
more although nothing changed on its connection. Asked for, it comes; a
handler that asks on every call is called again and again but cannot stop
the network thread: another connection is still served, virtual time goes
on, and several asks in one call make one call again."""

from __future__ import annotations

from typing import Any

from kernel.net import endpoints as E
from kernel.net.topology import Network

SRC = """
from spin import TCP
calls = 0
agains = 0
spinning = []
def on(conn):
    global calls, agains
    calls += 1
    if conn.Id() in spinning:  # keep asking for ever, three times a call
        conn.Again()
        conn.Again()
        conn.Again()
        agains += 1
        return
    data = conn.Recv(1)  # one byte a call: the rest stays in the receive buffer, no news for it
    if data is None:
        return
    if data == b"":
        conn.Close()
        return
    if data == b"!":
        spinning.append(conn.Id())
        conn.Again()
        return
    conn.Send(data)
    if data != b".":
        conn.Again()
def init():
    TCP.Listen(7100, on)
"""


def _client(net: Network, b: Any, data: bytes, want: int, out: dict[str, Any]) -> None:
    def run() -> None:
        c = E._connect(b, "10.0.0.1", 7100, "client")
        assert not isinstance(c, int)
        E._send_all(b, c, data)
        got = b""
        while len(got) < want:
            more = E._recv(b, c, 65536)
            if isinstance(more, int) or not more:
                break
            got += more
        out["got"] = got
        out["conn"] = c

    b.sched.fork(run, name="client")


def test_again_drains_what_the_handler_left_unread() -> None:
    net = Network(2)
    a, b = net.hosts
    a.system.load(SRC, "again_tcp.py", importer="root")
    out: dict[str, Any] = {}
    _client(net, b, b"abcdefghij", 10, out)
    assert net.run_until(lambda: "got" in out, 2_000_000)
    assert out["got"] == b"abcdefghij"  # one byte a call: nine of the ten came from Again


def test_a_handler_that_always_asks_again_does_not_stop_the_network() -> None:
    net = Network(2)
    a, b = net.hosts
    ext = a.system.load(SRC, "again_tcp.py", importer="root")
    spinner: dict[str, Any] = {}
    _client(net, b, b"!", 1, spinner)  # never answered: its handler asks again on every call
    net.run_us(20_000)
    assert ext.namespace["agains"] > 10  # it is being called again
    t0, calls0 = a.sal.now, ext.namespace["calls"]
    out: dict[str, Any] = {}
    _client(net, b, b"xyz.", 4, out)
    assert net.run_until(lambda: "got" in out, 2_000_000)
    assert out["got"] == b"xyz."  # another connection is served meanwhile
    assert a.sal.now > t0 and ext.namespace["calls"] > calls0  # the spinner still turns, and time goes on
    # three asks in a call make one call again: never more than one waits in the network thread's queue
    assert sum(1 for item in a.net.queue if type(item).__name__ == "_Call") <= 1
    assert a.net.counters["net thread rests (input beyond a batch)"] > 0  # it rested between batches
    assert not a.sched.failures and a.machine.halt_reason is None
