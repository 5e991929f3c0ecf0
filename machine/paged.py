"""Run a user program in user mode under the MMU, on the whole machine.

The program's segments and stack are mapped through OSF/1 page tables, the
CPU runs it in user mode with the interval timer ticking, and a tiny Python
entSys handler answers write, exit and exit_group. This is the platform's
own path for tests and ``spinwb bench mmu``; the SPIN kernel (issue 5) boots
programs as processes properly.
"""

from __future__ import annotations

from machine.alpha.abi import EBADF, EFAULT, ENOSYS, STACK_TOP
from machine.alpha.constants import (
    KSEG_BASE,
    M64,
    PAGE_MASK,
    PAGE_SIZE,
    PTE_KRE,
    PTE_KWE,
    PTE_URE,
    PTE_UWE,
    PTE_V,
)
from machine.alpha.pal import ENT_INT, ENT_SYS, ENTRY_NAMES, OsfPal
from machine.alpha.traps import Halt
from machine.elf import PF_W, ElfImage
from machine.machine import Machine
from machine.pagetable import FrameAllocator, PageTable
from machine.usermode import build_initial_stack

STACK_PAGES = 32  # 256 KiB of user stack, mapped up front
KERNEL_STACK = KSEG_BASE + 0x20_0000
FIRST_FREE_PFN = 0x180  # above the kernel stack's frames
SYS_EXIT, SYS_WRITE, SYS_EXIT_GROUP = 1, 4, 405


def boot_program(image: ElfImage, argv: list[str], model: str = "ev4", memory_size: int = 64 << 20) -> Machine:
    m = Machine(memory_size, model)
    frames = FrameAllocator(m.memory, FIRST_FREE_PFN)
    pt = PageTable(m.memory, frames)
    for seg in image.segments:
        bits = PTE_V | PTE_KRE | PTE_URE | (PTE_KWE | PTE_UWE if seg.flags & PF_W else 0)
        start = seg.vaddr & ~PAGE_MASK
        for va in range(start, seg.vaddr + seg.memsz, PAGE_SIZE):
            pt.map(va, frames.alloc(), bits)
    for i in range(1, STACK_PAGES + 1):
        pt.map(STACK_TOP - i * PAGE_SIZE, frames.alloc(), PTE_V | PTE_KRE | PTE_KWE | PTE_URE | PTE_UWE)
    m.mmu.switch_context(pt.root, 1)

    def write_user(va: int, data: bytes) -> None:
        """Copy into the new address space through its PTEs (the loader may
        write read-only pages), a page at a time."""
        pos = 0
        while pos < len(data):
            a = va + pos
            pte_at = pt.l3_entry(a, create=False)
            assert pte_at is not None, f"loader: {a:#x} is not mapped"
            pa = (m.memory.read_q(pte_at) >> 32 << 13) | (a & PAGE_MASK)
            n = min(PAGE_SIZE - (a & PAGE_MASK), len(data) - pos)
            m.memory.write(pa, data[pos : pos + n])
            pos += n

    for seg in image.segments:
        write_user(seg.vaddr, seg.data)
    sp = build_initial_stack(write_user, STACK_TOP, argv, [], image)
    pal, cpu = m.pal, m.cpu
    pal.entries[ENT_SYS] = lambda p, entry: _syscall(m, p)
    pal.entries[ENT_INT] = lambda p, entry: p.rti()
    for entry in range(6):
        if pal.entries[entry] is None:
            pal.entries[entry] = _fatal
    pal.ksp = KERNEL_STACK
    pal.ps = 8  # user mode, IPL 0
    m.mmu.mode = 1
    cpu.flush_host_caches()
    cpu.r[30] = sp
    cpu.pc = cpu.r[27] = image.entry
    return m


def _read_user(pal: OsfPal, va: int, n: int) -> bytes | None:
    """n bytes of user memory as the user could read them, a page at a time;
    None if any of it is not readable (the caller answers EFAULT)."""
    out = bytearray()
    while len(out) < n:
        a = va + len(out)
        t = pal.mmu.walk(a, 0, 1)
        if t.pa is None:
            return None
        k = min(PAGE_SIZE - (a & PAGE_MASK), n - len(out))
        out += pal.mmu.memory.read(t.pa, k)
    return bytes(out)


def _syscall(m: Machine, pal: OsfPal) -> None:
    """entSys: v0 is the call, a0..a2 its arguments (alpha-machine.md §3.2)."""
    r = pal.cpu.r
    num, a0, a1, a2 = r[0], r[16], r[17], r[18]
    if num in (SYS_EXIT, SYS_EXIT_GROUP):
        raise Halt(f"exit {a0 & 0xFF}", a0 & 0xFF)
    if num == SYS_WRITE:
        data = _read_user(pal, a1, min(a2, 1 << 20)) if a0 in (1, 2) else None
        result = (-EBADF if a0 not in (1, 2) else -EFAULT) if data is None else len(data)
        if data is not None:
            m.console.send(data)
    else:
        result = -ENOSYS
    r[0] = (-result if result < 0 else result) & M64
    r[19] = 1 if result < 0 else 0
    pal.retsys()


def _fatal(pal: OsfPal, entry: int) -> None:
    r = pal.cpu.r
    raise Halt(f"{ENTRY_NAMES[entry]}: a0={r[16]:#x} a1={r[17]:#x} a2={r[18]:#x}", 128)
