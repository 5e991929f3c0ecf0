"""The UNIX personality's authority over the events it serves.

SOSP'95 §3.3 and §4.3: an application's extension may handle its own
system calls and faults, not everyone's. The personality is the module
that answers ``Trap.SystemCall`` and the fault and trap events for
processes, so it installs their authorizers: a handler from an extension
without the all-processes right (kernel/sys/authority.py) gets an imposed
guard -- the raising strand belongs to one of the processes the extension
was loaded for, or to a descendant of one. Imposed guards run before the
binding's own (spin-reference.md §1), so the extension's code never even
sees another process's state.
"""

from __future__ import annotations

from typing import Any

from kernel.core.sched import StrandView
from kernel.sys import authority

PER_PROCESS_EVENTS = (
    "Trap.SystemCall", "Trap.Arithmetic", "Trap.IllegalInstruction", "Trap.Breakpoint", "Trap.Unaligned",
    "Translation.PageNotPresent", "Translation.BadAddress", "Translation.ProtectionFault",
    "Strand.Block", "Strand.Unblock", "Strand.Checkpoint", "Strand.Resume",
)  # fmt: skip


def install(unix: Any) -> None:
    k = unix.k
    d = k.dispatcher
    for name in PER_PROCESS_EVENTS:
        ev = k.event(name)
        _authorize(unix, d, ev, ev.authorizer)


def _authorize(unix: Any, d: Any, ev: Any, before: Any) -> None:
    def authorize(b: Any, key: Any) -> bool:
        if before is not None and not before(b, key):
            return False
        if authority.ALL_PROCESSES in authority.rights(b):
            return True
        clients = frozenset(getattr(b.creator, "clients", ()))

        def own_process(strand: Any, *rest: Any) -> bool:
            return unix.serves(clients, strand)

        own_process.__name__ = f"pid in {sorted(clients)} or a child" if clients else "no process (none given)"
        d.impose_guard(b, own_process, by=ev.authority)
        return True

    d.install_authorizer(ev, authorize, ev.authority)


def serves(unix: Any, clients: frozenset[int], strand: Any) -> bool:
    """Whether ``strand`` belongs to a process in ``clients`` or to a descendant of one."""
    if not clients:
        return False
    s = getattr(strand, "_strand", None) if type(strand) is StrandView else None  # what the event passed
    pid = getattr(s, "pid", None)
    procs = unix.procs
    seen = 0
    while isinstance(pid, int) and pid > 0 and seen < 4096:
        if pid in clients:
            return True
        p = procs.get(pid)
        if p is None:
            return False
        pid = p.ppid
        seen += 1
    return False
