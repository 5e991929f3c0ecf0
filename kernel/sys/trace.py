"""Typed trace records in a bounded ring buffer.

The panes, scenario checks and exports read the kernel only through
inspection calls and these records (ARCHITECTURE.md, "Observability"). A
record is a frozen dataclass with a sequence number; ``Trace.since(seq)``
gives a pane what is new without copying the whole ring.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from kernel.params import TRACE_RECORDS


@dataclass(frozen=True, slots=True)
class Record:
    seq: int = field(default=0, compare=False)

    kind = "record"


@dataclass(frozen=True, slots=True)
class Install(Record):
    event: str = ""
    binding: int = 0
    owner: str = ""
    options: str = ""
    kind = "install"


@dataclass(frozen=True, slots=True)
class Uninstall(Record):
    event: str = ""
    binding: int = 0
    owner: str = ""
    reason: str = ""
    kind = "uninstall"


@dataclass(frozen=True, slots=True)
class Dispatch(Record):
    """One raise: each binding's guard result (None where the guard was not
    evaluated, e.g. after a Cancel), the handlers that ran and their fuel."""

    event: str = ""
    guards: tuple[tuple[int, bool | None], ...] = ()
    handlers: tuple[int, ...] = ()
    fuel: tuple[int, ...] = ()
    default: bool = False
    subject: int = 0  # the first argument's id: the packet a network event carried (kernel/net/records.py)
    kind = "dispatch"


@dataclass(frozen=True, slots=True)
class Abort(Record):
    """A handler ran out of fuel (exceeded its time bound) and was aborted."""

    event: str = ""
    binding: int = 0
    owner: str = ""
    fuel: int = 0
    kind = "abort"


@dataclass(frozen=True, slots=True)
class Fault(Record):
    """A handler or guard raised; the kernel caught it."""

    event: str = ""
    binding: int = 0
    owner: str = ""
    error: str = ""
    kind = "fault"


@dataclass(frozen=True, slots=True)
class Denied(Record):
    """An authorizer or the linker refused something."""

    what: str = ""
    who: str = ""
    reason: str = ""
    kind = "denied"


@dataclass(frozen=True, slots=True)
class Replug(Record):
    slot: str = ""
    old: str = ""
    new: str = ""
    parked: int = 0  # callers held in the tank while it happened
    reason: str = ""
    kind = "replug"


@dataclass(frozen=True, slots=True)
class Link(Record):
    extension: str = ""
    domain: str = ""
    imports: tuple[str, ...] = ()
    kind = "link"


@dataclass(frozen=True, slots=True)
class Switch(Record):
    """A context switch, at virtual time ``cycle``; ``reason`` is why the
    old strand stopped: "clock" (quantum spent), "block", "yield", "exit",
    "preempt" (a higher priority woke), "idle"."""

    cycle: int = 0
    old: int = 0
    new: int = 0
    old_name: str = ""
    new_name: str = ""
    reason: str = ""
    kind = "switch"


@dataclass(frozen=True, slots=True)
class Syscall(Record):
    """A system call that returned, at ``cycle``. The later fields are what
    ``spinwb profile`` reads (Poking Holes §4's strace): when the call was
    first entered (``start``, before the PAL entry), its six argument
    registers, the kernel entries it took (more than 1 when it blocked and
    restarted) and what its handler decoded from user memory (a path)."""

    cycle: int = 0
    strand: int = 0
    pid: int = 0
    number: int = 0
    name: str = ""
    result: int = 0  # >= 0, or -errno
    start: int = 0
    args: tuple[int, ...] = ()
    entries: int = 1
    text: str = ""
    kind = "syscall"


@dataclass(frozen=True, slots=True)
class MemFault(Record):
    """A fault event raised from entMM (or by a copyin/copyout) and who fixed it."""

    cycle: int = 0
    strand: int = 0
    event: str = ""
    address: int = 0
    access: str = ""
    pc: int = 0
    done: bool = False
    kind = "memfault"


@dataclass(frozen=True, slots=True)
class Exit(Record):
    cycle: int = 0
    pid: int = 0
    name: str = ""
    status: int = 0
    message: str = ""
    kind = "exit"


@dataclass(frozen=True, slots=True)
class Signal(Record):
    cycle: int = 0
    pid: int = 0
    signal: int = 0
    action: str = ""  # "handler", "terminate", "ignore"
    kind = "signal"


@dataclass(frozen=True, slots=True)
class Boot(Record):
    step: str = ""
    detail: str = ""
    kind = "boot"


R = TypeVar("R", bound=Record)  # add returns the record it was given, as its own type


class Trace:
    """A bounded ring of records. ``enabled`` turns on per-dispatch records,
    which cost time on every raise; the rarer records are always kept."""

    def __init__(self, capacity: int = TRACE_RECORDS) -> None:
        self.ring: deque[Record] = deque(maxlen=capacity)
        self._seq = itertools.count(1)
        self.enabled = False
        self.watch: Callable[[Record], None] | None = None  # the workbench's breakpoints see every record

    def add(self, record: R) -> R:
        object.__setattr__(record, "seq", next(self._seq))
        self.ring.append(record)
        if self.watch is not None:
            self.watch(record)
        return record

    def since(self, seq: int) -> list[Record]:
        return [r for r in self.ring if r.seq > seq]

    def of(self, kind: type[Record]) -> list[Record]:
        return [r for r in self.ring if isinstance(r, kind)]

    def __iter__(self) -> Iterator[Record]:
        return iter(list(self.ring))

    def __len__(self) -> int:
        return len(self.ring)
