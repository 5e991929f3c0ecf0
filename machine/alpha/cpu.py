"""The Alpha CPU: architectural state, memory access and the reference interpreter.

Memory is reached through a ``MemoryPort`` (``lookup(va, access)`` returns the
8 KiB page or raises ``MemFault``). A page is a list of 1,024 unsigned 64-bit
little-endian words: on CPython an aligned quadword access is then one list
subscript, several times cheaper than struct unpacking, and Alpha code is
dominated by quadword accesses (LDQ, LDQ_U, STQ_U). The CPU caches the answers per
virtual page in three host-side dicts, ``rtlb``/``wtlb``/``xtlb``; whoever
changes the mappings calls ``flush_tlb`` (or ``forget_data``/``forget_exec``
for one page). ``rtlb`` and ``wtlb`` are keyed by the page's base address
(``va & ~PAGE_MASK``), not its number, so translated code probes them with
``va & (~PAGE_MASK | width - 1)``: a misaligned address keeps a low bit set
and cannot hit, and one dict probe checks page and alignment together (the
slow path does the masking and raises the unaligned trap). ``xtlb`` is keyed
by page number. ``rbtlb`` holds byte views of ``rtlb``'s frames for the
translator's fused byte loads, and ``rltlb`` longword views for its ``ldl``
(on a little-endian host, where a frame's longword 2k is the low half of its
quadword k); both are filled only from ``rtlb`` and emptied with it, so they
never hold a page ``rtlb`` lacks. A page that holds translated code is
kept out of ``wtlb`` so the first store to it invalidates the translation
(alpha-machine.md §2: IMB and stores into code must flush decoded code).

``step`` is the reference interpreter: decode, then one branch per row kind.
``run`` executes whole translated blocks (``translate.py``) and falls back to
``step`` for the tail of a budget, so budgets are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from machine.alpha import fpu, isa
from machine.alpha.constants import (
    ACCESS_EXEC,
    ACCESS_READ,
    ACCESS_WRITE,
    CPU_MODELS,
    DEFAULT_CPU,
    EXC_INE,
    EXC_IOV,
    EXC_SWC,
    EXC_UNF,
    FPCR_DNOD,
    FPCR_DYN_SHIFT,
    FPCR_DZED,
    FPCR_INED,
    FPCR_INVD,
    FPCR_OVFD,
    FPCR_UNFD,
    M64,
    PAGE_MASK,
    PAGE_SHIFT,
    PAL_IMB,
    QUAL_I,
    QUAL_S,
    QUAL_U,
    ROUND_DYNAMIC,
    ROUND_NORMAL,
    TB_MISS_CYCLES,
)
from machine.alpha.decode import Insn, decode
from machine.alpha.semantics import function
from machine.alpha.translate import LITTLE, Translator
from machine.alpha.traps import (
    ArithmeticTrap,
    IllegalInstruction,
    MemFault,
    MemoryTrap,
    TbMiss,
    Trap,
    Unaligned,
    WatchHit,
)
from machine.fields import COUNT, U64, WORD, Part, integer, integers, obj

_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFF_FFFF, 8: M64}

# Exception-summary bit -> FPCR status bit (Alpha ARM 4.7.8), and the
# matching trap-disable bit.
_EXC_TO_FPCR = {2: 52, 4: 53, 8: 54, 16: 55, 32: 56, 64: 57}
_EXC_DISABLE = {2: FPCR_INVD, 4: FPCR_DZED, 8: FPCR_OVFD, 16: FPCR_UNFD, 32: FPCR_INED}

# User-mode FPCR at reset: every IEEE trap disabled, dynamic rounding normal.
# This is what Linux (and QEMU's linux-user) give a new process.
DEFAULT_FPCR = FPCR_INVD | FPCR_DZED | FPCR_OVFD | FPCR_UNFD | FPCR_INED | FPCR_DNOD | (ROUND_NORMAL << FPCR_DYN_SHIFT)


class MemoryPort(Protocol):
    missed: bool  # set by lookup when it refilled a TB (a modeled miss)

    def lookup(self, va: int, access: int) -> Any:
        """The writable page buffer holding va, or raise MemFault."""
        ...


@dataclass(frozen=True)
class Watch:
    """A watchpoint: ``size`` bytes at ``addr`` (virtual, or physical if
    ``physical``), on reads, writes or both (``access`` "r", "w" or "rw")."""

    number: int
    addr: int
    size: int
    access: str
    physical: bool

    def hits(self, a: int, width: int, access: int) -> bool:
        kind = "r" if access == ACCESS_READ else "w"
        return kind in self.access and a < self.addr + self.size and self.addr < a + width

    def describe(self) -> str:
        space = "physical" if self.physical else "virtual"
        what = {"r": "reads of", "w": "writes to", "rw": "accesses to"}[self.access]
        return f"watchpoint {self.number}: {what} {self.size} bytes at {space} {self.addr:#x}"


class PalPort(Protocol):
    def call_pal(self, cpu: CPU, fn: int, pc: int) -> int:
        """Run CALL_PAL fn issued at pc; return the next PC."""
        ...


class CPU(Part):
    """One Alpha CPU. Integer registers ``r`` and FP registers ``f`` hold
    unsigned 64-bit ints; r[31] and f[31] always read 0."""

    STATE_NAME = "cpu"
    STATE_FIELDS = ("pc", "r", "f", "fpcr", "unique", "intr_flag", "lock_addr", "lock_value", "icount", "cycles",
                    "pcc_offset")  # fmt: skip
    _RANGES = {"intr_flag": (0, 1), "lock_addr": WORD, "lock_value": WORD, "icount": COUNT, "cycles": COUNT}
    NOT_STATE = {
        "model": "the machine's CPU model: saved and hashed by the machine, which builds its CPU for it",
        "implver": "follows from the model", "features": "follows from the model",
        "memory": "a link to the MMU", "pal": "a link to the PAL",
        "iters": "scratch of one translated block's run", "skipped": "scratch of one translated block's run",
        "skipc": "scratch of one translated block's run",
        "rtlb": "a host cache of page lookups", "wtlb": "a host cache of page lookups",
        "xtlb": "a host cache of page lookups", "rbtlb": "a host cache of page lookups",
        "rltlb": "a host cache of page lookups", "_translator": "a host cache of translated code",
        "tb_trap": "set only inside run()", "leave": "set only inside run()",
        "exit_after_pal": "how the machine runs its CPU, set when it is built",
        "stops": "the debugger's breakpoints", "watch_pages": "the debugger's watchpoints",
        "watch_frames": "the debugger's watchpoints", "watch_suppress": "set only while stepping over a watch",
    }  # fmt: skip

    def __init__(self, memory: MemoryPort, pal: PalPort, model: str = DEFAULT_CPU) -> None:
        if model not in CPU_MODELS:
            raise ValueError(f"unknown CPU model {model!r} (known: {', '.join(CPU_MODELS)})")
        self.model = model
        self.implver, self.features = CPU_MODELS[model]
        self.memory = memory
        self.pal = pal
        self.r = [0] * 32
        self.f = [0] * 32
        self.pc = 0
        self.fpcr = DEFAULT_FPCR
        self.unique = 0
        self.intr_flag = 0
        self.lock_addr = -1
        self.lock_value = 0
        self.icount = 0
        self.cycles = 0
        self.pcc_offset = 0  # RPCC bits 63:32, written by the OS
        self.iters = 0  # iterations a translated self-loop has completed
        self.skipped = 0  # instructions (and cycles) if-converted branches skipped
        self.skipc = 0
        self.rtlb: dict[int, Any] = {}
        self.wtlb: dict[int, Any] = {}
        self.xtlb: dict[int, Any] = {}
        self.rbtlb: dict[int, Any] = {}  # rtlb's memoryview frames as bytes, for fused byte loads (translate.py)
        self.rltlb: dict[int, Any] = {}  # ... and as longwords, for ldl (translate.py)
        self._translator: Any = None
        self.tb_trap = False  # inside run(): a TB miss restarts the instruction (TbMiss)
        self.stops: set[int] = set()  # breakpoint PCs: run() returns before executing one
        self.watch_pages: dict[int, list[Watch]] = {}  # vpn -> watches on virtual addresses
        self.watch_frames: dict[int, list[tuple[Watch, int]]] = {}  # id(frame) -> (watch, pfn)
        self.watch_suppress = False  # stepping over the access that hit a watchpoint
        # With a machine around the CPU, run() returns after every CALL_PAL: the
        # PAL may have lowered the IPL or idled, and the machine must look at
        # its interrupts at that exact instruction, however the run was sliced.
        self.exit_after_pal = False
        self.leave = False  # set by call_pal when exit_after_pal: run() returns

    # --- memory ---------------------------------------------------------------------

    def flush_tlb(self) -> None:
        """Forget every cached translation and all translated code."""
        self.flush_host_caches()
        if self._translator is not None:
            self._translator.flush()

    def forget_pages(self, va: int, size: int) -> None:
        """Forget the pages covering [va, va + size): their cached lookups and
        their translated code, after the mapping or the contents changed
        behind the CPU's back (an unmap, a host-side write such as read())."""
        first, end = va >> PAGE_SHIFT, (va + size + PAGE_MASK) >> PAGE_SHIFT
        if end - first > 4096:
            self.flush_tlb()
            return
        for vpn in range(first, end):
            self.forget_data(vpn)
            self.xtlb.pop(vpn, None)
            if self._translator is not None:
                self._translator.invalidate_vpn(vpn)

    def flush_host_caches(self) -> None:
        """Forget cached page lookups (after a mode switch, a TB invalidation
        or a context switch). Translated code is kept, keyed by virtual page
        and physical frame, but parked until its page is looked up again
        through the TB with the new mode's permissions."""
        self.rtlb.clear()
        self.rbtlb.clear()
        self.rltlb.clear()
        self.wtlb.clear()
        self.xtlb.clear()
        if self._translator is not None:
            self._translator.park_all()
            if self._translator.native is not None:
                self._translator.native.flush_tb()

    def forget_exec(self, vpn: int) -> None:
        """The ITB dropped vpn: its code must be looked up again before it runs."""
        self.xtlb.pop(vpn, None)
        if self._translator is not None:
            self._translator.park(vpn)

    def forget_data(self, vpn: int) -> None:
        """The DTB dropped vpn: its cached data lookups go."""
        base = vpn << PAGE_SHIFT
        self.rtlb.pop(base, None)
        self.rbtlb.pop(base, None)
        self.rltlb.pop(base, None)
        self.wtlb.pop(base, None)
        if self._translator is not None and self._translator.native is not None:
            self._translator.native.forget(vpn)

    def frame_written(self, frame: Any) -> None:
        """Something other than a CPU store changed a frame (DMA, the loader,
        a Python kernel): translated code from it is stale."""
        if self._translator is not None:
            self._translator.written(frame)

    def _page(self, tlb: dict[int, Any], va: int, access: int, pc: int, width: int = 1) -> Any:
        vpn = va >> PAGE_SHIFT
        key = vpn if access == ACCESS_EXEC else va & ~PAGE_MASK  # see the module docstring
        p = tlb.get(key)
        if p is None:
            mem = self.memory
            try:
                p = mem.lookup(va, access)
            except MemFault as e:
                raise MemoryTrap(pc, e.va, e.mmcsr, e.cause) from None
            if mem.missed:
                mem.missed = False
                if self.tb_trap:  # executing: charge the refill where it happens, then restart
                    raise TbMiss(pc)
                self.cycles += TB_MISS_CYCLES
            if access == ACCESS_WRITE and self._translator is not None:
                self._translator.written(p)
            if (self.watch_pages or self.watch_frames) and access != ACCESS_EXEC:
                if vpn in self.watch_pages or id(p) in self.watch_frames:
                    self._check_watch(vpn, p, va, width, access, pc)
                    return p  # never cached: every access to a watched page comes here
            tlb[key] = p
        return p

    def _check_watch(self, vpn: int, frame: Any, va: int, width: int, access: int, pc: int) -> None:
        if self.watch_suppress or not self.tb_trap:  # only instructions stop at a watchpoint, not the PAL
            return
        off = va & PAGE_MASK
        for w in self.watch_pages.get(vpn, ()):
            if w.hits(va, width, access):
                raise WatchHit(pc, va, width, access, w)
        for w, pfn in self.watch_frames.get(id(frame), ()):
            if w.hits((pfn << PAGE_SHIFT) | off, width, access):
                raise WatchHit(pc, va, width, access, w)

    def load(self, va: int, width: int, pc: int) -> int:
        """Naturally aligned load of width bytes; faults become traps at pc."""
        word = self._page(self.rtlb, va, ACCESS_READ, pc, width)[(va & PAGE_MASK) >> 3]
        return word if width == 8 else (word >> ((va & 7) << 3)) & _MASK[width]

    def store(self, va: int, width: int, value: int, pc: int) -> None:
        page = self._page(self.wtlb, va, ACCESS_WRITE, pc, width)
        i = (va & PAGE_MASK) >> 3
        if width == 8:
            page[i] = value & M64
        else:
            shift = (va & 7) << 3
            mask = _MASK[width] << shift
            page[i] = (page[i] & ~mask) | ((value << shift) & mask)

    def fetch(self, pc: int) -> int:
        word = self._page(self.xtlb, pc, ACCESS_EXEC, pc)[(pc & PAGE_MASK) >> 3]
        return (word >> ((pc & 4) << 3)) & 0xFFFF_FFFF

    def load_bytes(self, va: int, n: int, pc: int) -> bytes:
        return bytes(self.load(va + i, 1, pc) for i in range(n))

    def store_bytes(self, va: int, data: bytes, pc: int) -> None:
        for i, b in enumerate(data):
            self.store(va + i, 1, b, pc)

    # --- helpers shared with the translator ----------------------------------------

    @staticmethod
    def aligned(ins: Insn, va: int, pc: int) -> int:
        """The address an access uses: LDQ_U/STQ_U clear bits 2:0, everything
        else must be naturally aligned or raises the unaligned trap."""
        op = ins.op
        if op.kind in ("ldu", "stu"):
            return va & ~7
        if va & (op.width - 1):
            raise Unaligned(pc, va, op.opcode, ins.ra)
        return va

    def slow_load(self, ins: Insn, va: int, pc: int) -> int:
        """A load the translator's fast path could not do: misaligned or a
        page not in the host cache. Returns the raw value or raises the trap."""
        return self.load(self.aligned(ins, va, pc), ins.op.width, pc)

    def load_byte(self, ins: Insn, va: int, pc: int) -> int:
        """The byte at ``va`` for a fused ``ldq_u``+``ext`` (translate.py) whose
        byte TB missed: refilled from ``rtlb`` (so it never holds a page
        ``rtlb`` lacks: watched, device or dropped), else ``ins``, the ldq_u,
        takes its own slow path, so faults and TB misses are the unfused ones."""
        key = va & ~PAGE_MASK
        page = self.rtlb.get(key)
        if page is None:
            word = self.slow_load(ins, va, pc)
            page = self.rtlb.get(key)  # cached now, unless watched or a device's
        else:
            word = page[(va & PAGE_MASK) >> 3]
        if isinstance(page, memoryview) and page.format == "Q":
            self.rbtlb[key] = page.cast("B")
        return (word >> ((va & 7) << 3)) & 0xFF

    def load_long(self, ins: Insn, va: int, pc: int) -> int:
        """The longword at ``va`` for a translated ``ldl`` whose longword TB
        missed: as ``load_byte``, refilled from ``rtlb`` only, and a misaligned
        address (which the probe's low bits made miss) takes the slow path."""
        if va & 3:
            return self.slow_load(ins, va, pc)  # the unaligned trap (or its fix-up)
        key = va & ~PAGE_MASK
        page = self.rtlb.get(key)
        if page is None:
            value = self.slow_load(ins, va, pc)
            page = self.rtlb.get(key)  # cached now, unless watched or a device's
        else:
            value = (page[(va & PAGE_MASK) >> 3] >> ((va & 4) << 3)) & 0xFFFF_FFFF
        if LITTLE and isinstance(page, memoryview) and page.format == "Q":
            self.rltlb[key] = page.cast("B").cast("I")
        return value

    def slow_store(self, ins: Insn, va: int, value: int, pc: int) -> None:
        self.store(self.aligned(ins, va, pc), ins.op.width, value, pc)

    def read_pcc(self, extra: int = 0) -> int:
        return ((self.pcc_offset & 0xFFFF_FFFF) << 32) | ((self.cycles + extra) & 0xFFFF_FFFF)

    def fp_rounding(self, fn11: int) -> int:
        rm = (fn11 >> 6) & 3
        return (self.fpcr >> FPCR_DYN_SHIFT) & 3 if rm == ROUND_DYNAMIC else rm

    def fp_exceptions(self, exc: int, fn11: int, regmask: int, pc: int) -> None:
        """Record IEEE exceptions in the FPCR and trap as the 21064 with an
        OSF/1-style completion handler does (QEMU helper_fp_exc_raise{,_s}).
        /U enables underflow and integer overflow, /I inexact; the rest are
        ignored. Without /S, every exception is recorded and any unignored one
        traps whatever the FPCR says; with /S, only unignored ones are recorded
        and they trap only if the FPCR enables them."""
        ignore = 0
        if not fn11 & QUAL_U:
            ignore |= EXC_UNF | EXC_IOV
        if not fn11 & QUAL_I:
            ignore |= EXC_INE
        live = exc & ~ignore
        software = bool(fn11 & QUAL_S)
        for bit, pos in _EXC_TO_FPCR.items():
            if (live if software else exc) & bit:
                self.fpcr |= 1 << pos
        if software:
            enabled = EXC_IOV
            for bit, dis in _EXC_DISABLE.items():
                if not self.fpcr & dis:
                    enabled |= bit
            live &= enabled
        if live:
            raise ArithmeticTrap(pc, live | (EXC_SWC if software else 0), regmask)

    def read_fpcr(self) -> int:
        v = self.fpcr & ~(1 << 63)
        if v & (0x3F << 52):
            v |= 1 << 63  # SUM
        return v

    # --- the reference interpreter ---------------------------------------------------

    def decode_at(self, pc: int) -> Insn:
        word = self.fetch(pc)
        ins = decode(word)
        if ins is None:
            raise IllegalInstruction(pc, word, "reserved or unimplemented encoding")
        if ins.op.feature and not self.features & ins.op.feature:
            raise IllegalInstruction(pc, word, f"{ins.op.name} needs an AMASK feature {self.model} lacks")
        return ins

    def step(self) -> None:
        """Execute one instruction (the reference semantics)."""
        prev, self.tb_trap = self.tb_trap, True
        try:
            self.interpret(self.icount + 1, 1 << 63, stops=False)
        finally:
            self.tb_trap = prev

    def interpret(self, limit: int, climit: int, stops: bool = True) -> None:
        """The reference interpreter's loop, until icount reaches ``limit``,
        cycles reach ``climit``, a breakpoint (if ``stops``) or a CALL_PAL
        that ends the run. A TB miss costs its refill and restarts the
        instruction, as the PALcode's would. Callers set ``tb_trap``."""
        stop_pcs = self.stops if stops else ()
        while self.icount < limit and self.cycles < climit:
            if stop_pcs and self.pc in stop_pcs:
                break
            try:
                self._step()
            except TbMiss:
                self.cycles += TB_MISS_CYCLES
                continue
            if self.leave:
                break

    def _step(self) -> None:
        pc = self.pc
        ins = self.decode_at(pc)
        if ins.op.kind == "pal":  # counted before the PAL runs: it may never return
            self.icount += 1
            self.cycles += isa.COST[ins.op.cost]
            self.pc = (pc + 4) & M64
            self.pc = self.call_pal(ins.fn, pc)
            return
        nxt = self.execute(ins, pc)
        self.icount += 1
        self.cycles += isa.COST[ins.op.cost]
        self.pc = nxt

    def execute(self, ins: Insn, pc: int) -> int:  # noqa: C901 - one branch per kind
        """Execute a decoded instruction at pc; return the next PC. Raises a
        Trap before changing any state if the instruction faults."""
        op = ins.op
        kind = op.kind
        r = self.r
        ra, rb, rc = ins.ra, ins.rb, ins.rc
        nxt = (pc + 4) & M64
        if kind in ("alu", "cmov", "trapv"):
            a = r[ra] if ra != 31 else 0
            b = ins.lit if ins.is_lit else (r[rb] if rb != 31 else 0)
            if kind == "cmov":
                if function(op.sem, self.model)(a, b, 0, 0, 0) and rc != 31:
                    r[rc] = b
                return nxt
            v = function(op.sem, self.model)(a, b, 0, 0, 0)
            if kind == "trapv" and v is None:
                raise ArithmeticTrap(pc, EXC_IOV, 1 << rc)
            if rc != 31:
                r[rc] = v
            return nxt
        if kind == "lda":
            if ra != 31:
                r[ra] = function(op.sem, self.model)(0, r[rb] if rb != 31 else 0, 0, ins.disp, 0)
            return nxt
        if kind in ("ld", "ldu", "ldl_l", "fld"):
            if ra == 31:  # loads to r31/f31 are prefetches: no access, no fault
                return nxt
            va = self.aligned(ins, ((r[rb] if rb != 31 else 0) + ins.disp) & M64, pc)
            w = op.width
            v = self.load(va, w, pc)
            val = function(op.sem, self.model)(0, 0, v, 0, 0)
            if kind == "fld":
                self.f[ra] = val
            else:
                r[ra] = val
                if kind == "ldl_l":
                    self.lock_addr, self.lock_value = va, v
            return nxt
        if kind in ("st", "stu", "stc", "fst"):
            va = self.aligned(ins, ((r[rb] if rb != 31 else 0) + ins.disp) & M64, pc)
            w = op.width
            if kind == "fst":
                value = function(op.sem, self.model)(self.f[ra] if ra != 31 else 0, 0, 0, 0, 0)
            else:
                value = r[ra] if ra != 31 else 0
            if kind == "stc":
                # QEMU's model of LL/SC: succeed if the locked address still
                # holds the value the locked load saw.
                ok = va == self.lock_addr and self.load(va, w, pc) == self.lock_value
                if ok:
                    self.store(va, w, value, pc)
                self.lock_addr = -1
                if ra != 31:
                    r[ra] = 1 if ok else 0
                return nxt
            self.store(va, w, value, pc)
            return nxt
        if kind == "br" or kind == "bcc" or kind == "fbcc":
            if kind == "fbcc":
                a = self.f[ra] if ra != 31 else 0
            else:
                a = r[ra] if ra != 31 else 0
            if kind == "br" and ra != 31:
                r[ra] = nxt
            if function(op.sem, self.model)(a, 0, 0, 0, 0):
                return (nxt + 4 * ins.disp) & M64
            return nxt
        if kind == "jmp":
            target = (r[rb] if rb != 31 else 0) & ~3 & M64
            if ra != 31:
                r[ra] = nxt
            return target
        if kind == "pal":
            self.pc = nxt
            return self.call_pal(ins.fn, pc)
        if kind == "nop":
            return nxt
        if kind == "rpcc":
            if ra != 31:
                r[ra] = self.read_pcc()
            return nxt
        if kind in ("rc", "rs"):
            if ra != 31:
                r[ra] = self.intr_flag
            self.intr_flag = 1 if kind == "rs" else 0
            return nxt
        return self._execute_fp(ins, pc, nxt)

    def _execute_fp(self, ins: Insn, pc: int, nxt: int) -> int:
        op = ins.op
        kind = op.kind
        f = self.f
        ra, rb, rc = ins.ra, ins.rb, ins.rc
        fa = f[ra] if ra != 31 else 0
        fb = f[rb] if rb != 31 else 0
        if kind == "fp":
            fn11 = ins.fn
            if not fn11 & QUAL_S:
                is_cmp = op.fpq == "cmp"
                exc = 0
                if ra != 31 and not op.zero_ra:
                    exc |= fpu._input_exc(fa, is_cmp)
                if rb != 31 and op.fpq != "cvtq":
                    exc |= fpu._input_exc(fb, is_cmp)
                if exc:
                    raise ArithmeticTrap(pc, exc, 0)
            rm = self.fp_rounding(fn11)
            val, exc = function(op.sem, self.model)(fa, fb, 0, 0, rm)
            if rc != 31:
                f[rc] = val
            if exc:
                self.fp_exceptions(exc, fn11, 1 << (rc + 32), pc)
            return nxt
        if kind == "fpx":
            if rc != 31:
                f[rc] = function(op.sem, self.model)(fa, fb, 0, 0, 0)
            return nxt
        if kind == "cvtqlv":
            if rc != 31:
                f[rc] = fpu.cvtql(fb)
            sb = fb - (1 << 64) if fb >> 63 else fb
            if not -(1 << 31) <= sb < (1 << 31):
                self.fp_exceptions(EXC_IOV, ins.fn, 1 << (rc + 32), pc)
            return nxt
        if kind == "fcmov":
            if function(op.sem, self.model)(fa, 0, 0, 0, 0) and rc != 31:
                f[rc] = fb
            return nxt
        if kind == "mt_fpcr":
            self.fpcr = fa
            return nxt
        if kind == "mf_fpcr":
            if ra != 31:
                f[ra] = self.read_fpcr()
            return nxt
        if kind == "itof":
            a = self.r[ra] if ra != 31 else 0
            if rc != 31:
                f[rc] = function(op.sem, self.model)(a, 0, 0, 0, 0)
            return nxt
        if kind == "ftoi":
            if rc != 31:
                self.r[rc] = function(op.sem, self.model)(fa, 0, 0, 0, 0)
            return nxt
        raise IllegalInstruction(pc, ins.word, f"no semantics for {op.name}")  # unreachable by table

    def call_pal(self, fn: int, pc: int) -> int:
        """CALL_PAL: IMB flushes translated code here; the rest is the PAL's."""
        if fn == PAL_IMB and self._translator is not None:
            self._translator.flush()
        prev, self.tb_trap = self.tb_trap, False  # the PAL's own accesses are charged, never restarted
        self.leave = self.exit_after_pal
        try:
            return self.pal.call_pal(self, fn, pc)
        finally:
            self.tb_trap = prev

    # --- state -----------------------------------------------------------------------

    def save_state(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v := getattr(self, k), list) else v for k in self.STATE_FIELDS}

    def check_state(self, saved: object) -> dict[str, Any]:
        s = obj(saved, "cpu", self.STATE_FIELDS)
        for k in self.STATE_FIELDS:
            if k in ("r", "f"):
                integers(s[k], f"cpu.{k}", 32, U64)
            else:
                integer(s[k], f"cpu.{k}", self._RANGES.get(k, U64))
        return s

    def apply_state(self, checked: dict[str, Any]) -> None:
        for k in self.STATE_FIELDS:
            if k in ("r", "f"):
                getattr(self, k)[:] = checked[k]  # in place: whoever holds the register file keeps it
            else:
                setattr(self, k, checked[k])
        self.flush_tlb()  # cached lookups and code were for the state before

    # --- running ----------------------------------------------------------------------

    def enable_translation(self, on: bool = True) -> None:
        if on and self._translator is None:
            self._translator = Translator(self)
        elif not on:
            self._translator = None
            self.wtlb.clear()

    def run(self, budget: int, cycle_limit: int | None = None) -> int:
        """Run up to ``budget`` instructions, stopping before any block or
        instruction that would start at or after ``cycle_limit`` cycles (the
        machine's next device event), or before a PC in ``stops`` (a
        breakpoint), or after a CALL_PAL if ``exit_after_pal``; return how
        many ran. Traps and Halt propagate with pc, icount and cycles exact."""
        climit = (1 << 63) if cycle_limit is None else cycle_limit
        start = self.icount
        self.leave = False
        prev, self.tb_trap = self.tb_trap, True
        try:
            if self._translator is not None:
                self._translator.run(start + budget, climit)
            else:
                self.interpret(start + budget, climit)
        finally:
            self.tb_trap = prev
        return self.icount - start


__all__ = ["CPU", "DEFAULT_FPCR", "Trap", "Watch"]
