"""A block of application-specific system calls served by one kernel
extension (the thread packages of SOSP'95 Table 3 are two such blocks).

A subclass names its first number ``BASE`` and its calls ``NAMES``; call
``BASE + i`` runs the method ``NAMES[i]`` with (process, calling strand,
the process's own state, SyscallState) and its return value is the result.
One guarded Trap.SystemCall handler serves the whole block; the
per-process state is made on a process's first call and dropped when it
exits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from kernel.core.sal import EINVAL
from kernel.core.sched import strand_of
from kernel.core.trap import SyscallState

S = TypeVar("S")


class CallBlock(Generic[S]):
    BASE: ClassVar[int]
    NAMES: ClassVar[tuple[str, ...]]
    COST: ClassVar[int] = 0  # modeled cycles every call of the block pays first

    def __init__(self, unix: Any, make_state: Callable[[], S]) -> None:
        self.unix = unix
        self.k = unix.k
        self.make_state = make_state
        self.per_process: dict[int, S] = {}
        self.calls = [getattr(self, n) for n in self.NAMES]
        self.k.syscall_names.update({self.BASE + i: n for i, n in enumerate(self.NAMES)})
        self.k.dispatcher.install_handler(self.k.event("Trap.SystemCall"), self._call, self._mine,
                                          owner=type(self).__name__)  # fmt: skip
        unix.exit_hooks.append(self._forget)

    def _mine(self, strand: Any, state: SyscallState) -> bool:
        return self.BASE <= state.v0 < self.BASE + len(self.NAMES)

    def _call(self, strand: Any, state: SyscallState) -> None:
        s = strand_of(strand)
        p = s.process
        if p is None:
            state.result = -EINVAL
            return
        if self.COST:
            self.k.sal.charge(self.COST)
        mine = self.per_process.get(p.pid)
        if mine is None:
            mine = self.per_process[p.pid] = self.make_state()
        state.result = self.calls[state.v0 - self.BASE](p, s, mine, state)

    def _forget(self, pid: int) -> None:
        self.per_process.pop(pid, None)
