"""The UNIX personality: Linux/Alpha system calls as a kernel extension.

SPIN ran UNIX programs through a personality built from its core services
(SOSP'95 §4). This one installs, through the dispatcher like any extension:

- a handler on ``Trap.SystemCall`` guarded by "v0 is one of mine" (the
  Linux/Alpha numbers of alpha-machine.md §3.2);
- the address-space handler on ``Translation.PageNotPresent`` and
  ``Translation.ProtectionFault``, installed First: demand-zero pages and
  copy-on-write (SOSP'95 §4.1);
- a handler on the fault and trap events that turns an unfixed fault into a
  signal when the process has a handler for it;
- the unaligned-access fix-up on ``Trap.Unaligned``, as OSF/1 and Linux did.

A fault nobody fixes ends the process with the report a shell would print.

Running out of physical memory never stops the kernel. A fault that needs a
frame when none is left kills the process that asked, with one line as
Linux's OOM killer prints (mm/oom_kill.c); fork answers ENOMEM and execve
ENOMEM (fork(2), execve(2)), leaving the caller as it was.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from kernel.core import costs
from kernel.core.physaddr import OutOfFrames
from kernel.core.sal import (
    A0,
    A1,
    A2,
    A4,
    CLOCK_HZ,
    E2BIG,
    EACCES,
    EAGAIN,
    EBADF,
    ECHILD,
    EFAULT,
    EINVAL,
    EIO,
    EISDIR,
    EMFILE,
    ENODEV,
    ENOENT,
    ENOEXEC,
    ENOMEM,
    ENOSYS,
    ESPIPE,
    ESRCH,
    EXECUTE,
    KIND_WRITE,
    M64,
    NSIG,
    PAGE_MASK,
    PAGE_SHIFT,
    PAGE_SIZE,
    PV,
    RA,
    READ,
    SIG_DFL,
    SIG_IGN,
    SIGBUS,
    SIGFPE,
    SIGILL,
    SIGKILL,
    SIGNAL_NAMES,
    SIGNAL_NUMBERS,
    SIGSEGV,
    SIGTRAP,
    SP,
    USER_LIMIT,
    WRITE,
    ZERO,
    TrapInfo,
)
from kernel.core.sched import BLOCKED, DONE, Strand, strand_of
from kernel.core.translation import FaultState, fault_of
from kernel.core.trap import NORESULT, RESTART, SyscallState, TrapState, caller
from kernel.fs.extentfs import DiskIOError
from kernel.params import MAX_ARGS, MAX_FDS, MAX_IO, MAX_PROCESSES
from kernel.sys.dispatcher import FIRST
from kernel.sys.trace import Exit, Signal
from kernel.unix import authority as unix_authority
from kernel.unix import calls_ext
from kernel.unix.addrspace import AddressSpace
from kernel.unix.cthreads import CThreads
from kernel.unix.filecalls import FileCalls, FilePager, disk_name
from kernel.unix.fileread import Reads
from kernel.unix.machthreads import MachThreads
from kernel.unix.process import (
    FRAME_SIZE,
    IGNORED_BY_DEFAULT,
    SIGINFO_SIZE,
    OpenFile,
    Process,
    SigAction,
    build_sigframe,
    check_image,
    load_image,
    parse_sigcontext,
)
from machine.elf import ElfError, ElfImage, parse_elf

SYSCALLS = {1: "exit", 2: "fork", 3: "read", 4: "write", 6: "close", 7: "wait4", 10: "unlink", 17: "brk",
            19: "lseek", 20: "getxpid", 37: "kill", 45: "open", 59: "execve", 67: "stat", 68: "lstat", 71: "mmap",
            73: "munmap", 74: "mprotect", 91: "fstat", 95: "fsync", 103: "sigreturn", 128: "rename",
            129: "truncate", 130: "ftruncate", 136: "mkdir", 137: "rmdir", 217: "msync", 334: "sched_yield",
            340: "nanosleep", 349: "pread64", 350: "pwrite64", 351: "rt_sigreturn", 352: "rt_sigaction",
            365: "wait4", 377: "getdents64", 405: "exit_group", 447: "fdatasync"}  # fmt: skip
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 1, 2, 0x100, 0x10
MS_ASYNC, MS_SYNC = 1, 2  # asm/mman.h
WNOHANG = 1
TTY_NAMES = ("/dev/tty", "/dev/console")
STDOUT, STDERR = 1, 2  # the console's streams (machine/console.py): fd 2 stays apart, as on a host


def _signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


class Unix:
    def __init__(self, kernel: Any) -> None:
        self.k = kernel
        self.procs: dict[int, Process] = {}
        self.next_pid = 1
        self.refused_forks = 0
        self.oom_kills = 0
        self.files = FileCalls(self)
        self.pager = FilePager(
            self
        )  # file mappings' view of the file system  # open's flags, stat, truncation, the name calls (kernel/unix/filecalls.py)
        self.table: dict[int, Callable[[Process, SyscallState], Any]] = {
            n: getattr(self, f"sys_{name}", None) or getattr(self.files, f"sys_{name}") for n, name in SYSCALLS.items()
        }
        kernel.syscall_names.update(SYSCALLS)
        d, ev = kernel.dispatcher, kernel.event
        own = "UnixPersonality"
        d.install_handler(ev("Trap.SystemCall"), self._syscall, self._mine, owner=own)
        for name in ("PageNotPresent", "ProtectionFault"):
            d.install_handler(ev(f"Translation.{name}"), self._vm_fault, options=FIRST, owner=own)
        for name in ("PageNotPresent", "ProtectionFault", "BadAddress"):
            d.install_handler(ev(f"Translation.{name}"), self._fault_signal, self._user_fault, owner=own)
        d.install_handler(ev("Trap.Unaligned"), self._unaligned, options=FIRST, owner=own)
        for name in ("Arithmetic", "IllegalInstruction", "Breakpoint", "Unaligned"):
            d.install_handler(ev(f"Trap.{name}"), self._trap_signal, owner=own)
        self.exit_hooks: list[Callable[[int], None]] = []  # each called with the pid of a process that exits
        self.mach = MachThreads(self)  # layered C-Threads' kernel interface
        self.cthreads = CThreads(self)  # integrated C-Threads
        self.sockets: Any = None  # kernel/net/sockets.py, when the machine has a network
        self.reads = Reads(self)  # the read path of regular files and its guards (kernel/unix/fileread.py)
        unix_authority.install(self)  # a user's extension sees only its own processes' calls and faults
        self.calls = calls_ext.export(self)  # the personality's calls for macro system calls (Poking Holes §5)

    # --- processes -------------------------------------------------------------------

    def live(self) -> list[Process]:
        return [p for p in self.procs.values() if p.state == "running"]

    def of(self, s: Strand) -> Process:
        p = s.process
        assert isinstance(p, Process)
        return p

    def spawn(self, image: ElfImage, argv: list[str], name: str = "", priority: int = 1000) -> Process:
        """A new process running image (init, and `spinwb run`). An image
        that does not fit raises OutOfFrames, with nothing left half-made.
        (Unlike execve it is not held to ``check_image``: a segment over the
        stack just faults when it runs, as it did before.)"""
        k = self.k
        pid = self.next_pid
        aspace = AddressSpace(k.translation, k.phys, f"pid {pid}")
        aspace.pager = self.pager
        try:
            entry, sp = load_image(aspace, image, argv, [])
            s = k.new_user_strand(name or argv[0].rsplit("/", 1)[-1], aspace.space, priority, f"pid {pid}")
        except OutOfFrames:
            aspace.destroy()
            raise OutOfFrames(f"cannot start {argv[0] if argv else 'a process'}: out of physical memory") from None
        self._pid()
        s.ctx = k.sal.user_context(entry, sp)
        p = Process(pid, 0, s.name, s, aspace, list(argv))
        p.fds = {0: OpenFile("tty", STDOUT), 1: OpenFile("tty", STDOUT, writable=True),
                 2: OpenFile("tty", STDERR, writable=True)}  # a tty's entry: the console stream it writes  # fmt: skip
        self._attach(p)
        k.sched.make_ready(s)
        return p

    def _pid(self) -> int:
        pid = self.next_pid
        self.next_pid += 1
        return pid

    def _attach(self, p: Process) -> None:
        p.strand.process = p
        p.strand.pid = p.pid
        self.procs[p.pid] = p
        parent = self.procs.get(p.ppid)
        if parent is not None:
            parent.children.append(p.pid)

    def exit(self, p: Process, code: int, status: int, message: str = "") -> None:
        if p.state != "running":
            return
        k = self.k
        p.state, p.status, p.exit_code, p.message = "zombie", status, code, message
        for f in p.fds.values():
            self._release(f)
        p.fds.clear()
        self.end_threads(p)
        for hook in self.exit_hooks:
            hook(p.pid)
        p.aspace.destroy()
        k.sched.end(p.strand)
        k.trace.add(Exit(cycle=k.sal.now, pid=p.pid, name=p.name, status=code, message=message))
        if message:
            k.reports.append(f"pid {p.pid} ({p.name}): {message}")
        if p.pid == 1:
            k.exit_status = code
            k.exit_message = message
        for c in p.children:
            child = self.procs.get(c)
            if child is not None:
                child.ppid = 1 if 1 in self.procs and p.pid != 1 else 0
                if child.ppid == 1:
                    self.procs[1].children.append(c)
                elif child.state == "zombie":
                    self.procs.pop(c, None)
        parent = self.procs.get(p.ppid)
        if parent is None or parent.state != "running":
            self.procs.pop(p.pid, None)  # nobody will wait for it
            return
        ps = parent.strand
        if ps.state == BLOCKED and ps.blocked_on == "wait":
            k.sched.wake(ps)

    def oom_kill(self, p: Process, va: int | None) -> None:
        """No frame for p's page at va: p dies of SIGKILL with the line
        Linux's OOM killer would print (mm/oom_kill.c). Linux picks its victim
        by size; here it is the process that asked, which is deterministic
        and in the usual case the one filling memory. Its frames come back
        at once, so every other process goes on."""
        if p.state != "running":
            return
        self.oom_kills += 1
        held = p.aspace.pages()
        asking = "asking for memory" if va is None else f"asking for a page at {va:#x}"
        self.exit(p, 128 + SIGKILL, SIGKILL,
                  f"out of memory: killed process {p.pid} ({p.name}), {asking} (it held {held} pages)")  # fmt: skip

    def unhandled(self, s: Strand, signal: str, info: TrapInfo | None, text: str) -> None:
        """A fault or trap no handler dealt with: a process dies of the
        signal with the report a shell prints; another strand just ends."""
        p = s.process
        if not isinstance(p, Process):
            self.k.end_strand(s, signal, info, text)
            return
        where = ""
        if info is not None:
            sal = self.k.sal
            where = f", pc {info.pc:#x}: {sal.disassemble(self._word(s, info.pc), info.pc)}"
        sig = SIGNAL_NUMBERS.get(signal, SIGSEGV)
        self.exit(p, 128 + sig, sig, f"{signal}: {text}{where}")

    def _word(self, s: Strand, pc: int) -> int | None:
        pa, _ = self.k.sal.user_pa(s.space.root, pc, False) if s.space is not None else (None, None)
        if pa is None:
            return None
        raw = self.k.sal.read_phys(pa & ~3, 4)
        return int.from_bytes(raw, "little")

    # --- threads (the two C-Threads packages build on these) --------------------------

    def new_thread(self, p: Process, pc: int, sp: int, args: tuple[int, ...], ready: bool) -> Strand:
        """Another strand in p's address space, starting at pc with a0.. = args
        (pv = pc, so the function's prologue finds its gp)."""
        k = self.k  # OutOfFrames here (no kernel stack) leaves nothing made; the callers answer ENOMEM
        s = k.new_user_strand(f"{p.name}.{len(p.threads) + 1}", p.aspace.space, p.strand.priority, f"pid {p.pid}")
        s.ctx = k.sal.user_context(pc, sp)
        for i, v in enumerate(args[:6]):
            s.ctx.r[A0 + i] = v & M64
        k.sal.set_pcb_unique(s.pcb, k.sal.cpu.unique)
        s.process, s.pid = p, p.pid
        p.threads.append(s)
        if ready:
            k.sched.make_ready(s)
        else:
            s.state = BLOCKED
            s.blocked_on = "suspended"
        return s

    def end_thread(self, p: Process, s: Strand) -> None:
        """One thread is done; the main one's end is the process's."""
        if s is p.strand:
            self.exit(p, 0, 0)
            return
        if s in p.threads:
            p.threads.remove(s)
        self.k.sched.end(s)

    def end_threads(self, p: Process) -> None:
        for s in p.threads:
            if s.state != DONE:
                self.k.sched.end(s)
        p.threads.clear()

    def state_repr(self) -> str:
        return repr([(p.pid, p.ppid, p.state, p.status, sorted(p.fds), p.pending, p.aspace.brk)
                     for p in sorted(self.procs.values(), key=lambda p: p.pid)])  # fmt: skip

    # --- signals ---------------------------------------------------------------------

    def post(self, p: Process, sig: int) -> None:
        p.pending.append(sig)
        s = p.strand
        if s.state == BLOCKED and s.blocked_on in ("sleep", "wait", "console"):
            if s in self.k.console_waiters:
                self.k.console_waiters.remove(s)
            self.k.sched.wake(s)

    def before_resume(self, s: Strand) -> bool:
        """Deliver pending signals as the strand returns to user mode; False
        if that ended the process."""
        p = s.process
        if not isinstance(p, Process) or not p.pending or s is not p.strand:
            return True  # signals go to the main thread
        while p.pending and p.state == "running":
            sig = p.pending.pop(0)
            act = p.actions.get(sig, SigAction())
            if sig == SIGKILL or (act.handler == SIG_DFL and sig not in IGNORED_BY_DEFAULT):
                self.exit(p, 128 + sig, sig, f"{SIGNAL_NAMES.get(sig, sig)}: killed by signal {sig}")
                return False
            if act.handler == SIG_IGN or act.handler == SIG_DFL:
                continue
            if not self.deliver(p, sig, 0, 0):
                return False
        return p.state == "running"

    def deliver(self, p: Process, sig: int, addr: int, code: int) -> bool:
        """Push a signal frame and send the strand to its handler (Linux/Alpha
        rt frames: a0 = signal, a1 = &siginfo, a2 = &ucontext, ra = restorer)."""
        k, s = self.k, p.strand
        ctx = s.ctx
        act = p.actions[sig]
        sp = (ctx.r[SP] - FRAME_SIZE) & ~31 & M64
        frame = build_sigframe(sig, addr, code, ctx.pc, ctx.r, ctx.f, ctx.fpcr, 0)
        if not k.copyout(s, sp, frame):
            self.exit(p, 128 + SIGSEGV, SIGSEGV, f"SIGSEGV: cannot push a frame for signal {sig} at {sp:#x}")
            return False
        ctx.r[A0], ctx.r[A1], ctx.r[A2] = sig, sp, sp + SIGINFO_SIZE
        ctx.r[RA], ctx.r[PV], ctx.r[SP] = act.restorer, act.handler, sp
        ctx.pc = act.handler
        p.in_handler += 1
        k.sal.charge(costs.SIGNAL_DELIVER)
        k.trace.add(Signal(cycle=k.sal.now, pid=p.pid, signal=sig, action="handler"))
        return True

    # --- event handlers --------------------------------------------------------------

    def serves(self, clients: frozenset[int], strand: Any) -> bool:
        return unix_authority.serves(self, clients, strand)

    def _mine(self, strand: Any, state: SyscallState) -> bool:
        return state.v0 in self.table

    def _syscall(self, strand: Any, state: SyscallState) -> None:
        p = strand_of(strand).process
        if not isinstance(p, Process):
            state.result = -ENOSYS
            return
        state.result = self.table[state.v0](p, state)

    def _vm_fault(self, strand: Any, state: FaultState) -> None:
        if state.done:
            return
        p = strand_of(strand).process
        space, kind = fault_of(state)
        if isinstance(p, Process) and space is p.aspace.space:
            try:
                state.done = p.aspace.fix(state.address, kind, state.event, None if state.in_kernel else strand)
            except OutOfFrames:
                self.oom_kill(p, state.address)
                state.done = True  # settled: the process that asked is gone, so no later handler acts on it

    @staticmethod
    def _user_fault(strand: Any, state: FaultState) -> bool:
        return not state.in_kernel

    def _fault_signal(self, strand: Any, state: FaultState) -> None:
        if state.done:
            return
        s = strand_of(strand)
        p = s.process
        if not isinstance(p, Process) or s is not p.strand:
            return  # a thread's fault ends the process, with a report
        if p.actions.get(SIGSEGV, SigAction()).handler > SIG_IGN:
            state.done = self.deliver(p, SIGSEGV, state.address, 1 if state.event == "PageNotPresent" else 2)

    def _trap_signal(self, strand: Any, state: TrapState) -> None:
        if state.done:
            return
        s = strand_of(strand)
        p = s.process
        sig = {"arith": SIGFPE, "illegal": SIGILL, "unaligned": SIGBUS}.get(state.what, SIGTRAP)
        if state.what == "gentrap" and -7 <= state.code <= -1:
            sig = SIGFPE
        if isinstance(p, Process) and s is p.strand and p.actions.get(sig, SigAction()).handler > SIG_IGN:
            state.done = self.deliver(p, sig, state.pc, 0)

    def _unaligned(self, strand: Any, state: TrapState) -> None:
        if state.done:
            return
        s = strand_of(strand)
        k = self.k
        word = self._word(s, state.pc)
        if word is None:
            return
        state.done = k.sal.emulate_unaligned(s.ctx, word, lambda va, n: k.copyin(s, va, n),
                                             lambda va, data: k.copyout(s, va, data), state.address, k.sal.model)  # fmt: skip

    # --- system calls ----------------------------------------------------------------

    def sys_exit(self, p: Process, st: SyscallState) -> Any:
        code = st.a0 & 0xFF
        self.exit(p, code, code << 8)
        return NORESULT

    sys_exit_group = sys_exit

    def sys_getxpid(self, p: Process, st: SyscallState) -> int:
        caller(st).ctx.r[A4] = p.ppid
        return p.pid

    def sys_write(self, p: Process, st: SyscallState) -> int:
        fd, buf, n = st.a0, st.a1, st.a2
        f = p.fds.get(fd)
        if f is None or not f.writable:
            return -EBADF
        if f.kind == "socket":
            return self.sockets.send(p, caller(st), f.entry, buf, n)
        if f.kind == "file":
            return self.files.write_file(p, f, caller(st), buf, n, None)
        if n > MAX_IO:
            n = MAX_IO
        data = self.k.copyin(caller(st), buf, n)
        if data is None:
            return -EFAULT
        self.k.console_write(data, f.entry)  # fd 2 as the host's stderr, as qemu-alpha keeps it
        return n

    def sys_read(self, p: Process, st: SyscallState) -> Any:
        fd, buf, n = st.a0, st.a1, min(st.a2, MAX_IO)
        f = p.fds.get(fd)
        if f is None or not f.readable:
            return -EBADF
        k, s = self.k, caller(st)
        if n == 0:
            return 0
        if f.kind == "socket":
            return self.sockets.recv(p, s, f.entry, buf, n)
        if f.kind == "dir":
            return -EISDIR
        if not k.user_writable(s, buf, n):  # check the buffer before consuming input
            return -EFAULT
        if f.kind == "tty":
            data = k.console_read(n)
            if data is None:
                k.console_waiters.append(s)
                k.sched.block_strand(s, "console")
                return RESTART
        else:
            got = self.reads.read(p, f, s, n)
            if got is None:
                return RESTART
            if type(got) is int:
                return got
            data = got
        if not k.copyout(s, buf, data):
            return -EFAULT
        return len(data)

    def sys_open(self, p: Process, st: SyscallState) -> Any:
        path = self.k.copyin_string(caller(st), st.a0)
        if path is None:
            return -EFAULT
        self.k.note(path)
        if path in TTY_NAMES:
            if len(p.fds) >= MAX_FDS:
                return -EMFILE
            f: OpenFile | int = OpenFile("tty", STDOUT, writable=bool(st.a1 & 3))
        else:
            if len(p.fds) >= MAX_FDS:
                return -EMFILE
            # the guard runs before the open's side effects (O_TRUNC, another opener): it may wait and
            # restart while strands are inside the file's specialized read elsewhere (Synthetix §4.1)
            got = self.files.open_file(p, path, st.a1, st.a2, lambda g: self.reads.opened(p, g, caller(st)))
            if got is RESTART or isinstance(got, int):
                return got
            f = got
        assert isinstance(f, OpenFile)
        fd = self.files.install(p, f)
        if fd < 0:
            return fd
        self.k.sal.charge(costs.FILE_OP)
        return fd

    def sys_close(self, p: Process, st: SyscallState) -> int:
        f = p.fds.pop(st.a0, None)
        if f is None:
            return -EBADF
        self._release(f)
        return 0

    def _release(self, f: OpenFile) -> None:
        if f.kind == "socket" and self.sockets is not None:
            self.sockets.release(f.entry)
        elif f.kind == "file":
            self.reads.closed(f)
            self.files.release(f)

    def sys_lseek(self, p: Process, st: SyscallState) -> int:
        f = p.fds.get(st.a0)
        if f is None:
            return -EBADF
        if f.kind == "dir" and st.a1 == 0 and st.a2 == 0:
            f.offset = 0  # rewinddir
            return 0
        if f.kind != "file":
            return -ESPIPE
        off, whence = _signed(st.a1), st.a2
        base = {0: 0, 1: f.offset, 2: f.entry.size}.get(whence)
        if base is None or not 0 <= base + off < 1 << 63:  # past off_t: Linux's -EINVAL (vfs_setpos)
            return -EINVAL
        f.offset = base + off
        self.reads.seeked(f)
        return f.offset

    def sys_brk(self, p: Process, st: SyscallState) -> int:
        a = p.aspace
        addr = st.a0
        if addr <= a.brk_start or addr >= 0x200_0000_0000:
            return a.brk
        new, old = (addr + PAGE_MASK) & ~PAGE_MASK, (a.brk + PAGE_MASK) & ~PAGE_MASK
        if new > old:
            if not a.is_free(old, new - old):
                return a.brk
            a.add_region(old, new - old, READ | WRITE, "heap")
        elif new < old:
            a.remove_range(new, old - new)
        a.brk = addr
        return addr

    def sys_mmap(self, p: Process, st: SyscallState) -> int:
        addr, length, prot, flags = st.a0, st.a1, st.a2, st.a3
        if length == 0 or length > 1 << 36 or prot & ~(READ | WRITE | EXECUTE):
            return -EINVAL
        file: Any = None
        pgoff = 0
        if not flags & MAP_ANONYMOUS:  # a file mapping (mmap(2)): the descriptor in a4, the offset in a5
            f = p.fds.get(st.a4)
            if f is None:
                return -EBADF
            if f.kind != "file":
                return -ENODEV
            if flags & 3 not in (MAP_SHARED, MAP_PRIVATE):
                return -EINVAL
            if st.a5 & PAGE_MASK:
                return -EINVAL
            if not f.readable or (flags & 3 == MAP_SHARED and prot & WRITE and not f.writable):
                return -EACCES
            file, pgoff = f.entry, st.a5 >> PAGE_SHIFT
        size = (length + PAGE_MASK) & ~PAGE_MASK
        a = p.aspace
        if flags & MAP_FIXED:
            if addr & PAGE_MASK or addr + size > USER_LIMIT:
                return -EINVAL
            base = addr
        else:
            base = a.mmap_next
            while not a.is_free(base, size):
                base += size
            if base + size > USER_LIMIT:
                return -ENOMEM
            a.mmap_next = base + size
        if file is not None:
            a.add_region(base, size, prot, "file", file, pgoff, flags & 3 == MAP_SHARED)
            if flags & 3 == MAP_SHARED and prot & WRITE:
                self.reads.wrote(file)  # a writer: what the read path assumed of the file may not hold
        else:
            a.add_region(base, size, prot, "mmap")
        return base

    def sys_msync(self, p: Process, st: SyscallState) -> Any:
        addr, length, flags = st.a0, st.a1, st.a2
        if addr & PAGE_MASK or flags & ~7 or flags & MS_ASYNC and flags & MS_SYNC:
            return -EINVAL
        fs = self.k.fs
        for r in p.aspace.file_regions(addr, length):
            if fs is None:
                break
            if flags & MS_SYNC:
                if not fs.fsync(r.file, caller(st)):
                    return RESTART
            else:
                fs.flush_all()
        return 0

    def sys_munmap(self, p: Process, st: SyscallState) -> int:
        addr, length = st.a0, st.a1
        if addr & PAGE_MASK or length == 0 or length > 1 << 40 or addr + length > USER_LIMIT:
            return -EINVAL
        p.aspace.remove_range(addr, length)
        return 0

    def sys_mprotect(self, p: Process, st: SyscallState) -> int:
        addr, length, prot = st.a0, st.a1, st.a2
        if addr & PAGE_MASK or prot & ~(READ | WRITE | EXECUTE) or length > 1 << 40 or addr + length > USER_LIMIT:
            return -EINVAL
        if length == 0:
            return 0
        return 0 if p.aspace.protect(addr, length, prot) else -ENOMEM

    def sys_fork(self, p: Process, st: SyscallState) -> int:
        k = self.k
        if len(self.live()) >= MAX_PROCESSES:
            self.refused_forks += 1
            return -EAGAIN
        pid = self.next_pid
        try:
            aspace = p.aspace.fork(f"pid {pid}")
        except OutOfFrames:
            return -ENOMEM  # fork(2): "failed to allocate the necessary kernel structures because memory is tight"
        try:
            s = k.new_user_strand(p.name, aspace.space, caller(st).priority, f"pid {pid}")
        except OutOfFrames:
            aspace.destroy()
            return -ENOMEM
        self._pid()
        s.ctx = caller(st).ctx.copy()
        s.ctx.set_result(0)
        s.ctx.r[A4] = 1  # OSF/1's fork: a4 = 1 in the child
        k.sal.set_pcb_unique(s.pcb, k.sal.cpu.unique)
        child = Process(pid, p.pid, p.name, s, aspace, list(p.argv))
        child.fds = {fd: OpenFile(f.kind, f.entry, f.offset, f.readable, f.writable, f.append)
                     for fd, f in p.fds.items()}  # fmt: skip
        for f in child.fds.values():
            if f.kind == "socket":
                f.entry.refs += 1
            elif f.kind == "file" and k.fs is not None:
                k.fs.opened(f.entry)
        self.reads.forked(child)  # each file the child has open is another opener (the guard)
        child.actions = {n: SigAction(a.handler, a.flags, a.mask, a.restorer) for n, a in p.actions.items()}
        self._attach(child)
        k.sched.make_ready(s)
        k.sal.charge(costs.PROCESS_CREATE)
        caller(st).ctx.r[A4] = 0
        return pid

    def sys_wait4(self, p: Process, st: SyscallState) -> Any:
        want, status_at, options = _signed(st.a0), st.a1, st.a2
        kids = [self.procs[c] for c in p.children if c in self.procs]
        if want > 0:
            kids = [c for c in kids if c.pid == want]
        if not kids:
            return -ECHILD
        done = next((c for c in kids if c.state == "zombie"), None)
        if done is None:
            if options & WNOHANG:
                return 0
            self.k.sched.block_strand(caller(st), "wait")
            return RESTART
        if status_at and not self.k.copyout(caller(st), status_at, struct.pack("<i", done.status)):
            return -EFAULT
        self.procs.pop(done.pid, None)
        p.children.remove(done.pid)
        return done.pid

    def sys_kill(self, p: Process, st: SyscallState) -> int:
        pid, sig = _signed(st.a0), st.a1
        if not 0 <= sig < NSIG:
            return -EINVAL
        target = self.procs.get(pid)
        if target is None or target.state != "running":
            return -ESRCH
        if sig:
            self.post(target, sig)
            if target is p:
                self.k.sched.need_resched = self.k.sched.need_resched or "signal"
        return 0

    def sys_rt_sigaction(self, p: Process, st: SyscallState) -> int:
        sig, act_at, old_at, restorer = st.a0, st.a1, st.a2, st.a4
        if not 0 < sig < NSIG:
            return -EINVAL
        old = p.actions.get(sig, SigAction())
        if old_at and not self.k.copyout(caller(st), old_at, struct.pack("<QQi4x", old.handler, old.mask, old.flags)):
            return -EFAULT
        if act_at:
            raw = self.k.copyin(caller(st), act_at, 20)
            if raw is None:
                return -EFAULT
            handler, mask, flags = struct.unpack("<QQi", raw)
            if sig == SIGKILL:
                return -EINVAL
            p.actions[sig] = SigAction(handler, flags, mask, restorer)
        return 0

    def sys_rt_sigreturn(self, p: Process, st: SyscallState) -> Any:
        raw = self.k.copyin(caller(st), st.a0, FRAME_SIZE)
        if raw is None:
            self.exit(p, 128 + SIGSEGV, SIGSEGV, f"SIGSEGV: sigreturn with a bad frame at {st.a0:#x}")
            return NORESULT
        pc, regs, fregs, fpcr, _ = parse_sigcontext(raw)
        ctx = caller(st).ctx
        ctx.pc, ctx.r[:], ctx.f[:], ctx.fpcr = pc & ~3, regs, fregs, fpcr
        ctx.r[ZERO] = 0
        p.in_handler = max(0, p.in_handler - 1)
        self.k.sal.charge(costs.SIGNAL_RETURN)
        return NORESULT

    sys_sigreturn = sys_rt_sigreturn

    def sys_sched_yield(self, p: Process, st: SyscallState) -> int:
        if self.k.sched.ready_count():
            self.k.sched.need_resched = self.k.sched.need_resched or "yield"
        return 0

    def sys_nanosleep(self, p: Process, st: SyscallState) -> Any:
        k = self.k
        if p.sleep_deadline is not None:
            if k.sal.now >= p.sleep_deadline:
                p.sleep_deadline = None
                return 0
            k.sched.sleep_until(caller(st), p.sleep_deadline)
            return RESTART
        raw = k.copyin(caller(st), st.a0, 16)
        if raw is None:
            return -EFAULT
        sec, nsec = struct.unpack("<qq", raw)
        if sec < 0 or not 0 <= nsec < 1_000_000_000 or sec > 1 << 32:
            return -EINVAL
        p.sleep_deadline = k.sal.now + sec * CLOCK_HZ + nsec * costs.CLOCK_MHZ // 1000
        k.sched.sleep_until(caller(st), p.sleep_deadline)
        return RESTART

    def sys_execve(self, p: Process, st: SyscallState) -> Any:
        k, s = self.k, p.strand
        if caller(st) is not s:
            return -EINVAL  # only the main thread may exec (the others would have to go first)
        path = k.copyin_string(s, st.a0)
        if path is None:
            return -EFAULT
        k.note(path)
        argv = self._strings(s, st.a1)
        if argv is None:
            return -EFAULT
        if isinstance(argv, int):
            return argv
        if path in TTY_NAMES or (path and not path.strip("/")):
            return -EACCES  # execve(2): "the file ... is not a regular file" (a device, the root directory)
        e = k.fs.lookup(disk_name(path)) if k.fs is not None else None
        if e is None:
            return -ENOENT
        phys = k.phys
        if e.size > (phys.nfree + len(phys.reclaimable)) * PAGE_SIZE:  # it could never be all in the cache at once
            k.reports.append(f"pid {p.pid}: execve {path}: {e.size} bytes do not fit in memory")
            return -ENOMEM
        try:
            data = k.fs.read(e, 0, e.size, s)
        except DiskIOError:
            return -EIO
        except OutOfFrames:
            return -ENOMEM
        if data is None:
            return RESTART
        try:
            image = parse_elf(data, path)
            check_image(image, path)
        except (ElfError, ValueError, IndexError, struct.error) as err:  # the parser's own, or a slip in it
            k.reports.append(f"pid {p.pid}: execve {path}: {err}")
            return -ENOEXEC
        # The old image stays until the new one is wholly built, so any failure
        # here returns to a caller that is just as it was (Linux's point of no
        # return, begin_new_exec, comes after the same work).
        try:
            aspace = AddressSpace(k.translation, k.phys, f"pid {p.pid}")
            aspace.pager = self.pager
        except OutOfFrames:
            return -ENOMEM
        try:
            entry, sp = load_image(aspace, image, argv or [path], [])
        except OutOfFrames:
            aspace.destroy()
            k.reports.append(f"pid {p.pid}: execve {path}: out of memory loading it")
            return -ENOMEM  # execve(2): "insufficient kernel memory was available"
        except Exception as err:  # noqa: BLE001 - a bad image fails the call, never the kernel
            aspace.destroy()
            k.reports.append(f"pid {p.pid}: execve {path}: cannot load: {err}")
            return -ENOEXEC
        old = p.aspace
        p.aspace = aspace
        s.space = aspace.space
        k.sal.set_pcb_space(s.pcb, aspace.space.root, aspace.space.asn)
        k.translation.current = aspace.space
        old.destroy()
        s.ctx = k.sal.user_context(entry, sp)
        p.name = s.name = path.rsplit("/", 1)[-1]
        p.argv = argv or [path]
        p.actions = {n: a for n, a in p.actions.items() if a.handler == SIG_IGN}
        k.sal.charge(costs.EXEC_SETUP)
        return 0

    def _strings(self, s: Strand, at: int) -> list[str] | int | None:
        """A NULL-terminated array of string pointers from user memory."""
        if at == 0:
            return []
        out: list[str] = []
        for i in range(MAX_ARGS + 1):
            raw = self.k.copyin(s, at + 8 * i, 8)
            if raw is None:
                return None
            ptr = int.from_bytes(raw, "little")
            if ptr == 0:
                return out
            text = self.k.copyin_string(s, ptr)
            if text is None:
                return None
            out.append(text)
        return -E2BIG


__all__ = ["DONE", "KIND_WRITE", "SYSCALLS", "Unix"]
