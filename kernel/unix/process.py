"""UNIX processes: a strand, an address space, files, signals, a parent.

Loading an ELF and building the initial stack reuse the machine's loader
facts (machine/elf.py, machine/usermode.py's stack layout, which is Linux's);
the frames and mappings come from SPIN's memory services.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from kernel.core.sal import EXECUTE, MMAP_BASE, PAGE_MASK, READ, SIG_DFL, SIGCHLD, STACK_TOP, USER_LIMIT, WRITE
from kernel.core.sched import Strand
from kernel.params import MAX_PHNUM, STACK_SIZE
from kernel.unix.addrspace import AddressSpace
from machine.elf import PF_W, PF_X, ElfError, ElfImage
from machine.usermode import build_initial_stack

IGNORED_BY_DEFAULT = {SIGCHLD}


@dataclass
class OpenFile:
    kind: str  # "tty", "file" or "socket"
    entry: Any = None  # a kernel.fs.format.Entry
    offset: int = 0
    readable: bool = True
    writable: bool = False
    append: bool = False  # O_APPEND: each write goes to the end
    spec: Any = field(default=None, repr=False, compare=False)  # its read's slot (kernel/unix/fileread.py)


@dataclass
class SigAction:
    handler: int = SIG_DFL
    flags: int = 0
    mask: int = 0
    restorer: int = 0


@dataclass
class Process:
    pid: int
    ppid: int
    name: str
    strand: Strand
    aspace: AddressSpace
    argv: list[str] = field(default_factory=list)
    fds: dict[int, OpenFile] = field(default_factory=dict)
    actions: dict[int, SigAction] = field(default_factory=dict)
    pending: list[int] = field(default_factory=list)
    state: str = "running"  # "running", "zombie", "reaped"
    status: int = 0  # the wait status (Linux encoding)
    exit_code: int = 0  # what a shell reports: code, or 128 + signal
    message: str = ""
    children: list[int] = field(default_factory=list)
    sleep_deadline: int | None = None
    in_handler: int = 0  # signal frames not yet returned from
    threads: list[Strand] = field(default_factory=list)  # strands besides the main one, sharing the space

    def __repr__(self) -> str:
        return f"<process {self.pid} {self.name} {self.state}>"


def segment_prot(flags: int) -> int:
    return READ | (WRITE if flags & PF_W else 0) | (EXECUTE if flags & PF_X else 0)


def check_image(image: ElfImage, name: str) -> None:
    """Refuse, with ElfError, an image this address-space layout cannot hold:
    too many program headers, a segment reaching 2^42 (user space ends
    there) or one over the stack. Checked before anything is built, so the
    caller of execve keeps running (Linux would get as far as its point of
    no return and then kill it)."""
    if image.phnum > MAX_PHNUM:
        raise ElfError(f"{name}: {image.phnum} program headers (at most {MAX_PHNUM})")
    stack = STACK_TOP - STACK_SIZE
    for seg in image.segments:
        end = seg.vaddr + seg.memsz
        if end > USER_LIMIT:
            raise ElfError(f"{name}: segment at {seg.vaddr:#x} (size {seg.memsz:#x}) reaches past 2^42, "
                           "the end of user space")  # fmt: skip
        if seg.vaddr < STACK_TOP and end > stack:
            raise ElfError(f"{name}: segment at {seg.vaddr:#x} (size {seg.memsz:#x}) overlaps the stack "
                           f"at {stack:#x}..{STACK_TOP:#x}")  # fmt: skip


def load_image(aspace: AddressSpace, image: ElfImage, argv: list[str], env: list[str]) -> tuple[int, int]:
    """Map an ELF's segments and a demand-zero stack; (entry, sp)."""
    end = 0
    for seg in image.segments:
        base = seg.vaddr & ~PAGE_MASK
        aspace.add_region(base, seg.vaddr + seg.memsz - base, segment_prot(seg.flags),
                          "text" if seg.flags & PF_X else "data")  # fmt: skip
        aspace.poke(seg.vaddr, seg.data)
        end = max(end, seg.vaddr + seg.memsz)
    aspace.brk_start = aspace.brk = (end + PAGE_MASK) & ~PAGE_MASK
    aspace.mmap_next = MMAP_BASE
    aspace.add_region(STACK_TOP - STACK_SIZE, STACK_SIZE, READ | WRITE, "stack")
    sp = build_initial_stack(aspace.poke, STACK_TOP, argv, env, image)
    return image.entry, sp


# --- the rt signal frame (Linux/Alpha: struct rt_sigframe = siginfo, ucontext, retcode) ----

SIGINFO_SIZE = 128
UC_MCONTEXT = 48  # uc_flags, uc_link, uc_osf_sigmask, uc_stack (24 bytes)
SC_PC, SC_PS, SC_REGS, SC_FPREGS, SC_FPCR = 16, 24, 32, 296, 552
SIGCONTEXT_SIZE = 648
FRAME_SIZE = SIGINFO_SIZE + UC_MCONTEXT + SIGCONTEXT_SIZE + 8 + 12


def build_sigframe(sig: int, addr: int, code: int, pc: int, regs: list[int], fregs: list[int], fpcr: int,
                   mask: int) -> bytes:  # fmt: skip
    """The bytes of a signal frame: siginfo (signo, errno, code, si_addr) and
    a ucontext whose sigcontext holds the interrupted registers."""
    info = struct.pack("<iiiiQ", sig, 0, code, 0, addr).ljust(SIGINFO_SIZE, b"\0")
    sc = bytearray(SIGCONTEXT_SIZE)
    struct.pack_into("<QQQQ", sc, 0, 0, mask, pc, 8)
    struct.pack_into("<32Q", sc, SC_REGS, *regs)
    struct.pack_into("<32Q", sc, SC_FPREGS, *fregs)
    struct.pack_into("<Q", sc, SC_FPCR, fpcr)
    uc = bytearray(UC_MCONTEXT) + sc + struct.pack("<Q", mask)
    return info + bytes(uc) + bytes(12)


def parse_sigcontext(frame: bytes) -> tuple[int, list[int], list[int], int, int]:
    """(pc, regs, fregs, fpcr, mask) from a signal frame's bytes."""
    base = SIGINFO_SIZE + UC_MCONTEXT
    mask = struct.unpack_from("<Q", frame, base + 8)[0]
    pc = struct.unpack_from("<Q", frame, base + SC_PC)[0]
    regs = list(struct.unpack_from("<32Q", frame, base + SC_REGS))
    fregs = list(struct.unpack_from("<32Q", frame, base + SC_FPREGS))
    fpcr = struct.unpack_from("<Q", frame, base + SC_FPCR)[0]
    return pc, regs, fregs, fpcr, mask
