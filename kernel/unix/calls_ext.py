"""The UNIX personality's calls as a macro system call composes them.

Poking Holes §5 pushes a sequence of an application's system calls into
the kernel -- a *macro system call*: one entry, one return, where the
program made several. A macro call is a ``Trap.SystemCall`` handler of
its own number; what it does inside is the personality's own work on the
calling process -- the same ``open``, the same ``read`` of regular files
(kernel/unix/fileread.py, where Synthetix's specialized read plugs in),
the same ``close`` -- minus the crossings between them.

Two kinds of code compose them (the trust taxonomy of Poking Holes §3.2):
kernel code calls ``CallOps`` directly (kernel/unix/macrocalls.py, "I
trust extensions"); an extension imports ``Unix``, the view below, and
each of its calls is checked ("I don't have to trust extensions": the
verifier's language and its fuel, plus these checks):

    Unix.Open(state, path, flags) -> fd or -errno      the caller's open(path, flags)
    Unix.Read(state, fd, buf, n) -> n, -errno or None  read(fd, buf, n) into the caller's memory
    Unix.ReadData(state, fd, n) -> bytes, -errno or None   a regular file's next bytes, kept in the kernel
    Unix.Send(state, fd, data) -> n, -errno or None    data onto a connected TCP socket, no copy from user
    Unix.Close(state, fd) -> 0 or -errno
    Unix.Progress(state) -> list                       this call's own list, the same across its restarts
    Unix.Name(number, name)                            the name traces and spinwb profile show for a call

``state`` must be the system call being handled now, made by one of the
processes the extension serves (kernel/unix/authority.py's rule, checked
again here so a state kept from an earlier call is worth nothing). None
means the strand blocked (for the disk, for room in the socket): the
handler sets ``state.result = Trap.Restart`` and returns; the call runs
again when the strand wakes, with its ``Progress`` list as it was left.
A descriptor a macro call opened and did not close is closed by the
kernel when the call returns, and a strand that ends while blocked inside
one leaves nothing behind (its process's exit closes its descriptors).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.core.sal import EBADF, ENOTCONN, ENOTSOCK
from kernel.core.sched import strand_of
from kernel.core.trap import RESTART, SyscallState
from kernel.params import MACRO_NAME_MAX, MACRO_READ_MAX
from kernel.sys import authority
from kernel.sys.errors import SpinError
from kernel.sys.sandbox import shown
from kernel.unix.process import Process

if TYPE_CHECKING:
    from kernel.core.sched import Strand
    from kernel.unix.personality import Unix

APP_CALLS = range(0x7000, 0x8000)  # application-specific call numbers an extension may name


class _Args:
    """A system call's arguments as the personality's handlers read them,
    for one call a macro call makes on its caller's behalf."""

    __slots__ = ("_strand", "a0", "a1", "a2", "a3", "a4", "a5")

    def __init__(self, st: Any, *args: int) -> None:
        self._strand = st._strand
        self.a0, self.a1, self.a2, self.a3, self.a4, self.a5 = (*args, 0, 0, 0, 0, 0, 0)[:6]


class _Call:
    """What the kernel keeps for one macro call while it runs (across its
    restarts): the extension's progress list and the descriptors it opened."""

    __slots__ = ("fds", "p", "progress")

    def __init__(self, p: Process) -> None:
        self.p = p
        self.progress: list[Any] = []
        self.fds: dict[int, Any] = {}  # fd -> the OpenFile it named when the macro call opened it


class CallOps:
    """The personality's calls on the calling process, without crossings.
    Kernel code uses these directly; the extension view checks first."""

    def __init__(self, unix: Unix) -> None:
        self.unix = unix
        self.k = unix.k
        self.calls: dict[int, _Call] = {}  # strand id -> its macro call in progress
        self.checks = 0  # the extension view's checks, all extensions (spinwb bench macro counts them)

    def call(self, st: SyscallState) -> tuple[Process, Strand, _Call]:
        s = strand_of(st._strand)
        p = s.process
        assert isinstance(p, Process)
        c = self.calls.get(s.id)
        if c is None:
            c = self.calls[s.id] = _Call(p)
            self.k.call_end[s.id] = lambda sid=s.id: self.end(sid)
        return p, s, c

    def end(self, sid: int) -> None:
        """The call returned (or its strand ended): close what it left open."""
        c = self.calls.pop(sid, None)
        if c is None:
            return
        for fd, f in c.fds.items():
            if c.p.fds.get(fd) is f and f is not None:
                del c.p.fds[fd]
                self.unix._release(f)

    def open(self, st: SyscallState, path: int, flags: int) -> int:
        p, _s, c = self.call(st)
        fd = self.unix.sys_open(p, _Args(st, path, flags))  # type: ignore[arg-type]
        if fd >= 0:
            c.fds[fd] = p.fds[fd]
        return fd

    def close(self, st: SyscallState, fd: int) -> int:
        p, _s, c = self.call(st)
        c.fds.pop(fd, None)
        return self.unix.sys_close(p, _Args(st, fd))  # type: ignore[arg-type]

    def read(self, st: SyscallState, fd: int, buf: int, n: int) -> int | None:
        p, _s, _c = self.call(st)
        r = self.unix.sys_read(p, _Args(st, fd, buf, n))  # type: ignore[arg-type]
        return None if r is RESTART else r

    def read_data(self, st: SyscallState, fd: int, n: int) -> bytes | int | None:
        p, s, _c = self.call(st)
        f = p.fds.get(fd)
        if f is None or not f.readable or f.kind != "file":
            return -EBADF
        got = self.unix.reads.read(p, f, s, min(n, MACRO_READ_MAX))
        return got

    def send(self, st: SyscallState, fd: int, data: bytes) -> int | None:
        p, s, _c = self.call(st)
        f = p.fds.get(fd)
        if f is None or not f.writable:
            return -EBADF
        if f.kind != "socket":
            return -ENOTSOCK
        sockets = self.unix.sockets
        if sockets is None:
            return -ENOTCONN
        r = sockets.send_data(p, s, f.entry, data)
        return None if r is RESTART else r

    def progress(self, st: SyscallState) -> list[Any]:
        return self.call(st)[2].progress


class ExtensionUnix:
    """Unix as one extension sees it: each call checked, charged as a
    procedure call into the kernel (EXT_CALL), on the caller's process only."""

    __name__ = "Unix"

    def __init__(self, ops: CallOps, ext: Any) -> None:
        self._ops = ops
        self._ext = ext

    def _state(self, st: Any, what: str) -> SyscallState:
        k = self._ops.k
        k.sal.charge(costs.EXT_CALL)
        self._ops.checks += 1
        if type(st) is not SyscallState or st is not k.syscall_state:
            raise SpinError(f"{self._ext.name}: Unix.{what}: the state must be the system call being handled now, "
                            f"not {shown(st)}")  # fmt: skip
        s = strand_of(st._strand)
        if not isinstance(s.process, Process):
            raise SpinError(f"{self._ext.name}: Unix.{what}: the caller is no process")
        ext = self._ext
        if authority.ALL_PROCESSES not in ext.rights and not self._ops.unix.serves(frozenset(ext.clients), st._strand):
            raise SpinError(f"{ext.name}: Unix.{what}: pid {s.pid} is not one of the processes it was loaded for")
        return st

    def _ints(self, what: str, *values: Any) -> None:
        self._ops.checks += 1
        for v in values:
            if type(v) is not int or not 0 <= v < 1 << 64:
                raise SpinError(f"{self._ext.name}: Unix.{what}: arguments are ints from 0 to 2**64-1, not {shown(v)}")

    def Open(self, st: Any, path: Any, flags: Any) -> int:  # noqa: N802 - SPIN's names
        self._ints("Open(state, path, flags)", path, flags)
        return self._ops.open(self._state(st, "Open"), path, flags)

    def Read(self, st: Any, fd: Any, buf: Any, n: Any) -> int | None:  # noqa: N802
        self._ints("Read(state, fd, buf, n)", fd, buf, n)
        return self._ops.read(self._state(st, "Read"), fd, buf, n)

    def ReadData(self, st: Any, fd: Any, n: Any) -> bytes | int | None:  # noqa: N802
        self._ints("ReadData(state, fd, n)", fd, n)
        return self._ops.read_data(self._state(st, "ReadData"), fd, n)

    def Send(self, st: Any, fd: Any, data: Any) -> int | None:  # noqa: N802
        self._ints("Send(state, fd, data)", fd)
        if type(data) is not bytes:
            raise SpinError(f"{self._ext.name}: Unix.Send: data must be bytes, not {shown(data)}")
        return self._ops.send(self._state(st, "Send"), fd, data)

    def Close(self, st: Any, fd: Any) -> int:  # noqa: N802
        self._ints("Close(state, fd)", fd)
        return self._ops.close(self._state(st, "Close"), fd)

    def Progress(self, st: Any) -> list[Any]:  # noqa: N802
        return self._ops.progress(self._state(st, "Progress"))

    def Name(self, number: Any, name: Any) -> None:  # noqa: N802
        """Name an application-specific call (0x7000..0x7fff) for the trace, once."""
        names = self._ops.k.syscall_names
        ok = type(number) is int and number in APP_CALLS and type(name) is str and 0 < len(name) <= MACRO_NAME_MAX
        if not ok or not name.replace("_", "").isalnum():
            raise SpinError(f"{self._ext.name}: Unix.Name: a call number from 0x7000 to 0x7fff and a name of up to "
                            f"{MACRO_NAME_MAX} letters, digits and _, not {shown(number)}, {shown(name)}")  # fmt: skip
        if names.get(number, name) != name:
            raise SpinError(f"{self._ext.name}: Unix.Name: call {number:#x} is already {names[number]}")
        names[number] = name


def export(unix: Unix) -> CallOps:
    """Offer Unix to extensions; the kernel's own macro calls use the ops directly."""
    ops = CallOps(unix)
    unix.k.system.public.exports["Unix"] = lambda ext: ExtensionUnix(ops, ext)
    return ops


__all__ = ["APP_CALLS", "CallOps", "ExtensionUnix", "export"]
