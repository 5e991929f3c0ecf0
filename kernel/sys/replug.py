"""Replugging: replacing a function while other strands are inside it
(Synthetix, seed 003 §4, "The Replugging Algorithm").

A ``Slot`` is the indirection every caller goes through. Callers pay the fast
side of an asymmetric lock: bump the *inside counter* on the way in, drop it
on the way out (on every path out, exceptions included). A replugger pays the
slow side, in the paper's steps:

1. take the slot's replug lock; a replugger that had to wait for it finds the
   work already done (the same guard fired twice) and returns;
2. point the slot at the *holding tank*: callers arriving now park there;
3. wait until the inside counter is 0 -- spinning (yielding) while the
   strands inside are running, sleeping if one of them has set the
   *blocked* flag because it is waiting for I/O;
4. store the new function;
5. release the tank: parked callers continue through the new function;
6. release the lock.

A ``QuasiInvariant`` is a declared fact a specialization relies on (a file
is not shared, an offset is sequential). Code that may falsify it calls
``set``; the guards placed there replug every slot specialized on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from kernel.sys.errors import ReplugError
from kernel.sys.trace import Replug, Trace


class Parker(Protocol):
    """What replugging needs of the strands it parks and wakes: the kernel's
    scheduler (kernel/core/sched.py) is one; replugging does not build on
    any particular kernel."""

    current: Any

    def block(self) -> None: ...
    def unblock(self, s: Any) -> None: ...
    def yield_(self) -> None: ...


ParkedStrand = Any  # a strand of the Parker's


def _name(fn: object) -> str:
    return getattr(fn, "__name__", None) or repr(fn)


class Slot:
    """A replaceable function: call the slot, replug it with ``replug``."""

    def __init__(self, name: str, fn: Callable[..., Any], sched: Parker | None = None,
                 trace: Trace | None = None) -> None:  # fmt: skip
        self.name = name
        self.fn = fn
        self.sched = sched
        self.trace = trace if trace is not None else Trace()
        self.inside = 0  # callers inside self.fn now
        self.blocked = 0  # of those, how many set the blocked flag (waiting for I/O)
        self.replugging = False  # the indirection points at the holding tank
        self.tank: list[ParkedStrand] = []
        self.holder: ParkedStrand | None = None  # owns the replug lock
        self.lock_waiters: list[ParkedStrand] = []
        self.waiter: ParkedStrand | None = None  # the replugger waiting for inside == 0
        self.calls = 0
        self.replugs = 0
        self.parked_total = 0
        self.spins = 0

    def __call__(self, *args: Any) -> Any:
        while self.replugging:  # the holding tank
            s = self._strand("call")
            self.tank.append(s)
            self.parked_total += 1
            self._parker().block()
        self.inside += 1
        self.calls += 1
        try:
            return self.fn(*args)
        finally:
            self.inside -= 1
            if self.inside == 0 and self.waiter is not None and self.blocked == 0:
                w, self.waiter = self.waiter, None
                self._parker().unblock(w)

    @contextmanager
    def blocking(self) -> Iterator[None]:
        """Wrap a wait for I/O inside the slot's function: sets the blocked
        flag so a replugger sleeps instead of spinning for it."""
        self.blocked += 1
        try:
            yield
        finally:
            self.blocked -= 1

    def _parker(self) -> Parker:
        """The scheduler that parks and wakes; only a slot with strands ever waits."""
        if self.sched is None:
            raise ReplugError(f"slot {self.name}: waiting needs a scheduler, and this slot has none")
        return self.sched

    def _strand(self, what: str) -> ParkedStrand:
        s = self.sched.current if self.sched is not None else None
        if s is None:
            raise ReplugError(f"slot {self.name}: cannot {what} while a replug is in progress outside a strand")
        return s

    def replug(self, new: Callable[..., Any], reason: str = "") -> bool:
        """Replace the slot's function; False if a concurrent replugger
        already installed ``new`` while this one waited for the lock."""
        sched = self.sched
        while self.holder is not None:  # step 1: someone else is replugging this slot
            self.lock_waiters.append(self._strand("replug"))
            self._parker().block()
            if self.fn is new:
                return False
        me_or_none = sched.current if sched is not None else None
        if self.inside and me_or_none is None:
            raise ReplugError(f"slot {self.name}: {self.inside} callers are inside and there are no strands to "
                              f"wait for them (replug from a strand, not from inside the function)")  # fmt: skip
        self.holder = me_or_none
        self.replugging = True  # step 2: new callers park in the tank
        while self.inside > 0:  # step 3
            if self.blocked:  # someone inside waits for I/O: sleep until the last one leaves
                self.waiter = me_or_none
                self._parker().block()
            else:
                self.spins += 1
                self._parker().yield_()
        old, self.fn = self.fn, new  # step 4
        self.replugging = False
        parked, self.tank = self.tank, []
        for s in parked:  # step 5
            self._parker().unblock(s)
        self.replugs += 1
        self.trace.add(Replug(slot=self.name, old=_name(old), new=_name(new), parked=len(parked), reason=reason))
        self.holder = None  # step 6
        waiters, self.lock_waiters = self.lock_waiters, []
        for s in waiters:
            self._parker().unblock(s)
        return True


class QuasiInvariant:
    """A value specializations assume will not change (Synthetix §2)."""

    def __init__(self, name: str, value: Any) -> None:
        self.name = name
        self._value = value
        self.guards: list[Callable[[QuasiInvariant, Any, Any], None]] = []

    @property
    def value(self) -> Any:
        return self._value

    def set(self, new: Any) -> None:
        """The guard at every place that can falsify the invariant."""
        old, self._value = self._value, new
        if new != old:
            for g in list(self.guards):
                g(self, old, new)


def specialize(slot: Slot, qi: QuasiInvariant, make: Callable[[Any], Callable[..., Any]]) -> None:
    """Run ``make(qi.value)`` in the slot while the invariant holds, and
    replug it with ``make(new value)`` whenever the invariant changes."""
    slot.replug(make(qi.value), reason=f"specialized on {qi.name} = {qi.value!r}")

    def guard(q: QuasiInvariant, old: Any, new: Any) -> None:
        slot.replug(make(new), reason=f"{q.name} changed from {old!r} to {new!r}")

    qi.guards.append(guard)
