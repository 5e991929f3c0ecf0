"""Strands and the global scheduler (SOSP'95 §4.2, Fig. 4; spin-reference.md §3).

A strand is SPIN's thread of control. Three kinds share one run queue:

- **user** strands run guest code: their registers live in a ``Context`` while
  they are off the processor, and each owns a kernel-stack page with its
  HWPCB (a switch is sal's swpctx + rti);
- **kernel** strands run Python in a host thread that only runs while it holds
  the *baton*: the scheduler hands it over and waits until the strand blocks,
  yields or ends. Only the scheduler chooses, so the interleaving depends on
  virtual time and the run queue alone -- a replay is the same run. Kernel
  strands are preempted only where they block or call ``yield_``/``checkpoint``
  (SPIN preempted only at preemptible PCs, spin-reference.md §3);
- the **idle** strand: guest code in kernel mode looping on ``wtint``.

The scheduler raises ``Strand.Block``, ``Strand.Unblock``, ``Strand.Checkpoint``
and ``Strand.Resume`` (33.1's Stop/Run) as events; their intrinsic handlers are
the global policy: priorities (higher first), round-robin among equals,
preemption when a 5-tick quantum of the 1024 Hz clock is spent.
Application-specific schedulers (``Group``) take one place in the global run
queue and choose among their own strands through the ``Sched.Choose`` event.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from typing import Any

from kernel.core import costs
from kernel.core.physaddr import Frame
from kernel.core.sal import CLOCK_HZ, TIMER_HZ, Context, Sal
from kernel.params import QUANTUM_TICKS
from kernel.sys.errors import SpinError
from kernel.sys.interface import Interface
from kernel.sys.sandbox import shown
from kernel.sys.trace import Switch, Trace

READY, RUNNING, BLOCKED, DONE = "ready", "running", "blocked", "done"
DEFAULT_PRIORITY = 1000
MIN_PRIORITY, MAX_PRIORITY = -2, 10000


class StrandView:
    """A strand as event handlers see it: read-only facts, no levers. Kernel
    code goes from a view to its strand through ``strand_of`` alone."""

    __slots__ = ("_strand",)

    def __init__(self, s: Strand) -> None:
        self._strand = s

    id = property(lambda self: self._strand.id)
    name = property(lambda self: self._strand.name)
    priority = property(lambda self: self._strand.priority)
    state = property(lambda self: self._strand.state)
    pid = property(lambda self: self._strand.pid)
    kind = property(lambda self: self._strand.kind)

    def __repr__(self) -> str:
        return f"<strand {self._strand.id} {self._strand.name}>"


def strand_of(view: object, what: str = "") -> Strand:
    """The strand behind a view the kernel handed out: the kernel's one way
    from what an event passed to the strand itself. It is exported to no
    extension (their names come from SpinPublic and SpinTrusted only), so an
    extension holding a view still cannot reach the strand. Anything but a
    kernel-made view is refused with a SpinError (``what`` names the caller).
    A strand that has ended is still returned: the switch away from it
    checkpoints it; a caller that needs a live one checks (``adopt_view``)."""
    s = view._strand if type(view) is StrandView else None
    if not isinstance(s, Strand):
        raise SpinError(f"{what + ': ' if what else ''}{shown(view)} is not a strand an event passed you")
    return s


class Strand:
    def __init__(self, ident: int, name: str, kind: str, priority: int, owner: str) -> None:
        self.id = ident
        self.name = name
        self.kind = kind  # "user", "kernel" or "idle"
        self.priority = priority
        self.owner = owner
        self.state = READY
        self.ctx = Context()
        self.pcb = 0
        self.kstack: Frame | None = None
        self.space: Any = None  # a Translation Space
        self.cycles = 0  # virtual CPU time used
        self.switches = 0
        self.process: Any = None  # the UNIX personality's process, if any
        self.pid = 0
        self.wake_at: int | None = None
        self.group: Group | None = None
        self.view = StrandView(self)
        self.blocked_on = ""
        # kernel strands
        self.fn: Callable[..., Any] | None = None
        self.args: tuple[Any, ...] = ()
        self.result: Any = None
        self.error: BaseException | None = None
        self._go = threading.Semaphore(0)
        self._thread: threading.Thread | None = None

    def pc_hash(self) -> tuple[int, ...]:
        """The saved registers, for the kernel's state hash."""
        return (self.ctx.pc, self.ctx.ps, self.ctx.fpcr, *self.ctx.r, *self.ctx.f)

    def __repr__(self) -> str:
        return f"<Strand {self.id} {self.name} {self.state}>"


class Group:
    """An application-specific scheduler's strands: one entry in the global
    run queue; ``Sched.Choose`` picks which of them runs."""

    def __init__(self, ident: int, name: str, priority: int) -> None:
        self.id = ident
        self.name = name
        self.priority = priority
        self.members: list[Strand] = []
        self.view = GroupView(self)

    def ready(self) -> list[Strand]:
        return [s for s in self.members if s.state == READY]


class GroupView:
    """An application scheduler's group as extensions see it: a name to pass back."""

    __slots__ = ("_group",)

    def __init__(self, g: Group) -> None:
        self._group = g

    id = property(lambda self: self._group.id)
    name = property(lambda self: self._group.name)


def group_of(view: object, what: str = "") -> Group:
    """The group behind a view from ``Sched.NewGroup`` (as ``strand_of`` for strands)."""
    g = view._group if type(view) is GroupView else None
    if not isinstance(g, Group):
        raise SpinError(f"{what + ': ' if what else ''}{shown(view)} is not a group from Sched.NewGroup")
    return g


class StrandInterface(Interface):
    """The Strand interface: its four events (SOSP'95 Fig. 4). Each slot
    holds its intrinsic handler until boot makes it an event; from then on
    the dispatcher patches the slot, and the scheduler raises through it."""

    Block: Callable[[StrandView], None]
    Unblock: Callable[[StrandView], None]
    Checkpoint: Callable[[StrandView], None]
    Resume: Callable[[StrandView], None]


class SchedInterface(Interface):
    """The Sched interface: the ``Choose`` event (made an event at boot, as
    ``StrandInterface``'s) and the procedures for application schedulers."""

    Choose: Callable[[GroupView, tuple[int, ...]], int]
    GetPriority: Callable[[StrandView], int]
    NewGroup: Callable[..., GroupView]
    Adopt: Callable[[GroupView, StrandView], None]


def _no_stack(s: Strand) -> None:
    """A scheduler without a machine frees no kernel stack: its strands have none."""


def _priority(v: StrandView) -> int:
    """Sched.GetPriority."""
    return v.priority


class _NoMachine:
    """The clock of a scheduler without a machine: time stands still and costs nothing."""

    now = 0

    def charge(self, cycles: int) -> None:
        pass


class Scheduler:
    """The global scheduler of one kernel. Without a ``sal`` it schedules
    kernel strands alone, driven by ``run`` (the dispatcher's and
    replugging's tests, the replugging lesson): the same strands, baton and
    policy a booted kernel uses, with no machine under them."""

    def __init__(self, sal: Sal | None = None, trace: Trace | None = None,
                 release_strand: Callable[[Strand], None] | None = None) -> None:  # fmt: skip
        self.sal: Any = sal if sal is not None else _NoMachine()
        self.trace = trace if trace is not None else Trace()
        self.strands: dict[int, Strand] = {}
        self.groups: dict[int, Group] = {}
        self.runq: list[Strand | Group] = []
        self.current: Strand | None = None  # the strand whose context is on the processor
        self.kernel_running: Strand | None = None  # a kernel strand holding the baton
        self.idle: Strand | None = None
        self.need_resched = ""
        self.quantum_ticks = QUANTUM_TICKS  # a lesson may shorten it to see more decisions
        self.quantum = QUANTUM_TICKS
        self.sleepers: list[tuple[int, int, Strand]] = []
        self.switches = 0
        self.dead: list[Strand] = []  # freed after the switch away from them
        self.failures: list[str] = []
        self._next_id = 1
        self._switch_start = 0
        self._back = threading.Semaphore(0)
        self.release_strand = release_strand if release_strand is not None else _no_stack  # frees a kernel stack
        # The interfaces, built with their procedures; boot makes their events dispatcher events.
        self.strand_iface = StrandInterface(
            "Strand", "strands: Block, Unblock, Checkpoint and Resume are events (SOSP'95 Fig. 4)",
            Block=self._block, Unblock=self._unblock, Checkpoint=self._checkpoint, Resume=self._resume)  # fmt: skip
        self.sched_iface = SchedInterface(
            "Sched", "the global scheduler; Choose picks among an application scheduler's strands",
            Choose=self._choose, GetPriority=_priority, NewGroup=self.new_group_view, Adopt=self.adopt_view)  # fmt: skip

    # --- creating strands ----------------------------------------------------------------

    def new_strand(self, name: str, kind: str, priority: int = DEFAULT_PRIORITY, owner: str = "kernel") -> Strand:
        s = Strand(self._next_id, name, kind, priority, owner)
        self._next_id += 1
        self.strands[s.id] = s
        self.sal.charge(costs.STRAND_CREATE)
        return s

    def make_ready(self, s: Strand) -> None:
        s.state = READY
        self._enqueue(s)

    def fork(
        self, fn: Callable[..., Any], *args: Any, name: str = "kthread", priority: int = DEFAULT_PRIORITY
    ) -> Strand:
        """A kernel strand running fn(*args) (the dispatcher's spawn for
        asynchronous handlers, and the kernel's own threads)."""
        s = self.new_strand(name, "kernel", priority)
        s.fn, s.args = fn, args
        self.make_ready(s)
        return s

    # --- the run queue -------------------------------------------------------------------

    def _enqueue(self, s: Strand) -> None:
        entry: Strand | Group = s.group if s.group is not None else s
        if entry not in self.runq:
            self.runq.append(entry)

    def _dequeue(self, s: Strand) -> None:
        if s in self.runq:
            self.runq.remove(s)
        g = s.group
        if g is not None and g in self.runq and not g.ready():
            self.runq.remove(g)

    def _best(self) -> Strand | None:
        """The next strand: the highest priority entry, first come first served."""
        while self.runq:
            top = max(e.priority for e in self.runq)
            entry = next(e for e in self.runq if e.priority == top)
            self.runq.remove(entry)
            if isinstance(entry, Group):
                ready = entry.ready()
                if not ready:
                    continue
                ident = self.sched_iface.Choose(entry.view, tuple(s.id for s in ready))
                chosen = next((s for s in ready if s.id == ident), ready[0])
                if len(ready) > 1:
                    self.runq.append(entry)  # the group keeps its place for its other strands
                return chosen
            if entry.state == READY:
                return entry
        return None

    def ready_count(self) -> int:
        return sum(len(e.ready()) if isinstance(e, Group) else 1 for e in self.runq)

    # --- intrinsic handlers of the strand events ----------------------------------------

    def _block(self, v: StrandView) -> None:
        s = strand_of(v)
        if s.state in (READY, RUNNING):
            was_running = s.state == RUNNING
            s.state = BLOCKED
            self._dequeue(s)
            if was_running and s is self.current:
                self.need_resched = self.need_resched or "block"

    def _unblock(self, v: StrandView) -> None:
        s = strand_of(v)
        if s.state == BLOCKED:
            s.state = READY
            s.blocked_on = ""
            self._enqueue(s)
            cur = self.current
            if cur is not None and (cur.kind == "idle" or s.priority > cur.priority):
                self.need_resched = self.need_resched or ("idle" if cur.kind == "idle" else "preempt")

    def _checkpoint(self, v: StrandView) -> None:
        """The strand leaves the processor; its context is already saved."""
        s = strand_of(v)
        s.cycles += self.sal.now - self._switch_start

    def _resume(self, v: StrandView) -> None:
        s = strand_of(v)
        if s.kind != "kernel":
            self.sal.switch_to(s.pcb)
        self._switch_start = self.sal.now
        s.switches += 1

    @staticmethod
    def _choose(g: GroupView, ready: tuple[int, ...]) -> int:
        return ready[0]

    # --- what blocking looks like from kernel code ---------------------------------------

    def block_strand(self, s: Strand, why: str) -> None:
        s.blocked_on = why
        self.strand_iface.Block(s.view)

    def wake(self, s: Strand) -> None:
        self.strand_iface.Unblock(s.view)

    def sleep_until(self, s: Strand, cycle: int) -> None:
        s.wake_at = cycle
        heapq.heappush(self.sleepers, (cycle, s.id, s))
        self.block_strand(s, "sleep")

    def end(self, s: Strand) -> None:
        """The strand is finished; its kernel stack goes after the switch."""
        was = s.state
        s.state = DONE
        self._dequeue(s)
        if s.group is not None:
            s.group.members.remove(s)
        if s is self.current and was == RUNNING:
            self.need_resched = self.need_resched or "exit"
        self.dead.append(s)

    # --- the clock -----------------------------------------------------------------------

    def tick(self) -> None:
        now = self.sal.now
        while self.sleepers and self.sleepers[0][0] <= now:
            _, _, s = heapq.heappop(self.sleepers)
            if s.state == BLOCKED and s.wake_at is not None and s.wake_at <= now:
                s.wake_at = None
                self.wake(s)
        cur = self.current
        if cur is None:
            return
        if cur.kind == "idle":
            if self.runq:
                self.need_resched = self.need_resched or "idle"
            return
        self.quantum -= 1
        if self.quantum <= 0:
            if any(e.priority >= cur.priority for e in self.runq):
                self.need_resched = self.need_resched or "clock"
            else:
                self.quantum = self.quantum_ticks

    # --- switching -----------------------------------------------------------------------

    def start(self, idle: Strand) -> None:
        """Boot's first switch has put ``idle`` on the processor: it runs
        when nothing else is ready, and a choice is due at once."""
        self.idle = idle
        self.current = idle
        idle.state = RUNNING
        self.need_resched = "boot"

    def choose_next(self) -> Strand:
        """Pick the strand to run when the kernel returns, running kernel
        strands on the way (each until it blocks, yields or ends)."""
        cur = self.current
        while True:
            if cur is not None and cur.state == RUNNING and not self.need_resched:
                return cur
            if cur is not None and cur.state == RUNNING:
                if cur.kind == "idle":
                    cur.state = READY
                else:
                    self.make_ready(cur)  # preempted: to the back of its priority
            nxt = self._best()
            if nxt is None:
                assert self.idle is not None
                nxt = self.idle
            if nxt.kind == "kernel":
                self._switch(cur, nxt)
                self._run_kernel(nxt)
                cur = self.current = None
                continue
            self._switch(cur, nxt)
            self.need_resched = ""
            self.quantum = self.quantum_ticks
            return nxt

    def _switch(self, old: Strand | None, new: Strand) -> None:
        reason = self.need_resched or ("block" if old is not None and old.state == BLOCKED else "yield")
        if old is not None and old.state == DONE:
            reason = "exit"
        if old is not new:
            if old is not None:
                self.strand_iface.Checkpoint(old.view)
            self.trace.add(Switch(cycle=self.sal.now, old=old.id if old else 0, new=new.id,
                                  old_name=old.name if old else "", new_name=new.name, reason=reason))  # fmt: skip
            self.switches += 1
            self.sal.charge(costs.KERNEL_SWITCH if new.kind == "kernel" else costs.CONTEXT_SWITCH)
            self.strand_iface.Resume(new.view)
        new.state = RUNNING
        self.current = new
        self.need_resched = ""

    def reap(self) -> None:
        """Free the kernel stacks of strands that ended, once off them."""
        keep = []
        for s in self.dead:
            if self.sal.pal.pcbb == s.pcb and s.pcb:
                keep.append(s)
            else:
                self.release_strand(s)
                self.strands.pop(s.id, None)
        self.dead = keep

    def ran(self, s: Strand) -> int:
        """Cycles ``s`` has run, its current turn on the processor included."""
        return s.cycles + (self.sal.now - self._switch_start if s is self.current else 0)

    def run(self, max_switches: int | None = None) -> int:
        """Without a machine: hand the baton to ready kernel strands, best
        first, each until it blocks, yields or ends, until none is ready (or
        ``max_switches``); how many switches were made. A booted kernel
        runs its strands from ``choose_next`` instead."""
        made = 0
        while max_switches is None or made < max_switches:
            nxt = self._best()
            if nxt is None:
                break
            if nxt.kind != "kernel":
                raise SpinError(f"Scheduler.run runs kernel strands only; strand {nxt.id} {nxt.name} is {nxt.kind}")
            self._switch(self.current, nxt)
            self._run_kernel(nxt)
            self.current = None
            made += 1
        return made

    # --- kernel strands (host threads with the baton) -----------------------------------

    def _run_kernel(self, s: Strand) -> None:
        self.kernel_running = s
        if s._thread is None:
            s._thread = threading.Thread(target=self._kernel_main, args=(s,), name=f"strand-{s.id}", daemon=True)
            s._thread.start()
        s._go.release()
        self._back.acquire()
        self.kernel_running = None
        s.cycles += self.sal.now - self._switch_start
        if s.state == DONE and s._thread is not None:
            s._thread.join()
            s._thread = None

    def _kernel_main(self, s: Strand) -> None:
        s._go.acquire()
        try:
            assert s.fn is not None
            s.result = s.fn(*s.args)
        except BaseException as e:  # noqa: BLE001 - a strand's failure is reported, never lost
            s.error = e
            self.failures.append(f"strand {s.id} {s.name}: {type(e).__name__}: {e}")
        self.end(s)
        self._back.release()

    def _switch_out(self, s: Strand) -> None:
        self._back.release()
        s._go.acquire()
        s.state = RUNNING
        self.kernel_running = s
        self._switch_start = self.sal.now

    def yield_(self) -> None:
        """A kernel strand lets others run (replug and the sync primitives use this)."""
        s = self.kernel_running
        if s is None:
            return
        self.make_ready(s)
        self._switch_out(s)

    def block(self) -> None:
        s = self.kernel_running
        assert s is not None, "only a kernel strand can block"
        self.strand_iface.Block(s.view)
        self._switch_out(s)

    def unblock(self, s: Strand) -> None:
        self.wake(s)

    def checkpoint(self) -> None:
        """A preemption point in long kernel work: yield if the quantum is spent."""
        s = self.kernel_running
        if s is not None and self.sal.now - self._switch_start > self.quantum_ticks * CLOCK_HZ // TIMER_HZ:
            self.yield_()

    def sleep(self, cycles: int) -> None:
        s = self.kernel_running
        assert s is not None, "only a kernel strand can sleep"
        s.wake_at = self.sal.now + cycles
        heapq.heappush(self.sleepers, (s.wake_at, s.id, s))
        s.blocked_on = "sleep"
        self.block()

    # --- application-specific schedulers -------------------------------------------------

    def new_group(self, name: str, priority: int = DEFAULT_PRIORITY) -> Group:
        g = Group(len(self.groups) + 1, name, priority)
        self.groups[g.id] = g
        return g

    def new_group_view(self, name: str, priority: int = DEFAULT_PRIORITY) -> GroupView:
        """Sched.NewGroup for extensions: an application scheduler's place in the run queue."""
        if not isinstance(name, str) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
            raise SpinError(f"Sched.NewGroup: give a name and a priority 0..{MAX_PRIORITY}")
        return self.new_group(name, priority).view

    def adopt_view(self, g: GroupView, s: StrandView) -> None:
        """Sched.Adopt for extensions: put a user strand under the group's scheduler."""
        if not isinstance(g, GroupView) or not isinstance(s, StrandView):
            raise SpinError("Sched.Adopt(group, strand): a group from Sched.NewGroup and a strand an event passed you")
        strand = strand_of(s, "Sched.Adopt")
        if strand.kind != "user" or strand.state == DONE:
            raise SpinError(f"Sched.Adopt: strand {strand.id} is not a live user strand")
        self.adopt(group_of(g, "Sched.Adopt"), strand)

    def adopt(self, g: Group, s: Strand) -> None:
        """Move a strand under an application-specific scheduler."""
        if s.group is g:
            return
        self._dequeue(s)
        if s.group is not None:
            s.group.members.remove(s)
        s.group = g
        g.members.append(s)
        if s.state == READY:
            self._enqueue(s)
