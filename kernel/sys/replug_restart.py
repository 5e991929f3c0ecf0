"""Replugging for callers whose waits return: user strands in system calls
(Synthetix §4.1, with the blocked flag).

kernel/sys/replug.py's ``Slot`` is for kernel strands, which block in place
with their Python frame kept. A user strand's system call cannot: when the
read misses the buffer cache the strand is blocked and the call *returns*,
to be run again from the start when the disk's interrupt wakes it
(kernel/core/trap.py, RESTART). So here "inside" is a record, not a frame:

- a strand that enters takes the slot's function and is put in ``inside``
  with it; when its call returns None (blocked for the disk) it stays
  inside with the *blocked* flag, and when the call restarts it continues
  with the function it entered with, whatever the slot holds by then;
- a replug (``request``) points the indirection at the holding tank
  (``pending``): a strand arriving now parks in the tank (blocked; its call
  restarts when the tank is released). If nobody is inside the swap is done
  at once; else the last strand to leave does it (§4.1 steps 4-5) and wakes
  the tank and the repluggers;
- a replugger that must not go on before the swap (``replug``, an open that
  falsifies "one opener") parks as a *waiter* and its own system call
  restarts; it is woken when the swap is done. The swap itself is never
  left to a replugger, which may be killed before it runs again;
- a guard called after the fact (the file's bytes already changed) can let
  the strands blocked inside *rejoin* (``request(..., rejoin=True)``): they
  hold nothing of the first attempt -- no byte copied out, the offset
  unmoved -- so their restart enters afresh, through the new function.
  That is the way out §4.3 proposes ("leave the specialized code path when
  initiating I/O and rejoin a replugged path when I/O completes").

Nothing is lost: every strand inside is either still inside, gone with its
process (``purge``), or rejoined and counted; ``drop`` (the file's last
close) wakes everyone parked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel.core.sched import BLOCKED, DONE
from kernel.sys.trace import Replug, Trace


def _name(fn: object) -> str:
    return getattr(fn, "__name__", None) or repr(fn)


class RestartableSlot:
    """A replaceable function called by strands whose waits restart the call."""

    def __init__(self, name: str, fn: Callable[..., Any], sched: Any, trace: Trace,
                 on_swap: Callable[[], None] | None = None) -> None:  # fmt: skip
        self.name = name
        self.fn = fn
        self.sched = sched
        self.trace = trace
        self.on_swap = on_swap  # charged per swap (REPLUG_SWAP)
        self.inside: dict[Any, Callable[..., Any]] = {}  # strand -> the function it entered with
        self.blocked: set[Any] = set()  # of those, the ones waiting for the disk (the blocked flag)
        self.pending: tuple[Callable[..., Any], str] | None = None  # a replug under way: the tank is up
        self.tank: list[Any] = []  # callers that arrived during a replug
        self.waiters: list[Any] = []  # repluggers waiting for the inside counter to reach 0
        self.calls = self.replugs = self.parked_total = self.waits = self.rejoined = self.purged = 0

    def call(self, s: Any, *args: Any) -> Any:
        """``fn(*args)`` for strand ``s``; None if ``s`` must wait (for the
        disk inside, or in the tank) and its call will run again."""
        fn = self.inside.get(s)
        if fn is None:
            if self.pending is not None:
                self._park(s, self.tank, f"replug tank: {self.name}")
                self.parked_total += 1
                return None
            fn = self.fn
            self.inside[s] = fn
            self.calls += 1
        else:
            self.blocked.discard(s)  # back from the disk, in the function it entered
        try:
            r = fn(*args)
        except BaseException:
            self._leave(s)
            raise
        if r is None:
            self.blocked.add(s)  # stays inside, blocked: a replugger waits for it, it does not spin
            return None
        self._leave(s)
        return r

    def request(self, new: Callable[..., Any], reason: str, rejoin: bool = False) -> bool:
        """Put the tank up and plug ``new`` in as soon as nobody is inside:
        True if that was now. A later request before the swap replaces this
        one (its guard saw a later state). ``rejoin``: the strands blocked
        inside leave now and enter afresh when their calls restart."""
        if rejoin:
            for s in list(self.blocked):
                self.inside.pop(s, None)
                self.rejoined += 1
            self.blocked.clear()
        self.purge()
        self.pending = (new, reason)
        if self.inside:
            return False
        self._swap()
        return True

    def replug(self, new: Callable[..., Any], reason: str, s: Any) -> bool:
        """``request``, and if strands are inside, park ``s`` until the swap:
        False means ``s`` is blocked and its system call must restart."""
        if self.request(new, reason):
            return True
        self._park(s, self.waiters, f"replug: {self.name}: waits for {len(self.inside)} inside")
        self.waits += 1
        return False

    def purge(self) -> None:
        """Strands inside whose process is gone will not come back: they leave."""
        for s in [s for s in self.inside if s.state == DONE]:
            self.inside.pop(s)
            self.blocked.discard(s)
            self.purged += 1

    def gone(self, s: Any) -> None:
        """Strand ``s`` ended while inside (its process was killed): it leaves,
        and if it was the last one inside, the waiting replug is done."""
        if s in self.inside:
            self.purged += 1
            self._leave(s)

    def drop(self) -> None:
        """The slot is going (its file's last close): wake everyone parked; their calls restart and find no file."""
        self.inside.clear()
        self.blocked.clear()
        self.pending = None
        self._release()

    def _leave(self, s: Any) -> None:
        self.inside.pop(s, None)
        self.blocked.discard(s)
        if self.pending is not None and not self.inside:
            self._swap()

    def _swap(self) -> None:
        assert self.pending is not None
        new, reason = self.pending
        old, self.fn = self.fn, new
        self.pending = None
        self.replugs += 1
        if self.on_swap is not None:
            self.on_swap()
        self.trace.add(Replug(slot=self.name, old=_name(old), new=_name(new), parked=len(self.tank), reason=reason))
        self._release()

    def _park(self, s: Any, queue: list[Any], why: str) -> None:
        queue.append(s)
        self.sched.block_strand(s, why)

    def _release(self) -> None:
        parked, self.tank = self.tank, []
        waiting, self.waiters = self.waiters, []
        for s in parked + waiting:
            if s.state == BLOCKED:
                self.sched.wake(s)
