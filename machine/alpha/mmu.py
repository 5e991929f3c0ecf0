"""The OSF/1 memory-management unit: three-level page walk and 21064 TBs.

``translate`` is a pure function of physical memory, PTBR, VA, access and
mode: it returns a ``Walk`` holding either a physical address or a
fault kind (MMCSR code), never raising; only the caller turns a fault into a
trap. Checks follow QEMU's get_physical_address order (alpha-machine.md §4):
VA sign extension, the KSEG superpage (kernel only), then per level: invalid
-> TNV, an L1/L2 entry without KRE -> ACV; at L3: invalid -> TNV, no
permission for the mode (KRE/KWE shifted by mode) -> ACV, then FOE/FOW/FOR.

``MMU`` puts a 21064-style ITB and DTB in front of the walk. Entries are
tagged with the ASN, or global when the PTE has ASM; TBIA, TBIAP and TBIS
invalidate as the PALcode's tbi does. A stale translation is therefore
possible exactly when the OS changes a PTE and does not invalidate, as on
the real machine.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from machine.alpha.constants import (
    ACCESS_EXEC,
    ACCESS_READ,
    CAUSE_IFETCH,
    CAUSE_LOAD,
    CAUSE_STORE,
    DTB_ENTRIES,
    ITB_ENTRIES,
    KSEG_SIZE,
    MMCSR_ACV,
    MMCSR_FOE,
    MMCSR_FOR,
    MMCSR_FOW,
    MMCSR_TNV,
    MODE_KERNEL,
    PAGE_MASK,
    PAGE_SHIFT,
    PTE_ASM,
    PTE_KRE,
    PTE_KWE,
    PTE_PFN_SHIFT,
    PTE_V,
)
from machine.alpha.traps import MemFault
from machine.fields import COUNT, U64, Misfit, Part, integer, items, obj

if TYPE_CHECKING:
    from machine.alpha.cpu import CPU

_R, _W, _X = 1, 2, 4
_NEED = (_R, _W, _X)
_CAUSE = (CAUSE_LOAD, CAUSE_STORE, CAUSE_IFETCH)
_FO_FAULT = {_X: MMCSR_FOE, _W: MMCSR_FOW, _R: MMCSR_FOR}

ReadQ = Callable[[int], int]


@dataclass(frozen=True, slots=True)
class Walk:
    """The outcome of a walk: ``pa`` or ``fault`` (an MMCSR code), and the
    page-table entries read on the way (level, PTE address, PTE) for display."""

    va: int
    pa: int | None = None
    fault: int | None = None
    pte: int = 0
    steps: tuple[tuple[int, int, int], ...] = ()


def check(pte: int, access: int, mode: int) -> int | None:
    """Permission and fault-on checks of a valid level-3 PTE: None if the
    access is allowed, else ACV, FOE, FOW or FOR."""
    prot = 0
    if pte & (PTE_KRE << mode):
        prot |= _R | _X
    if pte & (PTE_KWE << mode):
        prot |= _W
    need = _NEED[access]
    if not prot & need:
        return MMCSR_ACV
    prot &= ~(pte >> 1)  # FOR clears read, FOW write, FOE execute
    if not prot & need:
        return _FO_FAULT[need]
    return None


def translate(read_q: ReadQ, ptbr: int, va: int, access: int, mode: int) -> Walk:
    """Walk the OSF/1 page table rooted at frame ``ptbr`` for one access."""
    top = va >> 42
    if top not in (0, (1 << 22) - 1):  # bits 63:43 must equal bit 42
        return Walk(va, fault=MMCSR_ACV)
    if va >> 41 == (1 << 23) - 2:  # KSEG: VA<63:41> = 1...10
        if mode != MODE_KERNEL:
            return Walk(va, fault=MMCSR_ACV)
        return Walk(va, pa=va & (KSEG_SIZE - 1))
    table = ptbr << PAGE_SHIFT
    steps = []
    for level, shift in ((1, 33), (2, 23)):
        addr = table + ((va >> shift) & 0x3FF) * 8
        pte = read_q(addr)
        steps.append((level, addr, pte))
        if not pte & PTE_V:
            return Walk(va, fault=MMCSR_TNV, pte=pte, steps=tuple(steps))
        if not pte & PTE_KRE:
            return Walk(va, fault=MMCSR_ACV, pte=pte, steps=tuple(steps))
        table = (pte >> PTE_PFN_SHIFT) << PAGE_SHIFT
    addr = table + ((va >> 13) & 0x3FF) * 8
    pte = read_q(addr)
    steps.append((3, addr, pte))
    if not pte & PTE_V:
        return Walk(va, fault=MMCSR_TNV, pte=pte, steps=tuple(steps))
    fault = check(pte, access, mode)
    if fault is not None:
        return Walk(va, fault=fault, pte=pte, steps=tuple(steps))
    pa = ((pte >> PTE_PFN_SHIFT) << PAGE_SHIFT) | (va & PAGE_MASK)
    return Walk(va, pa=pa, pte=pte, steps=tuple(steps))


class TLB(Part):
    """One translation buffer: FIFO replacement, entries keyed by (VPN, ASN)
    or (VPN, None) for ASM (global) pages, holding the level-3 PTE. Its
    saved entries keep their order, which is the order they will be pushed out."""

    STATE_FIELDS = ("entries", "misses", "fills")
    NOT_STATE = {
        "name": "fixed when it is built", "size": "fixed when it is built", "evicted": "a link to the CPU's caches",
        "hits": "counts the hits the CPU's host caches did not serve, so it depends on when they were flushed (a "
                "breakpoint, a restore); two runs to the same state differ in it",
    }  # fmt: skip

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self.entries: OrderedDict[tuple[int, int | None], int] = OrderedDict()
        self.hits = self.misses = self.fills = 0
        self.evicted: Callable[[int], None] | None = None  # told the VPN of each entry pushed out

    @property
    def STATE_NAME(self) -> str:  # type: ignore[override]  # its name in messages: mmu.itb, mmu.dtb
        return f"mmu.{self.name.lower()}"

    def save_state(self) -> dict[str, Any]:
        return {"entries": [[vpn, asn, pte] for (vpn, asn), pte in self.entries.items()], "misses": self.misses,
                "fills": self.fills}  # fmt: skip

    def check_state(self, saved: object) -> dict[str, Any]:
        where = self.STATE_NAME
        s = obj(saved, where, self.STATE_FIELDS)
        keys = set()
        for i, e in enumerate(items(s["entries"], f"{where}.entries", most=self.size)):
            vpn, asn, pte = items(e, f"{where}.entries[{i}]", 3)
            integer(vpn, f"{where}.entries[{i}] VPN", U64)
            if asn is not None:
                integer(asn, f"{where}.entries[{i}] ASN", (0, 255))
            integer(pte, f"{where}.entries[{i}] PTE", U64)
            keys.add((vpn, asn))
        if len(keys) < len(s["entries"]):
            raise Misfit(f"{where}.entries holds one page twice")
        integer(s["misses"], f"{where}.misses", COUNT)
        integer(s["fills"], f"{where}.fills", COUNT)
        return s

    def apply_state(self, checked: dict[str, Any]) -> None:
        self.entries = OrderedDict(((vpn, asn), pte) for vpn, asn, pte in checked["entries"])
        self.misses, self.fills = checked["misses"], checked["fills"]

    def lookup(self, vpn: int, asn: int) -> int | None:
        pte = self.entries.get((vpn, asn))
        if pte is None:
            pte = self.entries.get((vpn, None))
        if pte is None:
            self.misses += 1
        else:
            self.hits += 1
        return pte

    def fill(self, vpn: int, asn: int, pte: int) -> None:
        key = (vpn, None if pte & PTE_ASM else asn)
        self.entries.pop(key, None)
        while len(self.entries) >= self.size:
            (old_vpn, _), _ = self.entries.popitem(last=False)
            if self.evicted is not None:
                self.evicted(old_vpn)
        self.entries[key] = pte
        self.fills += 1

    def invalidate_all(self) -> None:
        self.entries.clear()

    def invalidate_process(self) -> None:
        """TBIAP: every entry that is not ASM."""
        for key in [k for k in self.entries if k[1] is not None]:
            del self.entries[key]

    def invalidate(self, vpn: int) -> None:
        """TBIS: the page, for every ASN."""
        for key in [k for k in self.entries if k[0] == vpn]:
            del self.entries[key]


class PhysicalPort(Protocol):
    """What the MMU, and the PAL and loaders through ``MMU.memory``, need of
    physical memory (machine.memory.PhysicalMemory is the one there is)."""

    def frame(self, pfn: int) -> list[int]: ...

    def read_q(self, pa: int) -> int: ...

    def write_q(self, pa: int, value: int) -> None: ...

    def read(self, pa: int, n: int) -> bytes: ...


class MMU(Part):
    """Address translation with the 21064's ITB and DTB in front of the page walk.

    Also a MemoryPort for the CPU: ``lookup(va, access)`` returns the frame
    holding va in the current mode, or raises MemFault. Whoever changes the
    mode, PTBR, ASN or the TBs must also flush the CPU's host page caches.

    ``attach(cpu)`` keeps the CPU's host page caches a subset of the TBs (an
    evicted TB entry leaves them too), so every modeled TB miss reaches the
    MMU: misses and fills are exact. A hit served by the CPU's host cache is
    not counted (that would cost a Python call per access); ``hits`` counts
    the hits seen by the MMU. Each miss costs ``TB_MISS_CYCLES`` of virtual time,
    charged by the CPU at the instruction that missed (see ``TbMiss``)."""

    STATE_NAME = "mmu"
    STATE_FIELDS = ("ptbr", "asn", "mode", "itb", "dtb")
    NOT_STATE = {"memory": "a link to physical memory", "missed": "set and cleared within one access"}

    def __init__(self, memory: PhysicalPort) -> None:
        self.memory = memory
        self.itb = TLB("ITB", ITB_ENTRIES)
        self.dtb = TLB("DTB", DTB_ENTRIES)
        self.ptbr = 0  # page frame number of the level-1 table
        self.asn = 0
        self.mode = MODE_KERNEL
        self.missed = False  # set when a lookup refilled a TB; the CPU clears it

    def save_state(self) -> dict[str, Any]:
        return {"ptbr": self.ptbr, "asn": self.asn, "mode": self.mode, "itb": self.itb.save_state(),
                "dtb": self.dtb.save_state()}  # fmt: skip

    def check_state(self, saved: object) -> dict[str, Any]:
        s = obj(saved, "mmu", self.STATE_FIELDS)
        integer(s["ptbr"], "mmu.ptbr", U64)
        integer(s["asn"], "mmu.asn", (0, 255))
        integer(s["mode"], "mmu.mode", (0, 1))
        return {**s, "itb": self.itb.check_state(s["itb"]), "dtb": self.dtb.check_state(s["dtb"])}

    def apply_state(self, checked: dict[str, Any]) -> None:
        self.ptbr, self.asn, self.mode = checked["ptbr"], checked["asn"], checked["mode"]
        self.itb.apply_state(checked["itb"])
        self.dtb.apply_state(checked["dtb"])

    def attach(self, cpu: CPU) -> None:
        """Make TB evictions drop the page from the CPU's host caches."""

        def drop_i(vpn: int) -> None:
            cpu.forget_exec(vpn)

        def drop_d(vpn: int) -> None:
            cpu.forget_data(vpn)

        self.itb.evicted = drop_i
        self.dtb.evicted = drop_d

    def translate(self, va: int, access: int, mode: int | None = None) -> int:
        """Physical address for the access, through the TBs; MemFault if not."""
        mode = self.mode if mode is None else mode
        va &= 0xFFFF_FFFF_FFFF_FFFF
        if va >> 41 == (1 << 23) - 2 or va >> 42 not in (0, (1 << 22) - 1):
            t = translate(self.memory.read_q, self.ptbr, va, access, mode)  # KSEG or malformed: no TB
            if t.fault is not None:
                raise MemFault(va, t.fault, _CAUSE[access])
            assert t.pa is not None
            return t.pa
        tb = self.itb if access == ACCESS_EXEC else self.dtb
        vpn = va >> PAGE_SHIFT
        pte = tb.lookup(vpn, self.asn)
        if pte is None:
            t = translate(self.memory.read_q, self.ptbr, va, access, mode)
            if t.fault is not None:
                raise MemFault(va, t.fault, _CAUSE[access])
            tb.fill(vpn, self.asn, t.pte)
            self.missed = True  # the CPU charges the refill (TB_MISS_CYCLES) and restarts the access
            pte = t.pte
        else:
            fault = check(pte, access, mode)
            if fault is not None:
                raise MemFault(va, fault, _CAUSE[access])
        return ((pte >> PTE_PFN_SHIFT) << PAGE_SHIFT) | (va & PAGE_MASK)

    def lookup(self, va: int, access: int) -> list[int]:
        self.missed = False
        pa = self.translate(va, access)
        return self.memory.frame(pa >> PAGE_SHIFT)

    # --- the PALcode's tbi and swpctx (alpha-machine.md §3.1) ---------------------

    def tbia(self) -> None:
        self.itb.invalidate_all()
        self.dtb.invalidate_all()

    def tbiap(self) -> None:
        self.itb.invalidate_process()
        self.dtb.invalidate_process()

    def tbis(self, va: int, itb: bool = True, dtb: bool = True) -> None:
        vpn = (va & 0xFFFF_FFFF_FFFF_FFFF) >> PAGE_SHIFT
        if itb:
            self.itb.invalidate(vpn)
        if dtb:
            self.dtb.invalidate(vpn)

    def tbi(self, code: int, va: int = 0) -> None:
        """CALL_PAL tbi: -2 TBIA, -1 TBIAP, 1 TBISI, 2 TBISD, 3 TBIS."""
        if code == -2:
            self.tbia()
        elif code == -1:
            self.tbiap()
        elif code in (1, 2, 3):
            self.tbis(va, itb=code != 2, dtb=code != 1)

    def switch_context(self, ptbr: int, asn: int) -> None:
        """swpctx's MMU part: a new page table and ASN. Entries of other ASNs
        stay in the TBs (they are tagged) and ASM entries stay valid."""
        self.ptbr = ptbr
        self.asn = asn

    def walk(self, va: int, access: int = ACCESS_READ, mode: int | None = None) -> Walk:
        """The page walk for display (the Page tables pane), bypassing the TBs."""
        return translate(self.memory.read_q, self.ptbr, va, access, self.mode if mode is None else mode)
