"""Entries into native code and exits from it, for one CPU.

The translator's run loop calls ``NativeRegion.enter`` at a hot region's
head (a trace region or a self-loop that has run ``HOT`` times). Native code
runs whole blocks while each fits the budget and the cycle limit -- the
Python translator's own rule, so both stop before the same instruction and
the interpreter runs the same tail -- and returns with exact state when it
leaves the region, when the next block does not fit, on a TB miss or an
unaligned access (mid-block: the interpreter runs that instruction, and the
rest of the block, through the CPU's own page lookup, so faults, TB-miss
cycles and watchpoints happen there, and the TB entry is then copied from
``rtlb``/``wtlb``), or at an instruction it does not lower.

A ``wasmtime.Trap`` is a bug of this tier: the region is dropped, the fault
kept in ``NativeTier.faults``, and the run ends in ``Halt`` with a message
(guest state may be wrong: stores before the trap happened).
"""

from __future__ import annotations

import array
import struct
from typing import Any

from machine.alpha.constants import M64, PAGE_MASK, PAGE_SHIFT
from machine.alpha.native import lower
from machine.alpha.native.lower import BUDGET, LEFT, TBMISS_R, UNALIGNED
from machine.alpha.native.state import EXIT_VA, ROFF, RTAG, TB_ENTRIES, WOFF, WTAG
from machine.alpha.native.wasm import Compiled, Runtime, Unavailable
from machine.alpha.traps import Halt
from machine.arena import Arena

_IN = struct.Struct("<37Q")  # r0..r31, pc, icount, cycles, limit, climit
_OUT = struct.Struct("<35Q")  # r0..r31, pc, icount, cycles
_EMPTY = memoryview(array.array("Q", [M64] * TB_ENTRIES))
_NO_LIMIT = 1 << 63
RECOMPILES = 4  # times a region is compiled again as more of its page is seen
MISSES = 64  # exits to its own page's unseen code before that


def arena_of(memory: Any) -> Arena | None:
    """The arena behind a CPU's memory port (the user-mode harness's pages, or the MMU's physical memory)."""
    a = getattr(memory, "arena", None)
    if a is None:
        a = getattr(getattr(memory, "memory", None), "arena", None)
    return a if isinstance(a, Arena) else None


class NativeFault(Halt):
    """A trap inside native code: this tier's bug. The machine stops with ``message``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 70)  # the reason: a kernel machine shows it as its halt reason
        self.message = message


class NativeTier:
    def __init__(self, cpu: Any, arena: Arena) -> None:
        if arena.shared is None:
            arena.shared = Runtime(arena)
        self.rt: Runtime = arena.shared
        self.cpu = cpu
        self.arena = arena
        self.buf = arena.buf
        self.q = arena.q
        self.faults: list[str] = []
        self.modules: dict[int, tuple[dict[int, Any], int, NativeRegion]] = {}  # id(page's blocks) -> module
        self.compiled = 0
        self.flush_tb()

    # --- the TB: copies of the CPU's rtlb/wtlb entries ------------------------------------

    def flush_tb(self) -> None:
        q = self.q
        q[RTAG >> 3 : (RTAG >> 3) + TB_ENTRIES] = _EMPTY
        q[WTAG >> 3 : (WTAG >> 3) + TB_ENTRIES] = _EMPTY

    def forget_writes(self) -> None:
        """A frame newly holds code: it left ``wtlb``, so every write entry goes."""
        self.q[WTAG >> 3 : (WTAG >> 3) + TB_ENTRIES] = _EMPTY

    def forget(self, vpn: int) -> None:
        q = self.q
        i = vpn & (TB_ENTRIES - 1)
        for tag in (RTAG >> 3, WTAG >> 3):
            if q[tag + i] == vpn:
                q[tag + i] = M64

    def _fill(self, code: int, va: int) -> None:
        cpu = self.cpu
        frame = (cpu.rtlb if code == TBMISS_R else cpu.wtlb).get(va & ~PAGE_MASK)
        if frame is None:  # watched, a device page, or not writable: never cached
            return
        slot = self.arena.slot_of.get(id(frame))
        if slot is None or self.arena.views.get(slot) is not frame:
            return
        vpn = va >> PAGE_SHIFT
        i = vpn & (TB_ENTRIES - 1)
        tag, off = (RTAG, ROFF) if code == TBMISS_R else (WTAG, WOFF)
        self.q[(off >> 3) + i] = self.arena.offset(slot)
        self.q[(tag >> 3) + i] = vpn

    # --- compiling ------------------------------------------------------------------------

    def compile(self, owner: Any, pages: dict[int, Any], published: Any) -> None:
        """Compile the region headed by ``owner`` (a trace region or a
        self-loop): every block of its page seen so far is an entry, so an
        indirect jump (a switch's table, a return) lands in native code too.
        One module serves every head in the page it holds while the page's
        blocks stand (the translator's dict for the page, held here so its
        identity cannot be reused); exits to code seen later recompile it."""
        cached = self.modules.get(id(pages))
        if cached is not None and cached[0] is pages and owner.pc in cached[2].starts:
            nr = NativeRegion(self, owner, cached[2].fn, None, published, cached[2])
        else:
            stops = self.cpu.stops
            code = {}
            for blk in pages.values():
                for k, ins in enumerate(blk.insns or ()):
                    a = blk.pc + 4 * k
                    if a not in stops:
                        code[a] = ins
            more = tuple(sorted(blk.pc for blk in pages.values() if blk.pc != owner.pc and blk.pc in code))
            made = self.region(code, owner, published, more)
            if made is None:
                return
            nr = made
            self.modules[id(pages)] = (pages, len(pages), nr)
        nr.pages = pages
        owner.native = nr

    def recompile(self, nr: NativeRegion) -> None:
        """``nr`` keeps leaving to code of its page that was not yet seen when it
        was compiled (a switch's later cases): compile the page again."""
        before = len(nr.inside)
        self.compile(nr.owner, nr.pages, nr.published)
        new = nr.owner.native
        if new is not nr and new is not None:
            new.recompiles = nr.recompiles + 1
            if len(new.inside) <= before:
                new.recompiles = RECOMPILES  # nothing new: stop trying

    def region(
        self, code: dict[int, Any], owner: Any, published: Any, more: tuple[int, ...] = ()
    ) -> NativeRegion | None:
        """Native code for what is reachable from ``owner.pc`` (and ``more``) in
        ``code``, alive while ``published`` holds ``owner`` at its pc."""
        region = lower.build(code, owner.pc, self.cpu.features, more)
        if not region.blocks or region.blocks[0].n == 0:
            return None
        try:
            fn = self.rt.compile(region)
        except Exception as e:  # a lowering the assembler refuses: this region stays Python
            self.faults.append(f"region {owner.pc:#x} not compiled: {str(e).splitlines()[0]}")
            return None
        self.compiled += 1
        return NativeRegion(self, owner, fn, region, published)


class NativeRegion:
    def __init__(self, tier: NativeTier, owner: Any, fn: Compiled, region: lower.Region | None, published: Any,
                 like: NativeRegion | None = None) -> None:  # fmt: skip
        self.tier = tier
        self.owner = owner
        self.fn = fn
        self.head = owner.pc
        if like is not None:  # another head in the same module
            self.starts: set[int] = like.starts
            self.inside: set[int] = like.inside
        else:
            assert region is not None
            self.starts = set(region.pcs)
            self.inside = region.inside()
        self.published = published  # the translator's dict the owner is published in
        self.pages: dict[int, Any] = {}  # the page's blocks it was compiled from (they grow)
        self.recompiles = 0
        self.misses = 0

    def _alive(self) -> bool:
        e = self.published.get(self.head)
        return e is self.owner or (isinstance(e, tuple) and e[3] is self.owner)

    def enter(self, limit: int, climit: int) -> bool:
        """Run from ``cpu.pc`` (this region's head) until native code leaves;
        True if any instruction ran."""
        tier = self.tier
        cpu = tier.cpu
        buf, q = tier.buf, tier.q
        r = cpu.r
        start = cpu.icount
        while True:
            _IN.pack_into(buf, 0, *r, cpu.pc, cpu.icount, cpu.cycles, limit, climit)
            try:
                code = self.fn()
            except tier.rt.wasmtime.Trap as t:
                self._fault(t)
            out = _OUT.unpack_from(buf, 0)
            r[:31] = out[:31]
            cpu.pc, cpu.icount, cpu.cycles = out[32], out[33], out[34]
            if code == LEFT or code == BUDGET:
                if code == LEFT and cpu.pc not in self.inside and self.recompiles < RECOMPILES:
                    if cpu.pc >> PAGE_SHIFT == self.head >> PAGE_SHIFT:
                        self.misses += 1
                        if self.misses >= MISSES:
                            tier.recompile(self)
                return cpu.icount != start
            # mid-block, with the rest of the block known to fit: the interpreter
            # runs the instruction (and takes any fault), then the block's rest,
            # each under the same limits as the interpreter's own loop
            va = q[EXIT_VA >> 3]
            n0 = cpu.icount
            cpu.interpret(min(n0 + 1, limit), climit, stops=False)
            if cpu.icount == n0:
                return cpu.icount != start
            if code != UNALIGNED:
                tier._fill(code, va)
            while cpu.pc not in self.starts and cpu.pc in self.inside:
                n0 = cpu.icount
                cpu.interpret(min(n0 + 1, limit), climit, stops=False)
                if cpu.icount == n0:
                    return True
            if cpu.pc not in self.starts or not self._alive():
                return True

    def _fault(self, t: Exception) -> None:
        self.owner.native = None
        msg = (f"native tier fault in the region at {self.head:#x} (a translator bug; this machine's state "
               f"may be wrong): {str(t).splitlines()[-1].strip()}")  # fmt: skip
        self.tier.faults.append(msg)
        raise NativeFault(msg)


def compile_hot(translator: Any, owner: Any, published: Any) -> None:
    """``owner`` has become hot: compile it natively if the tier can run here."""
    cpu = translator.cpu
    tier = translator.native
    if tier is None:
        arena = arena_of(cpu.memory)
        if arena is None:
            translator.native_on = False
            return
        try:
            tier = translator.native = NativeTier(cpu, arena)
        except Unavailable:
            translator.native_on = False
            return
    vpn = owner.pc >> PAGE_SHIFT
    fid = translator.active.get(vpn)
    pages = translator.code.get((vpn, fid)) if fid is not None else None
    if pages:
        tier.compile(owner, pages, published)


__all__ = ["NativeFault", "NativeRegion", "NativeTier", "compile_hot"]
