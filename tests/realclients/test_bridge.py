"""The bridge itself, in process, against the kernel's TCP echo server
(kernel/net/endpoints.py) on a plain two-host Network: bytes both ways,
back-pressure, half-close both ways, resets, many connections at once, and
real TCP on the wire."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from kernel.net import endpoints as E
from kernel.net import tcp as T
from kernel.net.topology import Network
from workbench.web.bridge import Bridge


@pytest.fixture
def echo() -> Iterator[tuple[Bridge, Network]]:
    net = Network(2)
    server, client = net.hosts
    served: dict[str, int] = {}
    server.sched.fork(E.tcp_echo_server, server, 7, served, name="echo")
    b = Bridge(net, client, net.addresses[0], 7)
    th = threading.Thread(target=b.run, daemon=True)
    th.start()
    yield b, net
    b.stop()
    th.join(30)
    assert not th.is_alive(), "the bridge did not stop"
    b.close()


def _connect(b: Bridge) -> socket.socket:
    return socket.create_connection(("127.0.0.1", b.port), timeout=30)


def _read_all(s: socket.socket) -> bytes:
    got = bytearray()
    while chunk := s.recv(65536):
        got += chunk
    return bytes(got)


def test_echo_with_half_close(echo: tuple[Bridge, Network]) -> None:
    """Host EOF -> kernel FIN; the echo server then closes -> the host reads EOF."""
    b, net = echo
    data = bytes(range(256)) * 40
    s = _connect(b)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    assert _read_all(s) == data
    s.close()
    assert b.stats.bytes_in == len(data) and b.stats.bytes_out == len(data)
    assert net.wire.carried > 6  # handshake, data, ACKs, FINs: on the wire, not short-circuited


def test_back_pressure_with_a_slow_reader(echo: tuple[Bridge, Network]) -> None:
    """Two MiB in while the host reads nothing: the bridge's buffers stay
    bounded (the kernel windows close), and then every byte comes back in order."""
    b, _ = echo
    data = bytes((i * 31) & 0xFF for i in range(2 << 20))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # before connect: the window it offers stays small
    s.connect(("127.0.0.1", b.port))
    s.settimeout(30)
    sent = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)), daemon=True)
    sent.start()
    time.sleep(2.5)  # the bridge and the world run meanwhile; nobody reads
    held = b.stats.bytes_in - b.stats.bytes_out  # in the bridge and the kernels' buffers
    assert b.stats.bytes_out < len(data) // 2, f"{b.stats.bytes_out} bytes went out while nobody read"
    assert held <= 4 * 65536 + 4 * 32768, f"{held} bytes held between host sockets: no push back"
    for c in list(b.conns):
        assert len(c.to_kernel) <= 65536 and len(c.to_host) <= 65536
    assert _read_all(s) == data
    sent.join(30)
    s.close()


def test_many_connections_at_once(echo: tuple[Bridge, Network]) -> None:
    b, _ = echo
    socks = [_connect(b) for _ in range(8)]
    try:
        for i, s in enumerate(socks):
            s.sendall(f"hello {i}\n".encode())
            s.shutdown(socket.SHUT_WR)
        # the echo server serves one connection after another (backlog 4: the rest retransmit their SYNs)
        for i, s in enumerate(socks):
            assert _read_all(s) == f"hello {i}\n".encode()
    finally:  # a failure here must not leave open sockets for a later test's garbage collection to report
        for s in socks:
            s.close()
    assert b.stats.connections == 8


def test_refused_port_resets_the_host_client() -> None:
    """Nothing listens on the kernel side: the SYN is reset, so is the host client."""
    net = Network(2)
    b = Bridge(net, net.hosts[1], net.addresses[0], 9)
    th = threading.Thread(target=b.run, daemon=True)
    th.start()
    try:
        s = _connect(b)
        with pytest.raises((ConnectionResetError, ConnectionAbortedError)):
            s.sendall(b"x")
            if not s.recv(10):
                raise AssertionError("EOF, not a reset")
        s.close()
    finally:
        b.stop()
        th.join(30)
        b.close()
    assert b.stats.resets >= 1


def test_host_reset_aborts_the_kernel_connection(echo: tuple[Bridge, Network]) -> None:
    b, net = echo
    s = _connect(b)
    s.sendall(b"ping")
    assert s.recv(4) == b"ping"
    import struct

    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST
    s2 = _connect(b)  # the echo server moves on to the next connection only once the first ended
    s2.sendall(b"next")
    s2.shutdown(socket.SHUT_WR)
    assert _read_all(s2) == b"next"
    s2.close()
    client = net.hosts[1]
    assert client.net is not None
    states = [t.state for t in client.net.tcp.conns.values()]
    assert T.ESTABLISHED not in states, states
