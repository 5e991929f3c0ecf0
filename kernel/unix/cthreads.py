"""C-Threads as one kernel extension, integrated with SPIN's strands
(SOSP'95 §5.2, Table 3 "integrated").

Each C-Threads operation is one system call whose handler works on strands
directly: fork makes a ready strand in the caller's space, join blocks on
the child's end, and a condition wait releases the caller's user-level
mutex and blocks in the same call. Compare kernel/unix/machthreads.py,
where the same operations take several calls through a general interface.

Calls (Trap.SystemCall, guarded on the number; -errno on failure):

    0x7300 cthread_fork(pc, sp, a0, a1)   a thread id; the thread is ready
    0x7301 cthread_exit(value)
    0x7302 cthread_join(tid)              its exit value, once it has exited
    0x7303 condition_wait(cond, mutex)    stores 0 to the mutex word, blocks
    0x7304 condition_signal(cond)         wakes the longest waiter
    0x7305 cthread_yield()
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from kernel.core import costs
from kernel.core.physaddr import OutOfFrames
from kernel.core.sal import EAGAIN, EDEADLK, EFAULT, ENOMEM, ESRCH
from kernel.core.sched import BLOCKED, Strand
from kernel.core.trap import NORESULT, SyscallState
from kernel.params import MAX_THREADS
from kernel.unix.callblock import CallBlock

BASE = 0x7300
NAMES = ("cthread_fork", "cthread_exit", "cthread_join", "condition_wait", "condition_signal", "cthread_yield")


@dataclass
class CThread:
    strand: Strand
    exited: bool = False
    value: int = 0
    joiner: Strand | None = None


@dataclass
class Package:
    """One process's threads and condition queues."""

    threads: dict[int, CThread] = field(default_factory=dict)
    conditions: dict[int, deque[Strand]] = field(default_factory=dict)


class CThreads(CallBlock[Package]):
    BASE = BASE
    NAMES = NAMES

    def __init__(self, unix: Any) -> None:
        super().__init__(unix, Package)

    def cthread_fork(self, p: Any, s: Strand, pkg: Package, st: SyscallState) -> int:
        if len(pkg.threads) >= MAX_THREADS:  # live, or exited and not yet joined
            return -EAGAIN
        try:
            t = self.unix.new_thread(p, st.a0, st.a1, (st.a2, st.a3), ready=True)
        except OutOfFrames:
            return -ENOMEM  # no frame for its kernel stack (clone(2) answers ENOMEM)
        pkg.threads[t.id] = CThread(t)
        return t.id

    def cthread_exit(self, p: Any, s: Strand, pkg: Package, st: SyscallState) -> Any:
        me = pkg.threads.get(s.id)
        if me is not None:
            me.exited, me.value = True, st.a0
            if me.joiner is not None and me.joiner.state == BLOCKED:
                me.joiner.ctx.set_result(st.a0)
                self.k.sched.wake(me.joiner)
                del pkg.threads[s.id]
        self.unix.end_thread(p, s)
        return NORESULT

    def cthread_join(self, p: Any, s: Strand, pkg: Package, st: SyscallState) -> int:
        t = pkg.threads.get(st.a0)
        if t is None or t.joiner is not None:
            return -ESRCH
        if t.strand is s:
            return -EDEADLK
        if t.exited:
            del pkg.threads[st.a0]
            return t.value
        t.joiner = s
        self.k.sched.block_strand(s, "thread")
        return 0  # replaced by the exit value when the thread exits

    def condition_wait(self, p: Any, s: Strand, pkg: Package, st: SyscallState) -> int:
        if not self.k.copyout(s, st.a1, b"\0" * 8):
            return -EFAULT
        self.k.sal.charge(costs.COND_OP)
        pkg.conditions.setdefault(st.a0, deque()).append(s)
        self.k.sched.block_strand(s, "thread")
        return 0

    def condition_signal(self, p: Any, s: Strand, pkg: Package, st: SyscallState) -> int:
        self.k.sal.charge(costs.COND_OP)
        q = pkg.conditions.get(st.a0)
        while q:
            w = q.popleft()
            if w.state == BLOCKED and w.blocked_on == "thread":
                self.k.sched.wake(w)
                break
        if q is not None and not q:
            del pkg.conditions[st.a0]
        return 0

    def cthread_yield(self, p: Any, s: Strand, pkg: Package, st: SyscallState) -> int:
        if self.k.sched.ready_count():
            self.k.sched.need_resched = self.k.sched.need_resched or "yield"
        return 0
