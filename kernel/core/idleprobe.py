"""The idle probe: how SOSP'95 §5.4 measured server utilization.

"We determine processor utilization by measuring the progress of a
low-priority idle thread that executes on the server." The probe counts
passes of a loop of fixed modeled cost (costs.PROBE_LOOP) made at the
lowest priority -- in the time nothing else wants the processor -- so
``utilization = 1 - loops / loops_on_an_idle_machine`` over the same
virtual interval (the bench measures the idle machine too, clock ticks
and all).

The loop runs in the idle strand's place. A kernel strand here runs
Python and could only charge its loops ahead of time, which would carry
this machine past the moment another machine's frame reaches it (the
world's rounds trust a waiting machine to act no earlier than its next
event, machine/world.py). So the probe counts what a spinning thread
*would* have done in each stretch the machine spends in the idle strand:
from the kernel's return to the idle strand to the next interrupt, whole
passes only (a pass an interrupt cuts short does not count). Virtual
time and the machine's behaviour are exactly as without the probe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kernel.core import costs
from kernel.core.sal import PAL_ENTRY_CYCLES

if TYPE_CHECKING:
    from kernel.kernel import Kernel


class IdleProbe:
    """Start counting on a booted kernel; read ``loops`` (or ``sample``)."""

    def __init__(self, k: Kernel, loop_cycles: int = costs.PROBE_LOOP) -> None:
        self.k = k
        self.loop = loop_cycles
        self.loops = 0
        self.stretches = 0  # idle stretches counted
        self._since: int | None = None  # the kernel returned to the idle strand at this cycle
        self._resume: Callable[..., None] = k.sal.resume
        self._chained = k.entry_watch
        k.sal.resume = self._on_resume  # type: ignore[method-assign]
        k.entry_watch = self._on_entry

    def _on_resume(self, count: bool = True) -> None:
        cur = self.k.sched.current
        self._resume(count)
        if cur is not None and cur.kind == "idle":
            self._since = self.k.sal.now

    def _on_entry(self, what: str) -> None:
        since = self._since
        if since is not None:
            self._since = None
            stretch = self.k.sal.now - PAL_ENTRY_CYCLES - since
            if stretch > 0:
                self.loops += stretch // self.loop
                self.stretches += 1
        if self._chained is not None:
            self._chained(what)

    def sample(self) -> tuple[int, int]:
        """(virtual cycle, loops so far), the stretch under way included: two samples make an interval."""
        since = self._since
        extra = (self.k.sal.now - since) // self.loop if since is not None and self.k.sal.now > since else 0
        return self.k.sal.now, self.loops + extra

    def stop(self) -> None:
        """Stop counting and give the kernel its own hooks back."""
        self.k.sal.resume = self._resume  # type: ignore[method-assign]
        self.k.entry_watch = self._chained
