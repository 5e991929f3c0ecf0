"""Mach's kernel-thread interface as SPIN extensions offered it to a layered
C-Threads library (SOSP'95 §5.2, Table 3 "layered").

Threads and message ports are named by port names in the task's IPC space,
so each call first translates a name (costs.PORT_OP). The user-level
library builds C-Threads from these: fork is thread_create +
thread_set_state + thread_resume, and a blocked cthread waits in
msg_receive on its own port until another sends it a message. Each of those
is a system call: that is what "layered" costs.

Calls (Trap.SystemCall, guarded on the number; -errno on failure):

    0x7200 thread_create()                      a suspended thread's port
    0x7201 thread_set_state(port, pc, sp, a0, a1)
    0x7202 thread_resume(port)
    0x7203 thread_terminate(port)               0: the caller
    0x7204 thread_self()
    0x7205 port_allocate()                      a message port
    0x7206 msg_send(port)                       an empty message; wakes a receiver
    0x7207 msg_receive(port)                    takes a message, or blocks for one
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from kernel.core import costs
from kernel.core.physaddr import OutOfFrames
from kernel.core.sal import A0, A1, EINVAL, ENOMEM, ESRCH
from kernel.core.sched import BLOCKED, DONE, Strand
from kernel.core.trap import NORESULT, SyscallState
from kernel.params import MAX_PORTS
from kernel.unix.callblock import CallBlock

BASE = 0x7200
NAMES = ("thread_create", "thread_set_state", "thread_resume", "thread_terminate", "thread_self",
         "port_allocate", "msg_send", "msg_receive")  # fmt: skip


@dataclass
class Port:
    thread: Strand | None = None  # a thread's port, or
    messages: int = 0  # a message port: queued messages and
    receivers: deque[Strand] = field(default_factory=deque)  # strands blocked in msg_receive


@dataclass
class Task:
    """One process's IPC space."""

    ports: dict[int, Port] = field(default_factory=dict)
    next_name: int = 0x103  # Mach's first user port names were small odd numbers; any will do

    def name(self, port: Port) -> int:
        n = self.next_name
        self.next_name += 2
        self.ports[n] = port
        return n


class MachThreads(CallBlock[Task]):
    BASE = BASE
    NAMES = NAMES
    COST = costs.PORT_OP

    def __init__(self, unix: Any) -> None:
        super().__init__(unix, Task)

    def _thread(self, task: Task, name: int, s: Strand) -> Strand | None:
        if name == 0:
            return s
        port = task.ports.get(name)
        return port.thread if port is not None and port.thread is not None else None

    def thread_create(self, p: Any, s: Strand, task: Task, st: SyscallState) -> int:
        if len(task.ports) >= MAX_PORTS:
            return -EINVAL
        try:
            t = self.unix.new_thread(p, 0, 0, (), ready=False)
        except OutOfFrames:
            return -ENOMEM  # no frame for its kernel stack (clone(2) answers ENOMEM)
        return task.name(Port(thread=t))

    def thread_set_state(self, p: Any, s: Strand, task: Task, st: SyscallState) -> int:
        t = self._thread(task, st.a0, s)
        if t is None or t is s or t.state != BLOCKED or t.blocked_on != "suspended":
            return -ESRCH
        t.ctx = self.k.sal.user_context(st.a1, st.a2)
        t.ctx.r[A0], t.ctx.r[A1] = st.a3, st.a4
        return 0

    def thread_resume(self, p: Any, s: Strand, task: Task, st: SyscallState) -> int:
        t = self._thread(task, st.a0, s)
        if t is None or t.state != BLOCKED or t.blocked_on != "suspended":
            return -ESRCH
        self.k.sched.wake(t)
        return 0

    def thread_terminate(self, p: Any, s: Strand, task: Task, st: SyscallState) -> Any:
        t = self._thread(task, st.a0, s)
        if t is None or t.state == DONE:
            return -ESRCH
        for name, port in list(task.ports.items()):
            if port.thread is t:
                del task.ports[name]
        self.unix.end_thread(p, t)
        return NORESULT if t is s else 0

    def thread_self(self, p: Any, s: Strand, task: Task, st: SyscallState) -> int:
        for name, port in task.ports.items():
            if port.thread is s:
                return name
        return task.name(Port(thread=s))

    def port_allocate(self, p: Any, s: Strand, task: Task, st: SyscallState) -> int:
        if len(task.ports) >= MAX_PORTS:
            return -EINVAL
        return task.name(Port())

    def msg_send(self, p: Any, s: Strand, task: Task, st: SyscallState) -> int:
        port = task.ports.get(st.a0)
        if port is None or port.thread is not None:
            return -EINVAL
        while port.receivers:
            r = port.receivers.popleft()
            if r.state == BLOCKED and r.blocked_on == "thread":
                self.k.sched.wake(r)  # handed over: its msg_receive returns 0
                return 0
        port.messages += 1
        return 0

    def msg_receive(self, p: Any, s: Strand, task: Task, st: SyscallState) -> int:
        port = task.ports.get(st.a0)
        if port is None or port.thread is not None:
            return -EINVAL
        if port.messages:
            port.messages -= 1
            return 0
        port.receivers.append(s)
        self.k.sched.block_strand(s, "thread")
        return 0  # what the call returns once a sender wakes it
