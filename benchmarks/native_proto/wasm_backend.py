"""Region -> WebAssembly text, compiled by wasmtime (Cranelift).

The guest registers live in wasm locals (Cranelift allocates them to host
registers) from entry to exit; the register file, the TB and the frames are
in the instance's linear memory (shared.py layout), which Python reads and
writes through a memoryview of the same bytes. Control flow is a dispatch
loop (``br_table`` on the block index) with fall-through to the next block
and self-loops as direct ``loop``s: a stackifier would do better on
multi-block loops. Every access is bounds-checked by wasm itself, so a wrong
TB entry traps (wasmtime.Trap) instead of writing outside the buffer.
"""

from __future__ import annotations

import ctypes
from typing import Any

from region import BUDGET, LEFT, TBMISS_R, TBMISS_W, UNALIGNED, Block, Region
from shared import CLIMIT, CYCLES, EXIT_VA, ICOUNT, LIMIT, PC, ROFF, RTAG, WOFF, WTAG, Shared

_BIN = {"add": "i64.add", "sub": "i64.sub", "mul": "i64.mul", "and": "i64.and", "or": "i64.or", "xor": "i64.xor",
        "shl": "i64.shl", "lshr": "i64.shr_u", "ashr": "i64.shr_s"}  # fmt: skip
_CMP = {"eq": "i64.eq", "ne": "i64.ne", "ult": "i64.lt_u", "ule": "i64.le_u", "slt": "i64.lt_s", "sle": "i64.le_s"}
_LOAD = {(8, False): "i64.load", (4, True): "i64.load32_s", (4, False): "i64.load32_u", (2, False): "i64.load16_u",
         (1, False): "i64.load8_u"}  # fmt: skip
_STORE = {8: "i64.store", 4: "i64.store32", 2: "i64.store16", 1: "i64.store8"}


def _s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def expr(e: Any) -> str:
    op = e[0]
    if op == "reg":
        return f"(local.get $x{e[1]})"
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


def emit(region: Region, mem_pages: int) -> str:
    regs = region.regs()
    pcs = region.pcs
    nb = len(region.blocks)

    def exit_(code: int, pc: str, dk: int, dc: int) -> str:
        st = " ".join(f"(i64.store offset={8 * n} (i32.const 0) (local.get $x{n}))" for n in regs)
        return (f"{st} (i64.store offset={PC} (i32.const 0) {pc})"
                f" (i64.store offset={ICOUNT} (i32.const 0) (i64.add (local.get $ic) (i64.const {dk})))"
                f" (i64.store offset={CYCLES} (i32.const 0) (i64.add (local.get $cy) (i64.const {dc})))"
                f" (return (i32.const {code}))")  # fmt: skip

    def jump(i: int, target: int) -> str:
        if target not in pcs:
            return exit_(LEFT, f"(i64.const {_s64(target)})", 0, 0)
        j = pcs[target]
        if j == i and self_loop[i]:
            return f"(br $S{i})"
        if j == i + 1:
            return f"(br $F{i})"  # fall through: leave this block's wrapper
        return f"(local.set $bi (i32.const {j})) (br $L)"

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
                body.append(f"(local.set $x{s[1]} {expr(s[2])})")
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
        else:
            body.append(exit_(LEFT, expr(t[1]), 0, 0))
        inner = "\n      ".join(body)
        if self_loop[i]:
            inner = f"(loop $S{i}\n      {inner})"
        code.append(f"(block $F{i} {inner})" if i + 1 < nb else inner)
    # nested blocks: br_table to $B{i} lands at block i's code; $F{i} falls into block i+1
    tree = f"(block $B0 (br_table {' '.join(f'$B{i}' for i in range(nb))} (local.get $bi)))"
    for i in range(1, nb):
        tree = f"(block $B{i} {tree}\n    {code[i - 1]})"
    tree = f"{tree}\n    {code[nb - 1]}"
    dispatch = " ".join(f"(if (i64.eq (local.get $pc) (i64.const {_s64(b.pc)})) (then (local.set $bi (i32.const {i}))"
                        " (br $go)))" for i, b in enumerate(region.blocks))  # fmt: skip
    locals_ = " ".join(f"(local $x{n} i64)" for n in regs)
    loads = " ".join(f"(local.set $x{n} (i64.load offset={8 * n} (i32.const 0)))" for n in regs)
    return f"""(module
  (memory (export "mem") {mem_pages})
  (func (export "run") (result i32)
    {locals_} (local $ic i64) (local $cy i64) (local $lim i64) (local $clim i64) (local $pc i64)
    (local $va i64) (local $vpn i64) (local $t i32) (local $bi i32)
    (local.set $pc (i64.load offset={PC} (i32.const 0)))
    (block $go {dispatch} (return (i32.const {LEFT})))
    {loads}
    (local.set $ic (i64.load offset={ICOUNT} (i32.const 0))) (local.set $cy (i64.load offset={CYCLES} (i32.const 0)))
    (local.set $lim (i64.load offset={LIMIT} (i32.const 0))) (local.set $clim (i64.load offset={CLIMIT} (i32.const 0)))
    (loop $L
    {tree})
    (unreachable)))
"""


def _targets(b: Block) -> list[int]:
    t = b.term
    return [t[1]] if t[0] == "goto" else [t[2], t[3]] if t[0] == "cond" else []


class Compiled:
    """A region compiled by wasmtime, with its linear memory as a Shared buffer."""

    SIZE = 4 << 20
    _engine: Any = None

    @classmethod
    def init(cls) -> Any:
        """The one engine (Cranelift, optimizing for speed by default) all regions share."""
        import wasmtime

        if cls._engine is None:
            cls._engine = wasmtime.Engine()
        return cls._engine

    def __init__(self, region: Region) -> None:
        import wasmtime

        self.wat = emit(region, self.SIZE // 65536)
        self.engine = Compiled.init()
        self.store = wasmtime.Store(self.engine)
        module = wasmtime.Module(self.engine, self.wat)
        self.instance = wasmtime.Instance(self.store, module, [])
        ex = self.instance.exports(self.store)
        self.mem = ex["mem"]
        self._run = ex["run"]
        size = self.mem.data_len(self.store)
        ptr = self.mem.data_ptr(self.store)
        # The linear memory never grows, so this view of it stays valid.
        arr = (ctypes.c_ubyte * size).from_address(ctypes.addressof(ptr.contents))
        self.shared = Shared(memoryview(arr), size)
        # wasmtime-py's Func.__call__ looks the type up and converts values on
        # every call; the C API's unchecked call with prebuilt arguments does not.
        from wasmtime import _bindings as ffi

        self._ffi = ffi
        self._ctx = self.store._context()
        self._fn = ctypes.byref(self._run._func)
        self._raw = (ffi.wasmtime_val_raw_t * 1)()
        self._trap = ctypes.POINTER(ffi.wasm_trap_t)()
        self._trap_ref = ctypes.byref(self._trap)
        self._unchecked = ffi._wasmtime_func_call_unchecked

    def call_api(self) -> int:
        """The documented call (wasmtime.Func.__call__)."""
        return int(self._run(self.store))

    def call(self) -> int:
        err = self._unchecked(self._ctx, self._fn, self._raw, 1, self._trap_ref)
        if err or self._trap:
            import wasmtime

            trap = wasmtime.Trap._from_ptr(self._trap) if self._trap else None
            raise trap if trap is not None else wasmtime.WasmtimeError._from_ptr(err)
        return int(self._raw[0].i32)


__all__ = ["Compiled", "emit"]
