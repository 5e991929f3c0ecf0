"""Translation and VirtAddr: address spaces and the faults they raise
(SOSP'95 §4.1, Fig. 3; spin-reference.md §4).

A ``Space`` is a Translation.T: an ASN and a three-level page table written
in the machine's memory as real OSF/1 PTEs (through sal). ``AddMapping``
maps a frame, ``RemoveMapping`` unmaps, ``ExamineMapping`` answers the
protection, ``Protect`` changes it. Faults come from entMM as the three
events PageNotPresent, BadAddress and ProtectionFault, each taking
``(strand, state)``: handlers return at once if ``state.done`` is set and set
it when they have fixed the fault; the intrinsic handler, installed Last,
leaves it unset, and the kernel then ends the strand with a report.
"""

from __future__ import annotations

from typing import Any

from kernel.core import costs
from kernel.core.physaddr import Frame, PhysAddr
from kernel.core.sal import EXECUTE, KIND_NAMES, PAGE_MASK, PAGE_SHIFT, READ, WRITE, Sal
from kernel.params import MAX_ASN
from kernel.sys import capability
from kernel.sys.errors import SpinError
from kernel.sys.sandbox import shown

PROT_NAMES = {"r": READ, "w": WRITE, "x": EXECUTE}
COW = 1  # a software PTE bit: the page is shared copy-on-write


def parse_prot(prot: int | str) -> int:
    """A protection as bits, or as a string like "rw" or "r-x"."""
    if isinstance(prot, int):
        if prot & ~(READ | WRITE | EXECUTE):
            raise SpinError(f"protection {prot:#x}: only read (1), write (2) and execute (4) bits")
        return prot
    if not isinstance(prot, str):
        raise SpinError(f"protection {shown(prot)}: give bits or a string like 'rw'")
    bits = 0
    for ch in prot:
        if ch == "-":
            continue
        if ch not in PROT_NAMES:
            raise SpinError(f"protection {shown(prot)}: {ch!r} is not r, w, x or -")
        bits |= PROT_NAMES[ch]
    return bits


class Space:
    """One address space (Translation.T)."""

    def __init__(self, ident: int, name: str, asn: int, table: Any) -> None:
        self.id = ident
        self.name = name
        self.asn = asn
        self.table = table
        self.mapped: dict[int, int] = {}  # vpn -> pfn, for inspection and teardown
        self.handle = capability.wrap(self, "translation")
        self.destroyed = False

    @property
    def root(self) -> int:
        return int(self.table.root)

    def __repr__(self) -> str:
        return f"<space {self.id} {self.name} asn {self.asn}>"


class FaultState:
    """What a fault handler gets: the address, the kind, the map, ``done``.
    Read-only except ``done``, so an extension cannot rewrite the fault."""

    __slots__ = ("_address", "_kind", "_pc", "_space", "_strand", "_event", "_in_kernel", "_time", "done")

    def __init__(self, address: int, kind: int, pc: int, space: Space, strand: Any, event: str,
                 in_kernel: bool = False, time: int = 0) -> None:  # fmt: skip
        self._address, self._kind, self._pc = address, kind, pc
        self._space, self._strand, self._event, self._in_kernel = space, strand, event, in_kernel
        self._time = time
        self.done = False

    address = property(lambda self: self._address)
    pc = property(lambda self: self._pc)
    kind = property(lambda self: KIND_NAMES[self._kind])
    map = property(lambda self: self._space.handle)
    event = property(lambda self: self._event)
    in_kernel = property(lambda self: self._in_kernel)  # a copyin/copyout touched it, not an instruction
    time = property(lambda self: self._time)  # virtual cycles when the trap was taken (Clock.Now's scale)

    def __repr__(self) -> str:
        return f"<{self._event} {self.kind} at {self._address:#x} done={self.done}>"


def fault_of(state: FaultState) -> tuple[Space, int]:
    """The space a fault was taken in and its access kind, for the kernel's own
    handlers; an extension sees only ``map`` and ``kind``. Refuses a forged state."""
    if type(state) is not FaultState:
        raise SpinError(f"not a fault state: {type(state).__name__}")
    return state._space, state._kind


class Translation:
    """Address spaces for one machine; the fault events are made at boot."""

    def __init__(self, sal: Sal, phys: PhysAddr) -> None:
        self.sal = sal
        self.phys = phys
        self.spaces: dict[int, Space] = {}
        self._next_id = 1
        self._next_asn = 1
        self.current: Space | None = None

    def _space(self, ctx: Any, what: str) -> Space:
        if isinstance(ctx, Space):
            return ctx
        sp = capability.unwrap(ctx, "translation", f"Translation.{what}")
        assert isinstance(sp, Space)
        return sp

    def Create(self, name: str = "") -> Space:  # noqa: N802 - SPIN's names
        if self._next_asn > MAX_ASN:
            self._next_asn = 1
            self.sal.invalidate_asn()  # every ASN gets reused: forget all their translations
        sp = Space(
            self._next_id, name or f"space{self._next_id}", self._next_asn, self.sal.new_table(self._table_frame)
        )
        self._next_id += 1
        self._next_asn += 1
        self.spaces[sp.id] = sp
        return sp

    def _table_frame(self) -> int:
        return self.phys.alloc_zeroed_pfn("page table")

    def Destroy(self, ctx: Any) -> None:  # noqa: N802
        sp = self._space(ctx, "Destroy")
        if sp.destroyed:
            return
        for vpn in list(sp.mapped):
            self.sal.invalidate(vpn << PAGE_SHIFT)
        for pfn in self.sal.tables_of(sp.table):
            self.phys.Deallocate(self.phys.frames[pfn])
        sp.mapped.clear()
        sp.destroyed = True
        capability.revoke(sp.handle)
        self.spaces.pop(sp.id, None)

    def AddMapping(self, ctx: Any, frame: Frame | int, va: int, prot: int | str, soft: int = 0) -> None:  # noqa: N802
        """Map the page at va to frame with prot (overwrites, as 33.1 does).
        A new page-table page may be needed: OutOfFrames then, with nothing mapped."""
        sp = self._space(ctx, "AddMapping")
        pfn = frame.pfn if isinstance(frame, Frame) else frame
        if va >> 42:
            raise SpinError(f"Translation.AddMapping: {va:#x} is not a user address")
        self.sal.write_pte(sp.table, va, self.sal.pte(pfn, parse_prot(prot), soft))
        vpn = va >> PAGE_SHIFT
        if vpn in sp.mapped:
            self.sal.invalidate(va)
        sp.mapped[vpn] = pfn
        self.sal.charge(costs.PTE_WRITE)

    def RemoveMapping(self, ctx: Any, va: int) -> int | None:  # noqa: N802
        """Unmap va's page; the frame number it held, or None."""
        sp = self._space(ctx, "RemoveMapping")
        pfn = sp.mapped.pop(va >> PAGE_SHIFT, None)
        if pfn is None:
            return None
        self.sal.write_pte(sp.table, va, 0)
        self.sal.invalidate(va)
        self.sal.charge(costs.PTE_WRITE)
        return pfn

    def ExamineMapping(self, ctx: Any, va: int) -> int:  # noqa: N802
        """The page's protection bits (0 if unmapped)."""
        sp = self._space(ctx, "ExamineMapping")
        return self.sal.pte_prot(self.sal.read_pte(sp.table, va))

    def soft_bits(self, sp: Space, va: int) -> int:
        return (self.sal.read_pte(sp.table, va) >> 16) & 0xFFFF

    def Protect(self, ctx: Any, va: int, size: int, prot: int | str, soft: int | None = None) -> int:  # noqa: N802
        """Change the protection of the mapped pages in [va, va+size); the
        number of pages changed. Unmapped pages are skipped."""
        sp = self._space(ctx, "Protect")
        bits = parse_prot(prot)
        if size < 0 or size > 1 << 40:
            raise SpinError(f"Translation.Protect: size {size} is out of range")
        n = 0
        lo, hi = va >> PAGE_SHIFT, (va + size + PAGE_MASK) >> PAGE_SHIFT
        # the pages in range that are mapped: walk the range or the mappings, whichever is shorter
        vpns = range(lo, hi) if hi - lo <= len(sp.mapped) else sorted(v for v in sp.mapped if lo <= v < hi)
        for vpn in vpns:
            pfn = sp.mapped.get(vpn)
            if pfn is None:
                continue
            keep = self.soft_bits(sp, vpn << PAGE_SHIFT) if soft is None else soft
            self.sal.write_pte(sp.table, vpn << PAGE_SHIFT, self.sal.pte(pfn, bits, keep))
            self.sal.invalidate(vpn << PAGE_SHIFT)
            self.sal.charge(costs.PTE_WRITE)
            n += 1
        return n


class VirtAddr:
    """Ranges of virtual addresses, handed out per address space."""

    def __init__(self) -> None:
        self.next: dict[int, int] = {}
        self.ranges: dict[int, list[tuple[int, int]]] = {}

    def Allocate(self, sp: Space, size: int, base: int = 0x100_0000_0000) -> int:  # noqa: N802
        size = (size + 8191) & ~8191
        start = max(self.next.get(sp.id, base), base)
        self.next[sp.id] = start + size
        self.ranges.setdefault(sp.id, []).append((start, size))
        return start

    def Deallocate(self, sp: Space, start: int) -> None:  # noqa: N802
        self.ranges[sp.id] = [r for r in self.ranges.get(sp.id, []) if r[0] != start]
