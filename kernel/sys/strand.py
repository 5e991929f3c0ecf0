"""Strands that run one at a time, in an order only the scheduler decides.

A strand is SPIN's thread of control (SOSP'95 §4.2). Here each one is a host
thread, but it runs only while it holds the *baton*: the scheduler (the host
thread that calls ``run``) hands the baton to one strand and waits until that
strand yields, blocks or ends. Strands never switch among themselves, so the
interleaving depends only on the order of ready strands -- the same run
twice is the same run, which the snapshot tests and step-back rely on. Any
Python code may block (a handler taking a mutex, a replugger waiting for
callers to leave), with no generator plumbing through extension code.

This is the mechanism the kernel's scheduler (kernel/core) builds on; the
extension machinery needs it for asynchronous handlers and replugging.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

READY, RUNNING, BLOCKED, DONE = "ready", "running", "blocked", "done"


class Strand:
    def __init__(self, sched: Scheduler, fn: Callable[..., Any], args: tuple[Any, ...], name: str) -> None:
        self.id = len(sched.strands) + 1  # numbered by its scheduler: a replay numbers them alike
        self.sched = sched
        self.fn = fn
        self.args = args
        self.name = name
        self.state = READY
        self.result: Any = None
        self.error: BaseException | None = None
        self._go = threading.Semaphore(0)
        self._thread: threading.Thread | None = None

    def _main(self) -> None:
        self._go.acquire()
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # noqa: BLE001 - a strand's failure is reported, never lost
            self.error = e
            self.sched.failures.append(f"strand {self.name}: {type(e).__name__}: {e}")
        self.state = DONE
        self.sched._back.release()

    def __repr__(self) -> str:
        return f"<Strand {self.id} {self.name} {self.state}>"


class Scheduler:
    """Round-robin over ready strands; ``run`` returns when none is ready."""

    def __init__(self) -> None:
        self.ready: deque[Strand] = deque()
        self.current: Strand | None = None
        self.strands: list[Strand] = []
        self.failures: list[str] = []
        self.switches = 0
        self._back = threading.Semaphore(0)

    def fork(self, fn: Callable[..., Any], *args: Any, name: str = "strand") -> Strand:
        s = Strand(self, fn, args, name)
        self.strands.append(s)
        self.ready.append(s)
        return s

    def run(self, max_switches: int | None = None) -> int:
        """Hand the baton round the ready strands until none is ready (or
        ``max_switches``); return how many switches were made."""
        made = 0
        while self.ready and (max_switches is None or made < max_switches):
            s = self.ready.popleft()
            self.current = s
            s.state = RUNNING
            if s._thread is None:
                s._thread = threading.Thread(target=s._main, name=f"strand-{s.id}", daemon=True)
                s._thread.start()
            s._go.release()
            self._back.acquire()  # until it yields, blocks or ends
            self.current = None
            made += 1
            self.switches += 1
        for s in self.strands:
            if s.state == DONE and s._thread is not None:
                s._thread.join()
                s._thread = None
        return made

    # --- called by the running strand ---------------------------------------------------------

    def _switch_out(self) -> None:
        s = self.current
        assert s is not None, "only a strand can yield or block"
        self._back.release()
        s._go.acquire()
        s.state = RUNNING

    def yield_(self) -> None:
        """Let the other ready strands run (a preemption point)."""
        s = self.current
        if s is None:
            return
        s.state = READY
        self.ready.append(s)
        self._switch_out()

    def block(self) -> None:
        """Sleep until someone calls ``unblock`` on this strand."""
        s = self.current
        assert s is not None, "only a strand can block"
        s.state = BLOCKED
        self._switch_out()

    def unblock(self, s: Strand) -> None:
        if s.state == BLOCKED:
            s.state = READY
            self.ready.append(s)
