"""The byte buffer native code and Python share, and the loop that drives a region.

Layout (offsets in bytes, all fields little-endian u64):

    0      r0..r31                      the register file, passed by memory
    256    pc, icount, cycles, limit, climit, exit_va
    1024   read TB tags  [256]          vpn, or all ones when empty
    3072   read TB offsets [256]        frame offset of that vpn in this buffer
    5120   write TB tags [256]          a frame holding code never enters the write TB
    7168   write TB offsets [256]
    16384  guest frames, 8 KiB each

The TB is direct-mapped on the low 8 bits of the vpn: one compare inline per
access. A miss, an unaligned address, the budget or leaving the region
returns to Python with the registers, pc, icount and cycles written back
exactly as at the instruction that exits (see region.EXIT_NAMES).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from region import BUDGET, LEFT, TBMISS_R, TBMISS_W, UNALIGNED

from machine.alpha.traps import Unaligned
from machine.usermode import UserPages

REGS, PC, ICOUNT, CYCLES, LIMIT, CLIMIT, EXIT_VA = 0, 256, 264, 272, 280, 288, 296
RTAG, ROFF, WTAG, WOFF = 1024, 3072, 5120, 7168
TB_ENTRIES = 256
FRAMES = 16384
PAGE = 8192
M64 = (1 << 64) - 1


class Shared:
    """A view of one buffer in the layout above, and the guest frames in it."""

    def __init__(self, view: memoryview, size: int) -> None:
        self.q = view.cast("B").cast("Q")
        self.size = size
        self.slots: dict[int, int] = {}  # vpn -> frame offset
        self.next = FRAMES
        for i in range(TB_ENTRIES):
            self.q[RTAG // 8 + i] = M64
            self.q[WTAG // 8 + i] = M64

    def put_page(self, vpn: int, words: list[int]) -> int:
        off = self.slots.get(vpn)
        if off is None:
            off = self.slots[vpn] = self.next
            self.next += PAGE
            assert self.next <= self.size, "shared buffer full"
        self.q[off // 8 : off // 8 + 1024] = _words(words)
        return off

    def page(self, vpn: int) -> list[int]:
        off = self.slots[vpn]
        return list(self.q[off // 8 : off // 8 + 1024])

    def set_cpu(self, r: list[int], pc: int, icount: int, cycles: int, limit: int, climit: int) -> None:
        q = self.q
        q[0:32] = _words(r)
        q[PC // 8], q[ICOUNT // 8], q[CYCLES // 8], q[LIMIT // 8], q[CLIMIT // 8] = pc, icount, cycles, limit, climit

    def cpu(self) -> tuple[list[int], int, int, int]:
        q = self.q
        return list(q[0:32]), q[PC // 8], q[ICOUNT // 8], q[CYCLES // 8]

    def fill(self, code: int, writable: set[int]) -> bool:
        """Refill the TB entry for the access that missed (what cpu._page and
        the MMU do in the real tier; here every page is already a frame).
        False if the page may not be accessed so: the interpreter, finishing
        the block, then takes the fault with exact state."""
        va = self.q[EXIT_VA // 8]
        vpn = va >> 13
        off = self.slots.get(vpn)
        if off is None or (code == TBMISS_W and vpn not in writable):
            return False
        i = vpn & (TB_ENTRIES - 1)
        tag, offs = (RTAG, ROFF) if code == TBMISS_R else (WTAG, WOFF)
        self.q[tag // 8 + i] = vpn
        self.q[offs // 8 + i] = off
        return True


def _words(words: list[int]) -> memoryview:
    return memoryview(struct.pack(f"<{len(words)}Q", *words)).cast("Q")


def set_page(page: Any, words: list[int]) -> None:
    page[:] = _words(words) if isinstance(page, memoryview) else words


class ArenaPages(UserPages):
    """UserPages whose frames are 8 KiB slices of a Shared buffer, seen from
    Python as ``memoryview(...).cast("Q")``: the representation the native
    tier needs, and that the Python translator's ``p[(a & 8191) >> 3]`` reads
    unchanged."""

    def __init__(self, sh: Shared, old: UserPages | None = None) -> None:
        super().__init__()
        self.sh = sh
        self.pages = _Frames(sh)
        if old is not None:
            for v, words in old.pages.items():
                self.pages[v] = words
            self.prot = dict(old.prot)
            self.demand = list(old.demand)

    def lookup(self, va: int, access: int) -> Any:
        super().lookup(va, access)
        return self.pages[va >> 13]

    def write_bulk(self, va: int, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            a = va + pos
            if (a >> 13) not in self.pages:
                self.lookup(a, 0)
            off = a & (PAGE - 1)
            n = min(PAGE - off, len(data) - pos)
            self.pages[a >> 13].cast("B")[off : off + n] = data[pos : pos + n]
            pos += n


class _Frames(dict):  # type: ignore[type-arg]
    def __init__(self, sh: Shared) -> None:
        super().__init__()
        self.sh = sh

    def __setitem__(self, vpn: int, words: Any) -> None:
        off = self.sh.put_page(vpn, list(words))
        super().__setitem__(vpn, self.sh.q[off // 8 : off // 8 + 1024])

    def setdefault(self, vpn: int, words: Any = None) -> Any:
        if vpn not in self:
            self[vpn] = words
        return self[vpn]


def to_arena(p: Any, sh: Shared) -> None:
    """Move a UserProgram's pages into sh (same contents, same protections)."""
    p.space = ArenaPages(sh, p.space)
    p.cpu.memory = p.space
    p.cpu.flush_tlb()


def drive(call: Callable[[], int], sh: Shared, p: Any, starts: set[int], inside: set[int], limit: int,
          stats: dict[int, int] | None = None) -> int:  # fmt: skip
    """Run the region from p's CPU state until it leaves the region or the
    budget ends. A mid-block exit (TB miss, unaligned) refills the TB and lets
    Python's interpreter finish the block: native code is entered only at
    block starts, so it needs no per-instruction entry points."""
    cpu = p.cpu
    climit = (1 << 63) - 1
    while True:
        sh.set_cpu(cpu.r, cpu.pc, cpu.icount, cpu.cycles, limit, climit)
        code = call()
        if stats is not None:
            stats[code] = stats.get(code, 0) + 1
        r, cpu.pc, cpu.icount, cpu.cycles = sh.cpu()
        cpu.r[:] = r
        if code == TBMISS_R or code == TBMISS_W:
            sh.fill(code, {v for v, prot in p.space.prot.items() if prot & 2})
        elif code == BUDGET:  # the next block does not fit: the interpreter runs the tail, as translate.run does
            while cpu.icount < limit:
                cpu.step()
            return code
        elif code != UNALIGNED:
            return code
        while cpu.pc in inside and cpu.pc not in starts and cpu.icount < limit:
            try:
                cpu.step()
            except Unaligned as u:
                p._fix_unaligned(u)


__all__ = ["BUDGET", "LEFT", "ArenaPages", "Shared", "drive", "set_page", "to_arena"]
