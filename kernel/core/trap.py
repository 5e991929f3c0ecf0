"""Traps as events (SOSP'95 §4.3; spin-reference.md §1 "kernel authorizers").

``Trap.SystemCall(strand, state)`` is raised from entSys for every system
call. Its intrinsic handler is uninstalled at boot and a default handler
answers ENOSYS, so a call nobody claims fails cleanly. Handlers read
``state.v0`` and ``state.a0``..``state.a5`` and set ``state.result`` (a value,
or -errno). A handler that must wait sets ``state.result = RESTART`` after
blocking the strand: the call runs again when the strand is woken.

Arithmetic, illegal-instruction, breakpoint and unaligned traps are events
too, with the fault protocol's ``done`` flag: a handler that deals with the
trap (signals the process, fixes the access) sets it; if nobody does, the
kernel ends the strand with a one-line report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel.core.sal import A0, A1, A2, A3, A4, A5, ENOSYS, V0
from kernel.core.sched import Strand, StrandView, strand_of
from kernel.sys.interface import Interface

RESTART = object()  # a handler blocked the strand; the call is re-executed on wake-up
NORESULT = object()  # the handler set the registers itself (sigreturn) or the strand is gone


class SyscallState:
    """A system call as handlers see it: the number and arguments are
    read-only; ``result`` is what the caller gets back."""

    __slots__ = ("_ctx", "_strand", "result")

    def __init__(self, ctx: Any, strand: StrandView) -> None:
        self._ctx = ctx
        self._strand = strand
        self.result: Any = None

    v0 = property(lambda self: self._ctx.r[V0])
    a0 = property(lambda self: self._ctx.r[A0])
    a1 = property(lambda self: self._ctx.r[A1])
    a2 = property(lambda self: self._ctx.r[A2])
    a3 = property(lambda self: self._ctx.r[A3])
    a4 = property(lambda self: self._ctx.r[A4])
    a5 = property(lambda self: self._ctx.r[A5])
    map = property(lambda self: strand_of(self._strand).space.handle)  # the caller's Translation, as a handle
    pid = property(lambda self: strand_of(self._strand).pid)

    def __repr__(self) -> str:
        return f"<syscall {self.v0} result={self.result!r}>"


def caller(state: SyscallState) -> Strand:
    """The strand that made the call (the main one or one of its threads),
    for the kernel's handlers; an extension sees only ``state``'s properties."""
    return strand_of(state._strand)


class TrapState:
    """An arithmetic, illegal-instruction, breakpoint or unaligned trap."""

    __slots__ = ("_info", "_strand", "done")

    def __init__(self, info: Any, strand: StrandView) -> None:
        self._info = info
        self._strand = strand
        self.done = False

    pc = property(lambda self: self._info.pc)
    address = property(lambda self: self._info.address)
    code = property(lambda self: self._info.code)
    text = property(lambda self: self._info.text)
    what = property(lambda self: self._info.what)

    def __repr__(self) -> str:
        return f"<{self._info.what} trap at {self._info.pc:#x} done={self.done}>"


class TrapInterface(Interface):
    """The Trap interface: each slot is an event from boot on (the
    dispatcher patches it); the kernel raises the trap it took through it."""

    SystemCall: Callable[[StrandView, SyscallState], None]
    # What a Trap.SystemCall handler that blocked its strand sets as the result, so the call runs again
    # when the strand is woken: the kernel's own handlers use RESTART, an extension reads Trap.Restart.
    Restart: object = RESTART
    Arithmetic: Callable[[StrandView, TrapState], None]
    IllegalInstruction: Callable[[StrandView, TrapState], None]
    Breakpoint: Callable[[StrandView, TrapState], None]
    Unaligned: Callable[[StrandView, TrapState], None]


def _ignore(strand: Any, state: Any) -> None:
    """Intrinsic handler of the trap events: do nothing, leave ``done`` unset."""


def _enosys(strand: Any, state: SyscallState) -> None:
    state.result = -ENOSYS
