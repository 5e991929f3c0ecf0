"""Basic-block translator: Alpha code to Python functions, cached per page.

A block is a straight run of instructions ending at a branch, jump or
CALL_PAL, before an undecodable word, at a page end, or after ``MAX_BLOCK``
instructions. A short forward conditional branch over plain instructions
does not end it: the skipped instructions become an ``if`` (counting what
was skipped, so instruction counts stay exact), and a block whose final
branch returns to its own start runs as a ``while`` loop bounded by the
remaining budget, its registers kept in locals across iterations.

The Python source keeps registers in locals (``x5`` for $5) and writes them
back at the exit, or just before a slow path that can trap, so a trap always
sees exact architectural state. Integer operate, address, load/store and
control instructions are generated from the table's templates (with the
hottest helpers inlined and a small peephole pass) and the memory fast path
inlined (one dict probe on the host page cache that checks page and
alignment together, see cpu.py, then one list subscript; ev4's
``ldq_u``+``extbl`` byte loads read one byte from a byte view instead,
see ``_byte_loads``, and ``ldl`` one longword from a longword view);
everything else calls ``CPU.execute`` for that one instruction, so the
reference interpreter's semantics are the only ones. Sums (addq, subq,
lda, ldah) are left unreduced mod 2**64 while every use depends only on
their low 64 bits (an address, another sum, a longword or byte op), and are
reduced where a use needs the exact value and on write-back, so registers in
``r`` are always exact (see ``_Emitter.loose``).

Blocks are keyed by virtual PC and physical frame (see ``Translator``); a
store into a frame holding code, a host write to it, or IMB drops them.
Breakpoint PCs (``CPU.stops``) always start a block, and the run loop
returns before one.

Regions (traces). A block of plain inlined instructions is first run
through the run loop's counting path, which records where it went; after
``HOT`` entries the successors seen most often are followed, within its
page, and that path is compiled as one function: registers stay in locals
across its blocks, each block's exit that leaves the path (a branch the
other way, a ``jmp``/``ret`` to another target) writes back and returns,
and a path that comes back to a member closes as a ``while`` loop headed
there. The function returns (next pc, instructions, cycles) and runs only if
one whole pass fits the budget and cycle limit; a loop goes round again
only while the next pass fits, as the self-loop does, so counts, virtual
time and interrupts are exactly as without regions. A region's slow paths
publish completed passes and skips before anything can trap, and its
``index`` maps each PC to its place in a pass, so a trap inside reports
exact pc, icount and cycles. A region lies in one page and is kept with
that page's blocks, so whatever drops them drops it; a store from the
region into its own code page (always a slow path: code frames are kept
out of ``wtlb``) leaves the region at the next instruction. Regions change
speed only: ``Translator.traces`` (default from ``SPINWB_TRACES``, "0" for
off) turns them off.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
from collections.abc import Sequence
from typing import Any

from machine.alpha import codecache, isa
from machine.alpha.constants import ACCESS_EXEC, M64, PAGE_MASK, PAGE_SHIFT, TB_MISS_CYCLES
from machine.alpha.decode import Insn, decode
from machine.alpha.native import HOT as NATIVE_HOT
from machine.alpha.native import START as NATIVE_START
from machine.alpha.native import enabled as native_enabled
from machine.alpha.semantics import namespace, substitute
from machine.alpha.traps import ArithmeticTrap, Halt, IllegalInstruction, TbMiss, Trap, Unaligned

MAX_BLOCK = 64
LITTLE = sys.byteorder == "little"  # the host's: a frame's longword view (cpu.rltlb) then matches the guest's
_INLINE = {"alu", "cmov", "trapv", "lda", "ld", "ldu", "st", "stu", "br", "bcc", "jmp", "pal", "nop", "rpcc"}
_TERMINAL = {"br", "bcc", "fbcc", "jmp", "pal"}
_STRAIGHT = {"alu", "cmov", "trapv", "lda", "ld", "ldu", "st", "stu"}
_CHAIN = _STRAIGHT | {"br", "bcc", "jmp", "nop"}  # what a region's member may hold
# Pages are lists of 64-bit words (see cpu.py): loads and stores by width.
_LOAD = {
    8: "p[(a & 8191) >> 3]",
    4: "p[(a & 8191) >> 3] >> ((a & 4) << 3) & 4294967295",
    2: "p[(a & 8191) >> 3] >> ((a & 6) << 3) & 65535",
    1: "p[(a & 8191) >> 3] >> ((a & 7) << 3) & 255",
}
_STORE_SUB = "i = ({a} & 8191) >> 3; s = ({a} & 7) << 3; p[i] = p[i] & ~({mask} << s) | {val} << s"
_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFF_FFFF, 8: M64}


# Byte-manipulation ops as shift/mask expressions (alpha-machine.md §2
# formulas with zapnot folded into a byte mask bm; s = 8 * (Rb & 7)).
_BYTE_OPS = {
    "extl": "(({a}) >> {s}) & {bm}",
    "exth": "(({a}) << ((64 - {s}) & 63)) & {bm}",
    "insl": "((({a}) & {bm}) << {s}) & {M}",
    "insbl": "(({a}) & 255) << {s}",  # a byte shifted by at most 56 stays below 2**64
    "insh": "(({a}) & {bm}) >> (64 - {s})",
    "mskl": "({a}) & ~({bm} << {s})",  # a >= 0, so & with a negative mask stays in range
    "mskh": "({a}) & ~(({bm} << {s}) >> 64)",
}


class _Inline(ast.NodeTransformer):
    """Inline the hottest helpers so generated code avoids Python calls."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and len(node.args) == 1 and node.func.id == "sextl":
            x = ast.unparse(node.args[0])
            # a conditional is about twice as fast as xor-subtract-mask in CPython
            return ast.parse(f"_s if (_s := ({x}) & 0xFFFFFFFF) < 0x80000000 else _s | 0xFFFFFFFF00000000",
                             mode="eval").body  # fmt: skip
        if isinstance(node.func, ast.Name) and len(node.args) == 3 and node.func.id in _BYTE_OPS:
            a, b = (ast.unparse(x) for x in node.args[:2])
            m = ast.literal_eval(node.args[2])
            bm = sum(0xFF << (8 * i) for i in range(8) if (m >> i) & 1)
            form = "insbl" if node.func.id == "insl" and m == 1 else node.func.id
            src = _BYTE_OPS[form].format(a=a, s=f"((({b}) & 7) << 3)", bm=bm, M=M64)
            return ast.parse(src, mode="eval").body
        if isinstance(node.func, ast.Name) and len(node.args) == 2 and node.func.id == "sra":
            a, b = (ast.unparse(x) for x in node.args)
            k = _const(node.args[1])
            if k is not None and not any(isinstance(n, ast.NamedExpr) for n in ast.walk(node.args[0])):
                k &= 63  # a literal count (gcc's `sra x, 56` of a byte load): shift, then fill when negative
                src = f"(({a}) >> {k} | {M64 ^ (M64 >> k)}) if ({a}) >> 63 else ({a}) >> {k}"
            else:
                src = f"(((({a}) ^ {1 << 63}) - {1 << 63}) >> (({b}) & 63)) & {M64}"
            return ast.parse(src, mode="eval").body
        if (
            isinstance(node.func, ast.Name)
            and len(node.args) == 2
            and node.func.id == "zapnot"
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, int)
        ):
            k = node.args[1].value & 0xFF
            bm = sum(0xFF << (8 * i) for i in range(8) if (k >> i) & 1)
            return ast.parse(f"({ast.unparse(node.args[0])}) & {bm}", mode="eval").body
        if isinstance(node.func, ast.Name) and len(node.args) == 2 and node.func.id in ("cmplt", "cmple"):
            a, b = (ast.unparse(x) for x in node.args)
            rel = "<" if node.func.id == "cmplt" else "<="
            return ast.parse(f"1 if (({a}) ^ {1 << 63}) {rel} (({b}) ^ {1 << 63}) else 0", mode="eval").body
        return node


class _Simplify(ast.NodeTransformer):
    """Peephole rules for the forms instruction templates produce with $31
    operands and zero displacements. Register locals (x0..x30) and loaded
    values always hold 0 <= v < 2**64, so masking them with M is a no-op."""

    @classmethod
    def _in_range(cls, node: ast.AST) -> bool:
        """Whether ``node`` is sure to hold 0 <= v < 2**64: a register local, a
        loaded value, such a literal, or an and/shift/or of such values."""
        if isinstance(node, ast.Name):
            return node.id[0] == "x" and node.id[1:].isdigit() or node.id == "v"
        if (c := _const(node)) is not None:
            return 0 <= c <= M64
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.BitAnd):
                return cls._in_range(node.left) or cls._in_range(node.right)
            if isinstance(node.op, ast.RShift):
                return cls._in_range(node.left)
            if isinstance(node.op, (ast.BitOr, ast.BitXor)):
                return cls._in_range(node.left) and cls._in_range(node.right)
        return False

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        c = _const(node.operand)
        if c is not None and isinstance(node.op, (ast.USub, ast.Invert)):
            return ast.Constant(-c if isinstance(node.op, ast.USub) else ~c)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        left, right, op = node.left, node.right, node.op
        folded = _fold(left, op, right)  # e.g. `x >> (5 & 63)`: a literal shift count
        if folded is not None:
            return folded
        zero_l = isinstance(left, ast.Constant) and left.value == 0
        zero_r = isinstance(right, ast.Constant) and right.value == 0
        if isinstance(op, (ast.BitOr, ast.Add, ast.BitXor)) and zero_l:
            return right
        if isinstance(op, (ast.BitOr, ast.Add, ast.Sub, ast.BitXor, ast.LShift, ast.RShift)) and zero_r:
            return left
        if isinstance(op, ast.BitAnd) and (zero_l or zero_r):
            return ast.Constant(0)
        if isinstance(op, ast.BitAnd) and _const(right) == M64 and self._in_range(left):
            return left
        return node


_FOLD = {ast.Add: int.__add__, ast.Sub: int.__sub__, ast.Mult: int.__mul__, ast.BitAnd: int.__and__,
         ast.BitOr: int.__or__, ast.BitXor: int.__xor__, ast.RShift: int.__rshift__}  # fmt: skip


def _const(node: ast.AST) -> int | None:
    """The value of an integer literal (not a bool) or of the templates' ``M``, else None."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name) and node.id == "M":
        return M64
    return None


def _fold(left: ast.AST, op: ast.operator, right: ast.AST) -> ast.Constant | None:
    """Two integer literals folded into one (shifts only by 0..64: a template's
    counts are masked, so nothing larger is ever meant)."""
    a, b = _const(left), _const(right)
    if a is None or b is None:
        return None
    if isinstance(op, ast.LShift):
        return ast.Constant(a << b) if 0 <= b <= 64 else None
    if isinstance(op, ast.RShift) and not 0 <= b <= 64:
        return None
    f = _FOLD.get(type(op))
    return ast.Constant(f(a, b)) if f is not None else None


def _expr(template: str, **names: str) -> str:
    """A template's expression for these operands. Register locals are passed to the
    cached passes as stand-ins (the passes never look at which register it is), so one
    ``addq`` form serves every register pair: a cold run translates about 2.8 times
    fewer distinct expressions."""
    regs: dict[str, str] = {}
    shape = []
    for k, v in sorted(names.items()):
        if v[:1] == "x" and v[1:].isdigit():
            v = regs.setdefault(v, f"x{_STAND_IN + len(regs)}")
        shape.append((k, v))
    out = _expr_of(template, tuple(shape))
    for reg, token in regs.items():
        out = out.replace(token, reg)
    return out


_STAND_IN = 90000  # x90000.. : never a register's local (x0..x30), and none a prefix of another


@functools.lru_cache(maxsize=8192)
def _expr_of(template: str, names: tuple[tuple[str, str], ...]) -> str:
    """A template's Python expression (pure, so cached: a region recompiles
    its blocks' instructions, and the ast passes are most of translation)."""
    src = substitute(template, **dict(names))
    tree = _Simplify().visit(_Inline().visit(ast.parse(src, mode="eval")))
    return ast.unparse(tree).replace(" M", f" {M64}").replace("(M", f"({M64}")


def _probe(width: int) -> int:
    """The host-TB key mask for an access of ``width`` bytes: the page base
    with the alignment bits kept, so a misaligned address misses (cpu.py)."""
    return (M64 & ~PAGE_MASK) | (width - 1)


def _address(base: str, disp: int) -> str:
    """Effective-address expression (the base is a register local or 0), not
    reduced mod 2**64: the host-TB probe's mask and the word index keep only
    bits below 64, which a wrapped sum shares with the reduced one, so only
    the slow path reduces it (``a & M``)."""
    if base == "0":
        return str(disp & M64)
    if disp == 0:
        return base
    return f"{base} + {disp}"


class Block:
    """A compiled block, or a region (trace) of several (``index`` set)."""

    __slots__ = ("pc", "fn", "n", "cost", "prefix", "sync", "pal", "loop", "skips", "source", "insns", "chain",
                 "heat", "succ", "index", "live", "native", "runs")  # fmt: skip

    def __init__(self, pc: int, fn: Any, n: int, prefix: list[int], sync: bool, pal: bool, loop: bool,
                 skips: bool, source: str) -> None:  # fmt: skip
        self.insns: tuple[Insn, ...] = ()
        self.chain = False  # may be a region's member: plain, inlined instructions only
        self.heat = -1  # >= 0 while profiled: entries so far (the run loop counts them)
        self.succ: dict[int, int] = {}  # next PC -> times seen, while profiled
        self.index: dict[int, int] | None = None  # a region's PC -> instructions before it in one pass
        self.live = [True]  # a region's: cleared when its code is dropped
        self.native: Any = None  # a region's or self-loop's native code (machine/alpha/native)
        self.runs = 0  # entries (and passes) of a region or self-loop, up to the native tier's threshold
        self.pc = pc
        self.fn = fn
        self.n = n  # instructions in the block, skipped ones included
        self.prefix = prefix  # cycles before instruction k
        self.cost = prefix[-1]
        self.sync = sync  # counters must be in the CPU while it runs
        self.pal = pal  # ends in CALL_PAL, which updates the counters itself
        self.loop = loop  # branches back to its own start: runs as a while loop
        self.skips = skips  # has if-converted forward branches: publishes what it skipped
        self.source = source


class _Emitter:
    def __init__(self, loop: bool, skips: bool) -> None:
        self.prologue: list[str] = []  # loads hoisted to the top (above a self-loop)
        self.lines: list[str] = []
        self.loaded: set[int] = set()
        self.dirty: set[int] = set()
        self.forgotten = False  # after a call into the interpreter, loads stay in place
        self.loop = loop
        self.skips = skips
        self.depth = 1
        self.top = 1  # the depth whose statements run on every path (not inside an if-converted body)
        # Lazy masking: registers whose local may hold their value plus a multiple of 2**64
        # (an addq/subq/lda result not yet reduced); reduced where a use needs it, and on write-back.
        self.loose: set[int] = set()

    def emit(self, line: str) -> None:
        if line != "pass":
            self.lines.append("    " * self.depth + line)

    def reg(self, n: int, loose_ok: bool = False) -> str:
        """The local holding register ``n``; reduced first unless the use
        (``loose_ok``) depends only on its low 64 bits."""
        if n == 31:
            return "0"
        if n not in self.loaded:
            load = f"x{n} = r[{n}]"
            if self.forgotten:
                self.emit(load)
            else:
                self.prologue.append("    " + load)
            self.loaded.add(n)
        if n in self.loose and not loose_ok:
            self.emit(f"x{n} = x{n} & {M64}")
            if self.depth == self.top:  # inside an if it may not have run
                self.loose.discard(n)
        return f"x{n}"

    def write(self, n: int, expr: str, loose: bool = False) -> None:
        self.emit(f"x{n} = {expr}")
        self.loaded.add(n)
        self.dirty.add(n)
        self.mark(n, loose)

    def mark(self, n: int, loose: bool) -> None:
        """Register ``n`` was just written, reduced or (``loose``) perhaps not."""
        if loose:
            self.loose.add(n)
        elif self.depth == self.top:
            self.loose.discard(n)

    def sync(self, final: bool = False) -> str:
        """Write-back before leaving the block or a slow path that may trap,
        with the counters the run loop needs to count exactly."""
        parts = [f"r[{n}] = x{n} & {M64}" if n in self.loose else f"r[{n}] = x{n}" for n in sorted(self.dirty)]
        if self.loop and not final:
            parts.append("cpu.iters = it")
        if self.skips:
            parts.append("cpu.skipped = sk; cpu.skipc = skc")
        return "; ".join(parts) or "pass"

    def keep_live(self, insns: Sequence[Insn]) -> None:
        """A loop: every register the body writes is live in a local from the
        second iteration on, so it is loaded up front and every write-back
        (a slow path's before a trap too) stores it. A ``br``/``jmp`` link
        register counts as written."""
        for ins in insns:
            w = _writes(ins)
            if w is None and ins.op.kind in ("br", "jmp"):
                w = ins.ra
            if w is not None and w != 31:
                self.reg(w)
                self.dirty.add(w)

    def hammock(self, insns: Sequence[Insn], k: int, end: int, prefix: list[int], closes: dict[int, int]) -> None:
        """If-convert the short forward branch at ``k`` over ``insns[k+1..end]``:
        counting what it skips, and opening an ``if`` that ``closes`` ends."""
        for j in range(k + 1, end + 1):  # registers the body writes must hold their old values
            w = _writes(insns[j])
            if w is not None:
                self.reg(w)
        cond = _expr(insns[k].op.sem, a=self.reg(insns[k].ra))
        self.emit(f"if {cond}: sk += {end - k}; skc += {prefix[end + 1] - prefix[k + 1]}")
        self.emit("else:")
        self.depth += 1
        closes[end + 1] = closes.get(end + 1, 0) + 1

    def close(self, k: int, closes: dict[int, int]) -> None:
        """End the ifs that end before instruction ``k``."""
        while closes.get(k, 0):
            closes[k] -= 1
            if self.lines[-1].endswith("else:"):  # the body emitted nothing (a unop, a write to $31)
                self.lines.append("    " * self.depth + "pass")
            self.depth -= 1

    def forget(self) -> None:
        self.loaded.clear()
        self.dirty.clear()
        self.loose.clear()  # written back reduced; reloaded from r
        self.forgotten = True


# Lazy 64-bit masking (see _Emitter.loose): these results are left unreduced...
_LOOSE = {"addq": "a + b", "subq": "a - b", "lda": "b + d", "ldah": "b + (d << 16)"}
assert all(isa.BY_NAME[k].sem == f"({v}) & M" for k, v in _LOOSE.items())
# ... and these read a loose Ra (or Rb) as is: their result depends only on its low 64 bits
# (a sign-extended longword, a reduced sum or product, a low byte, a shift count).
_LOW_A = {"addl", "subl", "s4addl", "s8addl", "s4subl", "s8subl", "s4addq", "s8addq", "s4subq", "s8subq", "mull",
          "mulq", "insbl", "sll"}  # fmt: skip
_LOW_B = {"addl", "subl", "s4addl", "s8addl", "s4subl", "s8subl", "s4addq", "s8addq", "s4subq", "s8subq", "mull",
          "mulq", "srl", "sll", "sra", *(op.name for op in isa.TABLE if op.opcode == 0x12 and op.name[:3] in
          ("msk", "ext", "ins"))}  # fmt: skip


def _loose_dests(insns: Sequence[Insn]) -> set[int]:
    """Registers a loop body may leave loose at its back edge (so loose at its top)."""
    return {w for i in insns if i.op.name in _LOOSE and (w := _writes(i)) is not None and w != 31}


def _writes(ins: Insn) -> int | None:
    """The integer register an inlined instruction writes, if any."""
    kind = ins.op.kind
    if kind in ("alu", "cmov", "trapv"):
        return ins.rc
    if kind in ("lda", "ld", "ldu"):
        return ins.ra
    return None


def _straight(e: _Emitter, ins: Insn, pc: int, consts: list[Insn], leave: str = "") -> None:
    """Emit one straight-line inlined instruction (operate, address, load,
    store): its fast path inline, its slow path writing back first. In a
    region, a slow store may have dropped the region's own code (a store into
    its page): ``leave`` is then the statement that leaves at the next
    instruction, so later blocks run only as they are now."""
    op = ins.op
    kind = op.kind
    ra, rb, rc = ins.ra, ins.rb, ins.rc
    if kind == "alu" and rc != 31 and (op.name in _LOOSE or op.name in _LOW_A):
        # ops whose result's low 64 bits depend only on their operands' low 64 bits
        a = e.reg(ra, loose_ok=True)
        b = str(ins.lit) if ins.is_lit else e.reg(rb, loose_ok=True)
        if op.name in _LOOSE:  # the sum stays unreduced: at most one loose operand, so it grows by 2**64 at most
            if ra in e.loose and not ins.is_lit and rb != 31 and rb in e.loose:
                b = e.reg(rb)
            e.write(rc, _expr(_LOOSE[op.name], a=a, b=b), loose=True)
        else:
            e.write(rc, _expr(op.sem, a=a, b=b))
    elif kind in ("alu", "cmov", "trapv"):
        a = e.reg(ra)
        b = str(ins.lit) if ins.is_lit else e.reg(rb, loose_ok=kind == "alu" and op.name in _LOW_B)
        if kind == "alu":
            if rc != 31:
                e.write(rc, _expr(op.sem, a=a, b=b))
        elif kind == "cmov":
            if rc != 31:
                e.reg(rc)
                e.emit(f"if {_expr(op.sem, a=a, b=b)}: x{rc} = {b}")
                e.dirty.add(rc)
        else:
            e.emit(f"t = {_expr(op.sem, a=a, b=b)}")
            e.emit(f"if t is None: {e.sync()}; raise ArithmeticTrap({pc}, 64, {1 << rc})")
            if rc != 31:
                e.write(rc, "t")
    elif kind == "lda":
        if ra != 31:
            e.write(ra, _expr(_LOOSE[op.name], b=e.reg(rb, loose_ok=True), d=str(ins.disp)), loose=True)
    elif kind in ("ld", "ldu"):
        if ra != 31:  # a load to r31 is a prefetch: no access, no fault
            w = op.width
            a = _address(e.reg(rb, loose_ok=True), ins.disp)  # the probe and index keep the low bits only
            if not a.isidentifier():
                e.emit(f"a = {a}")
                a = "a"
            consts.append(ins)
            if op.name == "ldl" and LITTLE:  # one subscript of the frame's longword view (cpu.load_long)
                e.emit(f"try: v = RL[{a} & {_probe(4)}][({a} & 8191) >> 2]")
                e.emit(f"except KeyError: {e.sync()}; v = cpu.load_long(I[{len(consts) - 1}], {a} & {M64}, {pc})")
                e.write(ra, f"v if v < 2147483648 else v | {M64 ^ 0xFFFF_FFFF}")  # sextl of a 32-bit value
                return
            # the value goes straight into the register when the template is just `v`
            dest = f"x{ra}" if op.sem == "v" else "v"
            # a KeyError is a host-TB miss or a misaligned address (see _probe); ldq_u's index ignores bits 2:0
            probe = _probe(1 if kind == "ldu" else w)
            load = _LOAD[w].replace("p[", f"rt[a & {probe}][", 1).replace("a", a)
            e.emit(f"try: {dest} = {load}")  # a failed load leaves dest (perhaps the base) as it was
            e.emit(f"except KeyError: {e.sync()}; {dest} = cpu.slow_load(I[{len(consts) - 1}], {a} & {M64}, {pc})")
            if dest == "v":
                e.write(ra, _expr(op.sem, v="v"))
            else:
                e.loaded.add(ra)
                e.dirty.add(ra)
                e.mark(ra, False)
    elif kind in ("st", "stu"):
        w = op.width
        val = e.reg(ra, loose_ok=w < 8)  # a narrow store keeps the low bytes only
        if w < 8 and val != "0":
            val = f"{val} & {_MASK[w]}"
        a = _address(e.reg(rb, loose_ok=True), ins.disp)
        if not a.isidentifier():
            e.emit(f"a = {a}")
            a = "a"
        consts.append(ins)
        slot = f"wt[{a} & {_probe(1 if kind == 'stu' else w)}]"
        if w == 8:
            e.emit(f"try: {slot}[({a} & 8191) >> 3] = {val}")
        else:
            e.emit(f"try: p = {slot}")
        e.emit("except KeyError:")
        e.depth += 1
        e.emit(f"{e.sync()}; cpu.slow_store(I[{len(consts) - 1}], {a} & {M64}, {val}, {pc})")
        if leave:  # the store may have dropped this region's own code
            e.emit(f"if not LIVE[0]: {leave}")
        e.depth -= 1
        if w < 8:
            e.emit(f"else: {_STORE_SUB.format(mask=_MASK[w], val=f'({val})', a=a)}")


def _reads(insns: Sequence[Insn], hammocks: dict[int, int]) -> set[int]:
    """Registers a block may read (a superset): operands, a cmov's old value,
    and what its if-converted bodies write (kept when skipped)."""
    out: set[int] = set()
    for k, ins in enumerate(insns):
        out.add(ins.ra)
        if not ins.is_lit:
            out.add(ins.rb)
        if ins.op.kind == "cmov":
            out.add(ins.rc)
        if k in hammocks:
            out.update(w for i in insns[k + 1 : hammocks[k] + 1] if (w := _writes(i)) is not None)
    out.discard(31)
    return out


# ev4 (no BWX) reads a byte as ``ldq_u t, d(b)`` then ``extbl t, s, t`` with s == b + d, or a
# signed char as ``extqh t, s, t; sra t, 56, t`` with s == b + d + 1, other instructions in
# between (gcc's scheduling). Fused, the ldq_u reads the byte from a byte view of the frame
# (``cpu.rbtlb``), about 40% cheaper than the quadword, shift and mask, and the ext (and sra)
# emit nothing. The five-instruction byte store is not fused: its mskbl result (the
# quadword less the byte) is read, or still held when the block ends, in every byte store
# of six ev4 corpus programs (strings, hash, sort, interp, crc, bytes), so the quadword
# must be read and merged anyway, and then a byte store costs as much as the quadword one.
_SEXT8 = tuple(v | (M64 ^ 0xFF) if v & 0x80 else v for v in range(256))
_HARMLESS = {"alu", "lda", "nop"}  # cannot trap, touch memory or leave: nothing can observe the fused register


def _byte_loads(insns: Sequence[Insn], hammocks: dict[int, int]) -> tuple[dict[int, bool], set[int]]:
    """The byte loads to fuse: ldq_u index -> signed, and the ext/sra indices they absorb.

    Exact only if nothing sees the ldq_u's register between it and the ext:
    the window holds only instructions that cannot trap (a trap writes every
    register back) and do not read or write it, and no if-converted body
    starts or ends inside it. The ext's Rb must hold the ldq_u's address (+1
    for extqh): values are tracked as (token, offset) through lda, ldah,
    addq/subq of a literal and moves; a write the analysis does not follow,
    or any write inside an if-converted body, gets a token of its own."""
    n = len(insns)
    bodies = [frozenset(s for s, end in hammocks.items() if s < i <= end) for i in range(n)]
    sym: dict[int, tuple[object, int]] = {}

    def val(reg: int) -> tuple[object, int]:
        return (None, 0) if reg == 31 else sym.get(reg, (("in", reg), 0))

    fuse: dict[int, bool] = {}
    skip: set[int] = set()
    cands: list[list[Any]] = []  # [ldq_u index, register, address value, "ext" or the extqh index]
    for i, ins in enumerate(insns):
        op = ins.op
        name, kind = op.name, op.kind
        keep = []
        for c in cands:
            k, t, addr, state = c
            if bodies[i] != bodies[k]:
                continue
            if state == "ext" and name in ("extbl", "extqh") and not ins.is_lit and ins.ra == t == ins.rc:
                if ins.rb != t and val(ins.rb) == (addr[0], (addr[1] + (name == "extqh")) & M64):
                    if name == "extbl":
                        fuse[k] = False
                        skip.add(i)
                    else:
                        c[3] = i
                        keep.append(c)
                    continue
            if state != "ext" and name == "sra" and ins.is_lit and ins.lit == 56 and ins.ra == t == ins.rc:
                fuse[k] = True
                skip.update((state, i))
                continue
            reads = {ins.rb} if kind == "lda" else {ins.ra} | (set() if ins.is_lit else {ins.rb})
            if (kind in _HARMLESS or kind == "ldu" and ins.ra == 31) and t not in reads and _writes(ins) != t:
                keep.append(c)
        cands = keep
        w = _writes(ins)
        if kind == "ldu" and w is not None and w != 31:
            cands.append([i, w, (val(ins.rb)[0], (val(ins.rb)[1] + ins.disp) & M64), "ext"])
        if w is None or w == 31:
            continue
        new: tuple[object, int] = (("w", i), 0)
        b = val(ins.rb)
        if bodies[i]:
            pass
        elif kind == "lda":
            new = (b[0], (b[1] + (ins.disp << 16 if name == "ldah" else ins.disp)) & M64)
        elif name in ("addq", "subq", "bis") and (ins.is_lit or ins.ra == 31 or ins.rb == 31):
            a = val(ins.ra)
            if ins.is_lit:
                lit = ins.lit if name == "addq" else -ins.lit if name == "subq" else None
                if lit is not None:
                    new = (a[0], (a[1] + lit) & M64)
                elif ins.ra == 31:
                    new = (None, ins.lit)
            elif ins.rb == 31:
                new = a
            elif name != "subq":  # 0 + b, 0 | b
                new = b
        sym[w] = new
    return fuse, skip


def _fused_load(e: _Emitter, ins: Insn, pc: int, consts: list[Insn], signed: bool) -> None:
    """A fused ldq_u+ext (see ``_byte_loads``): one byte from the byte TB, or
    the ldq_u's own slow path (``cpu.load_byte``), so a fault is the ldq_u's."""
    a = _address(e.reg(ins.rb, loose_ok=True), ins.disp)
    if not a.isidentifier():
        e.emit(f"a = {a}")
        a = "a"
    consts.append(ins)
    fast = f"RB[{a} & {_probe(1)}][{a} & 8191]"
    slow = f"cpu.load_byte(I[{len(consts) - 1}], {a} & {M64}, {pc})"
    if signed:
        fast, slow = f"SX[{fast}]", f"SX[{slow}]"
    e.emit(f"try: x{ins.ra} = {fast}")
    e.emit(f"except KeyError: {e.sync()}; x{ins.ra} = {slow}")
    e.loaded.add(ins.ra)
    e.dirty.add(ins.ra)
    e.mark(ins.ra, False)


MAX_SKIP = 8  # longest forward branch turned into an if
HOT = 40  # entries that make a block a region's head
MAX_SEGS = 12  # blocks in a region, at most
MAX_REGION = 256  # instructions in one pass of a region, at most


class Translator:
    """Blocks for the code the CPU runs, keyed by virtual PC and physical frame.

    A block's code embeds its own virtual addresses, so it is valid for one
    (virtual page, physical frame) pair; ``code`` holds every such set. Only
    the blocks of pages the CPU has looked up for execution (present in its
    ``xtlb``: ITB-resident, permission-checked in the current mode) are
    *published* in ``blocks``/``plain``, where the run loop finds them with one
    dict probe. A mode switch, TB invalidation or context switch parks them
    all; the next lookup of a page through the ITB publishes its blocks again
    if the frame is the same. So code survives context switches, two address
    spaces can run different code at the same address, and a page the current
    mode may not execute never runs. A frame that holds translated code is
    kept out of the CPU's ``wtlb``, so the first store to it (through any
    mapping) reaches ``written`` and drops its blocks; DMA and host writes
    report through ``CPU.frame_written``.
    """

    def __init__(self, cpu: Any) -> None:
        self.cpu = cpu
        self.blocks: dict[int, Block] = {}  # published: pc -> block
        self.plain: dict[int, tuple[Any, int, int, Block]] = {}  # pc -> (fn, n, cycles, block): the common case
        self.active: dict[int, int] = {}  # vpn -> id(frame) whose blocks are published
        self.code: dict[tuple[int, int], dict[int, Block]] = {}  # (vpn, id(frame)) -> pc -> block
        self.frames: dict[int, tuple[Any, set[int]]] = {}  # id(frame) -> (frame, vpns with code from it)
        # Regions (traces): hot paths of blocks compiled as one function. They
        # change only speed, never results, so the flag may be flipped at will.
        self.traces = os.environ.get("SPINWB_TRACES", "1") != "0"
        self.regions: dict[int, tuple[Any, int, int, Block]] = {}  # published: head pc -> (fn, n, cycles, region)
        self.rcode: dict[tuple[int, int], dict[int, Block]] = {}  # (vpn, id(frame)) -> head pc -> region
        # published regions with nothing left to decide (no loop, no native code now or to come):
        # head pc -> (fn, n, cycles, region), found by the run loop before anything else
        self.quick: dict[int, tuple[Any, int, int, Block]] = {}
        # (vpn, id(frame)) -> its on-disk cache file's name, while its code stands (hashing a page is 30-60 us)
        self.names: dict[tuple[int, int], str | None] = {}
        # The native tier (machine/alpha/native): made when a region first gets hot.
        self.native: Any = None
        self._native_on = native_enabled()
        self.ns = namespace(cpu.model)
        self.ns.update(
            cpu=cpu, Unaligned=Unaligned, ArithmeticTrap=ArithmeticTrap, RB=cpu.rbtlb, RL=cpu.rltlb, SX=_SEXT8
        )
        self.translated = 0

    @property
    def native_on(self) -> bool:
        """Whether hot regions go to the native tier (the flag that turns it off)."""
        return self._native_on

    @native_on.setter
    def native_on(self, on: bool) -> None:
        if on and not self._native_on:
            self.quick.clear()  # they may be compiled natively now: back through the counting path
        self._native_on = on

    # --- cache maintenance ----------------------------------------------------------

    def flush(self) -> None:
        """Drop every block (IMB)."""
        self.park_all()
        self.code.clear()
        self.names.clear()
        self.frames.clear()
        for regions in self.rcode.values():
            for g in regions.values():
                g.live[0] = False
        self.rcode.clear()

    def park_all(self) -> None:
        self.blocks.clear()
        self.plain.clear()
        self.regions.clear()
        self.quick.clear()
        self.active.clear()
        if self.native is not None:  # native code chains only into published pages
            self.native.unpublish_all()

    def park(self, vpn: int) -> None:
        if self.native is not None:
            self.native.unpublish(vpn)
        fid = self.active.pop(vpn, None)
        if fid is not None:
            for pc in self.code.get((vpn, fid), ()):
                self.blocks.pop(pc, None)
                self.plain.pop(pc, None)
            for pc in self.rcode.get((vpn, fid), ()):
                self.regions.pop(pc, None)
                self.quick.pop(pc, None)

    def _publish(self, b: Block) -> None:
        self.blocks[b.pc] = b
        # a profiled block runs through the run loop's counting path; a region's
        # head is found as the region first (it runs alone only when the region
        # does not fit the budget)
        if not (b.sync or b.loop or b.skips) and b.heat < 0 and b.pc not in self.regions:
            self.plain[b.pc] = (b.fn, b.n, b.cost, b)

    def _publish_region(self, g: Block) -> None:
        self.regions[g.pc] = (g.fn, g.n, g.cost, g)
        self.plain.pop(g.pc, None)
        self.quick.pop(g.pc, None)  # the run loop's counting path decides again

    def activate(self, vpn: int, frame: Any) -> None:
        """Publish the blocks translated from ``frame`` at ``vpn``."""
        fid = id(frame)
        cur = self.active.get(vpn)
        if cur == fid:
            return
        if cur is not None:
            self.park(vpn)
        self.active[vpn] = fid
        for g in self.rcode.get((vpn, fid), {}).values():
            self._publish_region(g)
        pages = self.code.get((vpn, fid))
        for b in (pages or {}).values():
            self._publish(b)
        if self.native is not None:
            self.native.activated(pages)

    def _drop(self, vpn: int, fid: int) -> None:
        if self.native is not None and self.active.get(vpn) == fid:
            self.native.unpublish(vpn)
        self.names.pop((vpn, fid), None)
        for pc in self.code.pop((vpn, fid), ()):
            if self.active.get(vpn) == fid:
                self.blocks.pop(pc, None)
                self.plain.pop(pc, None)
        # a region lies in one page: it goes with its blocks, and one running
        # now (whose store dropped them) leaves at its next instruction
        for pc, g in self.rcode.pop((vpn, fid), {}).items():
            g.live[0] = False
            if self.active.get(vpn) == fid:
                self.regions.pop(pc, None)
                self.quick.pop(pc, None)

    def page_file(self, vpn: int, frame: Any) -> str | None:
        """The code cache's file for the code at ``vpn`` in ``frame``, computed once while
        the page's code stands: anything that changes the frame drops that first (_drop)."""
        key = (vpn, id(frame))
        if key in self.names:
            return self.names[key]
        name = self.names[key] = codecache.page_name(self.cpu.model, vpn, frame)
        return name

    def written(self, frame: Any) -> None:
        """``frame`` changed: drop every block translated from it."""
        entry = self.frames.pop(id(frame), None)
        if entry is not None:
            for vpn in entry[1]:
                self._drop(vpn, id(frame))

    def invalidate_vpn(self, vpn: int) -> None:
        """Drop every block at virtual page vpn, whatever frame it came from."""
        for fid, (_, vpns) in list(self.frames.items()):
            if vpn in vpns:
                vpns.discard(vpn)
                self._drop(vpn, fid)
                if not vpns:
                    del self.frames[fid]
        self.park(vpn)

    def lookup(self, pc: int) -> Block:
        """The block at pc, looking its page up through the ITB (which may
        fault or miss) and publishing the page's blocks."""
        cpu = self.cpu
        frame = cpu._page(cpu.xtlb, pc, ACCESS_EXEC, pc)
        self.activate(pc >> PAGE_SHIFT, frame)
        b = self.blocks.get(pc)
        return b if b is not None else self.translate(pc)

    # --- translation -------------------------------------------------------------------

    def _fetch_run(self, pc: int, page_end: int, limit: int) -> list[Insn] | None:
        """Up to ``limit`` inlinable straight-line instructions from pc, or None."""
        out = []
        stops = self.cpu.stops
        for k in range(limit):
            a = pc + 4 * k
            if a >= page_end or a in stops:
                return None
            ins = decode(self.cpu.fetch(a))
            if ins is None or (ins.op.feature and not self.cpu.features & ins.op.feature):
                return None
            if ins.op.kind not in _INLINE or ins.op.kind in _TERMINAL or ins.op.kind == "rpcc":
                return None
            out.append(ins)
        return out

    def translate(self, pc: int) -> Block:
        cpu = self.cpu
        stops = cpu.stops
        insns: list[Insn] = [cpu.decode_at(pc)]  # raises the trap for a bad first word
        vpn = pc >> PAGE_SHIFT
        frame = cpu.xtlb[vpn]
        page_end = (pc | PAGE_MASK) + 1
        while len(insns) < MAX_BLOCK:
            last = insns[-1]
            here = pc + 4 * len(insns)
            if last.op.kind == "bcc":
                # if-convert a short forward branch over plain instructions
                skip = last.disp
                if not 0 < skip <= MAX_SKIP or len(insns) + skip >= MAX_BLOCK or here + 4 * skip in stops:
                    break
                body = self._fetch_run(here, page_end, skip)
                if body is None:
                    break
                insns += body
                continue
            if last.op.kind in _TERMINAL:
                break
            if here >= page_end or here in stops:  # a breakpoint starts its own block
                break
            ins = decode(cpu.fetch(here))
            if ins is None or (ins.op.feature and not cpu.features & ins.op.feature):
                break
            insns.append(ins)
        while insns[-1].op.kind == "bcc" and len(insns) > 1 and self._is_hammock(insns, len(insns) - 1):
            insns.pop()  # a trailing forward branch whose body did not fit: end before it
        block = codecache.block(self, pc, insns, frame)  # self._compile's, or the same from the on-disk cache
        if self.traces and block.chain:
            block.heat = 0
        fid = id(frame)
        self.activate(vpn, frame)
        self.code.setdefault((vpn, fid), {})[pc] = block
        self._publish(block)
        if fid not in self.frames:  # a frame newly holding code: its next store must come to written()
            self.frames[fid] = (frame, set())
            for v in [v for v, f in cpu.wtlb.items() if f is frame]:
                del cpu.wtlb[v]
            if self.native is not None:
                self.native.forget_writes()
        self.frames[fid][1].add(vpn)
        self.translated += 1
        return block

    @staticmethod
    def _is_hammock(insns: Sequence[Insn], k: int) -> bool:
        ins = insns[k]
        return ins.op.kind == "bcc" and 0 < ins.disp and k + ins.disp < len(insns)

    def _compile(self, pc0: int, insns: list[Insn]) -> Block:  # noqa: C901 - one branch per kind
        last = insns[-1]
        n = len(insns)
        loop = (
            last.op.kind == "bcc"
            and 4 * n + 4 * last.disp == 0
            and all(i.op.kind in _INLINE and i.op.kind != "rpcc" for i in insns)
        )
        hammocks = {k: k + insns[k].disp for k in range(n - 1) if self._is_hammock(insns, k)}
        e = _Emitter(loop, bool(hammocks))
        if loop:  # a self-loop holds no br/jmp but its last bcc
            e.keep_live(insns)
            e.loose = _loose_dests(insns)
        prefix = [0]
        for ins in insns:
            prefix.append(prefix[-1] + isa.COST[ins.op.cost])
        consts: list[Insn] = []
        sync = pal = False
        terminated = False
        closes: dict[int, int] = {}  # instruction index -> how many ifs end before it
        fuse, fused = _byte_loads(insns, hammocks)
        for k, ins in enumerate(insns):
            e.close(k, closes)
            if k in fused:  # an ext (or sra) its ldq_u did
                continue
            pc = pc0 + 4 * k
            nxt = (pc + 4) & M64
            op = ins.op
            kind = op.kind
            ra, rb = ins.ra, ins.rb
            if k in hammocks:
                e.hammock(insns, k, hammocks[k], prefix, closes)
                continue
            if kind not in _INLINE:
                consts.append(ins)
                e.emit(e.sync())
                if kind in _TERMINAL:  # fbcc: the interpreter picks the next PC
                    e.emit(f"return cpu.execute(I[{len(consts) - 1}], {pc})")
                    terminated = True
                else:
                    e.emit(f"cpu.execute(I[{len(consts) - 1}], {pc})")
                    e.forget()
            elif k in fuse:
                _fused_load(e, ins, pc, consts, fuse[k])
            elif kind in _STRAIGHT:
                _straight(e, ins, pc, consts)
            elif kind in ("br", "bcc"):
                cond = _expr(op.sem, a=e.reg(ra))
                target = (nxt + 4 * ins.disp) & M64
                if loop:  # registers stay in locals until the loop exits
                    e.emit(f"if ({cond}) and it < lim: it += 1; continue")  # cond may be an `or`
                    e.emit(e.sync(final=True))
                    e.emit("cpu.iters = it + 1")
                    e.emit(f"return {target} if {cond} else {nxt}")
                elif kind == "br":
                    e.emit(e.sync())
                    if ra != 31:
                        e.emit(f"r[{ra}] = {nxt}")
                    e.emit(f"return {target}")
                else:
                    e.emit(e.sync())
                    e.emit(f"if {cond}: return {target}")
                    e.emit(f"return {nxt}")
                terminated = True
            elif kind == "jmp":
                e.emit(f"t = {e.reg(rb)} & {M64 & ~3}")
                e.emit(e.sync())
                if ra != 31:
                    e.emit(f"r[{ra}] = {nxt}")
                e.emit("return t")
                terminated = True
            elif kind == "pal":
                sync = pal = True
                e.emit(e.sync())
                e.emit(f"cpu.pc = {nxt}; cpu.icount += {n}; cpu.cycles += CYCLES")
                e.emit(f"return cpu.call_pal({ins.fn}, {pc})")
                terminated = True
            elif kind == "rpcc":
                sync = True
                if ra != 31:
                    e.write(ra, f"cpu.read_pcc({prefix[k]})")
            # kind == "nop": barriers do nothing in a sequential machine
        e.close(n, closes)  # an if-converted body may end with the block
        e.depth = 1
        if not terminated:
            e.emit(e.sync())
            e.emit(f"return {(pc0 + 4 * n) & M64}")
        counters = ["    sk = 0; skc = 0"] if e.skips else []
        if loop:
            body = ["    it = 0", *counters, *e.prologue, "    while True:", *("    " + line for line in e.lines)]
            src = "def blk(r, rt, wt, lim):\n" + "\n".join(body) + "\n"
        else:
            src = "def blk(r, rt, wt):\n" + "\n".join([*counters, *e.prologue, *e.lines]) + "\n"
        ns = dict(self.ns)
        ns["I"] = tuple(consts)
        ns["CYCLES"] = prefix[-1]
        exec(compile(src, f"<block {pc0:#x}>", "exec"), ns)  # noqa: S102 - our own generated code
        block = Block(pc0, ns["blk"], n, prefix, sync, pal, loop, e.skips, src)
        block.insns = tuple(insns)
        block.chain = not (sync or loop) and all(i.op.kind in _CHAIN for i in insns)
        return block

    # --- regions (traces) -------------------------------------------------------------------

    def _hot(self, b: Block) -> None:
        """``b`` has been entered ``HOT`` times: follow the successors its
        profile (and its successors') saw most, within its page, and compile
        that path as a region headed by ``b``; then ``b`` runs plain."""
        b.heat = -1
        vpn = b.pc >> PAGE_SHIFT
        fid = self.active.get(vpn)
        page = self.code.get((vpn, fid)) if fid is not None else None
        if self.traces and fid is not None and page is not None and page.get(b.pc) is b:
            segs = [b]
            cur, loop = b, False
            regions = self.rcode.setdefault((vpn, fid), {})
            while cur.succ and len(segs) < MAX_SEGS:
                nxt = max(cur.succ, key=cur.succ.__getitem__)
                back = [i for i, g in enumerate(segs) if g.pc == nxt]
                if back and back[0] and nxt in regions:
                    # the path enters a loop that has its region already (an interpreter's
                    # handler going back to its dispatch): b's region runs up to that loop's head
                    break
                if back:  # the path closes a loop: the region is that loop, headed where it re-enters
                    segs, loop = segs[back[0] :], True
                    break
                nb = page.get(nxt)
                if nb is None or not nb.chain or nxt in self.cpu.stops or sum(g.n for g in segs) + nb.n > MAX_REGION:
                    break
                if any(g.pc < nb.pc + 4 * nb.n and nb.pc < g.pc + 4 * g.n for g in segs):
                    break  # overlapping blocks would give one PC two places in the pass
                segs.append(nb)
                cur = nb
            if (len(segs) > 1 or loop) and segs[0].pc not in regions:
                g = codecache.region(self, segs, loop, self.frames.get(fid, (None,))[0])  # or from the disk cache
                regions[g.pc] = g
                self._publish_region(g)
        self._publish(b)  # its profile stays: later regions through b follow it

    def _compile_region(self, segs: list[Block], loop: bool) -> Block:  # noqa: C901 - one branch per kind
        """One function for the blocks ``segs``, run in order while each
        leaves the way its profile saw (else a side exit writes back and
        returns); a ``loop`` region closes as a ``while`` bounded by the
        budget. It returns (next pc, instructions, cycles) so the run loop
        counts exactly; a slow path that may trap first publishes the
        completed passes (``cpu.iters``) and what the ifs skipped."""
        head = segs[0].pc
        np_ = sum(g.n for g in segs)
        prefix = [0]
        index: dict[int, int] = {}
        for g in segs:
            for k, ins in enumerate(g.insns):
                index[g.pc + 4 * k] = len(prefix) - 1
                prefix.append(prefix[-1] + isa.COST[ins.op.cost])
        cp = prefix[-1]
        skips = any(g.skips for g in segs)
        e = _Emitter(True, skips)
        if loop:  # registers written anywhere are live in locals from the second pass on
            for g in segs:
                e.keep_live(g.insns)
            for g in segs:
                e.loose |= _loose_dests(g.insns)
            e.depth = e.top = 2
        sk = " - sk" if skips else ""
        skc = " - skc" if skips else ""
        passes_n = "it * " + str(np_) + " + " if loop else ""
        passes_c = "it * " + str(cp) + " + " if loop else ""

        def leave(target: str, k: int) -> str:
            """Write back and return, ``k`` instructions of this pass done."""
            return f"{e.sync(final=True)}; return {target}, {passes_n}{k}{sk}, {passes_c}{prefix[k]}{skc}"

        consts: list[Insn] = []
        base = 0
        for j, g in enumerate(segs):
            insns = g.insns
            n = len(insns)
            follow = segs[j + 1].pc if j + 1 < len(segs) else (head if loop else None)
            hammocks = {k: k + insns[k].disp for k in range(n - 1) if self._is_hammock(insns, k)}
            closes: dict[int, int] = {}
            fuse, fused = _byte_loads(insns, hammocks)
            top = e.depth
            if not loop:  # load what this member reads on arrival: a side exit before it needs none of it
                for reg in sorted(_reads(insns, hammocks) - e.loaded):
                    e.emit(f"x{reg} = r[{reg}]")
                    e.loaded.add(reg)
            for k, ins in enumerate(insns):
                e.close(k, closes)
                if k in fused:
                    continue
                pc = g.pc + 4 * k
                nxt = (pc + 4) & M64
                op = ins.op
                kind = op.kind
                if k in hammocks:
                    e.hammock(insns, k, hammocks[k], g.prefix, closes)
                    continue
                if k in fuse:
                    _fused_load(e, ins, pc, consts, fuse[k])
                    continue
                if kind in _STRAIGHT:
                    _straight(e, ins, pc, consts, leave(str(nxt), base + k + 1))
                    continue
                if kind == "nop":
                    continue
                # the block's last instruction: stay on the path, or leave
                done = base + n
                if kind == "bcc":
                    cond = _expr(op.sem, a=e.reg(ins.ra))
                    target = (nxt + 4 * ins.disp) & M64
                    if follow == target:
                        stay, other = f"({cond})", str(nxt)
                    elif follow == nxt:
                        stay, other = f"not ({cond})", str(target)
                    else:
                        stay, other = "", f"{target} if {cond} else {nxt}"
                elif kind == "br":
                    if ins.ra != 31:
                        e.write(ins.ra, str(nxt))
                    target = (nxt + 4 * ins.disp) & M64
                    stay, other = ("True", "") if follow == target else ("", str(target))
                else:  # jmp: checked against the target seen
                    e.emit(f"t = {e.reg(ins.rb)} & {M64 & ~3}")
                    if ins.ra != 31:
                        e.write(ins.ra, str(nxt))
                    stay, other = (f"t == {follow}", "t") if follow is not None else ("", "t")
                self._stay(e, j == len(segs) - 1 and loop, stay, other, str(follow), leave, done)
            e.close(n, closes)
            if insns[-1].op.kind not in ("br", "bcc", "jmp"):  # ran off its end into the next block
                e.depth = top
                fall = (g.pc + 4 * n) & M64
                self._stay(e, j == len(segs) - 1 and loop, "True" if follow == fall else "", str(fall),
                           str(follow), leave, base + n)  # fmt: skip
            e.depth = top
            base += n
        counters = ["    sk = 0; skc = 0"] if skips else []
        if loop:
            body = ["    it = 0", *counters, *e.prologue, "    while True:", *e.lines]
        else:
            body = ["    it = 0", *counters, *e.prologue, *e.lines]
        src = "def region(r, rt, wt, lim):\n" + "\n".join(body) + "\n"
        ns = dict(self.ns)
        ns["I"] = tuple(consts)
        live = [True]
        ns["LIVE"] = live
        exec(compile(src, f"<region {head:#x}>", "exec"), ns)  # noqa: S102 - our own generated code
        region = Block(head, ns["region"], np_, prefix, False, False, loop, skips, src)
        region.index = index
        region.live = live
        return region

    @staticmethod
    def _stay(e: _Emitter, back: bool, stay: str, other: str, follow: str, leave: Any, done: int) -> None:
        """Emit a member's end: ``stay`` (a condition) keeps to the path; the
        last member of a loop region goes round again while the budget lasts."""
        if back:
            if stay == "True":
                e.emit("if it < lim: it += 1; continue")
                e.emit(leave(follow, done))
            else:
                e.emit(f"if {stay} and it < lim: it += 1; continue")
                e.emit(leave(f"{follow} if {stay} else {other}", done))
        elif stay == "True":
            pass
        elif stay:
            e.emit(f"if not ({stay}): {leave(other, done)}")
        else:
            e.emit(leave(other, done))

    def _native_hot(self, b: Block, published: dict[int, Any], icount: int) -> None:
        """``b`` has run ``NATIVE_HOT`` times: compile it natively (``icount``: the run loop's count, ahead of the CPU's)."""
        if self.native is None and icount < NATIVE_START:
            b.runs = 0  # too early to start the tier (native/__init__.py): count it again
            return
        from machine.alpha.native.tier import compile_hot  # wasmtime only once something is hot

        compile_hot(self, b, published)

    # --- running --------------------------------------------------------------------------

    def run(self, limit: int, climit: int = 1 << 63) -> None:
        """Run until icount reaches ``limit`` (exactly: whole blocks while
        they fit, then the interpreter for the tail), cycles reach ``climit``,
        a breakpoint or a CALL_PAL that ends the run. CPU.run sets up."""
        cpu = self.cpu
        while True:
            try:
                stopped = self._run(limit, climit)
                break
            except TbMiss:  # state is exact at the missing instruction: charge the refill, restart it
                cpu.cycles += TB_MISS_CYCLES
        if not stopped:
            cpu.interpret(limit, climit)

    def _run(self, limit: int, climit: int) -> bool:
        """Run whole blocks while they fit; True if stopped at a breakpoint
        or after a CALL_PAL that asks the run to end (``cpu.leave``)."""
        cpu = self.cpu
        blocks = self.blocks
        plain = self.plain
        regions = self.regions
        quick = self.quick
        stops = cpu.stops
        r, rt, wt = cpu.r, cpu.rtlb, cpu.wtlb
        icount, cycles, pc = cpu.icount, cpu.cycles, cpu.pc
        # `b` is the block being run: a block can invalidate itself (a store
        # into its own page), so the handlers below never look it up again.
        b: Block | None = None
        stopped = False
        try:
            while True:
                e = quick.get(pc)
                if e is not None:  # the hottest path: a region with nothing left to decide
                    fn, n, c, b = e
                    if icount + n <= limit and cycles + c <= climit:
                        pc, n, c = fn(r, rt, wt, 0)
                        icount += n
                        cycles += c
                        continue
                e = plain.get(pc)
                if e is not None:  # the hot path: a plain block, no bookkeeping
                    fn, n, c, b = e
                    if icount + n <= limit and cycles + c <= climit:
                        pc = fn(r, rt, wt)
                        icount += n
                        cycles += c
                        continue
                    b = None
                    break
                g = regions.get(pc)
                if g is not None:  # a region, if one whole pass fits (else its head alone)
                    fn, n, c, b = g
                    if b.native is not None and not stops:
                        cpu.pc, cpu.icount, cpu.cycles = pc, icount, cycles
                        b = None
                        try:
                            moved = g[3].native.enter(limit, climit)
                        finally:
                            pc, icount, cycles = cpu.pc, cpu.icount, cpu.cycles
                        if moved:
                            continue
                        b = g[3]
                    elif b.runs < NATIVE_HOT and self._native_on:
                        b.runs += 1
                        if b.runs == NATIVE_HOT:
                            self._native_hot(b, regions, icount)
                            if b.native is not None and not stops:
                                continue  # nothing of it ran yet: enter it natively
                    if icount + n <= limit and cycles + c <= climit:
                        if b.loop:  # passes after the first that fit the budget
                            more = min((limit - icount) // n, (climit - cycles) // c) - 1
                            if b.runs < NATIVE_HOT and self._native_on:  # back here once it is hot (lim is only a cap)
                                more = min(more, NATIVE_HOT - 1 - b.runs)
                            pc, n, c = fn(r, rt, wt, more)
                            if b.runs < NATIVE_HOT - 1:  # a long loop entered rarely is hot too
                                b.runs = min(b.runs + n // g[1] - 1, NATIVE_HOT - 1)
                        else:
                            if b.native is None and (b.runs >= NATIVE_HOT or not self._native_on) and not stops:
                                quick[pc] = g  # from now on found first
                            pc, n, c = fn(r, rt, wt, 0)
                        icount += n
                        cycles += c
                        continue
                b = None
                if stops and pc in stops:
                    stopped = True
                    break
                b = blocks.get(pc)
                if b is None:
                    if icount >= limit or cycles >= climit:  # the interpreter would not fetch it (nor fault) either
                        break
                    cpu.pc, cpu.icount, cpu.cycles = pc, icount, cycles
                    b = self.lookup(pc)
                    if pc in regions:  # published with its page just now: run as the region
                        continue
                if icount + b.n > limit or cycles + b.cost > climit:
                    b = None
                    break
                if b.heat >= 0:  # profiled: count the entry and where it went
                    cpu.skipped = cpu.skipc = 0
                    pc = b.fn(r, rt, wt)
                    icount += b.n - cpu.skipped
                    cycles += b.cost - cpu.skipc
                    b.succ[pc] = b.succ.get(pc, 0) + 1
                    b.heat += 1
                    if b.heat >= HOT:
                        self._hot(b)
                    continue
                if b.loop and self._native_on:
                    if b.native is not None and not stops:
                        cpu.pc, cpu.icount, cpu.cycles = pc, icount, cycles
                        owner, b = b, None
                        try:
                            moved = owner.native.enter(limit, climit)
                        finally:
                            pc, icount, cycles = cpu.pc, cpu.icount, cpu.cycles
                        if moved:
                            continue
                        b = owner
                        if icount + b.n > limit or cycles + b.cost > climit:
                            b = None
                            break
                    elif b.runs < NATIVE_HOT:
                        b.runs += 1
                        if b.runs == NATIVE_HOT:
                            self._native_hot(b, blocks, icount)
                            if b.native is not None and not stops:
                                continue  # nothing of it ran yet: enter it natively
                if b.loop or b.skips:
                    cpu.iters = 1
                    cpu.skipped = cpu.skipc = 0
                    if b.sync:
                        cpu.icount, cpu.cycles = icount, cycles
                    if b.loop:
                        iters = min((limit - icount) // b.n, (climit - cycles) // max(b.cost, 1))
                        if b.runs < NATIVE_HOT and self._native_on:  # back here once it is hot (lim is only a cap)
                            iters = min(iters, max(NATIVE_HOT - b.runs, 1))
                        pc = b.fn(r, rt, wt, iters - 1)
                    else:
                        pc = b.fn(r, rt, wt)
                    if b.pal:
                        icount, cycles = cpu.icount - cpu.skipped, cpu.cycles - cpu.skipc
                        if cpu.leave:
                            stopped = True
                            break
                    else:
                        icount += b.n * cpu.iters - cpu.skipped
                        cycles += b.cost * cpu.iters - cpu.skipc
                    if b.loop and b.runs < NATIVE_HOT - 1:  # iterations count towards hot, as entries do
                        b.runs = min(b.runs + cpu.iters - 1, NATIVE_HOT - 1)
                    continue
                if b.sync:
                    cpu.icount, cpu.cycles = icount, cycles
                    pc = b.fn(r, rt, wt)
                    if b.pal:
                        icount, cycles = cpu.icount, cpu.cycles
                        if cpu.leave:
                            stopped = True
                            break
                        continue
                else:
                    pc = b.fn(r, rt, wt)
                icount += b.n
                cycles += b.cost
        except Trap as t:
            if b is None:  # raised by the lookup, before any block of this round ran
                icount, cycles = cpu.icount, cpu.cycles
            elif b.index is not None:  # a region: passes done, then this pass's part
                k = b.index[t.pc]
                icount += b.n * cpu.iters + k
                cycles += b.cost * cpu.iters + b.prefix[k]
                if b.skips:
                    icount -= cpu.skipped
                    cycles -= cpu.skipc
            elif b.pc <= t.pc < b.pc + 4 * b.n:
                k = (t.pc - b.pc) >> 2
                if b.loop:  # whole iterations before the trapping one
                    icount += b.n * cpu.iters
                    cycles += b.cost * cpu.iters
                if b.skips:
                    icount -= cpu.skipped
                    cycles -= cpu.skipc
                icount += k
                cycles += b.prefix[k]
            cpu.icount, cpu.cycles, cpu.pc = icount, cycles, t.pc
            raise
        except BaseException:
            if b is None or not b.pal:
                cpu.icount, cpu.cycles = icount, cycles
            elif b.skips:
                cpu.icount -= cpu.skipped
                cpu.cycles -= cpu.skipc
            raise
        cpu.icount, cpu.cycles, cpu.pc = icount, cycles, pc
        return stopped


__all__ = ["Block", "Halt", "IllegalInstruction", "Translator"]
