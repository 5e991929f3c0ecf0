"""Region IR -> WebAssembly text, compiled by wasmtime (Cranelift) and run on
the machine's own memory.

The guest registers live in wasm locals (Cranelift allocates them to host
registers) from entry to exit; the state page, the TB and the frames are the
arena's bytes (machine/arena.py), which this module maps into the store's one
linear memory: the arena's anonymous mapping is replaced, at the same address
and with the same contents, by a shared mapping of a memory file, and the
wasm memory's pages are mapped to the same file. Python's views of every
frame stay valid and see every native store, and native code sees every
Python store, with no copying. Control flow is a dispatch loop (``br_table``
on the block index) with fall-through to the next block and self-loops as
direct ``loop``s. Every module's ``run`` sits in one function table of the
store; an exit to a page in the chain map sets the state's ``next`` and
returns ``CHAIN``, and the driver (the one function Python calls) calls
that slot next, so calls and returns across pages stay native with a
constant stack. Every access is bounds-checked by wasm itself, so a wrong
TB entry traps (wasmtime.Trap) instead of writing outside the buffer.
"""

from __future__ import annotations

import atexit
import ctypes
import mmap
import os
from collections.abc import Callable
from typing import Any

from machine.alpha.constants import PAGE_SHIFT
from machine.alpha.native import modcache
from machine.alpha.native.lower import BUDGET, CHAIN, LEFT, TBMISS_R, TBMISS_W, UNALIGNED, Block, Region
from machine.alpha.native.state import (
    CHAIN_ENTRIES,
    CLIMIT,
    CSLOT,
    CTAG,
    CYCLES,
    EXIT_VA,
    ICOUNT,
    LIMIT,
    NEXT,
    PC,
    ROFF,
    RTAG,
    WOFF,
    WTAG,
)
from machine.arena import Arena

_BIN = {"add": "i64.add", "sub": "i64.sub", "mul": "i64.mul", "and": "i64.and", "or": "i64.or", "xor": "i64.xor",
        "shl": "i64.shl", "lshr": "i64.shr_u", "ashr": "i64.shr_s"}  # fmt: skip
_CMP = {"eq": "i64.eq", "ne": "i64.ne", "ult": "i64.lt_u", "ule": "i64.le_u", "slt": "i64.lt_s", "sle": "i64.le_s"}
_LOAD = {(8, False): "i64.load", (4, True): "i64.load32_s", (4, False): "i64.load32_u", (2, False): "i64.load16_u",
         (1, False): "i64.load8_u"}  # fmt: skip
_STORE = {8: "i64.store", 4: "i64.store32", 2: "i64.store16", 1: "i64.store8"}


class Unavailable(Exception):
    """The native tier cannot run here (no wasmtime, no memory files, limits)."""


def _s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def _local(n: int) -> str:
    return "$xj" if n < 0 else f"$x{n}"


def expr(e: Any) -> str:
    op = e[0]
    if op == "reg":
        return f"(local.get {_local(e[1])})"
    if op == "const":
        return f"(i64.const {_s64(e[1])})"
    if op == "sext32":
        return f"(i64.extend32_s {expr(e[1])})"
    if op in _CMP:
        return f"(i64.extend_i32_u ({_CMP[op]} {expr(e[1])} {expr(e[2])}))"
    return f"({_BIN[op]} {expr(e[1])} {expr(e[2])})"


def cond(e: Any) -> str:
    if e[0] in _CMP:
        return f"({_CMP[e[0]]} {expr(e[1])} {expr(e[2])})"
    return f"(i64.ne {expr(e)} (i64.const 0))"


def emit(region: Region, mem_pages: int) -> str:  # noqa: C901 - one branch per statement kind
    """The module for ``region``: ``run`` enters at the state page's pc (a
    block start) and returns an exit code with registers, pc, icount and
    cycles written back exactly as at the instruction that exits."""
    regs = region.regs()
    pcs = region.pcs
    nb = len(region.blocks)

    def exit_(code: int, pc: str, dk: int, dc: int) -> str:
        """To the one write-back at the end ($E): a copy per exit would be most of the code."""
        return (f"(local.set $ec (i32.const {code})) (local.set $epc {pc})"
                f" (local.set $ic (i64.add (local.get $ic) (i64.const {dk})))"
                f" (local.set $cy (i64.add (local.get $cy) (i64.const {dc}))) (br $E)")  # fmt: skip

    def jump(i: int, target: int) -> str:
        if target not in pcs:
            return exit_(LEFT, f"(i64.const {_s64(target)})", 0, 0)
        j = pcs[target]
        if j == i and self_loop[i]:
            return f"(br $S{i})"
        if j == i + 1:
            return f"(br $F{i})"  # fall through: leave this block's wrapper
        return f"(local.set $pc (i64.const {_s64(target)})) (br $L)"

    def access(b: Block, s: tuple[Any, ...], store: bool) -> str:
        if store:
            _, addr, val, w, unal, k = s
        else:
            _, ra, addr, w, unal, sext, k = s
        pc = f"(i64.const {_s64(b.pc + 4 * k)})"
        out = [f"(local.set $va {expr(addr)})"]
        if unal:
            out.append("(local.set $va (i64.and (local.get $va) (i64.const -8)))")
        elif w > 1:
            out.append(f"(if (i32.wrap_i64 (i64.and (local.get $va) (i64.const {w - 1})))"
                       f" (then {exit_(UNALIGNED, pc, k, b.prefix[k])}))")  # fmt: skip
        tag, off, miss = (WTAG, WOFF, TBMISS_W) if store else (RTAG, ROFF, TBMISS_R)
        out.append("(local.set $vpn (i64.shr_u (local.get $va) (i64.const 13)))")
        out.append("(local.set $t (i32.shl (i32.and (i32.wrap_i64 (local.get $vpn)) (i32.const 255)) (i32.const 3)))")
        out.append(f"(if (i64.ne (i64.load offset={tag} (local.get $t)) (local.get $vpn)) (then"
                   f" (i64.store offset={EXIT_VA} (i32.const 0) (local.get $va)) {exit_(miss, pc, k, b.prefix[k])}))")  # fmt: skip
        host = (f"(i32.add (i32.wrap_i64 (i64.load offset={off} (local.get $t)))"
                " (i32.and (i32.wrap_i64 (local.get $va)) (i32.const 8191)))")  # fmt: skip
        if store:
            out.append(f"({_STORE[w]} {host} {expr(val)})")
        else:
            out.append(f"(local.set $x{ra} ({_LOAD[(w, sext)]} {host}))")
        return "\n      ".join(out)

    self_loop = [any(t == b.pc for t in _targets(b)) for b in region.blocks]
    code = []
    for i, b in enumerate(region.blocks):
        body = [f"(if (i32.or (i64.gt_u (i64.add (local.get $ic) (i64.const {b.n})) (local.get $lim))"
                f" (i64.gt_u (i64.add (local.get $cy) (i64.const {b.cost})) (local.get $clim)))"
                f" (then {exit_(BUDGET, f'(i64.const {_s64(b.pc)})', 0, 0)}))"]  # fmt: skip
        for s in b.stmts:
            if s[0] == "set":
                body.append(f"(local.set {_local(s[1])} {expr(s[2])})")
            elif s[0] == "cmov":
                body.append(f"(if {cond(s[2])} (then (local.set $x{s[1]} {expr(s[3])})))")
            elif s[0] == "load":
                body.append(access(b, s, False))
            else:
                body.append(access(b, s, True))
        body.append(f"(local.set $ic (i64.add (local.get $ic) (i64.const {b.n})))")
        body.append(f"(local.set $cy (i64.add (local.get $cy) (i64.const {b.cost})))")
        t = b.term
        if t[0] == "goto":
            body.append(jump(i, t[1]))
        elif t[0] == "cond":
            body.append(f"(if {cond(t[1])} (then {jump(i, t[2])}))")
            body.append(jump(i, t[3]))
        elif t[0] == "exit":  # an indirect jump: on through the dispatch if it lands on a block start here
            body.append(f"(local.set $pc {expr(t[1])}) (br $L)")
        else:
            body.append(exit_(LEFT, expr(t[1]), 0, 0))
        inner = "\n      ".join(body)
        if self_loop[i]:
            inner = f"(loop $S{i}\n      {inner})"
        code.append(f"(block $F{i} {inner})" if i + 1 < nb else inner)
    # nested blocks: br_table on the pc's word index in [lo, hi] lands at the
    # code of the block starting there ($B{i}), elsewhere at $X (leave);
    # $F{i} falls into block i+1
    lo = min(b.pc for b in region.blocks)
    hi = max(b.pc for b in region.blocks)
    labels = ["$X"] * ((hi - lo) // 4 + 1)
    for i, b in enumerate(region.blocks):
        labels[(b.pc - lo) // 4] = f"$B{i}"
    index = f"(i64.shr_u (i64.sub (local.get $pc) (i64.const {_s64(lo)})) (i64.const 2))"
    tree = (f"(block $B0 (br_if $X (i64.gt_u {index} (i64.const {len(labels) - 1})))"
            f" (br_if $X (i32.wrap_i64 (i64.and (local.get $pc) (i64.const 3))))"
            f" (br_table {' '.join(labels)} (i32.wrap_i64 {index})))")  # fmt: skip
    for i in range(1, nb):
        tree = f"(block $B{i} {tree}\n    {code[i - 1]})"
    tree = f"(block $X {tree}\n    {code[nb - 1]})\n    {exit_(LEFT, '(local.get $pc)', 0, 0)}"
    # leaving for another page whose module stands in the chain map: on natively (the driver runs it)
    chain = (f"(if (i32.eqz (local.get $ec)) (then"
             f" (local.set $vpn (i64.shr_u (local.get $epc) (i64.const {PAGE_SHIFT})))"
             f" (local.set $t (i32.shl (i32.and (i32.wrap_i64 (local.get $vpn)) (i32.const {CHAIN_ENTRIES - 1}))"
             " (i32.const 3)))"
             f" (if (i32.and (i64.ne (local.get $vpn) (i64.const {region.entry >> PAGE_SHIFT}))"
             f" (i64.eq (i64.load offset={CTAG} (local.get $t)) (local.get $vpn))) (then"
             f" (i64.store offset={NEXT} (i32.const 0) (i64.load offset={CSLOT} (local.get $t)))"
             f" (local.set $ec (i32.const {CHAIN}))))))")  # fmt: skip
    stores = " ".join(f"(i64.store offset={8 * n} (i32.const 0) (local.get $x{n}))" for n in regs)
    locals_ = " ".join(f"(local $x{n} i64)" for n in regs)
    loads = " ".join(f"(local.set $x{n} (i64.load offset={8 * n} (i32.const 0)))" for n in regs)
    return f"""(module
  (import "spinwb" "mem" (memory {mem_pages} {mem_pages}))
  (import "spinwb" "modules" (table 0 funcref))
  (func (export "run") (result i32)
    {locals_} (local $xj i64) (local $ic i64) (local $cy i64) (local $lim i64) (local $clim i64) (local $pc i64)
    (local $va i64) (local $vpn i64) (local $t i32) (local $ec i32) (local $epc i64)
    (local.set $pc (i64.load offset={PC} (i32.const 0)))
    {loads}
    (local.set $ic (i64.load offset={ICOUNT} (i32.const 0))) (local.set $cy (i64.load offset={CYCLES} (i32.const 0)))
    (local.set $lim (i64.load offset={LIMIT} (i32.const 0))) (local.set $clim (i64.load offset={CLIMIT} (i32.const 0)))
    (block $E (loop $L
    {tree}))
    {stores} (i64.store offset={PC} (i32.const 0) (local.get $epc))
    (i64.store offset={ICOUNT} (i32.const 0) (local.get $ic)) (i64.store offset={CYCLES} (i32.const 0) (local.get $cy))
    {chain}
    (local.get $ec)))
"""


def driver(mem_pages: int) -> str:
    """The one entry Python calls: run the module in slot ``next``, and the
    next while they chain, so a call across pages costs a return and an
    indirect call rather than a trip through Python (and no stack grows)."""
    return f"""(module
  (import "spinwb" "mem" (memory {mem_pages} {mem_pages}))
  (import "spinwb" "modules" (table 0 funcref))
  (type $run (func (result i32)))
  (func (export "drive") (result i32) (local $c i32)
    (loop $again
      (local.set $c (call_indirect (type $run) (i32.wrap_i64 (i64.load offset={NEXT} (i32.const 0)))))
      (br_if $again (i32.eq (local.get $c) (i32.const {CHAIN}))))
    (local.get $c)))
"""


def _targets(b: Block) -> list[int]:
    t = b.term
    return [t[1]] if t[0] == "goto" else [t[2], t[3]] if t[0] == "cond" else []


_engine: Any = None
ENGINE = ""  # what the engine was built with, once it is: part of the module cache's key (modcache.py)
COMPILERS = ("winch", "cranelift")
_WINCH = 2  # wasmtime.h's WASMTIME_STRATEGY_WINCH; wasmtime-py's Config.strategy knows only auto and cranelift


def _probe() -> str:
    """A module with every kind of instruction emit() prints, from its own tables: a
    compiler that cannot take one fails on this, once per process, rather than on a
    region later (Winch is not complete on every platform)."""
    v = "(local.get $a)"
    body = [f"(local.set $a ({op} {v} (i64.const 3)))" for op in _BIN.values()]
    body += [f"(local.set $a (i64.extend_i32_u ({op} {v} (i64.const 5))))" for op in _CMP.values()]
    body += [f"(local.set $a ({op} (i32.wrap_i64 {v})))" for op in _LOAD.values()]
    body += [f"({op} (i32.const 8) {v})" for op in _STORE.values()]
    body.append(f"(local.set $a (i64.extend32_s {v}))")
    body.append("(drop (call_indirect (type $run) (i32.const 0)))")  # the driver's, through the imported table
    return f"""(module (import "spinwb" "mem" (memory 1 1)) (import "spinwb" "modules" (table 0 funcref))
  (type $run (func (result i32))) (func (export "run") (result i32) (local $a i64)
  (local.set $a (i64.load offset=8 (i32.const 0))) {" ".join(body)}
  (block $E (loop $L (block $X (block $B0 (br_if $X (i64.gt_u {v} (i64.const 1)))
    (br_table $B0 $X (i32.wrap_i64 {v}))) (if (i32.or (i64.ne {v} (i64.const 0)) (i32.const 0)) (then (br $E))) (br $L))))
  (i32.const 0)))"""


def _wasmtime() -> Any:
    try:
        import wasmtime
    except Exception as e:  # not installed, or a wheel without its native library
        raise Unavailable(f"wasmtime cannot be imported ({e})") from None
    return wasmtime


def _build_engine(wasmtime: Any, compiler: str) -> Any:
    """An engine with memories exactly their size (no reservation beyond it, so an
    address-space limit is not spent on them), compiling with ``compiler``."""
    cfg = wasmtime.Config()
    cfg.memory_reservation = 0
    cfg.memory_guard_size = 0
    cfg.memory_reservation_for_growth = 0
    cfg.wasm_tail_call = True  # on by default for Cranelift but not for Winch: the same wasm for both
    if compiler == "winch":
        from wasmtime import _bindings as ffi

        ffi.wasmtime_config_strategy_set(cfg.ptr(), _WINCH)
    else:
        cfg.strategy = "cranelift"
    engine = wasmtime.Engine(cfg)
    wasmtime.Module(engine, _probe())
    return engine


def _the_engine() -> Any:
    """One engine for the process. Winch, wasmtime's baseline compiler, by default: it
    compiles a region's module about 14 times faster than Cranelift (1.6 against 22 ms
    a module, docs/native-tier.md) for code 2-4 times slower: it halves a short or first
    run, and Cranelift wins past about 100M instructions or with the module cache
    warm (modcache.py). ``SPINWB_NATIVE_COMPILER=cranelift``
    chooses Cranelift; where Winch is missing or refuses the probe, Cranelift is used."""
    global _engine, ENGINE
    if _engine is None:
        wasmtime = _wasmtime()
        want = os.environ.get("SPINWB_NATIVE_COMPILER", COMPILERS[0])
        order = [want] + [c for c in COMPILERS if c != want] if want in COMPILERS else list(COMPILERS)
        for compiler in order:
            try:
                engine = _build_engine(wasmtime, compiler)
            except Exception:  # noqa: BLE001 - this compiler cannot run here: try the next
                if compiler == order[-1]:
                    raise Unavailable("no wasmtime compiler accepts the native tier's code") from None
                continue
            break
        ENGINE = f"{compiler} reservation=0 guard=0 growth=0 tail_call"
        _engine = engine
        # at exit, wasmtime-py's finalizers can run after its own module is torn
        # down and print "Exception ignored" noise; the process frees it all anyway
        atexit.register(_quiet_exit, wasmtime)
    return _engine


def _quiet_exit(wasmtime: Any) -> None:
    managed = getattr(getattr(wasmtime, "_managed", None), "Managed", None)
    if managed is not None:
        managed.__del__ = lambda self: None


def _libc_mmap() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    f = libc.mmap
    f.restype = ctypes.c_void_p
    f.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    return f


_MAP_FIXED = 0x10  # Linux's value on every architecture wasmtime has wheels for


def _map_file_at(addr: int, size: int, fd: int) -> None:
    got = _libc_mmap()(addr, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED | _MAP_FIXED, fd, 0)
    if got != addr:
        raise Unavailable(f"mapping the memory file failed (errno {ctypes.get_errno()})")


class Runtime:
    """A store whose one linear memory is ``arena``'s bytes, and the regions compiled into it."""

    def __init__(self, arena: Arena) -> None:
        if not hasattr(os, "memfd_create") or not os.uname().sysname == "Linux":
            raise Unavailable("sharing guest memory with wasm needs Linux's memory files")
        try:
            import resource

            soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
            if soft != resource.RLIM_INFINITY and soft < arena.size:
                raise Unavailable("the file-size limit is below the memory's size")  # ftruncate would raise SIGXFSZ
        except ImportError:  # pragma: no cover
            pass
        wasmtime = _wasmtime()
        self.wasmtime = wasmtime
        self.engine = _the_engine()
        self.store = wasmtime.Store(self.engine)
        self.pages = arena.size >> 16
        self.memory = wasmtime.Memory(self.store, wasmtime.MemoryType(wasmtime.Limits(self.pages, self.pages)))
        wbase = ctypes.addressof(self.memory.data_ptr(self.store).contents)
        if self.memory.data_len(self.store) != arena.size:
            raise Unavailable("the wasm memory is not the arena's size")
        fd = os.memfd_create("spinwb-memory")
        try:
            os.ftruncate(fd, arena.size)
            q = arena.q
            os.pwrite(fd, q[: arena.offset(0) >> 3], 0)
            for slot, view in list(arena.views.items()):
                os.pwrite(fd, view, arena.offset(slot))
            self._pin = (ctypes.c_char * arena.size).from_buffer(arena.buf)  # keeps the mapping where it is
            _map_file_at(ctypes.addressof(self._pin), arena.size, fd)
            _map_file_at(wbase, arena.size, fd)
        finally:
            os.close(fd)
        from wasmtime import _bindings as ffi

        self._ffi = ffi
        self._ctx = self.store._context()
        funcref = wasmtime.ValType.funcref()
        self.table = wasmtime.Table(self.store, wasmtime.TableType(funcref, wasmtime.Limits(SLOTS, None)), None)
        self.slots = 0  # modules in the table: slot k is the k-th compiled
        self.by_slot: list[Any] = []  # the tiers' records of them (a CPU's next translator shares this store)
        text = driver(self.pages)
        got = modcache.module(wasmtime, self.engine, ENGINE, text, lambda: (text, None))
        assert got is not None
        drive = self.wasmtime.Instance(self.store, got[0], [self.memory, self.table])
        self.drive = Compiled(self, drive.exports(self.store)["drive"])

    def compile(
        self, key: str, build: Callable[[], Region]
    ) -> tuple[int, tuple[tuple[int, ...], tuple[int, ...]]] | None:
        """The region ``build()`` makes, compiled into the store: its table slot (which
        ``drive`` runs from the state's ``next``), its block starts and the PCs it covers;
        None if it holds no code. ``key`` names what ``build`` reads (lower.key); on a
        module-cache hit neither ``build`` nor the text is needed."""

        def make() -> tuple[str, tuple[tuple[int, ...], tuple[int, ...]]] | None:
            region = build()
            if not region.blocks or region.blocks[0].n == 0:
                return None
            return emit(region, self.pages), (tuple(region.pcs), tuple(sorted(region.inside())))

        got = modcache.module(self.wasmtime, self.engine, ENGINE, f"region {self.pages} {key}", make)
        if got is None:
            return None
        module, facts = got
        instance = self.wasmtime.Instance(self.store, module, [self.memory, self.table])
        slot = self.slots
        size = self.table.size(self.store)
        if slot >= size:
            self.table.grow(self.store, size, None)
        self.table.set(self.store, slot, instance.exports(self.store)["run"])
        self.slots += 1
        return slot, facts


SLOTS = 64  # the function table's first size (it doubles as modules are compiled)


class Compiled:
    """An exported function (the driver's ``drive``), called through the C API's unchecked call:
    wasmtime-py's ``Func.__call__`` looks the type up and converts values on
    every call (15-36 us against about 2)."""

    def __init__(self, rt: Runtime, fn: Any) -> None:
        ffi = rt._ffi
        self.rt = rt
        self.fn = fn
        self._unchecked = getattr(ffi, "_wasmtime_func_call_unchecked", None)
        self._ctx = rt._ctx
        self._fn = ctypes.byref(fn._func)
        self._raw = (ffi.wasmtime_val_raw_t * 1)()
        self._trap = ctypes.POINTER(ffi.wasm_trap_t)()
        self._trap_ref = ctypes.byref(self._trap)

    def __call__(self) -> int:
        if self._unchecked is None:
            return int(self.fn(self.rt.store))
        err = self._unchecked(self._ctx, self._fn, self._raw, 1, self._trap_ref)
        if err or self._trap:
            wasmtime = self.rt.wasmtime
            if self._trap:
                trap = wasmtime.Trap._from_ptr(self._trap)
                self._trap = ctypes.POINTER(self.rt._ffi.wasm_trap_t)()
                self._trap_ref = ctypes.byref(self._trap)
                raise trap
            raise wasmtime.WasmtimeError._from_ptr(err)
        return int(self._raw[0].i32)


__all__ = [
    "BUDGET",
    "CHAIN",
    "LEFT",
    "TBMISS_R",
    "TBMISS_W",
    "UNALIGNED",
    "Compiled",
    "Runtime",
    "Unavailable",
    "driver",
    "emit",
]
