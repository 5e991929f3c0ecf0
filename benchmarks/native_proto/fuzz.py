"""A small differential fuzz of the lowering: random code, native backend vs the interpreter.

    python benchmarks/native_proto/fuzz.py [--seqs N] [--len K] [--seed S] [--backend NAME]

Each case is K random instructions drawn from every row region.py lowers
(integer operate with register or literal operands, byte ops, cmov, lda/ldah,
loads and stores into two data pages at aligned and unaligned addresses, short
forward branches) followed by a branch out, from a random register file. Both
sides start from identical state; the reference is ``CPU.step`` (the
interpreter) until the code is left or an access is unaligned; the native side
is the region run as the tier runs it (TB refills from Python, the rest of a
block after a mid-block exit in the interpreter). Registers, pc, icount,
cycles, the data pages and how it stopped must agree. A prototype of the plan
in docs/native-tier.md, not the 100,000-word fuzz itself.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

import region  # noqa: E402
from shared import TBMISS_R, TBMISS_W, UNALIGNED, ArenaPages  # noqa: E402

from machine.alpha import isa  # noqa: E402
from machine.alpha.cpu import CPU  # noqa: E402
from machine.alpha.decode import decode  # noqa: E402
from machine.alpha.disasm import disasm_word  # noqa: E402
from machine.alpha.traps import MemoryTrap, Unaligned  # noqa: E402
from machine.usermode import PROT_EXEC, PROT_READ, PROT_WRITE, UserPages  # noqa: E402

CODE, DATA = 0x200000, 0x400000  # one code page; two data pages
BASE = 9  # r9 points into the data pages and is never written
REGS = [1, 2, 3, 4, 5, 6, 7, 8, 31]
EDGE = [0, 1, 2, 7, 8, 63, 64, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 63, (1 << 64) - 1, (1 << 63) - 1]


def _opr(op: isa.Op, ra: int, rb: int | None, lit: int, rc: int) -> int:
    w = op.opcode << 26 | ra << 21 | op.func << 5 | rc
    return w | (lit << 13 | 1 << 12 if rb is None else rb << 16)


def _lowered_ops() -> list[isa.Op]:
    out = []
    for op in isa.TABLE:
        if op.fmt != isa.OPR or op.feature or op.kind not in ("alu", "cmov"):
            continue
        ins = decode(_opr(op, 1, None, 3, 2))
        if ins is not None and region._lowerable(ins):
            out.append(op)
    return out


OPS = _lowered_ops()
MEMOPS = [isa.BY_NAME[n] for n in ("ldq", "ldl", "ldq_u", "stq", "stl", "stq_u", "lda", "ldah")]
BCC = [op for op in isa.TABLE if op.kind == "bcc"]
STEPPED = [0]  # instructions the native side left to the interpreter


def gen(rng: random.Random, k: int) -> list[int]:
    words: list[int] = []
    while len(words) < k:
        x = rng.random()
        ra, rc = rng.choice(REGS), rng.choice(REGS[:-1])
        if x < 0.6:
            op = rng.choice(OPS)
            lit = rng.choice([rng.randrange(256), rng.choice([0, 1, 7, 8, 31, 32, 63, 255])])
            rb = None if rng.random() < 0.4 else rng.choice(REGS)
            words.append(_opr(op, ra, rb, lit, rc))
        elif x < 0.9:
            op = rng.choice(MEMOPS)
            if op.kind == "lda":
                d = rng.randrange(-0x8000, 0x8000)
                words.append(op.opcode << 26 | rc << 21 | rng.choice(REGS) << 16 | d & 0xFFFF)
            else:
                top = 0x4100 if rng.random() < 0.03 else 0x3F00  # now and then past the data: a fault
                d = rng.randrange(0, top) & ~(7 if rng.random() < 0.9 else 0) & ~(3 if rng.random() < 0.9 else 0)
                dest = rc if op.kind in ("ld", "ldu") else ra
                words.append(op.opcode << 26 | dest << 21 | BASE << 16 | d & 0xFFFF)
        elif k - len(words) > 2:
            op = rng.choice(BCC)
            words.append(op.opcode << 26 | ra << 21 | rng.randrange(0, min(4, k - len(words) - 1)))
    words.append(isa.BY_NAME["br"].opcode << 26 | 31 << 21 | 0x100)  # out of the code
    return words


class _NoPal:
    def call_pal(self, cpu: CPU, fn: int, pc: int) -> int:
        raise AssertionError("no CALL_PAL in fuzz code")


def machine(space: UserPages, words: list[int], data: bytes, r: list[int]) -> CPU:
    space.map(CODE, 8192, PROT_READ | PROT_EXEC)
    space.map(DATA, 16384, PROT_READ | PROT_WRITE)
    code = b"".join(w.to_bytes(4, "little") for w in words)
    space.write_bulk(CODE, code)
    space.write_bulk(DATA, data)
    cpu = CPU(space, _NoPal(), "ev4")
    cpu.r[:] = r
    cpu.pc = CODE
    return cpu


def _step(cpu: CPU) -> str | None:
    """One reference step: None, or how the run stopped (a trap)."""
    try:
        cpu.step()
    except Unaligned:
        return f"unaligned at {cpu.pc:#x}"
    except MemoryTrap as t:
        return f"fault at {t.pc:#x}"
    return None


def reference(cpu: CPU, end: int) -> str:
    while CODE <= cpu.pc < end:
        why = _step(cpu)
        if why is not None:
            return why
    return "left"


def native(c: Any, cpu: CPU, space: ArenaPages, reg: region.Region, end: int) -> str:
    sh = c.shared
    starts = {b.pc for b in reg.blocks}
    writable = {v for v, p in space.prot.items() if p & PROT_WRITE}
    while True:
        sh.set_cpu(cpu.r, cpu.pc, cpu.icount, cpu.cycles, 1 << 40, (1 << 63) - 1)
        code = c.call()
        r, cpu.pc, cpu.icount, cpu.cycles = sh.cpu()
        cpu.r[:] = r
        if code in (TBMISS_R, TBMISS_W):
            sh.fill(code, writable)
        elif code == UNALIGNED:
            return f"unaligned at {cpu.pc:#x}"
        elif not CODE <= cpu.pc < end:
            return "left"
        first = code not in (TBMISS_R, TBMISS_W)  # left native code at an instruction it does not lower
        while CODE <= cpu.pc < end and (first or cpu.pc not in starts):
            first = False
            STEPPED[0] += 1
            why = _step(cpu)
            if why is not None:
                return why


def state(cpu: CPU, space: UserPages, why: str) -> tuple[Any, ...]:
    return (list(cpu.r), cpu.pc, cpu.icount, cpu.cycles, space.read_bulk(DATA, 16384), why)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seqs", type=int, default=300)
    ap.add_argument("--len", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--backend", choices=["wasmtime", "llvmlite"], default="wasmtime")
    args = ap.parse_args()
    try:
        __import__(args.backend)
    except ImportError:
        sys.exit(f"{args.backend} is not installed (pip install {args.backend})")
    mod = __import__({"wasmtime": "wasm_backend", "llvmlite": "llvm_backend"}[args.backend])
    rng = random.Random(args.seed)
    bad = ran = 0
    for case in range(args.seqs):
        words = gen(rng, args.len)
        end = CODE + 4 * len(words)
        r = [rng.choice([rng.getrandbits(64), rng.choice(EDGE), rng.getrandbits(8)]) for _ in range(32)]
        r[BASE] = DATA + 8 * rng.randrange(0, 16)
        r[31] = 0
        data = rng.randbytes(16384)
        ref_space = UserPages()
        ref = machine(ref_space, words, data, r)
        want = state(ref, ref_space, reference(ref, end))
        cpu = machine(UserPages(), words, data, r)
        reg = region.build(cpu, CODE, CODE, end)
        c = mod.Compiled(reg)
        if args.verbose:
            print(f"case {case}", flush=True)
            Path("/tmp/h22case.txt").write_text(
                getattr(c, "wat", "") + "\n".join(disasm_word(w, CODE + 4 * k) for k, w in enumerate(words))
            )
        space = ArenaPages(c.shared, cpu.memory)  # the frames move into the backend's buffer
        cpu.memory = space
        cpu.flush_tlb()
        got = state(cpu, space, native(c, cpu, space, reg, end))
        ran += cpu.icount
        if got != want:
            bad += 1
            names = ("registers", "pc", "icount", "cycles", "memory", "stop")
            diff = [n for n, a, b in zip(names, got, want, strict=True) if a != b]
            print(f"case {case}: differs in {', '.join(diff)} (native {got[5]}, interpreter {want[5]})")
            if bad <= 3:
                for k, w in enumerate(words):
                    print(f"    {CODE + 4 * k:#x}  {disasm_word(w, CODE + 4 * k)}")
                if "registers" in diff:
                    print("    regs differ at", [i for i in range(32) if got[0][i] != want[0][i]])
    print(f"{args.backend}: {args.seqs} random sequences of {args.len}, {ran} instructions executed,"
          f" {ran - STEPPED[0]} of them in native code; {bad} differ")  # fmt: skip
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
