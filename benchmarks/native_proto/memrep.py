"""What the memory representation the native tier needs costs the Python translator.

Native code needs guest frames in one flat byte buffer; today a frame is a
Python list of 1,024 ints. Python can see a flat buffer's frame as
``memoryview(buf)[off:off + 8192].cast("Q")``, which the translator's
generated ``p[(a & 8191) >> 3]`` indexes unchanged. Two measurements:

1. timeit of the translator's own fast-path statements (ldq, ldl, stq, stl as
   translate.py generates them) on a list page, a memoryview of a bytearray,
   a memoryview of a ctypes buffer (what wasm linear memory or an LLVM buffer
   looks like from Python) and a ctypes c_uint64 array; plus the register file
   as a list or a memoryview.
2. whole corpus programs under the Python translator with list pages and with
   memoryview pages (shared.ArenaPages), the same instruction counts checked.
"""

from __future__ import annotations

import ctypes
import io
import statistics
import time
from typing import Any

from hot import BIN
from shared import Shared, to_arena

from machine.elf import read_program
from machine.usermode import UserProgram

M = (1 << 64) - 1
BASE = 0x120000000
# The fast paths exactly as translate.py emits them (its _LOAD/_STORE_SUB and the dict probe).
STMTS = {
    "ldq": "a = (x1 + {d}) & M\np = rt.get(a >> 13)\nif p is None or a & 7: raise KeyError\nelse: x5 = p[(a & 8191) >> 3]",
    "ldl": "a = (x1 + {d}) & M\np = rt.get(a >> 13)\nif p is None or a & 3: raise KeyError\n"
    "else: v = p[(a & 8191) >> 3] >> ((a & 4) << 3) & 4294967295\n"
    "x5 = _s if (_s := v & 0xFFFFFFFF) < 0x80000000 else _s | 0xFFFFFFFF00000000",
    "stq": "a = (x1 + {d}) & M\np = wt.get(a >> 13)\nif p is None or a & 7: raise KeyError\nelse: p[(a & 8191) >> 3] = x5",
    "stl": "a = (x1 + {d}) & M\np = wt.get(a >> 13)\nif p is None or a & 3: raise KeyError\n"
    "else: i = (a & 8191) >> 3; s = (a & 7) << 3; p[i] = p[i] & ~(4294967295 << s) | (x5 & 4294967295) << s",
}
N_ACC = 64  # accesses per timed statement block


def pages() -> dict[str, Any]:
    buf = bytearray(8192 * 4)
    carr = (ctypes.c_uint8 * (8192 * 4))()
    return {
        "list": [0] * 1024,
        "memoryview(bytearray)": memoryview(buf)[8192:16384].cast("Q"),
        "memoryview(ctypes buffer)": memoryview(carr).cast("B")[8192:16384].cast("Q"),
        "ctypes c_uint64[1024]": (ctypes.c_uint64 * 1024)(),
    }


def _fn(body: str, args: str) -> Any:
    src = f"def f({args}):\n" + "\n".join("    " + line for line in body.splitlines()) + "\n"
    ns: dict[str, Any] = {}
    exec(compile(src, "<memrep>", "exec"), ns)  # noqa: S102 - our own generated code
    return ns["f"]


def micro(reps: int) -> None:
    print("\nMemory representation, the translator's fast-path statements in a function"
          " (ns per access, host CPU time, medians of alternating rounds):")  # fmt: skip
    kinds = pages()
    tests = {op: _fn("\n".join(s.format(d=(k * (8 if op[-1] == "q" else 4)) % 8000) for k in range(N_ACC)),
                     "rt, wt, x1, x5, M") for op, s in STMTS.items()}  # fmt: skip
    regs_fn = _fn("\n".join(f"x{k} = r[{k}]" for k in range(1, 31)) + "\n"
                  + "\n".join(f"r[{k}] = x{k}" for k in range(1, 31)), "r")  # fmt: skip
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(reps):
        for name, page in kinds.items():
            rt = {BASE >> 13: page}
            for op, f in tests.items():
                t = time.process_time()
                for _ in range(300):
                    f(rt, rt, BASE, 0x1234_5678_9ABC, M)
                times.setdefault((name, op), []).append((time.process_time() - t) / 300 / N_ACC * 1e9)
            regs: Any = (
                [5] * 32 if name == "list" else (ctypes.c_uint64 * 32)() if name.startswith("ctypes") else page[:32]
            )
            t = time.process_time()
            for _ in range(3000):
                regs_fn(regs)
            times.setdefault((name, "r"), []).append((time.process_time() - t) / 3000 / 60 * 1e9)
    print(f"  {'page kind':26}" + "".join(f"{k:>8}" for k in STMTS) + "  r[n] (read or write)")
    for name in kinds:
        cells = [f"{statistics.median(times[(name, op)]):8.1f}" for op in [*STMTS, "r"]]
        print(f"  {name:26}" + "".join(cells))


def whole(reps: int) -> None:
    print("\nWhole programs, Python translator, list pages vs memoryview pages (MIPS, host CPU time;"
          " alternating runs, medians):")  # fmt: skip
    for prog in ("crc-ev4.elf", "sort-ev4.elf", "bench-ev4.elf"):
        mips: dict[str, list[float]] = {"list": [], "memoryview": []}
        counts = set()
        for _ in range(reps):
            for kind in mips:
                p = UserProgram(read_program(BIN / prog), [prog], stdout=io.BytesIO())
                if kind == "memoryview":
                    to_arena(p, Shared(memoryview(bytearray(64 << 20)), 64 << 20))
                t = time.process_time()
                p.run()
                dt = time.process_time() - t
                mips[kind].append(p.cpu.icount / dt / 1e6)
                counts.add((p.cpu.icount, p.cpu.cycles, p.stdout.getvalue()))
        same = "same icount, cycles and output" if len(counts) == 1 else "DIFFERENT results"
        a, b = (statistics.median(v) for v in mips.values())
        print(f"  {prog:15} list {a:6.2f}   memoryview {b:6.2f}   ({(b / a - 1) * 100:+.0f}%; {same})")


def main(reps: int = 5) -> None:
    micro(reps)
    whole(reps)


if __name__ == "__main__":
    main()
