"""Kernel threads with mutexes and condition variables: the trusted thread
package SPIN exported as Modula-3's Thread interface (SOSP'95 §5.2, "Thread
management": locks with condition variables are SPIN's native kernel
primitives, the ones Table 3's kernel column measures).

Built on the scheduler's kernel strands. A strand runs only while it holds
the baton, so the package needs no host locks of its own: between two
``block``/``yield_`` calls a kernel strand is alone in the kernel, as on
SPIN's uniprocessor with preemption only at preemptible points. Waiters
wake first come, first served, so a run replays exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from kernel.core import costs
from kernel.core.sched import DONE, Scheduler, Strand
from kernel.sys.errors import SpinError


class Mutex:
    """Acquire/Release; a contended Acquire blocks the strand."""

    def __init__(self, sched: Scheduler, name: str = "mutex") -> None:
        self.sched = sched
        self.name = name
        self.holder: Strand | None = None
        self.waiters: deque[Strand] = deque()

    def acquire(self) -> None:
        me = self._me("Acquire")
        self.sched.sal.charge(costs.MUTEX_OP)
        if self.holder is me:
            raise SpinError(f"Thread.Acquire: {self.name} is already held by strand {me.id}")
        while self.holder is not None:
            self.waiters.append(me)
            me.blocked_on = f"mutex {self.name}"
            self.sched.block()
        self.holder = me

    def release(self) -> None:
        me = self._me("Release")
        if self.holder is not me:
            raise SpinError(f"Thread.Release: {self.name} is not held by strand {me.id}")
        self.sched.sal.charge(costs.MUTEX_OP)
        self.holder = None
        if self.waiters:
            self.sched.unblock(self.waiters.popleft())

    def _me(self, what: str) -> Strand:
        me = self.sched.kernel_running
        if me is None:
            raise SpinError(f"Thread.{what}: only a kernel thread can use {self.name}")
        return me

    def __enter__(self) -> Mutex:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Condition:
    """Wait(mutex) releases the mutex and blocks until Signal or Broadcast,
    then reacquires it (Mesa semantics: the waiter rechecks its predicate)."""

    def __init__(self, sched: Scheduler, name: str = "condition") -> None:
        self.sched = sched
        self.name = name
        self.waiters: deque[Strand] = deque()

    def wait(self, m: Mutex) -> None:
        me = m._me("Wait")
        if m.holder is not me:
            raise SpinError(f"Thread.Wait: {m.name} must be held to wait on {self.name}")
        self.sched.sal.charge(costs.COND_OP)
        self.waiters.append(me)
        me.blocked_on = f"condition {self.name}"
        m.release()
        self.sched.block()
        m.acquire()

    def signal(self) -> None:
        self.sched.sal.charge(costs.COND_OP)
        if self.waiters:
            self.sched.unblock(self.waiters.popleft())

    def broadcast(self) -> None:
        self.sched.sal.charge(costs.COND_OP)
        while self.waiters:
            self.sched.unblock(self.waiters.popleft())


class Thread:
    """Thread.Fork and Thread.Join: a kernel strand whose end a joiner waits for."""

    def __init__(self, sched: Scheduler, fn: Callable[..., Any], args: tuple[Any, ...], name: str) -> None:
        self.sched = sched
        self.lock = Mutex(sched, f"{name} join")
        self.done = Condition(sched, f"{name} done")
        self.finished = False
        self.result: Any = None
        self.strand = sched.fork(self._main, fn, args, name=name)

    def _main(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.result = fn(*args)
        finally:
            with self.lock:
                self.finished = True
                self.done.signal()

    def join(self) -> Any:
        with self.lock:
            while not self.finished:
                self.done.wait(self.lock)
        if self.strand.error is not None:
            raise SpinError(f"Thread.Join: strand {self.strand.id} failed: {self.strand.error}")
        return self.result

    @property
    def ended(self) -> bool:
        return self.strand.state == DONE


def fork(sched: Scheduler, fn: Callable[..., Any], *args: Any, name: str = "kthread") -> Thread:
    return Thread(sched, fn, args, name)
