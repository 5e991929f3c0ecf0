"""The kernel of one machine: its services, and what happens at each entry.

Every trap follows one path (SOSP'95 §4): save the strand's registers, raise
the event the trap stands for -- ``Trap.SystemCall``, a Translation fault
event, or another ``Trap.*`` event -- let the scheduler choose who runs next,
and return through ``rti``. Interrupts take a shorter path: the clock ticks
the scheduler, devices finish I/O, and the interrupted strand resumes unless
a switch is due. Nothing here knows the Alpha; that is kernel/core/sal.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from kernel.core import costs
from kernel.core.physaddr import OutOfFrames, PhysAddr
from kernel.core.sal import (
    BAD_ADDRESS,
    ENOSYS,
    GENTRAP_TEXT,
    NOT_PRESENT,
    PAGE_MASK,
    PAGE_SIZE,
    PROTECTION,
    Halt,
    Sal,
    TrapInfo,
)
from kernel.core.sched import DONE, RUNNING, Scheduler, Strand
from kernel.core.translation import FaultState, Space, Translation, VirtAddr
from kernel.core.trap import NORESULT, RESTART, SyscallState, TrapInterface, TrapState
from kernel.params import NOTE_MAX
from kernel.sys.dispatcher import Event
from kernel.sys.interface import Interface
from kernel.sys.system import ExtensionSystem
from kernel.sys.trace import MemFault, Syscall, Trace
from machine.machine import Machine

if TYPE_CHECKING:  # built on the kernel, so imported only to be named here
    from kernel.core.reel import Reel
    from kernel.core.timers import Timers
    from kernel.fs.extentfs import ExtentFS
    from kernel.fs.files_ext import Callbacks
    from kernel.fs.nfs_client import NfsClient
    from kernel.fs.nfs_server import NfsServer
    from kernel.net.multicast import Multicast
    from kernel.net.stack import NetStack
    from kernel.unix.personality import Unix


class KernelPanic(Halt):
    """The kernel itself faulted: the machine stops with the reason."""


class Kernel:
    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.sal = Sal(machine)
        self.trace = Trace()
        self.sched = Scheduler(self.sal, self.trace, release_strand=self.release_strand)
        self.system = ExtensionSystem(self.sched, self.trace)  # asynchronous handlers run on the kernel's strands
        self.dispatcher = self.system.dispatcher
        self.dispatcher.counting = True  # every binding's calls are true, the intrinsics' too (kernel/inspect.py)
        self.dispatcher.charge = lambda used: self.sal.charge(costs.EXT_CALL + costs.EXT_FUEL * used)
        self.dispatcher.clock, self.dispatcher.cost = machine.cpu, (costs.EXT_CALL, costs.EXT_FUEL)  # the same, inline
        self.phys: PhysAddr | None = None
        self.translation: Translation | None = None
        self.virt = VirtAddr()
        self.ifaces: dict[str, Interface] = {}
        self.trap = TrapInterface("Trap", "system calls and processor traps as events")  # its events: boot
        self.boot_log: list[str] = []
        self.ticks = 0
        self.syscalls = 0
        self.faults = 0
        self.copies = 0  # copyin/copyout operations between user memory and the kernel (a string is one)
        self.copied = 0  # the bytes they moved
        self.syscall_state: SyscallState | None = None  # the call being dispatched now (kernel/unix/calls_ext.py)
        self.syscall_note = ""  # what its handler decoded from user memory (a path), for its Syscall record
        self.call_end: dict[int, Callable[[], None]] = {}  # strand id -> what to do when its call returns (calls_ext)
        # strand id -> (first entry's cycle, entries so far, note) of a call that blocked and will restart
        self._entered: dict[int, tuple[int, int, str]] = {}
        self.halt_when_done = False  # stop the machine when no user strand is left
        self.exit_status: int | None = None
        self.console_input: Callable[[int], bytes] | None = None  # host source for the tty (spinwb run)
        self.console_eof = False
        self.console_waiters: list[Strand] = []
        self.reports: list[str] = []  # one line per strand the kernel ended, for the console and the CLI
        self.personality: Unix | None = None  # attach_personality
        self.fs: ExtentFS | None = None  # attach_fs
        self.syscall_names: dict[int, str] = {}
        self.on_unhandled: Callable[[Strand, str, TrapInfo | None, str], None] = self.end_strand
        self.exit_message = ""
        self.devices: list[Callable[[int], bool]] = []  # interrupt handlers: each says whether the vector was its
        self.tick_hooks: list[Callable[[], None]] = []  # called on every clock tick (the network's timers)
        self.net: NetStack | None = None  # attach_net: on a machine with a card and an address
        self.entry_watch: Callable[[str], None] | None = None  # told of every kernel entry (the workbench's stepping)
        # Services made on first use, each by its own module's function; None until then. Not in
        # state_hash: what they hold shows in the strands, the machine and the network they drive.
        self.completion_callbacks: Callbacks | None = None  # kernel/fs/files_ext.py callbacks()
        self.nfs_client: NfsClient | None = None  # kernel/fs/nfs_client.py client()
        self.nfs_server: NfsServer | None = None  # kernel/fs/nfs_server.py serve_nfs(): status pages, Packets pane
        self.timers: Timers | None = None  # kernel/core/timers.py install_timers()
        self.reel: Reel | None = None  # kernel/core/reel.py install_reel()
        self.multicast: Multicast | None = None  # kernel/net/multicast.py install_multicast()

    # --- what boot attaches ------------------------------------------------------------

    def attach_fs(self, fs: ExtentFS) -> None:
        """The file system on the disk: its interrupt handler joins the devices."""
        self.fs = fs
        self.devices.append(fs.interrupt)

    def attach_personality(self, personality: Unix) -> None:
        """The UNIX personality: it decides what a fault nobody fixed does to
        a process, kills a process out of memory, checks a strand before it
        resumes (signals) and adds its processes to the state hash."""
        self.personality = personality
        self.on_unhandled = personality.unhandled

    def attach_net(self, net: NetStack) -> None:
        """The network stack: the Lance driver's interrupts and the stack's
        timers on the clock tick."""
        self.net = net
        self.devices.append(net.driver.interrupt)
        self.tick_hooks.append(net.tick)

    # --- events ----------------------------------------------------------------------

    def event(self, name: str) -> Event:
        return self.dispatcher.event(name)

    # --- entries ---------------------------------------------------------------------

    def on_trap(self, info: TrapInfo) -> None:
        if self.entry_watch is not None:
            self.entry_watch(f"kernel entry: {info.what} at pc {info.pc:#x}")
        s = self.sched.current
        sal = self.sal
        sal.charge(costs.TRAP_ENTRY)
        if s is None or s.kind != "user":
            raise KernelPanic(f"kernel panic: {info.what} in kernel mode at pc {info.pc:#x}: {info.text}", 2)
        sal.save(s.ctx)
        try:
            if info.what == "syscall":
                self._syscall(s)
            elif info.what == "fault":
                self._fault(s, info)
            else:
                self._trap(s, info)
        except OutOfFrames:
            self._out_of_memory(s, info)
        self.leave(count=True)

    def _out_of_memory(self, s: Strand, info: TrapInfo) -> None:
        """The last line of the OOM policy: some path took a frame for this
        strand and let OutOfFrames out (the personality's own paths catch it
        first). The strand's process dies as out of memory; the kernel goes on."""
        p = getattr(s, "process", None)
        if self.personality is not None and p is not None:
            self.personality.oom_kill(p, info.address if info.what == "fault" else None)
        elif s.state != DONE:
            self.report(f"strand {s.id} ({s.name}) ended: out of memory during {info.what} at pc {info.pc:#x}")
            self.sched.end(s)

    def on_interrupt(self, kind: int, vector: int) -> None:
        sal = self.sal
        if self.entry_watch is not None:
            self.entry_watch(
                "kernel entry: clock interrupt" if sal.is_clock(kind) else f"kernel entry: device interrupt {vector:#x}"
            )
        if sal.is_clock(kind):
            self.ticks += 1
            sal.charge(costs.CLOCK_TICK)
            self.sched.tick()
            for hook in self.tick_hooks:
                hook()
            if self.console_waiters and (self.machine.console.readable or self.console_eof):
                for s in self.console_waiters:
                    self.sched.wake(s)
                self.console_waiters.clear()
        else:
            for device in self.devices:
                if device(vector):
                    break
        cur = self.sched.current
        if self.sched.need_resched or cur is None or cur.state != RUNNING:
            if cur is not None:
                sal.save(cur.ctx)
            self.leave(count=False)
        else:
            sal.resume(count=False)

    def leave(self, count: bool) -> None:
        sched = self.sched
        while True:
            nxt = sched.choose_next()
            if self.personality is None or nxt.kind != "user" or self.personality.before_resume(nxt):
                break
        sched.reap()
        if self.translation is not None:
            self.translation.current = nxt.space
        if self.halt_when_done and not self.user_strands():
            raise Halt("all processes exited", self.exit_status or 0)
        self.sal.load(nxt.ctx)
        self.sal.resume(count=count)

    def new_user_strand(self, name: str, space: Space, priority: int, owner: str) -> Strand:
        """A strand for user code: a kernel-stack page holding its HWPCB. The
        page is taken first, so OutOfFrames leaves no strand half-made."""
        assert self.phys is not None
        kstack = self.phys.Allocate("kstack", ("pinned", "zeroed"))
        s = self.sched.new_strand(name, "user", priority, owner)
        kstack.tag = f"kstack {s.id}"
        s.kstack = kstack
        s.space = space
        s.pcb = self.sal.new_pcb(s.kstack.pfn, space.root, space.asn)
        return s

    def release_strand(self, s: Strand) -> None:
        self._entered.pop(s.id, None)
        end = self.call_end.pop(s.id, None)
        if end is not None:
            end()
        if s.kstack is not None and self.phys is not None:
            self.phys.Deallocate(s.kstack)
            s.kstack = None

    def user_strands(self) -> list[Strand]:
        return [s for s in self.sched.strands.values() if s.kind == "user" and s.state != DONE]

    # --- system calls ----------------------------------------------------------------

    def _syscall(self, s: Strand) -> None:
        state = SyscallState(s.ctx, s.view)
        self.sal.charge(costs.SYSCALL_DISPATCH)
        self.syscalls += 1
        number = s.ctx.syscall_number
        args = s.ctx.args()
        first, entries, note = self._entered.pop(s.id, (self.sal.trap_cycle, 0, ""))
        self.syscall_state, self.syscall_note = state, note
        try:
            self.trap.SystemCall(s.view, state)
        finally:
            self.syscall_state = None
        result = state.result
        if result is RESTART:
            s.ctx.restart()
            self._entered[s.id] = (first, entries + 1, self.syscall_note)  # one call, however often it blocks
            return
        if self.call_end:
            end = self.call_end.pop(s.id, None)
            if end is not None:
                end()
        if result is NORESULT or s.state == DONE:
            return
        if not isinstance(result, int) or isinstance(result, bool):
            what = type(result).__name__  # not its repr: an extension's value can be any size
            self.reports.append(f"system call {number}: a handler set a result of type {what}; the caller gets ENOSYS")
            result = -ENOSYS
        s.ctx.set_result(result)
        self.trace.add(Syscall(cycle=self.sal.now, strand=s.id, pid=s.pid, number=number,
                               name=self.syscall_names.get(number, str(number)), result=result, start=first,
                               args=args, entries=entries + 1, text=self.syscall_note[:NOTE_MAX]))  # fmt: skip

    def note(self, text: str) -> None:
        """What the call being handled read from user memory (a path), for its
        trace record; free in virtual time, so tracing never changes a run."""
        if self.syscall_state is not None:
            self.syscall_note = text

    # --- memory faults ---------------------------------------------------------------

    def fault_event(self, s: Strand, address: int, kind: int, pc: int, event: str, in_kernel: bool) -> bool:
        """Raise the fault event for a strand's access; True if a handler fixed it."""
        state = FaultState(address, kind, pc, s.space, s.view, event, in_kernel, self.sal.trap_cycle)
        self.sal.charge(costs.FAULT_DECODE)
        self.faults += 1
        getattr(self.ifaces["Translation"], event)(s.view, state)
        self.trace.add(MemFault(cycle=self.sal.now, strand=s.id, event=f"Translation.{event}", address=address,
                                access=state.kind, pc=pc, done=state.done))  # fmt: skip
        return bool(state.done)

    def _fault(self, s: Strand, info: TrapInfo) -> None:
        if s.space is None:
            self.on_unhandled(s, "SIGSEGV", info, info.text)
            return
        if not self.fault_event(s, info.address, info.kind, info.pc, info.event, False):
            if s.state != DONE:
                self.on_unhandled(s, "SIGSEGV", info, info.text)

    def _trap(self, s: Strand, info: TrapInfo) -> None:
        name = {"arith": "Arithmetic", "illegal": "IllegalInstruction", "unaligned": "Unaligned",
                "breakpoint": "Breakpoint", "gentrap": "Breakpoint"}[info.what]  # fmt: skip
        state = TrapState(info, s.view)
        getattr(self.trap, name)(s.view, state)
        if not state.done and s.state != DONE:
            sig = {"arith": "SIGFPE", "illegal": "SIGILL", "unaligned": "SIGBUS"}.get(info.what, "SIGTRAP")
            text = info.text
            if info.what == "gentrap":
                what = GENTRAP_TEXT.get(info.code)
                sig = "SIGFPE" if what else "SIGTRAP"
                text = f"{what} (gentrap {info.code})" if what else f"gentrap {info.code}"
            self.on_unhandled(s, sig, info, text)

    def end_strand(self, s: Strand, signal: str, info: TrapInfo | None, text: str) -> None:
        """What the kernel does without a personality: report and end the strand."""
        where = ""
        if info is not None:
            where = f", pc {info.pc:#x}: {self.sal.disassemble(self.sal.peek_word(info.pc), info.pc)}"
        self.report(f"strand {s.id} ({s.name}) ended: {signal}: {text}{where}")
        self.sched.end(s)

    def report(self, line: str) -> None:
        """A line for the kernel's log (the workbench shows it; ``spinwb run``
        prints the process's own on stderr). Never on the console, which is
        the programs' standard output."""
        self.reports.append(line)

    # --- user memory -----------------------------------------------------------------

    def user_pa(self, s: Strand, va: int, write: bool) -> int | None:
        """Where a user access would land, faulting pages in the way the
        program's own access would (demand zero, copy-on-write); None if the
        address is bad for this strand (the call then fails with EFAULT)."""
        if s.space is None or s.state == DONE:
            return None
        pa, mmcsr = self.sal.user_pa(s.space.root, va, write)
        if pa is not None:
            return pa
        event = self.sal.fault_event(mmcsr or 0)
        if event == BAD_ADDRESS:
            return None
        if not self.fault_event(s, va, 1 if write else 0, s.ctx.pc, event, True) or s.state == DONE:
            return None  # unfixable, or fixing it ended the strand (out of memory): its page tables are gone
        pa, _ = self.sal.user_pa(s.space.root, va, write)
        return pa

    def copyin(self, s: Strand, va: int, n: int) -> bytes | None:
        out = bytearray()
        while len(out) < n:
            a = (va + len(out)) & (2**64 - 1)
            pa = self.user_pa(s, a, False)
            if pa is None:
                return None
            k = min(PAGE_SIZE - (a & PAGE_MASK), n - len(out))
            out += self.sal.read_phys(pa, k)
        self.sal.charge(costs.BYTE_COPY_PER_8 * (n // 8))
        self.copies += n > 0
        self.copied += n
        return bytes(out)

    def user_writable(self, s: Strand, va: int, n: int) -> bool:
        """Every page of the n bytes at va takes a store (faulted in as the
        program's own store would): a read checks its buffer this way before
        it consumes input it could not give back."""
        return all(self.user_pa(s, max(p, va), True) is not None for p in range(va & ~PAGE_MASK, va + n, PAGE_SIZE))

    def copyout(self, s: Strand, va: int, data: bytes) -> bool:
        pos = 0
        while pos < len(data):
            a = (va + pos) & (2**64 - 1)
            pa = self.user_pa(s, a, True)
            if pa is None:
                return False
            k = min(PAGE_SIZE - (a & PAGE_MASK), len(data) - pos)
            self.sal.write_phys(pa, data[pos : pos + k])
            pos += k
        self.sal.charge(costs.BYTE_COPY_PER_8 * (len(data) // 8))
        self.copies += len(data) > 0
        self.copied += len(data)
        return True

    def copyin_string(self, s: Strand, va: int, limit: int = 4096) -> str | None:
        out = bytearray()
        copies = self.copies
        try:
            while len(out) < limit:
                chunk = self.copyin(s, va + len(out), min(64, PAGE_SIZE - ((va + len(out)) & PAGE_MASK)))
                if chunk is None:
                    return None
                z = chunk.find(b"\0")
                if z >= 0:
                    out += chunk[:z]
                    return out.decode("latin-1")
                out += chunk
            return None
        finally:
            self.copies = copies + 1  # one copy, however many pieces it was read in

    # --- console ---------------------------------------------------------------------

    def console_write(self, data: bytes, stream: int = 1) -> None:
        """A process's write to a console fd; ``stream`` 2 is stderr."""
        self.machine.console.send(data, stream)

    def console_read(self, n: int) -> bytes | None:
        """Up to n bytes of console input; b"" at end of input; None if the
        caller must wait for more."""
        con = self.machine.console
        if not con.input and self.console_input is not None and not self.console_eof:
            data = self.console_input(n)
            if data:
                con.feed(data)
            else:
                self.console_eof = True
        taken = con.take(n)
        if taken is not None:
            return taken
        if self.console_eof or self.console_input is not None:
            return b""
        return None

    # --- running and inspection ------------------------------------------------------

    def run(self, max_instructions: int | None = None, until_cycle: int | None = None) -> str:
        return self.machine.run(max_instructions, until_cycle)

    def state_hash(self) -> str:
        """The machine's hash plus the kernel's own state: strands, their
        saved registers, the run queue, processes."""
        h = hashlib.sha256(self.machine.state_hash().encode())
        for s in sorted(self.sched.strands.values(), key=lambda s: s.id):
            h.update(repr((s.id, s.name, s.kind, s.state, s.priority, s.pc_hash(), s.cycles, s.wake_at)).encode())
        h.update(repr([getattr(e, "id", 0) for e in self.sched.runq]).encode())
        if self.personality is not None:
            h.update(self.personality.state_repr().encode())
        return h.hexdigest()


__all__ = ["NOT_PRESENT", "PROTECTION", "Kernel", "KernelPanic"]
