"""BSD sockets for the UNIX personality: the DEC OSF/1 way to the network.

A program's data crosses the user/kernel boundary on every call -- copied
in on send, out on receive -- and every call pays the socket layer's
bookkeeping (SOSP'95 §5.3, Table 5: "each packet sent involves a trap and
several copy operations"). The copies are charged and traced like the
in-kernel path's, so the two ways can be compared on one machine.

Calls (Linux/Alpha numbers): socket 97, connect 98, accept 99, send 101,
recv 102, bind 104, listen 106, recvfrom 125, sendto 133, shutdown 134;
read, write and close work on sockets too. A call that must wait blocks
the calling strand and runs again when woken (kernel/core/trap.py, RESTART).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.core.sal import (
    EADDRINUSE,
    EADDRNOTAVAIL,
    EAFNOSUPPORT,
    EBADF,
    ECONNREFUSED,
    EDESTADDRREQ,
    EFAULT,
    EINVAL,
    EISCONN,
    EMFILE,
    EMSGSIZE,
    ENOTCONN,
    ENOTSOCK,
    EOPNOTSUPP,
    EPIPE,
    EPROTONOSUPPORT,
)
from kernel.core.trap import RESTART, SyscallState, caller
from kernel.net import packet as P
from kernel.net import tcp as T
from kernel.net.udp import MAX_DATAGRAM, UdpEndpoint
from kernel.params import MAX_FDS, SOCKET_IO_MAX, TCP_SNDBUF
from kernel.unix.process import OpenFile, Process

if TYPE_CHECKING:
    from kernel.core.sched import Strand
    from kernel.net.stack import NetStack

AF_INET, SOCK_STREAM, SOCK_DGRAM = 2, 1, 2
SOCKADDR_LEN = 16
NAMES = {97: "socket", 98: "connect", 99: "accept", 101: "send", 102: "recv", 104: "bind", 106: "listen",
         125: "recvfrom", 133: "sendto", 134: "shutdown"}  # fmt: skip


class Socket:
    """What a socket descriptor refers to (shared by forked descriptors)."""

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.refs = 1
        self.port = 0  # bound local port
        self.udp: UdpEndpoint | None = None
        self.tcb: T.Tcb | None = None  # a connection, or a listener
        self.peer: tuple[str, int] | None = None  # a connected UDP socket's default destination
        self.connecting = False

    @property
    def stream(self) -> bool:
        return self.kind == SOCK_STREAM

    def describe(self) -> str:
        if self.tcb is not None:
            return f"tcp {self.tcb.describe()}"
        if self.stream:
            return f"tcp port {self.port or '-'}"
        return f"udp port {self.port or '-'}"


def _sockaddr(data: bytes) -> tuple[str, int] | None:
    if len(data) < 8 or struct.unpack_from("<H", data)[0] != AF_INET:
        return None
    return P.ip_ntoa(data[4:8]), struct.unpack_from("!H", data, 2)[0]


def _pack_sockaddr(addr: str, port: int) -> bytes:
    return struct.pack("<H", AF_INET) + struct.pack("!H", port) + P.ip_aton(addr) + bytes(8)


class Sockets:
    def __init__(self, unix: Any, net: NetStack) -> None:
        self.unix = unix
        self.k = unix.k
        self.net = net
        for n, name in NAMES.items():
            unix.table[n] = getattr(self, f"sys_{name}")
        self.k.syscall_names.update(NAMES)
        unix.sockets = self

    # --- helpers --------------------------------------------------------------------------

    def _sock(self, p: Process, fd: int) -> Socket | int:
        f = p.fds.get(fd)
        if f is None:
            return -EBADF
        if f.kind != "socket":
            return -ENOTSOCK
        return f.entry

    def _addr_in(self, s: Strand, va: int, n: int) -> tuple[str, int] | int:
        if n < 8:
            return -EINVAL
        raw = self.k.copyin(s, va, min(n, SOCKADDR_LEN))
        if raw is None:
            return -EFAULT
        a = _sockaddr(raw)
        return -EAFNOSUPPORT if a is None else a

    def _addr_out(self, s: Strand, va: int, lenp: int, addr: str, port: int) -> bool:
        if va == 0:
            return True
        if not self.k.copyout(s, va, _pack_sockaddr(addr, port)):
            return False
        return lenp == 0 or self.k.copyout(s, lenp, struct.pack("<I", SOCKADDR_LEN))

    def _wait(self, waiters: list[Strand], s: Strand, why: str) -> Any:
        waiters.append(s)
        self.k.sched.block_strand(s, why)
        return RESTART

    def _new_fd(self, p: Process, sock: Socket) -> int:
        fd = next((i for i in range(MAX_FDS) if i not in p.fds), None)
        if fd is None:
            return -EMFILE
        p.fds[fd] = OpenFile("socket", sock, 0, True, True)
        return fd

    def _bind_udp(self, sock: Socket, port: int, owner: str) -> int:
        ep = self.net.udp.bind(port, owner)
        if isinstance(ep, int):
            return ep
        sock.udp, sock.port = ep, ep.port
        return 0

    def release(self, sock: Socket) -> None:
        """A descriptor for ``sock`` went away (close, exit)."""
        sock.refs -= 1
        if sock.refs > 0:
            return
        if sock.udp is not None:
            sock.udp.close()
        if sock.tcb is not None:
            sock.tcb.close()

    # --- the calls ---------------------------------------------------------------------------

    def sys_socket(self, p: Process, st: SyscallState) -> int:
        domain, kind = st.a0, st.a1 & 0xF
        if domain != AF_INET:
            return -EAFNOSUPPORT
        if kind not in (SOCK_STREAM, SOCK_DGRAM) or st.a2 not in (0, 6 if kind == SOCK_STREAM else 17):
            return -EPROTONOSUPPORT
        self.k.sal.charge(costs.FILE_OP)
        return self._new_fd(p, Socket(kind))

    def sys_bind(self, p: Process, st: SyscallState) -> int:
        sock = self._sock(p, st.a0)
        if isinstance(sock, int):
            return sock
        a = self._addr_in(caller(st), st.a1, st.a2)
        if isinstance(a, int):
            return a
        addr, port = a
        if addr not in ("0.0.0.0", self.net.address):
            return -EADDRNOTAVAIL
        if sock.port:
            return -EINVAL
        if sock.stream:
            if port == 0:
                port = self.net.tcp.ephemeral()
                if not port:
                    return -EADDRNOTAVAIL
            if port in self.net.tcp.listeners or any(k[0] == port for k in self.net.tcp.conns):
                return -EADDRINUSE
            sock.port = port
            return 0
        return self._bind_udp(sock, port, f"pid {p.pid}")

    def sys_listen(self, p: Process, st: SyscallState) -> int:
        sock = self._sock(p, st.a0)
        if isinstance(sock, int):
            return sock
        if not sock.stream:
            return -EOPNOTSUPP
        if sock.tcb is not None:
            return 0 if sock.tcb.state == T.LISTEN else -EISCONN
        if not sock.port:
            return -EDESTADDRREQ
        t = self.net.tcp.listen(sock.port, int(st.a1), f"pid {p.pid}")
        if isinstance(t, int):
            return t
        sock.tcb = t
        return 0

    def sys_accept(self, p: Process, st: SyscallState) -> Any:
        sock = self._sock(p, st.a0)
        if isinstance(sock, int):
            return sock
        lst = sock.tcb
        if lst is None or lst.state != T.LISTEN:
            return -EINVAL
        s = caller(st)
        c = lst.accept()
        if c is None:
            return self._wait(lst.waiters, s, f"accept port {lst.lport}")
        new = Socket(SOCK_STREAM)
        new.tcb, new.port = c, c.lport
        c.owner = f"pid {p.pid}"
        fd = self._new_fd(p, new)
        if fd < 0:
            c.abort()
            return fd
        if not self._addr_out(s, st.a1, st.a2, c.raddr, c.rport):
            return -EFAULT
        return fd

    def sys_connect(self, p: Process, st: SyscallState) -> Any:
        sock = self._sock(p, st.a0)
        if isinstance(sock, int):
            return sock
        s = caller(st)
        if sock.tcb is not None and sock.connecting:  # woken: see how the handshake went
            t = sock.tcb
            if t.state in (T.SYN_SENT, T.SYN_RCVD):  # SYN_RCVD: a simultaneous open (RFC 9293 §3.5)
                return self._wait(t.waiters, s, f"connect {t.raddr}:{t.rport}")
            sock.connecting = False
            if t.error:
                sock.tcb = None
                return -t.error
            return 0 if t.state != T.CLOSED else -ECONNREFUSED
        a = self._addr_in(s, st.a1, st.a2)
        if isinstance(a, int):
            return a
        addr, port = a
        if not sock.stream:
            if not sock.port:
                err = self._bind_udp(sock, 0, f"pid {p.pid}")
                if err:
                    return err
            sock.peer = (addr, port)
            return 0
        if sock.tcb is not None:
            return -EISCONN
        tcb = self.net.tcp.connect(addr, port, f"pid {p.pid}", sock.port)
        if isinstance(tcb, int):
            return tcb
        sock.tcb, sock.port, sock.connecting = tcb, tcb.lport, True
        return self._wait(tcb.waiters, s, f"connect {addr}:{port}")

    def sys_sendto(self, p: Process, st: SyscallState) -> Any:
        return self._send(p, st, st.a0, st.a1, st.a2, st.a4, st.a5)

    def sys_send(self, p: Process, st: SyscallState) -> Any:
        return self._send(p, st, st.a0, st.a1, st.a2, 0, 0)

    def _send(self, p: Process, st: SyscallState, fd: int, buf: int, n: int, to: int, tolen: int) -> Any:
        sock = self._sock(p, fd)
        if isinstance(sock, int):
            return sock
        return self.send(p, caller(st), sock, buf, n, to, tolen)

    def send(self, p: Process, s: Strand, sock: Socket, buf: int, n: int, to: int = 0, tolen: int = 0) -> Any:
        k, net = self.k, self.net
        n = min(n, SOCKET_IO_MAX)
        if sock.stream:
            t = sock.tcb
            if t is None or t.state in (T.LISTEN, T.SYN_SENT):
                return -ENOTCONN
            if t.error:
                return -t.error
            room = TCP_SNDBUF - len(t.sndbuf)
            if t.state not in (T.ESTABLISHED, T.CLOSE_WAIT) or t.fin_queued:
                return -EPIPE
            if room == 0 and n:
                return self._wait(t.waiters, s, f"send {t.raddr}:{t.rport}")
            data = k.copyin(s, buf, min(n, room))
            if data is None:
                return -EFAULT
            k.sal.charge(costs.SOCKET_CALL)
            net.copy(0, len(data), f"copyin from pid {p.pid} (send)")
            return t.send(data)
        if to:
            a = self._addr_in(s, to, tolen)
            if isinstance(a, int):
                return a
        elif sock.peer is not None:
            a = sock.peer
        else:
            return -EDESTADDRREQ
        if sock.udp is not None and sock.udp.error:
            err, sock.udp.error = sock.udp.error, 0
            return -err
        if n > MAX_DATAGRAM:
            return -EMSGSIZE
        if not sock.port:
            err = self._bind_udp(sock, 0, f"pid {p.pid}")
            if err:
                return err
        data = k.copyin(s, buf, n)
        if data is None:
            return -EFAULT
        k.sal.charge(costs.SOCKET_CALL)
        pid = next(net.ids)
        net.copy(pid, len(data), f"copyin from pid {p.pid} (sendto)")
        err = net.udp.send(sock.port, a[0], a[1], data, pid)
        return err if err < 0 else n

    def send_data(self, p: Process, s: Strand, sock: Socket, data: bytes) -> Any:
        """Bytes the kernel already holds onto a connected stream socket: what
        fits (RESTART when nothing does). A macro call's file-to-socket
        (kernel/unix/calls_ext.py) sends a file this way: no copy from user
        memory, one socket call's bookkeeping per piece."""
        t = sock.tcb
        if not sock.stream or t is None or t.state in (T.LISTEN, T.SYN_SENT):
            return -ENOTCONN
        if t.error:
            return -t.error
        if t.state not in (T.ESTABLISHED, T.CLOSE_WAIT) or t.fin_queued:
            return -EPIPE
        if len(t.sndbuf) >= TCP_SNDBUF and data:
            return self._wait(t.waiters, s, f"send {t.raddr}:{t.rport}")
        self.k.sal.charge(costs.SOCKET_CALL)
        return t.send(data)

    def sys_recvfrom(self, p: Process, st: SyscallState) -> Any:
        return self._recv(p, st, st.a0, st.a1, st.a2, st.a4, st.a5)

    def sys_recv(self, p: Process, st: SyscallState) -> Any:
        return self._recv(p, st, st.a0, st.a1, st.a2, 0, 0)

    def _recv(self, p: Process, st: SyscallState, fd: int, buf: int, n: int, frm: int, lenp: int) -> Any:
        sock = self._sock(p, fd)
        if isinstance(sock, int):
            return sock
        return self.recv(p, caller(st), sock, buf, n, frm, lenp)

    def recv(self, p: Process, s: Strand, sock: Socket, buf: int, n: int, frm: int = 0, lenp: int = 0) -> Any:
        k, net = self.k, self.net
        n = min(n, SOCKET_IO_MAX)
        if sock.stream:
            t = sock.tcb
            if t is None or t.state == T.LISTEN:
                return -ENOTCONN
            data = t.recv(n)
            if data is None:
                return self._wait(t.waiters, s, f"recv {t.raddr}:{t.rport}")
            if isinstance(data, int):  # the connection failed: a reset is -ECONNRESET, never the end of the stream
                return data
            src = (t.raddr, t.rport)
            pid = 0
        else:
            ep = sock.udp
            if ep is None:
                return -ENOTCONN if sock.peer is None else -EINVAL
            if ep.error:
                err, ep.error = ep.error, 0
                return -err
            item = ep.take()
            if item is None:
                return self._wait(ep.waiters, s, f"recvfrom port {ep.port}")
            src_addr, src_port, dgram, pid = item
            data, src = dgram[:n], (src_addr, src_port)
        k.sal.charge(costs.SOCKET_CALL)
        if data and not k.copyout(s, buf, data):
            return -EFAULT
        net.copy(pid, len(data), f"copyout to pid {p.pid} ({'recv' if sock.stream else 'recvfrom'})")
        if not self._addr_out(s, frm, lenp, *src):
            return -EFAULT
        return len(data)

    def sys_shutdown(self, p: Process, st: SyscallState) -> int:
        sock = self._sock(p, st.a0)
        if isinstance(sock, int):
            return sock
        if sock.tcb is None or sock.tcb.state == T.LISTEN:
            return -ENOTCONN
        if st.a1 in (1, 2):
            sock.tcb.close()
        return 0
