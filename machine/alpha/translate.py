"""Basic-block translator: Alpha code to Python functions, cached per page.

A block is a straight run of instructions ending at a branch, jump or
CALL_PAL, before an undecodable word, at a page end, or after ``MAX_BLOCK``
instructions. Its Python source keeps registers in locals (``x5`` for $5)
and writes them back at the exit, or just before a slow path that can trap,
so a trap always sees exact architectural state. Integer operate, address,
load/store and control instructions are generated from the table's templates
with the memory fast path inlined (one dict probe on the host page cache);
everything else calls ``CPU.execute`` for that one instruction, so the
reference interpreter's semantics are the only ones.

Blocks are keyed by virtual PC and remembered per page; ``invalidate_page``
(the CPU calls it on the first store to a page after translation) and
``flush`` (IMB, TLB flush) drop them.
"""

from __future__ import annotations

import ast
import struct
from typing import Any

from machine.alpha import isa
from machine.alpha.constants import M64, PAGE_MASK, PAGE_SHIFT
from machine.alpha.decode import Insn, decode
from machine.alpha.semantics import namespace, substitute
from machine.alpha.traps import ArithmeticTrap, Halt, IllegalInstruction, Trap, Unaligned

MAX_BLOCK = 64
_INLINE = {"alu", "cmov", "trapv", "lda", "ld", "ldu", "st", "stu", "br", "bcc", "jmp", "pal", "nop", "rpcc"}
_TERMINAL = {"br", "bcc", "fbcc", "jmp", "pal"}
_LOAD = {1: "U1", 2: "U2", 4: "U4", 8: "U8"}
_STORE = {1: "P1", 2: "P2", 4: "P4", 8: "P8"}
_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFF_FFFF, 8: M64}


# Byte-manipulation ops as shift/mask expressions (alpha-machine.md §2
# formulas with zapnot folded into a byte mask bm; s = 8 * (Rb & 7)).
_BYTE_OPS = {
    "extl": "(({a}) >> {s}) & {bm}",
    "exth": "(({a}) << ((64 - {s}) & 63)) & {bm}",
    "insl": "((({a}) & {bm}) << {s}) & {M}",
    "insh": "(({a}) & {bm}) >> (64 - {s})",
    "mskl": "({a}) & ({M} ^ (({bm} << {s}) & {M}))",
    "mskh": "({a}) & ({M} ^ (({bm} << {s}) >> 64))",
}


class _Inline(ast.NodeTransformer):
    """Inline the hottest helpers so generated code avoids Python calls."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and len(node.args) == 1 and node.func.id == "sextl":
            x = ast.unparse(node.args[0])
            return ast.parse(f"((({x}) & 0xFFFFFFFF ^ 0x80000000) - 0x80000000) & {M64}", mode="eval").body
        if isinstance(node.func, ast.Name) and len(node.args) == 3 and node.func.id in _BYTE_OPS:
            a, b = (ast.unparse(x) for x in node.args[:2])
            m = ast.literal_eval(node.args[2])
            bm = sum(0xFF << (8 * i) for i in range(8) if (m >> i) & 1)
            src = _BYTE_OPS[node.func.id].format(a=a, s=f"((({b}) & 7) << 3)", bm=bm, M=M64)
            return ast.parse(src, mode="eval").body
        if isinstance(node.func, ast.Name) and len(node.args) == 2 and node.func.id == "sra":
            a, b = (ast.unparse(x) for x in node.args)
            src = f"(((({a}) ^ {1 << 63}) - {1 << 63}) >> (({b}) & 63)) & {M64}"
            return ast.parse(src, mode="eval").body
        if isinstance(node.func, ast.Name) and len(node.args) == 2 and node.func.id == "zapnot" and isinstance(node.args[1], ast.Constant):
            k = node.args[1].value & 0xFF
            bm = sum(0xFF << (8 * i) for i in range(8) if (k >> i) & 1)
            return ast.parse(f"({ast.unparse(node.args[0])}) & {bm}", mode="eval").body
        if isinstance(node.func, ast.Name) and len(node.args) == 2 and node.func.id in ("cmplt", "cmple"):
            a, b = (ast.unparse(x) for x in node.args)
            rel = "<" if node.func.id == "cmplt" else "<="
            return ast.parse(f"int((({a}) ^ {1 << 63}) {rel} (({b}) ^ {1 << 63}))", mode="eval").body
        return node


def _expr(template: str, **names: str) -> str:
    src = substitute(template, **names)
    tree = _Inline().visit(ast.parse(src, mode="eval"))
    return ast.unparse(tree).replace(" M", f" {M64}").replace("(M", f"({M64}")


class Block:
    __slots__ = ("pc", "fn", "n", "cost", "prefix", "sync", "pal", "loop", "source")

    def __init__(self, pc: int, fn: Any, n: int, prefix: list[int], sync: bool, pal: bool, loop: bool,
                 source: str) -> None:  # fmt: skip
        self.pc = pc
        self.fn = fn
        self.n = n
        self.prefix = prefix  # cycles before instruction k
        self.cost = prefix[-1]
        self.sync = sync  # counters must be in the CPU while it runs
        self.pal = pal  # ends in CALL_PAL, which updates the counters itself
        self.loop = loop  # branches back to its own start: runs as a while loop
        self.source = source


class _Emitter:
    def __init__(self) -> None:
        self.prologue: list[str] = []  # loads hoisted above a self-loop
        self.lines: list[str] = []
        self.loaded: set[int] = set()
        self.dirty: set[int] = set()
        self.forgotten = False  # after a call into the interpreter, loads stay in place
        self.loop = False

    def reg(self, n: int) -> str:
        if n == 31:
            return "0"
        if n not in self.loaded:
            (self.lines if self.forgotten else self.prologue).append(f"    x{n} = r[{n}]")
            self.loaded.add(n)
        return f"x{n}"

    def write(self, n: int, expr: str) -> None:
        self.lines.append(f"    x{n} = {expr}")
        self.loaded.add(n)
        self.dirty.add(n)

    def sync(self) -> str:
        """Write-back before leaving the block or a slow path that may trap;
        in a loop, also publish the iteration count for the trap handler."""
        parts = [f"r[{n}] = x{n}" for n in sorted(self.dirty)]
        if self.loop:
            parts.append("cpu.iters = it")
        return "; ".join(parts) or "pass"

    def forget(self) -> None:
        self.loaded.clear()
        self.dirty.clear()
        self.forgotten = True


class Translator:
    def __init__(self, cpu: Any) -> None:
        self.cpu = cpu
        self.blocks: dict[int, Block] = {}
        self.plain: dict[int, tuple[Any, int, int]] = {}  # pc -> (fn, n, cycles) for the common case
        self.pages: dict[int, list[int]] = {}
        self.ns = namespace(cpu.model)
        self.ns.update(
            cpu=cpu, Unaligned=Unaligned, ArithmeticTrap=ArithmeticTrap,
            U1=struct.Struct("<B").unpack_from, U2=struct.Struct("<H").unpack_from,
            U4=struct.Struct("<I").unpack_from, U8=struct.Struct("<Q").unpack_from,
            P1=struct.Struct("<B").pack_into, P2=struct.Struct("<H").pack_into,
            P4=struct.Struct("<I").pack_into, P8=struct.Struct("<Q").pack_into,
        )  # fmt: skip
        self.translated = 0

    # --- cache maintenance ----------------------------------------------------------

    def flush(self) -> None:
        self.blocks.clear()
        self.plain.clear()
        self.pages.clear()
        self.cpu.wtlb.clear()

    def invalidate_page(self, vpn: int) -> None:
        for pc in self.pages.pop(vpn, ()):
            self.blocks.pop(pc, None)
            self.plain.pop(pc, None)

    # --- translation -------------------------------------------------------------------

    def translate(self, pc: int) -> Block:
        cpu = self.cpu
        insns: list[Insn] = [cpu.decode_at(pc)]  # raises the trap for a bad first word
        page_end = (pc | PAGE_MASK) + 1
        while insns[-1].op.kind not in _TERMINAL and len(insns) < MAX_BLOCK:
            nxt = pc + 4 * len(insns)
            if nxt >= page_end:
                break
            ins = decode(cpu.fetch(nxt))
            if ins is None or (ins.op.feature and not cpu.features & ins.op.feature):
                break
            insns.append(ins)
        block = self._compile(pc, insns)
        self.blocks[pc] = block
        if not (block.sync or block.loop):
            self.plain[pc] = (block.fn, block.n, block.cost)
        vpn = pc >> PAGE_SHIFT
        self.pages.setdefault(vpn, []).append(pc)
        cpu.wtlb.pop(vpn, None)  # the next store to this page must invalidate
        self.translated += 1
        return block

    def _compile(self, pc0: int, insns: list[Insn]) -> Block:
        e = _Emitter()
        last = insns[-1]
        e.loop = last.op.kind == "bcc" and pc0 + 4 * len(insns) + 4 * last.disp == pc0 and all(
            i.op.kind in _INLINE and i.op.kind != "rpcc" for i in insns
        )
        prefix = [0]
        consts: list[Insn] = []
        sync = pal = False
        terminated = False
        for k, ins in enumerate(insns):
            pc = pc0 + 4 * k
            nxt = (pc + 4) & M64
            op = ins.op
            kind = op.kind
            ra, rb, rc = ins.ra, ins.rb, ins.rc
            if kind not in _INLINE:
                consts.append(ins)
                e.lines.append(f"    {e.sync()}")
                if kind in _TERMINAL:  # fbcc: the interpreter picks the next PC
                    e.lines.append(f"    return cpu.execute(I[{len(consts) - 1}], {pc})")
                    terminated = True
                else:
                    e.lines.append(f"    cpu.execute(I[{len(consts) - 1}], {pc})")
                    e.forget()
            elif kind in ("alu", "cmov", "trapv"):
                a = e.reg(ra)
                b = str(ins.lit) if ins.is_lit else e.reg(rb)
                if kind == "alu":
                    if rc != 31:
                        e.write(rc, _expr(op.sem, a=a, b=b))
                elif kind == "cmov":
                    if rc != 31:
                        e.reg(rc)
                        e.lines.append(f"    if {_expr(op.sem, a=a, b=b)}: x{rc} = {b}")
                        e.dirty.add(rc)
                else:
                    e.lines.append(f"    t = {_expr(op.sem, a=a, b=b)}")
                    e.lines.append(f"    if t is None: {e.sync()}; raise ArithmeticTrap({pc}, 64, {1 << rc})")
                    if rc != 31:
                        e.write(rc, "t")
            elif kind == "lda":
                if ra != 31:
                    e.write(ra, _expr(op.sem, b=e.reg(rb), d=str(ins.disp)))
            elif kind in ("ld", "ldu"):
                if ra == 31:
                    pass  # prefetch: no access, no fault
                else:
                    w = op.width
                    addr = f"({e.reg(rb)} + {ins.disp}) & {M64 & ~7 if kind == 'ldu' else M64}"
                    e.lines.append(f"    a = {addr}")
                    e.lines.append("    p = rt.get(a >> 13)")
                    check = "p is None" if (w == 1 or kind == "ldu") else f"p is None or a & {w - 1}"
                    consts.append(ins)
                    e.lines.append(f"    if {check}: {e.sync()}; v = cpu.slow_load(I[{len(consts) - 1}], a, {pc})")
                    e.lines.append(f"    else: v = {_LOAD[w]}(p, a & 8191)[0]")
                    e.write(ra, _expr(op.sem, v="v"))
            elif kind in ("st", "stu"):
                w = op.width
                val = e.reg(ra)
                if w < 8 and val != "0":
                    val = f"{val} & {_MASK[w]}"
                addr = f"({e.reg(rb)} + {ins.disp}) & {M64 & ~7 if kind == 'stu' else M64}"
                e.lines.append(f"    a = {addr}")
                e.lines.append("    p = wt.get(a >> 13)")
                check = "p is None" if (w == 1 or kind == "stu") else f"p is None or a & {w - 1}"
                consts.append(ins)
                e.lines.append(f"    if {check}: {e.sync()}; cpu.slow_store(I[{len(consts) - 1}], a, {val}, {pc})")
                e.lines.append(f"    else: {_STORE[w]}(p, a & 8191, {val})")
            elif kind in ("br", "bcc"):
                cond = _expr(op.sem, a=e.reg(ra))
                target = (nxt + 4 * ins.disp) & M64
                if e.loop:  # registers stay in locals until the loop exits
                    e.lines.append(f"    if {cond} and it < lim: it += 1; continue")
                    e.loop = False  # the write-back below must not publish `it`
                    e.lines.append(f"    {e.sync()}")
                    e.lines.append("    cpu.iters = it + 1")
                    e.lines.append(f"    return {target} if {cond} else {nxt}")
                    e.loop = True
                    terminated = True
                    prefix.append(prefix[-1] + isa.COST[op.cost])
                    break
                e.lines.append(f"    {e.sync()}")
                if kind == "br":
                    if ra != 31:
                        e.lines.append(f"    r[{ra}] = {nxt}")
                    e.lines.append(f"    return {target}")
                else:
                    e.lines.append(f"    if {cond}: return {target}")
                    e.lines.append(f"    return {nxt}")
                terminated = True
            elif kind == "jmp":
                e.lines.append(f"    t = {e.reg(rb)} & {M64 & ~3}")
                e.lines.append(f"    {e.sync()}")
                if ra != 31:
                    e.lines.append(f"    r[{ra}] = {nxt}")
                e.lines.append("    return t")
                terminated = True
            elif kind == "pal":
                sync = pal = True
                e.lines.append(f"    {e.sync()}")
                e.lines.append(f"    cpu.pc = {nxt}; cpu.icount += {len(insns)}; cpu.cycles += CYCLES")
                e.lines.append(f"    return cpu.call_pal({ins.fn}, {pc})")
                terminated = True
            elif kind == "rpcc":
                sync = True
                if ra != 31:
                    e.write(ra, f"cpu.read_pcc({prefix[-1]})")
            # kind == "nop": barriers do nothing in a sequential machine
            prefix.append(prefix[-1] + isa.COST[op.cost])
        if not terminated:
            e.lines.append(f"    {e.sync()}")
            e.lines.append(f"    return {(pc0 + 4 * len(insns)) & M64}")
        body = [line for line in e.lines if line.strip() != "pass"]
        if e.loop:
            # registers live in locals across iterations; written back on exit
            body = ["    it = 0", *e.prologue, "    while True:", *("    " + line for line in body)]
            src = "def blk(r, rt, wt, lim):\n" + "\n".join(body) + "\n"
        else:
            src = "def blk(r, rt, wt):\n" + "\n".join([*e.prologue, *body]) + "\n"
        ns = dict(self.ns)
        ns["I"] = tuple(consts)
        ns["CYCLES"] = prefix[-1]
        exec(compile(src, f"<block {pc0:#x}>", "exec"), ns)  # noqa: S102 - our own generated code
        return Block(pc0, ns["blk"], len(insns), prefix, sync, pal, e.loop, src)

    # --- running --------------------------------------------------------------------------

    def run(self, budget: int) -> int:
        cpu = self.cpu
        blocks = self.blocks
        plain = self.plain
        r, rt, wt = cpu.r, cpu.rtlb, cpu.wtlb
        start = cpu.icount
        limit = start + budget
        icount, cycles, pc = cpu.icount, cpu.cycles, cpu.pc
        b: Block | None = None
        cur = pc
        try:
            while True:
                e = plain.get(pc)
                if e is not None:  # the hot path: a plain block, no bookkeeping
                    fn, n, c = e
                    if icount + n <= limit:
                        cur = pc
                        pc = fn(r, rt, wt)
                        icount += n
                        cycles += c
                        continue
                    break
                cur = pc
                b = blocks.get(pc)
                if b is None:
                    cpu.pc = pc
                    b = self.translate(pc)
                if icount + b.n > limit:
                    b = None
                    break
                if b.loop:
                    cpu.iters = 0
                    pc = b.fn(r, rt, wt, (limit - icount) // b.n - 1)
                    icount += b.n * cpu.iters
                    cycles += b.cost * cpu.iters
                    continue
                if b.sync:
                    cpu.icount, cpu.cycles = icount, cycles
                    pc = b.fn(r, rt, wt)
                    if b.pal:
                        icount, cycles = cpu.icount, cpu.cycles
                        continue
                else:
                    pc = b.fn(r, rt, wt)
                icount += b.n
                cycles += b.cost
        except Trap as t:
            b = blocks.get(cur)
            if b is not None and b.pc <= t.pc < b.pc + 4 * b.n:
                k = (t.pc - b.pc) >> 2
                if b.loop:  # whole iterations before the trapping one
                    icount += b.n * cpu.iters
                    cycles += b.cost * cpu.iters
                icount += k
                cycles += b.prefix[k]
            cpu.icount, cpu.cycles, cpu.pc = icount, cycles, t.pc
            raise
        except BaseException:
            b = blocks.get(cur)
            if b is None or not b.pal:
                cpu.icount, cpu.cycles = icount, cycles
            raise
        cpu.icount, cpu.cycles, cpu.pc = icount, cycles, pc
        while cpu.icount < limit:  # exact tail of the budget
            cpu.step()
        return cpu.icount - start


__all__ = ["Block", "Halt", "IllegalInstruction", "Translator"]
