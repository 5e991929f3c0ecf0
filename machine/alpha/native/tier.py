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

An exit to another page whose module stands in the chain map (state.py)
goes on there inside wasm (the driver, wasm.py): the map holds only pages
the translator has published, so whatever parks or drops a page -- a mode
switch, a TB invalidation, a context switch, a store to its code -- takes
it out first, and native code never runs what the CPU could not fetch.

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
from machine.alpha.native.state import CHAIN_ENTRIES, CSLOT, CTAG, EXIT_VA, NEXT, ROFF, RTAG, TB_ENTRIES, WOFF, WTAG
from machine.alpha.native.wasm import Runtime, Unavailable
from machine.alpha.traps import Halt
from machine.arena import Arena

_IN = struct.Struct("<37Q")  # r0..r31, pc, icount, cycles, limit, climit
_OUT = struct.Struct("<35Q")  # r0..r31, pc, icount, cycles
_EMPTY = memoryview(array.array("Q", [M64] * TB_ENTRIES))
_EMPTY_CHAIN = memoryview(array.array("Q", [M64] * CHAIN_ENTRIES))
_NO_LIMIT = 1 << 63
RECOMPILES = 4  # times a region is compiled again as more of its page is seen
MISSES = 2000  # exits to its own page's unseen code before that: about a compile's cost at ~12 us an exit


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
        self.modules: dict[int, NativeModule] = {}  # id(page's blocks) -> its newest module
        self.by_slot: list[NativeModule] = self.rt.by_slot  # every module in the store, at its table slot
        self.drive = self.rt.drive
        self.compiled = 0
        self.flush_tb()
        self.unpublish_all()

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

    # --- the chain map: which page's module another module may go on into -----------------

    def publish(self, m: NativeModule) -> None:
        """``m``'s page is published (the translator found it through the ITB): exits to it chain."""
        i = m.vpn & (CHAIN_ENTRIES - 1)
        self.q[(CSLOT >> 3) + i] = m.slot
        self.q[(CTAG >> 3) + i] = m.vpn

    def published(self, m: NativeModule) -> bool:
        i = m.vpn & (CHAIN_ENTRIES - 1)
        return self.q[(CTAG >> 3) + i] == m.vpn and self.q[(CSLOT >> 3) + i] == m.slot

    def unpublish(self, vpn: int) -> None:
        """The translator parked or dropped page ``vpn``: no native exit goes there."""
        i = (CTAG >> 3) + (vpn & (CHAIN_ENTRIES - 1))
        if self.q[i] == vpn:
            self.q[i] = M64

    def unpublish_all(self) -> None:
        self.q[CTAG >> 3 : (CTAG >> 3) + CHAIN_ENTRIES] = _EMPTY_CHAIN

    def activated(self, pages: dict[int, Any] | None) -> None:
        """The translator published the blocks ``pages`` again: their module, if any, chains again."""
        m = self.modules.get(id(pages)) if pages else None
        if m is not None and m.pages is pages:
            self.publish(m)

    # --- compiling ------------------------------------------------------------------------

    def compile(self, owner: Any, pages: dict[int, Any], published: Any, vpn: int, again: bool = False) -> None:
        """Compile the region headed by ``owner`` (a trace region or a
        self-loop): every block of its page seen so far is an entry, so an
        indirect jump (a switch's table, a return) lands in native code too.
        One module serves every head in the page it holds while the page's
        blocks stand (the translator's dict for the page, held here so its
        identity cannot be reused); exits to code seen later recompile it
        (``again``)."""
        m = self.modules.get(id(pages))
        if again or m is None or m.pages is not pages or owner.pc not in m.starts:
            stops = self.cpu.stops
            code = {}
            for blk in pages.values():
                for k, ins in enumerate(blk.insns or ()):
                    a = blk.pc + 4 * k
                    if a not in stops:
                        code[a] = ins
            more = tuple(sorted(blk.pc for blk in pages.values() if blk.pc != owner.pc and blk.pc in code))
            made = self.module(code, owner, published, vpn, more)
            if made is None:
                return
            if m is not None and m.pages is pages:
                made.generation = made.recompiles = m.generation + 1
                if len(made.inside) <= len(m.inside):
                    made.recompiles = RECOMPILES  # nothing new: stop trying
            m = made
            m.pages = pages
            self.modules[id(pages)] = m
        self.publish(m)  # compiled while its page is published: the translator found ``owner`` there
        owner.native = NativeRegion(self, owner, m)

    def recompile(self, m: NativeModule) -> None:
        """``m`` keeps leaving to code of its page that was not yet seen when it
        was compiled (a switch's later cases): compile the page again."""
        m.recompiles = RECOMPILES  # superseded: its misses no longer count
        self.compile(m.owner, m.pages, m.published, m.vpn, again=True)

    def module(self, code: dict[int, Any], owner: Any, published: Any, vpn: int,
               more: tuple[int, ...] = ()) -> NativeModule | None:  # fmt: skip
        """Native code for what is reachable from ``owner.pc`` (and ``more``) in
        ``code``, alive while ``published`` holds ``owner`` at its pc."""
        features = self.cpu.features
        try:
            got = self.rt.compile(lower.key(code, owner.pc, features, more),
                                  lambda: lower.build(code, owner.pc, features, more))  # fmt: skip
        except Exception as e:  # a lowering the assembler refuses: this region stays Python
            self.faults.append(f"region {owner.pc:#x} not compiled: {str(e).splitlines()[0]}")
            return None
        if got is None:
            return None
        slot, (starts, inside) = got
        self.compiled += 1
        m = NativeModule(slot, starts, inside, owner, published, vpn)
        assert slot == len(self.by_slot)
        self.by_slot.append(m)
        return m

    def run(self, m: NativeModule) -> tuple[int, NativeModule]:
        """Run from the state page's pc in ``m`` (and on through the modules it
        chains to): the exit code and the module that exited."""
        q = self.q
        q[NEXT >> 3] = m.slot
        try:
            code = self.drive()
        except self.rt.wasmtime.Trap as t:
            self._fault(m, t)
        return code, self.by_slot[q[NEXT >> 3]]

    def _fault(self, m: NativeModule, t: Exception) -> None:
        self.unpublish_all()
        last = self.by_slot[self.q[NEXT >> 3]] if self.q[NEXT >> 3] < len(self.by_slot) else m
        last.owner.native = None
        msg = (f"native tier fault in the code of page {last.vpn << PAGE_SHIFT:#x} (a translator bug; this machine's "
               f"state may be wrong): {str(t).splitlines()[-1].strip()}")  # fmt: skip
        self.faults.append(msg)
        raise NativeFault(msg)


class NativeModule:
    """One page's compiled code: its slot in the store's table, the block
    starts it can be entered at, the PCs it covers, and what it was compiled from."""

    def __init__(self, slot: int, starts: tuple[int, ...], inside: tuple[int, ...], owner: Any, published: Any,
                 vpn: int) -> None:  # fmt: skip
        self.slot = slot
        self.starts = set(starts)
        self.inside = set(inside)
        self.owner = owner  # the head it was compiled for (a recompile starts from it)
        self.published = published  # the translator's dict the owner is published in
        self.vpn = vpn
        self.pages: dict[int, Any] = {}  # the page's blocks it was compiled from (they grow)
        self.recompiles = 0
        self.generation = 0  # compiles of this page before this one
        self.misses = 0


class NativeRegion:
    """A head's way into its page's module."""

    def __init__(self, tier: NativeTier, owner: Any, module: NativeModule) -> None:
        self.tier = tier
        self.owner = owner
        self.module = module

    def enter(self, limit: int, climit: int) -> bool:
        """Run from ``cpu.pc`` (this region's head) until native code leaves;
        True if any instruction ran."""
        tier = self.tier
        cpu = tier.cpu
        buf, q = tier.buf, tier.q
        r = cpu.r
        start = cpu.icount
        m = self.module
        newest = tier.modules.get(id(m.pages))
        if newest is not m and newest is not None and newest.pages is m.pages and self.owner.pc in newest.starts:
            m = self.module = newest  # the page was compiled again since
        tier.publish(m)  # the translator found the head published: its page is (again, after a collision)
        while True:
            _IN.pack_into(buf, 0, *r, cpu.pc, cpu.icount, cpu.cycles, limit, climit)
            code, m = tier.run(m)
            out = _OUT.unpack_from(buf, 0)
            r[:31] = out[:31]
            cpu.pc, cpu.icount, cpu.cycles = out[32], out[33], out[34]
            if code == LEFT or code == BUDGET:
                if code == LEFT and cpu.pc not in m.inside and m.recompiles < RECOMPILES:
                    if cpu.pc >> PAGE_SHIFT == m.vpn:
                        m.misses += 1
                        if m.misses >= MISSES:
                            tier.recompile(m)
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
            while cpu.pc not in m.starts and cpu.pc in m.inside:
                n0 = cpu.icount
                cpu.interpret(min(n0 + 1, limit), climit, stops=False)
                if cpu.icount == n0:
                    return True
            if cpu.pc not in m.starts or not tier.published(m):
                return True


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
        tier.compile(owner, pages, published, vpn)


__all__ = ["NativeFault", "NativeModule", "NativeRegion", "NativeTier", "compile_hot"]
