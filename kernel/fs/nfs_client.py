"""The kernel's NFSv3 client (RFC 1813 over ONC RPC, RFC 5531, on UDP) and
the ``NFS`` interface extensions import.

A path is fetched the way an NFS client without MOUNT does it: LOOKUP each
component from the fixed root handle (kernel/fs/nfs_server.py's
ROOT_HANDLE), GETATTR the file, then READ it in NFS_RSIZE (8 KiB) calls --
each reply is one UDP datagram of six IP fragments -- keeping NFS_WINDOW of
them outstanding. Every call is retransmitted, same xid, when no reply has
come within a virtual timeout that doubles each time (NFS_TIMEOUT_US, as
timeo), and fails with ETIMEDOUT after NFS_RETRIES retransmissions (retrans).
A reply is matched by its xid *and* by coming from the server's address and
port the call went to: one from anywhere else is dropped and counted (an
off-path host that guesses an xid cannot answer for the server). xids come
from a counter keyed by the host's address (RFC 5531 §9 asks only that they
differ; a keyed start makes them hard to guess from outside and the same on
every replay). A file over NFS_MAX_FILE is EFBIG before any READ. If the
file's size changes during the transfer (a READ's post-op attributes say so,
or eof comes early), the transfer starts again from GETATTR, at most
RESTARTS times, then EIO: the bytes handed over are always of one size.

    NFS.Read(server, path, handler) -> None; later handler(path, data): bytes, or
        -errno (ENOENT 2, EIO 5, ENOTDIR 20, EISDIR 21, EFBIG 27, EAGAIN 35, ETIMEDOUT 60)
    NFS.Stat(server, path, handler) -> None; later handler(path, size or -errno)
        (a directory is -EISDIR)

Handlers run in the network thread under the extension's fuel
(kernel/fs/files_ext.py's Callbacks).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.core.sal import EAGAIN, EFBIG, EIO, EISDIR, ENOENT, ENOTDIR, ETIMEDOUT
from kernel.fs.files_ext import callbacks
from kernel.fs.format import name_problem
from kernel.fs.nfs_server import (
    FHSIZE3,
    NF3DIR,
    NFS3_OK,
    NFS3ERR_ISDIR,
    NFS3ERR_NOENT,
    NFS3ERR_NOTDIR,
    NFS_PROGRAM,
    NFS_V3,
    PROC_GETATTR,
    PROC_LOOKUP,
    PROC_READ,
    ROOT_HANDLE,
)
from kernel.net import packet as P
from kernel.net import rpc
from kernel.params import (
    NFS_CALLS_OUTSTANDING,
    NFS_CALLS_USERS,
    NFS_MAX_FILE,
    NFS_PER_EXTENSION,
    NFS_RETRIES,
    NFS_RSIZE,
    NFS_TIMEOUT_US,
    NFS_WINDOW,
)
from kernel.sys import authority
from kernel.sys.errors import SpinError
from kernel.sys.sandbox import shown

if TYPE_CHECKING:
    from kernel.kernel import Kernel
    from kernel.net.stack import Timer

NFS_PORT = 2049
RESTARTS = 3  # times a transfer starts over when the file changes size under it
PATH_MAX = 4096
_STATUS_ERRNO = {NFS3ERR_NOENT: ENOENT, NFS3ERR_NOTDIR: ENOTDIR, NFS3ERR_ISDIR: EISDIR}

Done = Callable[[Any], None]


def _errno(status: int) -> int:
    return -_STATUS_ERRNO.get(status, EIO)


def parse_fattr(r: rpc.Reader) -> tuple[int, int]:
    """fattr3's (type, size); the rest is read past."""
    kind = r.u32("ftype3")
    r.u32("mode")
    r.u32("nlink")
    r.u32("uid")
    r.u32("gid")
    size = r.u64("size")
    r.u64("used")
    r.u64("rdev")
    r.u64("fsid")
    r.u64("fileid")
    for _ in range(6):
        r.u32("a time")
    return kind, size


def parse_post_op(r: rpc.Reader) -> tuple[int, int] | None:
    return parse_fattr(r) if r.boolean("attributes_follow") else None


class _Call:
    __slots__ = ("xid", "server", "port", "msg", "done", "tries", "timer", "proc", "user")

    def __init__(self, xid: int, server: str, port: int, msg: bytes, done: Done, proc: int, user: bool) -> None:
        self.xid, self.server, self.port, self.msg, self.done, self.proc = xid, server, port, msg, done, proc
        self.user = user  # made for a user's extension: counted against NFS_CALLS_USERS
        self.tries = 0
        self.timer: Timer | None = None


class _Transfer:
    """One Read or Stat: the walk down the path, then the READ window."""

    __slots__ = ("server", "path", "parts", "done", "stat", "fh", "size", "next", "holes", "have", "got",
                 "inflight", "gen", "restarts", "finished", "max_size", "user", "stalled")  # fmt: skip

    def __init__(self, server: str, path: str, parts: list[str], done: Done, stat: bool, max_size: int,
                 user: bool = False) -> None:  # fmt: skip
        self.server, self.path, self.parts, self.done, self.stat = server, path, parts, done, stat
        self.user = user
        self.stalled = False  # a READ found no call free: wait for one of ours to come back
        self.max_size = max_size
        self.fh = ROOT_HANDLE
        self.size = 0
        self.next = 0  # the next offset never asked for
        self.holes: list[tuple[int, int]] = []  # (offset, count) a short reply left to ask again
        self.have: dict[int, bytes] = {}
        self.got = 0
        self.inflight = 0
        self.gen = 0  # bumped on a restart: replies to the old generation's READs are ignored
        self.restarts = 0
        self.finished = False


def split_path(path: str) -> list[str] | str:
    """The components of ``path`` ('/' alone is the root), or why not."""
    if len(path) > PATH_MAX:
        return f"longer than {PATH_MAX} characters"
    inner = path.strip("/")
    if not inner:
        return []
    why = name_problem(inner)
    return f"the path {why}" if why else inner.split("/")


class NfsClient:
    """The kernel's client: one UDP port (bound on first use), its calls, its counters."""

    def __init__(self, k: Kernel) -> None:
        if k.net is None:
            raise ValueError("the NFS client needs a kernel with a network address")
        self.k, self.net = k, k.net
        self.port = 0
        self.calls: dict[int, _Call] = {}
        self.user_calls = 0  # of them, made for users' extensions
        self.counters: Counter[str] = Counter()
        key = hashlib.sha256(f"spin nfs xid {self.net.address}".encode()).digest()
        self._xid = int.from_bytes(key[:4], "big")
        self._xid_step = int.from_bytes(key[4:8], "big") | 1  # odd: the sequence visits every u32 before repeating
        self.cred = rpc.auth_sys(rpc.AuthSys(0, f"spin-{self.net.address}", 0, 0, ()))

    def stats(self) -> dict[str, int]:
        return dict(sorted(self.counters.items()))

    # --- RPC -------------------------------------------------------------------------------------

    def _bind(self) -> bool:
        if self.port:
            return True
        ep = self.net.udp.bind(0, "nfs client", self._datagram)
        if isinstance(ep, int):
            return False
        self.port = ep.port
        return True

    def _next_xid(self) -> int:
        self._xid = (self._xid + self._xid_step) & 0xFFFF_FFFF
        return self._xid

    def call(self, server: str, proc: int, args: bytes, done: Done, port: int = NFS_PORT, user: bool = False) -> None:
        """One NFS call; later ``done(results body)`` or ``done(-errno)``. Users'
        extensions share NFS_CALLS_USERS of the client's calls, so however many
        of them read, the kernel's and the owner's (the web server) keep the rest."""
        if len(self.calls) >= NFS_CALLS_OUTSTANDING or not self._bind():
            self.counters["calls refused (too many outstanding)"] += 1
            done(-EAGAIN)
            return
        if user and self.user_calls >= NFS_CALLS_USERS:
            self.counters["calls refused (users' share taken)"] += 1
            done(-EAGAIN)
            return
        xid = self._next_xid()
        while xid in self.calls:
            xid = self._next_xid()
        c = _Call(xid, server, port, rpc.encode_call(xid, NFS_PROGRAM, NFS_V3, proc, args, self.cred), done, proc,
                  user)  # fmt: skip
        self.calls[xid] = c
        self.user_calls += user
        self.counters["calls"] += 1
        self._send(c)

    def _send(self, c: _Call) -> None:
        self.k.sal.charge(costs.RPC_DECODE)
        err = self.net.udp.send(self.port, c.server, c.port, c.msg)
        if err:
            self.counters["sends failed"] += 1
        timeout = NFS_TIMEOUT_US * costs.CLOCK_MHZ << c.tries
        c.timer = self.net.timer(timeout, lambda: self._timeout(c))

    def _timeout(self, c: _Call) -> None:
        if self.calls.get(c.xid) is not c:
            return
        if c.tries >= NFS_RETRIES:
            del self.calls[c.xid]
            self.user_calls -= c.user
            self.counters["calls timed out"] += 1
            c.done(-ETIMEDOUT)
            return
        c.tries += 1
        self.counters["retransmissions"] += 1
        self._send(c)

    def _datagram(self, d: P.UdpDatagram) -> None:
        try:
            self._reply(d)
        except Exception as e:  # noqa: BLE001 - one reply's bug must not stop the client
            self.counters["replies dropped: client error"] += 1
            self.k.report(f"nfs client: reply from {d.src}:{d.src_port} raised {type(e).__name__}: {e}")

    def _reply(self, d: P.UdpDatagram) -> None:
        self.k.sal.charge(costs.RPC_DECODE)
        try:
            rep = rpc.decode_reply(d.payload)
        except rpc.RpcError:
            self.counters["replies dropped: malformed"] += 1
            return
        c = self.calls.get(rep.xid)
        if c is None:
            self.counters["replies dropped: no such call (late or duplicate)"] += 1
            return
        if d.src != c.server or d.src_port != c.port:
            self.counters["replies dropped: from the wrong host or port"] += 1
            return
        del self.calls[rep.xid]
        self.user_calls -= c.user
        if c.timer is not None:
            c.timer.cancel()
        self.counters["replies"] += 1
        if not rep.accepted or rep.stat != rpc.SUCCESS:
            self.counters["replies refused (rpc)"] += 1
            c.done(-EIO)
            return
        c.done(rep.body)

    # --- transfers ---------------------------------------------------------------------------------

    def read(self, server: str, path: str, done: Done, max_size: int = NFS_MAX_FILE, user: bool = False) -> None:
        """Fetch a whole file; later ``done(bytes)`` or ``done(-errno)``."""
        self._start(server, path, done, False, max_size, user)

    def stat(self, server: str, path: str, done: Done, user: bool = False) -> None:
        """A file's size; later ``done(size)`` or ``done(-errno)`` (-EISDIR for a directory)."""
        self._start(server, path, done, True, NFS_MAX_FILE, user)

    def _start(self, server: str, path: str, done: Done, stat: bool, max_size: int, user: bool = False) -> None:
        parts = split_path(path)
        if isinstance(parts, str):
            done(-ENOENT)
            return
        t = _Transfer(server, path, parts, done, stat, max_size, user)
        self.counters["transfers"] += 1
        self._walk(t, 0)

    def _finish(self, t: _Transfer, result: Any) -> None:
        if t.finished:
            return
        t.finished = True
        if isinstance(result, int) and result < 0 and not t.stat:
            self.counters["transfers failed"] += 1
        t.done(result)

    def _walk(self, t: _Transfer, i: int) -> None:
        if i == len(t.parts):
            self._getattr(t)
            return
        args = rpc.opaque(t.fh) + rpc.string(t.parts[i])
        self.call(t.server, PROC_LOOKUP, args, lambda body: self._looked_up(t, i, body), user=t.user)

    def _results(self, t: _Transfer, body: Any) -> rpc.Reader | None:
        """A reply's results after an NFS3_OK status; None once the transfer
        is finished instead (the call's -errno, or the status's). RpcError if
        the status does not decode."""
        if isinstance(body, int):
            self._finish(t, body)
            return None
        r = rpc.Reader(body)
        status = r.u32("status")
        if status != NFS3_OK:
            self._finish(t, _errno(status))
            return None
        return r

    def _looked_up(self, t: _Transfer, i: int, body: Any) -> None:
        try:
            r = self._results(t, body)
            if r is None:
                return
            t.fh = r.opaque(FHSIZE3, "the handle")
        except rpc.RpcError:
            self.counters["replies dropped: malformed"] += 1
            self._finish(t, -EIO)
            return
        self._walk(t, i + 1)

    def _getattr(self, t: _Transfer) -> None:
        self.call(t.server, PROC_GETATTR, rpc.opaque(t.fh), lambda body: self._got_attr(t, body), user=t.user)

    def _got_attr(self, t: _Transfer, body: Any) -> None:
        try:
            r = self._results(t, body)
            if r is None:
                return
            kind, size = parse_fattr(r)
        except rpc.RpcError:
            self._finish(t, -EIO)
            return
        if kind == NF3DIR:
            self._finish(t, -EISDIR)
            return
        if t.stat:
            self._finish(t, size)
            return
        if size > t.max_size:
            self._finish(t, -EFBIG)
            return
        t.size, t.next, t.got, t.have, t.holes, t.inflight = size, 0, 0, {}, [], 0
        t.gen += 1
        if size == 0:
            self._finish(t, b"")
            return
        self._fill(t)

    def _fill(self, t: _Transfer) -> None:
        """Keep NFS_WINDOW READs outstanding until every byte has been asked for."""
        while t.inflight < NFS_WINDOW and not t.finished and not t.stalled:
            if t.holes:
                off, n = t.holes.pop()
            elif t.next < t.size:
                off, n = t.next, min(NFS_RSIZE, t.size - t.next)
                t.next += n
            else:
                return
            t.inflight += 1
            gen = t.gen
            args = rpc.opaque(t.fh) + rpc.u64(off) + rpc.u32(n)
            self.call(t.server, PROC_READ, args, self._on_read(t, gen, off, n), user=t.user)

    def _on_read(self, t: _Transfer, gen: int, off: int, n: int) -> Done:
        return lambda body: self._got_read(t, gen, off, n, body)

    def _restart(self, t: _Transfer, why: str) -> None:
        self.counters[f"transfers restarted ({why})"] += 1
        t.restarts += 1
        if t.restarts > RESTARTS:
            self._finish(t, -EIO)
            return
        t.gen += 1  # what is still in flight is for the old size
        self._getattr(t)

    def _got_read(self, t: _Transfer, gen: int, off: int, n: int, body: Any) -> None:
        if gen != t.gen or t.finished:
            return
        t.inflight -= 1
        if body == -EAGAIN and t.inflight > 0:  # no call free now: ask again when one of ours is answered
            t.holes.append((off, n))
            t.stalled = True
            self.counters["reads deferred (no call free)"] += 1
            return
        if isinstance(body, int):
            self._finish(t, body)
            return
        t.stalled = False
        try:
            r = rpc.Reader(body)
            status = r.u32("status")
            attrs = parse_post_op(r)
            if status != NFS3_OK:
                self._finish(t, _errno(status))
                return
            count = r.u32("count")
            eof = r.boolean("eof")
            data = r.opaque(NFS_RSIZE, "the data")
        except rpc.RpcError:
            self._finish(t, -EIO)
            return
        if len(data) != count or len(data) > n:
            self._finish(t, -EIO)
            return
        if attrs is not None and attrs[1] != t.size:
            self._restart(t, "the size changed")
            return
        if len(data) < n:
            if eof:
                self._restart(t, "eof before the size")
                return
            if not data:
                self._finish(t, -EIO)  # no progress and no eof: a server that would keep us here forever
                return
            t.holes.append((off + len(data), n - len(data)))
        t.have[off] = data
        t.got += len(data)
        self.counters["bytes read"] += len(data)
        if t.got >= t.size and t.inflight == 0 and not t.holes and t.next >= t.size:
            out = b"".join(t.have[o] for o in sorted(t.have))
            self.k.sal.charge(costs.BYTE_COPY_PER_8 * (len(out) // 8 + 1))
            self._finish(t, out if len(out) == t.size else -EIO)
            return
        self._fill(t)


def client(k: Kernel) -> NfsClient:
    """The kernel's one client, made on first use."""
    if k.nfs_client is None:
        k.nfs_client = NfsClient(k)
    return k.nfs_client


class ExtensionNFS:
    """NFS as one extension sees it."""

    __name__ = "NFS"

    def __init__(self, k: Kernel, ext: Any) -> None:
        self._k = k
        self._ext = ext
        self._waiting = 0

    def _start(self, what: str, server: Any, path: Any, handler: Any, stat: bool) -> None:
        ext = self._ext
        if not isinstance(server, str) or not isinstance(path, str):
            raise SpinError(f"{ext.name}: NFS.{what}(server, path, handler): server as 'a.b.c.d' and path as a "
                            f"str, not {shown(server)} and {shown(path)}")  # fmt: skip
        try:
            P.ip_aton(server)
        except (ValueError, OSError):
            raise SpinError(f"{ext.name}: NFS.{what}: server {shown(server)} is not an address 'a.b.c.d'") from None
        parts = split_path(path)
        if isinstance(parts, str):
            raise SpinError(f"{ext.name}: NFS.{what}: path {shown(path)}: {parts}")
        if self._waiting >= NFS_PER_EXTENSION:
            raise SpinError(f"{ext.name}: NFS.{what}: {NFS_PER_EXTENSION} calls are already unanswered; call "
                            f"again when one is answered")  # fmt: skip
        cb = callbacks(self._k)
        b = cb.prepare(ext, "NfsDone", handler, f"NFS.{what}(server, path, handler)")
        self._waiting += 1

        def done(result: Any) -> None:
            self._waiting -= 1
            cb.call(ext, b, path, result)

        c = client(self._k)
        user = authority.RAISE not in ext.rights
        if stat:
            c.stat(server, path, done, user=user)
        else:
            c.read(server, path, done, user=user)

    def Read(self, server: Any, path: Any, handler: Any) -> None:  # noqa: N802 - SPIN's names
        """Fetch ``path`` from ``server``; later handler(path, bytes or -errno)."""
        self._start("Read", server, path, handler, False)

    def Stat(self, server: Any, path: Any, handler: Any) -> None:  # noqa: N802
        """The size of ``path`` on ``server``; later handler(path, size or -errno)."""
        self._start("Stat", server, path, handler, True)


def export(k: Kernel) -> None:
    """Offer NFS to extensions on a networked kernel (boot calls this)."""
    k.system.public.exports["NFS"] = lambda ext: ExtensionNFS(k, ext)
