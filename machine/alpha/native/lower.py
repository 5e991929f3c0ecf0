"""Hot code as a small IR the wasm back end prints.

A region is every block reachable from its entry through direct branches
among the instructions the translator has already seen run in that page,
split at branch targets: a control-flow graph, so native code keeps loops
(nested ones too) and both directions of a branch without coming back to
Python. Anything not lowered (CALL_PAL, FP, traps on overflow, RPCC, an
instruction this CPU model lacks) ends its block with an exit
to that PC, where Python takes over with exact state.

Expressions are tuples over 64-bit values: ("reg", n), ("const", v),
(binop, x, y) with binop in BINOPS, ("sext32", x). Comparisons give 0 or 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from machine.alpha import isa
from machine.alpha.constants import M64
from machine.alpha.decode import Insn

Expr = tuple[Any, ...]
BINOPS = {"add", "sub", "mul", "shl", "lshr", "ashr", "and", "or", "xor", "eq", "ne", "ult", "ule", "slt", "sle"}

# exit codes native code returns
LEFT, BUDGET, TBMISS_R, TBMISS_W, UNALIGNED = 0, 1, 2, 3, 4
CHAIN = 5  # left for another page's module (state NEXT): the driver runs it, Python never sees this code


@dataclass
class Block:
    pc: int
    insns: list[Insn]
    stmts: list[tuple[Any, ...]] = field(default_factory=list)
    # ("goto", pc) | ("cond", expr, taken_pc, next_pc) | ("exit", pc_expr): an indirect jump, on natively
    # if it lands on a block start | ("leave", pc_expr): back to Python there
    term: tuple[Any, ...] = ()
    prefix: list[int] = field(default_factory=list)  # cycles before instruction k

    @property
    def n(self) -> int:
        return len(self.insns)

    @property
    def cost(self) -> int:
        return self.prefix[-1]


@dataclass
class Region:
    entry: int
    blocks: list[Block]  # the entry's first

    @property
    def pcs(self) -> dict[int, int]:
        return {b.pc: i for i, b in enumerate(self.blocks)}

    def inside(self) -> set[int]:
        """Every PC native code covers."""
        return {b.pc + 4 * k for b in self.blocks for k in range(b.n)}

    def regs(self) -> list[int]:
        """Registers the region reads or writes: loaded into locals at entry."""
        used: set[int] = set()

        def walk(e: Any) -> None:
            if isinstance(e, tuple):
                if e and e[0] == "reg":
                    used.add(e[1])
                for x in e[1:]:
                    walk(x)

        for b in self.blocks:
            for s in b.stmts:
                walk(s)
                if s[0] in ("set", "cmov", "load"):
                    used.add(s[1])
            walk(b.term)
        used.discard(31)
        used.discard(-1)  # the jump target's temporary, never a guest register
        return sorted(used)

    def ninsns(self) -> int:
        return sum(b.n for b in self.blocks)


def R(n: int) -> Expr:
    return ("const", 0) if n == 31 else ("reg", n)


def C(v: int) -> Expr:
    return ("const", v & M64)


def _bytemask(m: int) -> int:
    return sum(0xFF << (8 * i) for i in range(8) if (m >> i) & 1)


_ARITH: dict[str, Any] = {
    "addl": lambda a, b: ("sext32", ("add", a, b)),
    "s4addl": lambda a, b: ("sext32", ("add", ("shl", a, C(2)), b)),
    "s8addl": lambda a, b: ("sext32", ("add", ("shl", a, C(3)), b)),
    "subl": lambda a, b: ("sext32", ("sub", a, b)),
    "s4subl": lambda a, b: ("sext32", ("sub", ("shl", a, C(2)), b)),
    "s8subl": lambda a, b: ("sext32", ("sub", ("shl", a, C(3)), b)),
    "addq": lambda a, b: ("add", a, b),
    "s4addq": lambda a, b: ("add", ("shl", a, C(2)), b),
    "s8addq": lambda a, b: ("add", ("shl", a, C(3)), b),
    "subq": lambda a, b: ("sub", a, b),
    "s4subq": lambda a, b: ("sub", ("shl", a, C(2)), b),
    "s8subq": lambda a, b: ("sub", ("shl", a, C(3)), b),
    "cmpeq": lambda a, b: ("eq", a, b),
    "cmplt": lambda a, b: ("slt", a, b),
    "cmple": lambda a, b: ("sle", a, b),
    "cmpult": lambda a, b: ("ult", a, b),
    "cmpule": lambda a, b: ("ule", a, b),
    "and": lambda a, b: ("and", a, b),
    "bic": lambda a, b: ("and", a, ("xor", b, C(M64))),
    "bis": lambda a, b: ("or", a, b),
    "ornot": lambda a, b: ("or", a, ("xor", b, C(M64))),
    "xor": lambda a, b: ("xor", a, b),
    "eqv": lambda a, b: ("xor", a, ("xor", b, C(M64))),
    "sll": lambda a, b: ("shl", a, ("and", b, C(63))),
    "srl": lambda a, b: ("lshr", a, ("and", b, C(63))),
    "sra": lambda a, b: ("ashr", a, ("and", b, C(63))),
    "mull": lambda a, b: ("sext32", ("mul", a, b)),
    "mulq": lambda a, b: ("mul", a, b),
}
_BYTE_WIDTH = {"b": 0x01, "w": 0x03, "l": 0x0F, "q": 0xFF}
_COND: dict[str, Any] = {  # branch and cmov conditions on the Ra value
    "eq": lambda a: ("eq", a, C(0)),
    "ne": lambda a: ("ne", a, C(0)),
    "lt": lambda a: ("slt", a, C(0)),
    "ge": lambda a: ("sle", C(0), a),
    "le": lambda a: ("sle", a, C(0)),
    "gt": lambda a: ("slt", C(0), a),
    "lbs": lambda a: ("and", a, C(1)),
    "lbc": lambda a: ("eq", ("and", a, C(1)), C(0)),
}


def _operate(ins: Insn) -> Expr | None:
    """The value an integer operate instruction writes to Rc, or None if not lowered."""
    name = ins.op.name
    a = R(ins.ra)
    b = C(ins.lit) if ins.is_lit else R(ins.rb)
    if name in _ARITH:
        return _ARITH[name](a, b)
    if name in ("zapnot", "zap") and ins.is_lit:
        m = _bytemask(ins.lit)
        return ("and", a, C(m if name == "zapnot" else ~m))
    if name[:3] in ("ext", "ins", "msk") and len(name) == 5 and name[3] in _BYTE_WIDTH and name[4] in "lh":
        bm = C(_bytemask(_BYTE_WIDTH[name[3]]))
        s = ("shl", ("and", b, C(7)), C(3))
        if name[4] == "l":
            if name.startswith("ext"):
                return ("and", ("lshr", a, s), bm)
            if name.startswith("ins"):
                return ("shl", ("and", a, bm), s)
            return ("and", a, ("xor", ("shl", bm, s), C(M64)))
        # the high halves: x >> (64 - s) as (x >> 1) >> (63 - s), which is 0 for s == 0
        # where a wasm shift by 64 would be a shift by 0 (alu.py's exth, insh, mskh)
        if name.startswith("ext"):
            return ("and", ("shl", a, ("and", ("sub", C(64), s), C(63))), bm)
        if name.startswith("ins"):
            return ("lshr", ("lshr", ("and", a, bm), C(1)), ("sub", C(63), s))
        return ("and", a, ("xor", ("lshr", ("lshr", bm, C(1)), ("sub", C(63), s)), C(M64)))
    if name == "umulh":
        return _umulh(a, b)
    return None


def _umulh(a: Expr, b: Expr) -> Expr:
    """The high 64 bits of a 64x64 product from 32-bit halves (wasm has no wide multiply)."""
    lo32 = C(0xFFFF_FFFF)
    al, ah, bl, bh = ("and", a, lo32), ("lshr", a, C(32)), ("and", b, lo32), ("lshr", b, C(32))
    p0, p1, p2, p3 = ("mul", al, bl), ("mul", al, bh), ("mul", ah, bl), ("mul", ah, bh)
    mid = ("add", ("add", ("lshr", p0, C(32)), ("and", p1, lo32)), ("and", p2, lo32))
    return ("add", ("add", ("add", p3, ("lshr", p1, C(32))), ("lshr", p2, C(32))), ("lshr", mid, C(32)))


_LOWERED = {"alu", "cmov", "lda", "ld", "ldu", "st", "stu", "br", "bcc", "jmp", "nop"}


def lowerable(ins: Insn | None, features: int) -> bool:
    if ins is None or ins.op.kind not in _LOWERED:
        return False
    if ins.op.feature and not features & ins.op.feature:
        return False  # this model raises an illegal instruction: the interpreter's job
    return ins.op.kind != "alu" or _operate(ins) is not None


def key(code: dict[int, Insn], entry: int, features: int, more: Sequence[int] = ()) -> str:
    """Everything ``build``'s region depends on (beyond this module's source): the module
    cache's key for it, so a hit needs no text (modcache.py)."""
    return f"{entry} {features} {tuple(more)} {sorted((a, ins.word) for a, ins in code.items())}"


def build(code: dict[int, Insn], entry: int, features: int, more: Sequence[int] = ()) -> Region:
    """The region reachable from ``entry`` (and the ``more`` entries) among
    ``code`` (pc -> instruction)."""
    leaders = {entry, *more}
    seen: set[int] = set()
    work = [entry, *more]
    runs: dict[int, list[Insn]] = {}
    while work:
        pc = work.pop()
        if pc in seen:
            continue
        seen.add(pc)
        insns: list[Insn] = []
        a = pc
        while True:
            ins = code.get(a)
            if ins is None or not lowerable(ins, features):
                break
            insns.append(ins)
            a += 4
            kind = ins.op.kind
            if kind == "jmp":
                break
            if kind in ("br", "bcc"):
                t = (a + 4 * ins.disp) & M64
                for s in (t, a) if kind == "bcc" else (t,):
                    if s in code:
                        leaders.add(s)
                        work.append(s)
                break
        runs[pc] = insns
    lowered = {pc + 4 * k: ins for pc, insns in runs.items() for k, ins in enumerate(insns)}
    blocks = []
    for pc in sorted(leaders):
        body: list[Insn] = []
        a = pc
        while a in lowered and (a == pc or a not in leaders):  # up to the next leader or a branch
            body.append(lowered[a])
            a += 4
            if body[-1].op.kind in ("br", "bcc", "jmp"):
                break
        blocks.append(_lower(pc, body))
    return Region(entry, [b for b in blocks if b.pc == entry] + [b for b in blocks if b.pc != entry])


def _lower(pc0: int, insns: list[Insn]) -> Block:
    b = Block(pc0, insns)
    b.prefix = [0]
    for ins in insns:
        b.prefix.append(b.prefix[-1] + isa.COST[ins.op.cost])
    end = (pc0 + 4 * len(insns)) & M64
    b.term = ("goto", end) if insns else ("leave", C(pc0))  # an empty block: Python runs what is there
    for k, ins in enumerate(insns):
        op, kind = ins.op, ins.op.kind
        nxt = (pc0 + 4 * k + 4) & M64
        if kind == "alu":
            if ins.rc != 31:
                b.stmts.append(("set", ins.rc, _operate(ins)))
        elif kind == "cmov":
            if ins.rc != 31:
                cond = _COND[op.name[4:]](R(ins.ra))
                b.stmts.append(("cmov", ins.rc, cond, C(ins.lit) if ins.is_lit else R(ins.rb)))
        elif kind == "lda":
            if ins.ra != 31:
                d = ins.disp << 16 if op.name == "ldah" else ins.disp
                b.stmts.append(("set", ins.ra, ("add", R(ins.rb), C(d))))
        elif kind in ("ld", "ldu"):
            if ins.ra != 31:  # a load to r31 is a prefetch
                b.stmts.append(("load", ins.ra, ("add", R(ins.rb), C(ins.disp)), op.width, kind == "ldu",
                                op.name == "ldl", k))  # fmt: skip
        elif kind in ("st", "stu"):
            b.stmts.append(("store", ("add", R(ins.rb), C(ins.disp)), R(ins.ra), op.width, kind == "stu", k))
        elif kind == "br":
            if ins.ra != 31:
                b.stmts.append(("set", ins.ra, C(nxt)))
            b.term = ("goto", (nxt + 4 * ins.disp) & M64)
        elif kind == "bcc":
            b.term = ("cond", _COND[op.name[1:]](R(ins.ra)), (nxt + 4 * ins.disp) & M64, nxt)
        elif kind == "jmp":  # the target is read before Ra is written (jsr $26, ($26))
            b.stmts.append(("set", -1, ("and", R(ins.rb), C(M64 & ~3))))
            if ins.ra != 31:
                b.stmts.append(("set", ins.ra, C(nxt)))
            b.term = ("exit", ("reg", -1))
    return b


__all__ = ["BUDGET", "CHAIN", "LEFT", "TBMISS_R", "TBMISS_W", "UNALIGNED", "Block", "Region", "build", "lowerable"]
