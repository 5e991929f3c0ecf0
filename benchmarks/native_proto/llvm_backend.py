"""Region -> LLVM IR, optimized at O2 and JIT-compiled by llvmlite (MCJIT).

Guest registers are allocas that SROA/mem2reg turn into SSA values, loaded
from the shared buffer at entry and stored back at each exit; the CFG of the
region is the function's CFG, so LLVM sees real loops. The buffer is a
Python bytearray passed as one pointer (ctypes): nothing checks an address
but the inline TB, so a translator bug here writes anywhere in the process.
"""

from __future__ import annotations

import ctypes
import itertools
from typing import Any

from region import BUDGET, LEFT, TBMISS_R, TBMISS_W, UNALIGNED, Block, Region
from shared import CLIMIT, CYCLES, EXIT_VA, ICOUNT, LIMIT, PC, ROFF, RTAG, WOFF, WTAG, Shared

_BIN = {"add": "add", "sub": "sub", "mul": "mul", "and": "and", "or": "or", "xor": "xor", "shl": "shl",
        "lshr": "lshr", "ashr": "ashr"}  # fmt: skip
_CMP = {"eq": "eq", "ne": "ne", "ult": "ult", "ule": "ule", "slt": "slt", "sle": "sle"}
_ITY = {8: "i64", 4: "i32", 2: "i16", 1: "i8"}


def _s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


class _Fn:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ids = itertools.count()

    def tmp(self) -> str:
        return f"%t{next(self.ids)}"

    def ins(self, text: str) -> str:
        t = self.tmp()
        self.lines.append(f"  {t} = {text}")
        return t

    def put(self, text: str) -> None:
        self.lines.append(text if text.endswith(":") else f"  {text}")

    def label(self, name: str) -> None:
        self.lines.append(f"{name}:")

    def field(self, off: int) -> str:
        return self.ins(f"getelementptr i8, ptr %m, i64 {off}")

    def expr(self, e: Any) -> str:
        op = e[0]
        if op == "reg":
            return self.ins(f"load i64, ptr %r{e[1]}")
        if op == "const":
            return str(_s64(e[1]))
        if op == "sext32":
            x = self.expr(e[1])
            return self.ins(f"sext i32 {self.ins(f'trunc i64 {x} to i32')} to i64")
        a, b = self.expr(e[1]), self.expr(e[2])
        if op in _CMP:
            return self.ins(f"zext i1 {self.ins(f'icmp {_CMP[op]} i64 {a}, {b}')} to i64")
        if op in ("shl", "lshr", "ashr"):  # the operand is already masked to 0..63
            return self.ins(f"{_BIN[op]} i64 {a}, {b}")
        return self.ins(f"{_BIN[op]} i64 {a}, {b}")

    def cond(self, e: Any) -> str:
        if e[0] in _CMP:
            a, b = self.expr(e[1]), self.expr(e[2])
            return self.ins(f"icmp {_CMP[e[0]]} i64 {a}, {b}")
        return self.ins(f"icmp ne i64 {self.expr(e)}, 0")


def emit(region: Region) -> str:
    regs = region.regs()
    pcs = region.pcs
    f = _Fn()
    exits = itertools.count()

    def exit_(code: int, pc: str, dk: int, dc: int) -> None:
        for n in regs:
            v = f.ins(f"load i64, ptr %r{n}")
            f.put(f"store i64 {v}, ptr {f.field(8 * n)}")
        f.put(f"store i64 {pc}, ptr {f.field(PC)}")
        ic = f.ins(f"add i64 {f.ins('load i64, ptr %ic')}, {dk}")
        f.put(f"store i64 {ic}, ptr {f.field(ICOUNT)}")
        cy = f.ins(f"add i64 {f.ins('load i64, ptr %cy')}, {dc}")
        f.put(f"store i64 {cy}, ptr {f.field(CYCLES)}")
        f.put(f"ret i32 {code}")

    def branch_to(target: int) -> str:
        """The label reaching target: a block, or a fresh exit block."""
        if target in pcs:
            return f"%b{pcs[target]}"
        name = f"x{next(exits)}"
        pending.append((name, target))
        return f"%{name}"

    def side_exit(cond: str, code: int, pc: int, dk: int, dc: int, va: str | None = None) -> None:
        name = f"x{next(exits)}"
        f.put(f"br i1 {cond}, label %{name}, label %{name}c")
        f.label(name)
        if va is not None:
            f.put(f"store i64 {va}, ptr {f.field(EXIT_VA)}")
        exit_(code, str(_s64(pc)), dk, dc)
        f.label(f"{name}c")

    def access(b: Block, s: tuple[Any, ...], store: bool) -> None:
        if store:
            _, addr, val, w, unal, k = s
        else:
            _, ra, addr, w, unal, sext, k = s
        pc = b.pc + 4 * k
        va = f.expr(addr)
        if unal:
            va = f.ins(f"and i64 {va}, -8")
        elif w > 1:
            bad = f.ins(f"icmp ne i64 {f.ins(f'and i64 {va}, {w - 1}')}, 0")
            side_exit(bad, UNALIGNED, pc, k, b.prefix[k])
        tag, off, miss = (WTAG, WOFF, TBMISS_W) if store else (RTAG, ROFF, TBMISS_R)
        vpn = f.ins(f"lshr i64 {va}, 13")
        idx = f.ins(f"shl i64 {f.ins(f'and i64 {vpn}, 255')}, 3")
        tagp = f.ins(f"getelementptr i8, ptr %m, i64 {f.ins(f'add i64 {idx}, {tag}')}")
        hit = f.ins(f"icmp ne i64 {f.ins(f'load i64, ptr {tagp}')}, {vpn}")
        side_exit(hit, miss, pc, k, b.prefix[k], va)
        offp = f.ins(f"getelementptr i8, ptr %m, i64 {f.ins(f'add i64 {idx}, {off}')}")
        host = f.ins(f"add i64 {f.ins(f'load i64, ptr {offp}')}, {f.ins(f'and i64 {va}, 8191')}")
        p = f.ins(f"getelementptr i8, ptr %m, i64 {host}")
        ty = _ITY[w]
        if store:
            v = f.expr(val)
            if w < 8:
                v = f.ins(f"trunc i64 {v} to {ty}")
            f.put(f"store {ty} {v}, ptr {p}, align {w}")
        else:
            v = f.ins(f"load {ty}, ptr {p}, align {w}")
            if w < 8:
                v = f.ins(f"{'sext' if sext else 'zext'} {ty} {v} to i64")
            f.put(f"store i64 {v}, ptr %r{ra}")

    pending: list[tuple[str, int]] = []
    f.label("entry")
    for n in regs:
        f.put(f"%r{n} = alloca i64")
    for name in ("ic", "cy"):
        f.put(f"%{name} = alloca i64")
    for n in regs:
        f.put(f"store i64 {f.ins(f'load i64, ptr {f.field(8 * n)}')}, ptr %r{n}")
    f.put(f"store i64 {f.ins(f'load i64, ptr {f.field(ICOUNT)}')}, ptr %ic")
    f.put(f"store i64 {f.ins(f'load i64, ptr {f.field(CYCLES)}')}, ptr %cy")
    f.put(f"%lim = load i64, ptr {f.field(LIMIT)}")
    f.put(f"%clim = load i64, ptr {f.field(CLIMIT)}")
    pc0 = f.ins(f"load i64, ptr {f.field(PC)}")
    cases = " ".join(f"i64 {_s64(b.pc)}, label %b{i}" for i, b in enumerate(region.blocks))
    f.put(f"switch i64 {pc0}, label %left [ {cases} ]")
    f.label("left")
    f.put(f"ret i32 {LEFT}")
    for i, b in enumerate(region.blocks):
        f.label(f"b{i}")
        ic = f.ins(f"add i64 {f.ins('load i64, ptr %ic')}, {b.n}")
        cy = f.ins(f"add i64 {f.ins('load i64, ptr %cy')}, {b.cost}")
        over = f.ins(f"or i1 {f.ins(f'icmp ugt i64 {ic}, %lim')}, {f.ins(f'icmp ugt i64 {cy}, %clim')}")
        side_exit(over, BUDGET, b.pc, 0, 0)
        for s in b.stmts:
            if s[0] == "set":
                f.put(f"store i64 {f.expr(s[2])}, ptr %r{s[1]}")
            elif s[0] == "cmov":
                c = f.cond(s[2])
                v = f.expr(s[3])
                old = f.ins(f"load i64, ptr %r{s[1]}")
                f.put(f"store i64 {f.ins(f'select i1 {c}, i64 {v}, i64 {old}')}, ptr %r{s[1]}")
            else:
                access(b, s, s[0] == "store")
        ic = f.ins(f"add i64 {f.ins('load i64, ptr %ic')}, {b.n}")
        f.put(f"store i64 {ic}, ptr %ic")
        cy = f.ins(f"add i64 {f.ins('load i64, ptr %cy')}, {b.cost}")
        f.put(f"store i64 {cy}, ptr %cy")
        t = b.term
        if t[0] == "goto":
            f.put(f"br label {branch_to(t[1])}")
        elif t[0] == "cond":
            c = f.cond(t[1])
            f.put(f"br i1 {c}, label {branch_to(t[2])}, label {branch_to(t[3])}")
        else:
            exit_(LEFT, f.expr(t[1]), 0, 0)
        while pending:
            name, target = pending.pop()
            f.label(name)
            exit_(LEFT, str(_s64(target)), 0, 0)
    body = "\n".join(f.lines)
    return f"define i32 @run(ptr noalias %m) {{\n{body}\n}}\n"


class Compiled:
    """A region JIT-compiled by llvmlite, running on a ctypes-addressed bytearray."""

    SIZE = 4 << 20
    _engine: Any = None
    _tm: Any = None

    @classmethod
    def init(cls) -> Any:
        """The native target and the one MCJIT engine all regions are added to."""
        import llvmlite.binding as llvm

        if cls._engine is None:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            cls._tm = llvm.Target.from_default_triple().create_target_machine(opt=2)
            cls._engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), cls._tm)
        return cls._engine

    def __init__(self, region: Region) -> None:
        import llvmlite.binding as llvm

        Compiled.init()
        self.ir = emit(region)
        mod = llvm.parse_assembly(self.ir)
        mod.verify()
        pb = llvm.create_pass_builder(Compiled._tm, llvm.create_pipeline_tuning_options(speed_level=2))
        pb.getModulePassManager().run(mod, pb)
        name = f"run{id(self)}"
        mod.get_function("run").name = name
        self.optimized = str(mod)
        Compiled._engine.add_module(mod)
        Compiled._engine.finalize_object()
        addr = Compiled._engine.get_function_address(name)
        self.fn = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)(addr)
        self.buf = bytearray(self.SIZE)
        self._arr = (ctypes.c_char * self.SIZE).from_buffer(self.buf)
        self.base = ctypes.addressof(self._arr)
        self.shared = Shared(memoryview(self.buf), self.SIZE)
        self.code_bytes = 0

    def call(self) -> int:
        return int(self.fn(self.base))


__all__ = ["Compiled", "emit"]
