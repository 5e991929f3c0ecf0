"""In-kernel endpoints as kernel threads: the trusted clients and servers
the benchmarks and lessons run on a host (SPIN's own tests ran in the
kernel the same way). Each function is a kernel strand's body; it blocks
on an endpoint's waiters and is woken by the network thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel.core.sal import ECONNREFUSED
from kernel.net import tcp as T
from kernel.net.udp import UdpEndpoint

if TYPE_CHECKING:
    from kernel.kernel import Kernel
    from kernel.net.stack import NetStack


def _net(k: Kernel) -> NetStack:
    assert k.net is not None, "an endpoint runs on a host with a network"
    return k.net


def wait(k: Kernel, waiters: list[Any], why: str) -> None:
    me = k.sched.kernel_running
    assert me is not None, "only a kernel strand can wait"
    waiters.append(me)
    me.blocked_on = why
    k.sched.block()


def udp_rtt_client(k: Kernel, dst: str, port: int, n: int, size: int, out: dict[str, Any], lport: int = 4000) -> None:
    """n round trips of ``size`` bytes; ``out`` gets the cycles of each and
    whether every answer matched."""
    ep = _net(k).udp.bind(lport, "rtt client")
    assert isinstance(ep, UdpEndpoint), f"port {lport}: {ep}"
    out["rtts"], out["ok"] = [], True
    for i in range(n):
        data = bytes((i + j) & 0xFF for j in range(size))
        t0 = k.sal.now
        err = _net(k).udp.send(lport, dst, port, data)
        if err:
            out["ok"], out["error"] = False, err
            break
        while not ep.queue:
            wait(k, ep.waiters, "udp rtt")
        _, _, got, _ = ep.take()  # type: ignore[misc]
        out["rtts"].append(k.sal.now - t0)
        out["ok"] = out["ok"] and got == data
    ep.close()
    out["done"] = True


def udp_blast(k: Kernel, dst: str, port: int, n: int, size: int, out: dict[str, Any]) -> None:
    """Send n datagrams back to back (the driver queues; the wire paces)."""
    data = bytes(i & 0xFF for i in range(size))
    for _ in range(n):
        _net(k).udp.send(4001, dst, port, data)
    out["done"] = True


def udp_sink(k: Kernel, port: int, n: int, out: dict[str, Any]) -> None:
    """Count n datagrams: the bytes after the first and the cycles from the first to the last."""
    ep = _net(k).udp.bind(port, "sink")
    assert isinstance(ep, UdpEndpoint)
    first = last = got = 0
    for i in range(n):
        while not ep.queue:
            wait(k, ep.waiters, "udp sink")
        _, _, data, _ = ep.take()  # type: ignore[misc]
        last = k.sal.now
        if i == 0:
            first = last
        else:
            got += len(data)
    out.update(bytes=got, cycles=last - first, done=True)
    ep.close()


def _connect(k: Kernel, dst: str, port: int, owner: str) -> T.Tcb | int:
    """An established connection, or -errno."""
    c = _net(k).tcp.connect(dst, port, owner)
    if isinstance(c, int):
        return c
    while c.state in (T.SYN_SENT, T.SYN_RCVD):  # SYN_RCVD: a simultaneous open
        wait(k, c.waiters, "connect")
    return c if c.state == T.ESTABLISHED else -(c.error or ECONNREFUSED)


def _recv(k: Kernel, c: T.Tcb, n: int) -> bytes | int:
    """Up to n bytes, waiting for them; b"" at the end of the stream; -errno
    if the connection failed (-ECONNRESET for a reset: not an end of stream)."""
    while (data := c.recv(n)) is None:
        wait(k, c.waiters, "recv")
    return data


def _send_all(k: Kernel, c: T.Tcb, data: bytes) -> int:
    """Send all of ``data``, waiting for room when the send buffer takes
    only part of it; 0, or -errno if the connection failed first."""
    off = 0
    while off < len(data):
        n = c.send(data[off:])
        if n < 0:
            return n
        if n == 0:
            wait(k, c.waiters, "send")
        off += n
    return 0


def _accept(k: Kernel, lst: T.Tcb) -> T.Tcb:
    while (c := lst.accept()) is None:
        wait(k, lst.waiters, "accept")
    return c


def tcp_echo_server(k: Kernel, port: int, out: dict[str, Any]) -> None:
    """Accept connections one after another and echo what they send."""
    lst = _net(k).tcp.listen(port, 4, "echo server")
    assert isinstance(lst, T.Tcb), f"port {port}: {lst}"
    while True:
        c = _accept(k, lst)
        while isinstance(data := _recv(k, c, 65536), bytes) and data:
            if _send_all(k, c, data) < 0:  # a short send keeps the rest for when there is room
                break
        if isinstance(data, int):
            out["errors"] = out.get("errors", 0) + 1
            c.abort()
        else:
            c.close()
        out["served"] = out.get("served", 0) + 1


def tcp_rtt_client(k: Kernel, dst: str, port: int, n: int, size: int, out: dict[str, Any]) -> None:
    """Connect, then n ping-pongs of ``size`` bytes, then close."""
    out["rtts"], out["ok"] = [], False
    c = _connect(k, dst, port, "rtt client")
    if isinstance(c, int):
        out["error"], out["done"] = c, True
        return
    ok = True
    for i in range(n):
        data = bytes((i + j) & 0xFF for j in range(size))
        t0 = k.sal.now
        err = _send_all(k, c, data)
        got = b""
        while not err and len(got) < size:
            more = _recv(k, c, size - len(got))
            if isinstance(more, int):
                err = more
            elif not more:
                break
            else:
                got += more
        if err:
            out["error"], ok = err, False
            break
        out["rtts"].append(k.sal.now - t0)
        ok = ok and got == data
    c.close()
    out["ok"], out["done"] = ok, True


def tcp_transfer(k: Kernel, dst: str, port: int, data: bytes, out: dict[str, Any]) -> None:
    """Send ``data`` over one connection and close it."""
    c = _connect(k, dst, port, "sender")
    if isinstance(c, int):
        out["error"], out["done"] = c, True
        return
    out["start"] = k.sal.now
    off = 0
    while off < len(data):
        n = c.send(data[off : off + 8192])
        if n < 0:
            out["error"] = n
            break
        if n == 0:
            wait(k, c.waiters, "send")
        off += n
    c.close()
    out["sent"], out["done"] = off, True


def tcp_receive(k: Kernel, port: int, out: dict[str, Any]) -> None:
    """Accept one connection and read it to the end into ``out["data"]``."""
    lst = _net(k).tcp.listen(port, 4, "receiver")
    assert isinstance(lst, T.Tcb)
    c = _accept(k, lst)
    got = bytearray()
    while isinstance(d := _recv(k, c, 65536), bytes) and d:
        got += d
    if isinstance(d, int):
        out["error"] = d  # reset: what arrived is not the whole stream
    c.close()
    lst.close()
    out["data"], out["end"], out["done"] = bytes(got), k.sal.now, True
