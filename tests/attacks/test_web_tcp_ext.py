"""Attacks on TCP for extensions (kernel/net/tcp_ext.py): bad arguments,
privileged ports, too many connections, too much queued, sending after
close, a handler that never returns, snooping on another's connections,
and unloading with connections open. The kernel keeps running and other
connections are still served."""

from __future__ import annotations

from typing import Any

import pytest

from kernel.net import endpoints as E
from kernel.net import tcp_ext
from kernel.net.topology import Network
from kernel.sys.errors import SpinError

ECHO = """
from spin import TCP
echoed = 0
problems = []
def on(conn):
    global echoed
    data = conn.Recv(4096)
    if data is None:
        return
    if data == b"":
        conn.Close()
        return
    if data.startswith(b"loop"):
        while True:
            pass
    if data.startswith(b"close-then-send"):
        conn.Close()
        try:
            conn.Send(b"late")
        except Exception as e:
            problems.append(str(e))
        return
    if data.startswith(b"bad-args"):
        for f in (lambda: conn.Recv(-1), lambda: conn.Recv("x"), lambda: conn.Send("text"), lambda: conn.Send(5)):
            try:
                f()
            except Exception as e:
                problems.append(str(e))
    if data.startswith(b"flood"):
        try:
            for i in range(100):
                conn.Send(bytes(60000))
        except Exception as e:
            problems.append(str(e))
        return
    echoed += len(data)
    conn.Send(data)
def init():
    TCP.Listen(PORT, on)
PORT = 7000
"""


def _world() -> tuple[Network, Any, Any, Any]:
    net = Network(2)
    a, b = net.hosts
    ext = a.system.load(ECHO, "echo_tcp.py", importer="root")
    return net, a, b, ext


def _rtt(net: Network, b: Any, data: bytes, port: int = 7000) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def run() -> None:
        c = E._connect(b, "10.0.0.1", port, "client")
        if isinstance(c, int):
            out["error"], out["done"] = c, True
            return
        E._send_all(b, c, data)
        got = b""
        while True:
            more = E._recv(b, c, 65536)
            if isinstance(more, int) or not more:
                out["end"] = more
                break
            got += more
            if got == data:
                break
        c.close()
        out["got"], out["done"] = got, True

    b.sched.fork(run, name="client")
    assert net.run_until(lambda: "done" in out, 3_000_000)
    return out


def test_listen_refuses_bad_arguments_and_privileged_ports() -> None:
    k = Network(1).hosts[0]
    for args, msg in [('"80", on', "takes a port number and a function"), ("0, on", "not a port number"),
                      ("70000, on", "not a port number"), ("8080, 5", "takes a port number and a function"),
                      ("True, on", "takes a port number")]:  # fmt: skip
        src = f"from spin import TCP\ndef on(c):\n    pass\ndef init():\n    TCP.Listen({args})\n"
        with pytest.raises(SpinError, match=msg):
            k.system.load(src, "bad.py", importer="root")
    low = "from spin import TCP\ndef on(c):\n    pass\ndef init():\n    TCP.Listen(80, on)\n"
    with pytest.raises(SpinError, match="port 80 is below 1024: a user's extension listens on ports >= 1024"):
        k.system.load(low, "low.py", importer="user")
    k.system.load(low.replace("80", "8080"), "high.py", importer="user")
    with pytest.raises(SpinError, match="port 8080 is in use"):
        k.system.load(low.replace("80", "8080"), "again.py", importer="root")
    many = "from spin import TCP\ndef on(c):\n    pass\ndef init():\n    for p in range(9000, 9100):\n        TCP.Listen(p, on)\n"
    with pytest.raises(SpinError, match="at most 8 TCP ports an extension"):
        k.system.load(many, "many.py", importer="root")
    assert 9000 not in k.net.tcp.listeners  # the refused extension's ports were given back


def test_no_extension_can_install_on_another_s_connections() -> None:
    net, a, b, ext = _world()
    spy = ("from spin import TCP, Dispatcher\nseen = []\ndef peek(c):\n    seen.append(c.Recv(100))\n"
           "def init():\n    Dispatcher.InstallHandler(TCP.Ready, peek, Dispatcher.FieldEquals('port', 7000))\n")  # fmt: skip
    with pytest.raises(SpinError, match="cannot install a handler on TCP.Ready: TCP.Listen installs it"):
        a.system.load(spy, "spy.py", importer="root")
    assert _rtt(net, b, b"private")["got"] == b"private"


def test_bad_calls_and_send_after_close_are_refused_with_names() -> None:
    net, a, b, ext = _world()
    out = _rtt(net, b, b"bad-args then echo")
    assert out["got"] == b"bad-args then echo"
    _rtt(net, b, b"close-then-send")
    p = ext.namespace["problems"]
    assert any("echo_tcp: TCP connection" in x and "Recv(n): n is a positive number of bytes, not -1" in x for x in p)
    assert any("Send(data): data is bytes, not 'text'" in x for x in p)
    assert any("Send after the connection was closed" in x for x in p)


def test_a_handler_that_loops_forever_is_stopped_and_others_are_served() -> None:
    net, a, b, ext = _world()
    out = _rtt(net, b, b"loop")
    assert out["got"] == b"" and out["end"] != b""  # reset: the connection was aborted
    assert any("exceeded its bound" in r for r in a.dispatcher.reports)
    assert any("aborted: its handler exceeded its bound" in r for r in a.dispatcher.reports)
    for i in range(3):
        assert _rtt(net, b, f"still here {i}".encode())["got"] == f"still here {i}".encode()
    assert not a.sched.failures and a.machine.halt_reason is None


def test_connections_over_the_bound_are_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcp_ext, "TCP_EXT_CONNS", 3)
    net, a, b, ext = _world()
    conns: list[Any] = []
    done: dict[str, Any] = {}

    def hold() -> None:
        for _ in range(5):
            conns.append(E._connect(b, "10.0.0.1", 7000, "holder"))
        done["ok"] = True

    b.sched.fork(hold, name="holder")
    assert net.run_until(lambda: "ok" in done, 2_000_000)
    net.run_us(20_000)
    view = a.net.tcp.ext_service
    assert view.refused == 2
    alive = [c for c in conns if not isinstance(c, int) and c.state == "ESTABLISHED"]
    assert len(alive) == 3
    for c in alive:
        c.close()
    net.run_us(50_000)
    assert _rtt(net, b, b"after")["got"] == b"after"  # their slots are free again


def test_queued_bytes_are_bounded_per_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcp_ext, "TCP_EXT_QUEUED", 200_000)
    net, a, b, ext = _world()
    out: dict[str, Any] = {}

    def run() -> None:
        c = E._connect(b, "10.0.0.1", 7000, "client")
        assert not isinstance(c, int)
        E._send_all(b, c, b"flood")
        got = 0
        while isinstance(more := E._recv(b, c, 65536), bytes) and more:
            got += len(more)
            if got >= 180_000:
                break
        c.close()
        out["got"], out["done"] = got, True

    b.sched.fork(run, name="client")
    assert net.run_until(lambda: "done" in out, 5_000_000)
    assert out["got"] == 180_000  # three sends fitted, and all of them came through
    assert any("would pass the bound of 200,000 an extension" in x for x in ext.namespace["problems"])
    net.run_us(100_000)
    assert a.net.tcp.ext_service.stack is a.net and _rtt(net, b, b"ok")["got"] == b"ok"


def test_unloading_aborts_connections_and_frees_the_port() -> None:
    net, a, b, ext = _world()
    state: dict[str, Any] = {}

    def run() -> None:
        c = E._connect(b, "10.0.0.1", 7000, "client")
        state["c"] = c
        state["end"] = E._recv(b, c, 100)

    b.sched.fork(run, name="client")
    net.run_until(lambda: "c" in state, 1_000_000)
    net.run_us(5000)
    views = [v for v in ext.releases]
    assert views
    a.system.unload(ext)
    assert net.run_until(lambda: "end" in state, 1_000_000)
    assert isinstance(state["end"], int) and state["end"] < 0  # reset
    assert 7000 not in a.net.tcp.listeners
    a.system.load(ECHO, "echo_tcp.py", importer="root")
    assert _rtt(net, b, b"again")["got"] == b"again"


def test_silent_connections_cannot_hold_the_server_shut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slowloris: peers open every connection the extension may hold and say
    nothing. Within a virtual second a newcomer is refused (the bound holds);
    after it, each newcomer resets the connection idle longest, its handler
    hears the reset, and the newcomer is served."""
    monkeypatch.setattr(tcp_ext, "TCP_EXT_CONNS", 3)
    net, a, b, ext = _world()
    conns: list[Any] = []
    done: dict[str, Any] = {}

    def hold() -> None:
        for _ in range(3):
            conns.append(E._connect(b, "10.0.0.1", 7000, "silent"))
        done["ok"] = True

    b.sched.fork(hold, name="silent")
    assert net.run_until(lambda: "ok" in done, 2_000_000)
    view = a.net.tcp.ext_service
    assert _rtt(net, b, b"too soon")["got"] == b""  # all three are fresh: refused, none evicted
    assert view.refused == 1 and view.evicted == 0
    net.run_us(1_100_000)
    assert _rtt(net, b, b"room now")["got"] == b"room now"
    assert view.evicted == 1
    assert conns[0].state == "CLOSED" and all(c.state == "ESTABLISHED" for c in conns[1:])
    assert any("idle longest" in r for r in a.dispatcher.reports)
    assert not a.sched.failures and a.machine.halt_reason is None
