"""The Python translator on general code: MIPS per corpus program, and instructions per dispatch (one call of a compiled block; a self-loop's whole run is one call).

`spinwb bench cpu` runs one program whose time is 98% in one self-loop; these five are what
issue 22 calls general code (a sort, a CRC, byte strings, a sieve, a matrix product). Each
round is a fresh process (so translation is counted, as a user sees it); "run MIPS" leaves
out the host time spent translating blocks and compiling regions, which is what the run loop
and the generated code cost.
Instructions per dynamic block come from one extra round with every compiled function
wrapped in a counter (that round is not timed). Host time is measured here only (a benchmark), as this process's CPU time: the machine
is shared, and wall time would count the time other processes held the cores.

    python -m benchmarks.cpu_general [--seconds 1.5] [--only sort,crc]
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path
from typing import Any

from machine.alpha import translate
from machine.elf import read_elf
from machine.usermode import UserProgram

PROGRAMS = Path(__file__).resolve().parents[1] / "scenarios" / "programs" / "bin"
NAMES = ("sort", "crc", "bytes", "sieve", "matrix")


def _timed_round(image: Any, argv: list[str]) -> tuple[int, float, float]:
    """One run: (instructions, host seconds, of which translating)."""
    spent = [0.0]
    tr = translate.Translator
    orig = tr.translate

    def timed(self: Any, pc: int) -> Any:
        t = time.process_time()
        try:
            return orig(self, pc)
        finally:
            spent[0] += time.process_time() - t

    orig_region = getattr(tr, "_compile_region", None)

    def timed_region(self: Any, *a: Any) -> Any:
        t = time.process_time()
        try:
            return orig_region(self, *a)  # type: ignore[misc]
        finally:
            spent[0] += time.process_time() - t

    tr.translate = timed  # type: ignore[method-assign]
    if orig_region is not None:
        tr._compile_region = timed_region  # type: ignore[method-assign]
    try:
        proc = UserProgram(image, argv, stdout=io.BytesIO(), translate=True)
        t0 = time.process_time()
        proc.run()
        dt = time.process_time() - t0
    finally:
        tr.translate = orig  # type: ignore[method-assign]
        if orig_region is not None:
            tr._compile_region = orig_region  # type: ignore[method-assign]
    return proc.cpu.icount, dt, spent[0]


def _count(b: Any, calls: list[int]) -> Any:
    """``b`` with its function wrapped to count its calls."""
    fn = b.fn

    def wrapped(*args: Any) -> Any:
        calls[0] += 1
        return fn(*args)

    b.fn = wrapped
    return b


def _dispatches(image: Any, argv: list[str]) -> tuple[int, int]:
    """(instructions, compiled-function calls) over one run with counting wrappers."""
    calls = [0]
    tr = translate.Translator
    orig = tr._compile

    def counted(self: Any, *a: Any, **k: Any) -> Any:
        return _count(orig(self, *a, **k), calls)

    orig_region = getattr(tr, "_compile_region", None)
    tr._compile = counted  # type: ignore[method-assign]
    if orig_region is not None:  # regions (traces), where the translator has them
        tr._compile_region = lambda self, *a: _count(orig_region(self, *a), calls)  # type: ignore[method-assign]
    try:
        proc = UserProgram(image, argv, stdout=io.BytesIO(), translate=True)
        proc.run()
    finally:
        tr._compile = orig  # type: ignore[method-assign]
        if orig_region is not None:
            tr._compile_region = orig_region  # type: ignore[method-assign]
    return proc.cpu.icount, calls[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.5, help="host seconds per program, at least (default 1.5)")
    ap.add_argument("--only", default=",".join(NAMES), help="comma-separated program names")
    args = ap.parse_args()
    print(f"{'program':<8} {'rounds':>6} {'instructions':>13} {'MIPS':>7} {'run MIPS':>9} {'insn/call':>10}")
    for name in args.only.split(","):
        path = PROGRAMS / f"{name}-ev4.elf"
        image = read_elf(path)
        argv = [str(path)]
        n = rounds = 0
        total = trans = 0.0
        while total < args.seconds or rounds < 2:
            i, dt, tt = _timed_round(image, argv)
            n, total, trans, rounds = n + i, total + dt, trans + tt, rounds + 1
        icount, calls = _dispatches(image, argv)
        print(f"{name:<8} {rounds:>6} {n:>13,} {n / total / 1e6:>7.2f} {n / (total - trans) / 1e6:>9.2f} "
              f"{icount / max(calls, 1):>10.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
