"""A small user-mode harness: one process, the Linux/Alpha system-call ABI.

This is what ``spinwb run`` uses until the SPIN kernel boots programs as
processes. It plays the part of QEMU's linux-user: an address space of 8 KiB
pages with demand-zero regions, the system calls a freestanding program needs
(alpha-machine.md §3.2: v0 = number, a0..a5 arguments, a3 = error flag,
positive errno in v0), Linux's fix-up of unaligned accesses, and the signals
a fault becomes (exit status 128 + signal, as a shell reports it).
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, ClassVar

from machine.alpha import isa, unaligned
from machine.alpha.abi import (
    EBADF,
    EFAULT,
    EINVAL,
    ENOSYS,
    MMAP_BASE,
    SIGBUS,
    SIGFPE,
    SIGILL,
    SIGNAL_NAMES,
    SIGSEGV,
    SIGTRAP,
    STACK_TOP,
)
from machine.alpha.constants import (
    CAUSE_IFETCH,
    CAUSE_LOAD,
    M64,
    MMCSR_ACV,
    MMCSR_TNV,
    PAGE_MASK,
    PAGE_SHIFT,
    PAGE_SIZE,
    PAL_BPT,
    PAL_BUGCHK,
    PAL_CALLSYS,
    PAL_GENTRAP,
    PAL_IMB,
    PAL_RDUNIQUE,
    PAL_WRUNIQUE,
    USER_LIMIT,
)
from machine.alpha.cpu import CPU
from machine.alpha.disasm import disasm_word
from machine.alpha.traps import (
    GENTRAP_TEXT,
    MMCSR_TEXT,
    ArithmeticTrap,
    Halt,
    IllegalInstruction,
    MemFault,
    MemoryTrap,
    Trap,
    Unaligned,
    arith_text,
)
from machine.arena import Arena, ArenaFull, Frame, as_bytes, set_bytes
from machine.elf import PF_W, PF_X, ElfImage

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
STACK_SIZE = 8 << 20

# Linux/Alpha system-call numbers (asm/unistd_32.h; alpha-machine.md §3.2).
SYS_EXIT, SYS_READ, SYS_WRITE, SYS_BRK, SYS_GETXPID = 1, 3, 4, 17, 20
SYS_MMAP, SYS_MUNMAP, SYS_EXIT_GROUP = 71, 73, 405
MAP_ANONYMOUS, MAP_FIXED = 0x10, 0x100  # Alpha values


USER_FRAMES = 32768  # 256 MiB of touched pages: the arena is a mapping, only what is used costs


def page_bytes(page: Frame) -> bytes:
    """A page (1,024 little-endian quadwords, see cpu.py) as bytes."""
    return as_bytes(page).tobytes()


class UserPages:
    """Pages of one program and their protections, kept by page number with no
    page tables or TB (QEMU linux-user's way); a MemoryPort for the CPU. The
    frames come from an arena of their own (machine/arena.py) and go back to
    it when unmapped."""

    missed = False  # no TB here: lookups never miss

    def __init__(self) -> None:
        self.arena = Arena(USER_FRAMES)
        self.pages: dict[int, Frame] = {}
        self.prot: dict[int, int] = {}
        self.demand: list[tuple[int, int, int]] = []  # [start, end) with prot: zero-filled on touch

    def map(self, va: int, size: int, prot: int, demand: bool = False) -> None:
        start = va >> PAGE_SHIFT
        end = (va + size + PAGE_MASK) >> PAGE_SHIFT
        if demand:
            self.demand.append((start, end, prot))
            return
        for vpn in range(start, end):
            if vpn not in self.pages:
                self.pages[vpn] = self._alloc(va)
            self.prot[vpn] = prot

    def _alloc(self, va: int) -> Frame:
        try:
            return self.arena.alloc()
        except ArenaFull as e:
            raise MemFault(va, MMCSR_TNV, CAUSE_LOAD) from e

    def unmap(self, va: int, size: int) -> None:
        start = va >> PAGE_SHIFT
        end = (va + size + PAGE_MASK) >> PAGE_SHIFT
        for vpn in range(start, end):
            page = self.pages.pop(vpn, None)
            if page is not None:
                self.arena.release(page)
            self.prot.pop(vpn, None)
        self.demand = [(s, e, p) for s, e, p in self.demand if e <= start or s >= end] + [
            piece
            for s, e, p in self.demand
            if not (e <= start or s >= end)
            for piece in ((s, start, p), (end, e, p))
            if piece[0] < piece[1]
        ]

    def is_free(self, va: int, size: int) -> bool:
        start, end = va >> PAGE_SHIFT, (va + size + PAGE_MASK) >> PAGE_SHIFT
        if any(v in self.pages for v in range(start, end)):
            return False
        return all(e <= start or s >= end for s, e, _ in self.demand)

    def lookup(self, va: int, access: int) -> Frame:
        cause = (CAUSE_LOAD, 1, CAUSE_IFETCH)[access]
        if va >= USER_LIMIT:
            raise MemFault(va, MMCSR_ACV, cause)
        vpn = va >> PAGE_SHIFT
        page = self.pages.get(vpn)
        if page is None:
            for s, e, p in self.demand:
                if s <= vpn < e:
                    page = self.pages[vpn] = self._alloc(va)
                    self.prot[vpn] = p
                    break
            else:
                raise MemFault(va, MMCSR_TNV, cause)
        prot = self.prot[vpn]
        need = (PROT_READ, PROT_WRITE, PROT_EXEC)[access]
        if not prot & need:
            raise MemFault(va, MMCSR_ACV, cause)
        return page

    def write_bulk(self, va: int, data: bytes) -> None:
        """Host-side copy into the address space (loader, read syscall),
        ignoring write protection."""
        pos = 0
        while pos < len(data):
            a = va + pos
            vpn = a >> PAGE_SHIFT
            if vpn not in self.pages:
                self.lookup(a, 0)
            page = self.pages[vpn]
            off = a & PAGE_MASK
            n = min(PAGE_SIZE - off, len(data) - pos)
            set_bytes(page, off, data[pos : pos + n])
            pos += n

    def read_bulk(self, va: int, n: int) -> bytes:
        """Host-side copy out of the address space; MemFault if unreadable."""
        out = bytearray()
        while len(out) < n:
            a = va + len(out)
            page = self.lookup(a, 0)
            off = a & PAGE_MASK
            k = min(PAGE_SIZE - off, n - len(out))
            out += as_bytes(page)[off : off + k]
        return bytes(out)


def build_initial_stack(write: Callable[[int, bytes], None], top: int, argv: list[str], env: list[str],
                        image: ElfImage) -> int:  # fmt: skip
    """Lay out argc, argv[], NULL, envp[], NULL and the auxv pairs below
    ``top`` as Linux does, through ``write(va, data)``; return the new sp."""
    sp = top
    strings = []
    for s in [*argv, *env]:
        b = s.encode() + b"\0"
        sp -= len(b)
        write(sp, b)
        strings.append(sp)
    sp -= 16
    random_at = sp
    write(random_at, bytes(range(16)))  # AT_RANDOM: fixed, for determinism
    sp &= ~15
    argp = strings[: len(argv)]
    envp = strings[len(argv) :]
    auxv = [(3, image.phdr_vaddr), (4, 56), (5, image.phnum), (6, PAGE_SIZE), (9, image.entry),
            (11, 0), (12, 0), (13, 0), (14, 0), (25, random_at), (0, 0)]  # fmt: skip
    words = [len(argp), *argp, 0, *envp, 0]
    for k, v in auxv:
        words += [k, v]
    sp -= 8 * len(words)
    sp &= ~15
    write(sp, struct.pack(f"<{len(words)}Q", *words))
    return sp


@dataclass
class ExitInfo:
    status: int  # what a shell would report: exit code, or 128 + signal
    signal: int = 0
    message: str = ""


@dataclass
class UserProgram:
    """One program in the harness: address space, CPU and system calls."""

    image: ElfImage
    argv: list[str]
    env: list[str] = field(default_factory=list)
    model: str = "ev4"
    stdin: BinaryIO | None = None
    stdout: BinaryIO | None = None
    stderr: BinaryIO | None = None
    translate: bool = True
    trace: Callable[[CPU], None] | None = None
    stack_top: int = STACK_TOP

    def __post_init__(self) -> None:
        self.space = UserPages()
        self.cpu = CPU(self.space, self, self.model)
        self.cpu.enable_translation(self.translate)
        self.exited: ExitInfo | None = None
        self.unaligned_fixups = 0
        self.pid = 1000
        self._load()

    # --- loading -----------------------------------------------------------------------

    def _load(self) -> None:
        end = 0
        for seg in self.image.segments:
            prot = PROT_READ | (PROT_WRITE if seg.flags & PF_W else 0) | (PROT_EXEC if seg.flags & PF_X else 0)
            base = seg.vaddr & ~PAGE_MASK
            self.space.map(base, seg.vaddr + seg.memsz - base, prot)
            self.space.write_bulk(seg.vaddr, seg.data)
            end = max(end, seg.vaddr + seg.memsz)
        self.brk_start = self.brk = (end + PAGE_MASK) & ~PAGE_MASK
        self.mmap_next = MMAP_BASE
        self.space.map(self.stack_top - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE, demand=True)
        sp = self._build_stack()
        cpu = self.cpu
        cpu.pc = self.image.entry
        cpu.r[27] = self.image.entry  # pv: prologues derive gp from it
        cpu.r[30] = sp

    def _build_stack(self) -> int:
        return build_initial_stack(self.space.write_bulk, self.stack_top, self.argv, self.env, self.image)

    # --- PAL: what QEMU linux-user does for each CALL_PAL -------------------------------

    def call_pal(self, cpu: CPU, fn: int, pc: int) -> int:
        nxt = (pc + 4) & M64
        if fn == PAL_CALLSYS:
            self._syscall(cpu)
            return nxt
        if fn == PAL_IMB:
            return nxt
        if fn == PAL_RDUNIQUE:
            cpu.r[0] = cpu.unique
            return nxt
        if fn == PAL_WRUNIQUE:
            cpu.unique = cpu.r[16]
            return nxt
        if fn in (PAL_BPT, PAL_BUGCHK):
            raise _Signal(SIGTRAP, pc, f"breakpoint trap (call_pal {fn:#x})")
        if fn == PAL_GENTRAP:
            code = cpu.r[16] - (1 << 64) if cpu.r[16] >> 63 else cpu.r[16]
            what = GENTRAP_TEXT.get(code)
            if what:
                raise _Signal(SIGFPE, pc, f"{what} (gentrap {code})")
            raise _Signal(SIGTRAP, pc, f"gentrap {code}")
        priv = "privileged " if fn < 0x40 else ""
        raise _Signal(SIGILL, pc, f"illegal instruction: {priv}call_pal {fn:#x} in user mode")

    def _syscall(self, cpu: CPU) -> None:
        r = cpu.r
        num = r[0]
        a0, a1, a2 = r[16], r[17], r[18]
        handler = self._SYSCALLS.get(num)
        if handler is None:
            result = -ENOSYS
        else:
            result = handler(self, a0, a1, a2, r[19], r[20], r[21])
        if result < 0:
            r[0] = -result
            r[19] = 1
        else:
            r[0] = result & M64
            r[19] = 0

    def _exit(self, status: int, *_: int) -> int:
        raise Halt("exit", status & 0xFF)

    def _write(self, fd: int, buf: int, count: int, *_: int) -> int:
        out = {1: self.stdout, 2: self.stderr}.get(fd)
        if out is None:
            return -EBADF
        if count > 1 << 30:
            return -EINVAL
        try:
            data = self.space.read_bulk(buf, count)
        except MemFault:
            return -EFAULT
        out.write(data)
        out.flush()
        return count

    def _read(self, fd: int, buf: int, count: int, *_: int) -> int:
        if fd != 0 or self.stdin is None:
            return -EBADF
        count = min(count, 1 << 20)
        try:
            self.space.read_bulk(buf, count)  # check it is mapped before consuming input
        except MemFault:
            return -EFAULT
        data = self.stdin.read1(count) if hasattr(self.stdin, "read1") else self.stdin.read(count)
        self.space.write_bulk(buf, data)
        self.cpu.forget_pages(buf, len(data))  # the input may land on translated code
        return len(data)

    def _brk(self, addr: int, *_: int) -> int:
        if addr <= self.brk_start or addr >= MMAP_BASE:
            return self.brk
        new = (addr + PAGE_MASK) & ~PAGE_MASK
        old = (self.brk + PAGE_MASK) & ~PAGE_MASK
        if new > old:
            self.space.map(old, new - old, PROT_READ | PROT_WRITE, demand=True)
        elif new < old:
            self.space.unmap(new, old - new)
            self.cpu.forget_pages(new, old - new)
        self.brk = addr
        return addr

    def _getxpid(self, *_: int) -> int:
        self.cpu.r[20] = 1  # ppid in a4, as Linux/Alpha's getxpid returns it
        return self.pid

    def _mmap(self, addr: int, length: int, prot: int, flags: int, fd: int, off: int) -> int:
        if not flags & MAP_ANONYMOUS:
            return -ENOSYS  # file mappings come with the kernel's file system
        if length == 0 or length > 1 << 36:
            return -EINVAL
        size = (length + PAGE_MASK) & ~PAGE_MASK
        p = prot & (PROT_READ | PROT_WRITE | PROT_EXEC)
        if flags & MAP_FIXED:
            if addr & PAGE_MASK or addr + size > USER_LIMIT:
                return -EINVAL
            self.space.unmap(addr, size)
            self.cpu.forget_pages(addr, size)
            base = addr
        else:
            base = self.mmap_next
            while not self.space.is_free(base, size):
                base += size
            self.mmap_next = base + size
        self.space.map(base, size, p, demand=True)
        return base

    def _munmap(self, addr: int, length: int, *_: int) -> int:
        if addr & PAGE_MASK or length == 0:
            return -EINVAL
        size = (length + PAGE_MASK) & ~PAGE_MASK
        self.space.unmap(addr, size)
        self.cpu.forget_pages(addr, size)
        return 0

    _SYSCALLS: ClassVar[dict[int, Callable[..., int]]] = {
        SYS_EXIT: _exit, SYS_EXIT_GROUP: _exit, SYS_READ: _read, SYS_WRITE: _write,
        SYS_BRK: _brk, SYS_GETXPID: _getxpid, SYS_MMAP: _mmap, SYS_MUNMAP: _munmap,
    }  # fmt: skip

    # --- running ---------------------------------------------------------------------

    def run(self, max_instructions: int | None = None) -> ExitInfo:
        cpu = self.cpu
        limit = max_instructions if max_instructions is not None else 1 << 62
        while self.exited is None:
            left = limit - cpu.icount
            if left <= 0:
                self.exited = ExitInfo(124, 0, f"stopped after {cpu.icount} instructions (--max-instructions)")
                break
            try:
                if self.trace is not None:
                    self.trace(cpu)
                    cpu.step()
                else:
                    cpu.run(left)
            except Halt as h:
                self.exited = ExitInfo(h.status, 0, getattr(h, "message", ""))  # a native-tier fault says what
            except Unaligned as u:
                self._fix_unaligned(u)
            except _Signal as s:
                self.exited = self._die(s.signo, s.pc, s.text)
            except Trap as t:
                self.exited = self._die(*self._classify(t))
        return self.exited

    def _fix_unaligned(self, u: Unaligned) -> None:
        """Emulate a misaligned load or store, as Linux's do_entUna does."""
        cpu = self.cpu
        try:
            cost = unaligned.emulate(cpu.fetch(u.pc), cpu.r, cpu.f, u.va, cpu.model,
                                     lambda va, n: cpu.load_bytes(va, n, u.pc),
                                     lambda va, data: cpu.store_bytes(va, data, u.pc))  # fmt: skip
        except unaligned.NotLoadStore as e:
            self.exited = self._die(SIGBUS, u.pc, str(e))
            return
        except MemoryTrap as t:
            self.exited = self._die(*self._classify(t))
            return
        self.unaligned_fixups += 1
        cpu.pc = (u.pc + 4) & M64
        cpu.icount += 1
        cpu.cycles += cost + isa.COST["pal"]

    def _classify(self, t: Trap) -> tuple[int, int, str]:
        if isinstance(t, MemoryTrap):
            access = {CAUSE_IFETCH: "instruction fetch", CAUSE_LOAD: "load"}.get(t.cause, "store")
            return SIGSEGV, t.pc, f"segmentation fault: {access} at address {t.va:#x} ({MMCSR_TEXT[t.mmcsr]})"
        if isinstance(t, IllegalInstruction):
            return SIGILL, t.pc, f"illegal instruction {t.word:#010x}" + (f" ({t.reason})" if t.reason else "")
        if isinstance(t, ArithmeticTrap):
            return SIGFPE, t.pc, arith_text(t.summary)
        return SIGSEGV, t.pc, t.kind

    def _die(self, signo: int, pc: int, text: str) -> ExitInfo:
        try:
            word = self.cpu.fetch(pc)
            insn = disasm_word(word, pc).replace("\t", " ")
        except Trap:
            insn = "<instruction not readable>"
        msg = f"{SIGNAL_NAMES.get(signo, signo)}: {text}, pc {pc:#x}: {insn}"
        return ExitInfo(128 + signo, signo, msg)


class _Signal(Exception):
    def __init__(self, signo: int, pc: int, text: str) -> None:
        super().__init__(signo, pc, text)
        self.signo = signo
        self.pc = pc
        self.text = text


def default_streams() -> tuple[BinaryIO, BinaryIO, BinaryIO]:
    return sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer


__all__ = ["UserPages", "ExitInfo", "UserProgram", "build_initial_stack"]
