"""Hot regions as a small IR both native backends print.

A region is every block reachable from an entry PC through direct branches
inside an address window, split at branch targets (a control-flow graph,
not one basic block: native code keeps registers in machine registers
across the whole loop nest). Anything the prototype does not lower (jumps,
CALL_PAL, FP, unknown rows) ends its block with an exit to that PC, where
Python takes over with exact state.

Expressions are tuples over 64-bit values: ("reg", n), ("const", v),
(binop, x, y) with binop in BINOPS, ("sext32", x). Comparisons give 0 or 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from machine.alpha import isa
from machine.alpha.constants import M64
from machine.alpha.decode import Insn, decode

Expr = tuple[Any, ...]
BINOPS = {"add", "sub", "mul", "shl", "lshr", "ashr", "and", "or", "xor", "eq", "ne", "ult", "ule", "slt", "sle"}

# exit codes the native function returns (the same for both backends)
LEFT, BUDGET, TBMISS_R, TBMISS_W, UNALIGNED = 0, 1, 2, 3, 4
EXIT_NAMES = {LEFT: "left region", BUDGET: "budget", TBMISS_R: "TB miss (read)", TBMISS_W: "TB miss (write)",
              UNALIGNED: "unaligned"}  # fmt: skip


@dataclass
class Block:
    pc: int
    insns: list[Insn]
    stmts: list[tuple[Any, ...]] = field(default_factory=list)
    term: tuple[Any, ...] = ()  # ("goto", pc) | ("cond", expr, taken_pc, next_pc) | ("exit", pc_expr)
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
    blocks: list[Block]

    @property
    def pcs(self) -> dict[int, int]:
        return {b.pc: i for i, b in enumerate(self.blocks)}

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
_COND = {  # branch and cmov conditions on the Ra value
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
        return _ARITH[name](a, b)  # type: ignore[no-any-return]
    if name in ("zapnot", "zap") and ins.is_lit:
        m = _bytemask(ins.lit)
        return ("and", a, C(m if name == "zapnot" else ~m))
    if name[:3] in ("ext", "ins", "msk") and name[3] in _BYTE_WIDTH and name[4:] == "l":
        bm = C(_bytemask(_BYTE_WIDTH[name[3]]))
        s = ("shl", ("and", b, C(7)), C(3))
        if name.startswith("ext"):
            return ("and", ("lshr", a, s), bm)
        if name.startswith("ins"):
            return ("shl", ("and", a, bm), s)
        return ("and", a, ("xor", ("shl", bm, s), C(M64)))
    return None


_LOWERED = {"alu", "cmov", "lda", "ld", "ldu", "st", "stu", "br", "bcc", "nop"}


def _lowerable(ins: Insn | None) -> bool:
    if ins is None or ins.op.kind not in _LOWERED:
        return False
    if ins.op.kind == "alu" and _operate(ins) is None:
        return False
    return True


def build(cpu: Any, entry: int, lo: int, hi: int) -> Region:
    """The region of code reachable from entry inside [lo, hi)."""
    leaders = {entry}
    seen: set[int] = set()
    work = [entry]
    runs: dict[int, list[Insn]] = {}
    while work:
        pc = work.pop()
        if pc in seen:
            continue
        seen.add(pc)
        insns: list[Insn] = []
        a = pc
        while True:
            ins = decode(cpu.fetch(a))
            if not _lowerable(ins):
                break
            assert ins is not None
            insns.append(ins)
            a += 4
            if ins.op.kind in ("br", "bcc"):
                t = (a + 4 * ins.disp) & M64
                for s in (t, a) if ins.op.kind == "bcc" else (t,):
                    if lo <= s < hi:
                        leaders.add(s)
                        work.append(s)
                break
        runs[pc] = insns
    code = {pc + 4 * k: ins for pc, insns in runs.items() for k, ins in enumerate(insns)}
    blocks = []
    for pc in sorted(leaders):
        body: list[Insn] = []
        a = pc
        while a in code and (a == pc or a not in leaders):  # up to the next leader or a branch
            body.append(code[a])
            a += 4
            if body[-1].op.kind in ("br", "bcc"):
                break
        blocks.append(_lower(pc, body))
    return Region(entry, [b for b in blocks if b.pc == entry] + [b for b in blocks if b.pc != entry])


def _lower(pc0: int, insns: list[Insn]) -> Block:
    b = Block(pc0, insns)
    b.prefix = [0]
    for ins in insns:
        b.prefix.append(b.prefix[-1] + isa.COST[ins.op.cost])
    end = (pc0 + 4 * len(insns)) & M64
    b.term = ("goto", end) if insns else ("exit", C(pc0))  # an empty block: Python runs what is there
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
    return b
