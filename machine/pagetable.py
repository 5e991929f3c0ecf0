"""Building OSF/1 page tables in physical memory (alpha-machine.md §4).

Used by loaders and tests; the SPIN kernel's Translation service will write
PTEs the same way.
"""

from __future__ import annotations

from machine.alpha.constants import PAGE_SHIFT, PTE_KRE, PTE_KWE, PTE_PFN_SHIFT, PTE_V
from machine.arena import zero
from machine.memory import PhysicalMemory

TABLE_BITS = PTE_V | PTE_KRE | PTE_KWE  # how L1 and L2 entries are marked


class FrameAllocator:
    """Hands out physical frames upward from ``first``; freed frames are reused."""

    def __init__(self, memory: PhysicalMemory, first: int) -> None:
        self.memory = memory
        self.next = first
        self.free: list[int] = []

    def alloc(self) -> int:
        if self.free:
            pfn = self.free.pop()
        else:
            if self.next >= self.memory.nframes:
                raise MemoryError("out of physical memory")
            pfn = self.next
            self.next += 1
        zero(self.memory.frame(pfn))
        return pfn

    def release(self, pfn: int) -> None:
        self.free.append(pfn)


class PageTable:
    """One address space's three-level table, rooted at frame ``root``."""

    def __init__(self, memory: PhysicalMemory, frames: FrameAllocator) -> None:
        self.memory = memory
        self.frames = frames
        self.root = frames.alloc()

    @staticmethod
    def entry_addr(va: int, level: int, table: int) -> int:
        shift = {1: 33, 2: 23, 3: 13}[level]
        return (table << PAGE_SHIFT) + ((va >> shift) & 0x3FF) * 8

    def l3_entry(self, va: int, create: bool = True) -> int | None:
        """Physical address of va's level-3 PTE (making L2/L3 tables as needed)."""
        table = self.root
        for level in (1, 2):
            addr = self.entry_addr(va, level, table)
            pte = self.memory.read_q(addr)
            if not pte & PTE_V:
                if not create:
                    return None
                pte = (self.frames.alloc() << PTE_PFN_SHIFT) | TABLE_BITS
                self.memory.write_q(addr, pte)
            table = pte >> PTE_PFN_SHIFT
        return self.entry_addr(va, 3, table)

    def map(self, va: int, pfn: int, bits: int) -> int:
        """Map va's page to frame pfn with PTE bits; returns the PTE's address."""
        addr = self.l3_entry(va)
        assert addr is not None
        self.memory.write_q(addr, (pfn << PTE_PFN_SHIFT) | bits)
        return addr
