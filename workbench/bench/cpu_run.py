"""One timed run of one `bench cpu` workload on one tier, in a process of its own.

A run in the bench's own process would start warmer than a user's: the
translator's expression cache and the code caches' in-memory copies would be
left from the run before. So every timed run is this module in a fresh
interpreter, and prints one JSON line: instructions, host seconds, exit.
The timer covers ``UserProgram.run`` (translating and compiling included);
wasmtime's import and engine are built before it, as qemu-alpha's start-up
is subtracted from its figure: they are the process's, not the program's.

    python -m workbench.bench.cpu_run NAME ROUNDS TRANSLATE NATIVE BUDGET
"""

from __future__ import annotations

import gc
import io
import json
import sys
import time


def main(argv: list[str]) -> int:
    name, rounds, translate, native, budget = argv[0], int(argv[1]), argv[2] == "1", argv[3] == "1", int(argv[4])
    from machine.elf import read_elf
    from machine.usermode import UserProgram
    from workbench.bench.cpu import PROGRAMS

    engine_seconds = 0.0
    if native:
        t0 = time.perf_counter()  # host-time ok: a benchmark
        try:
            from machine.alpha.native.wasm import Unavailable, _the_engine

            _the_engine()
        except (ImportError, Unavailable):
            pass  # the run says so: it compiles nothing natively
        engine_seconds = time.perf_counter() - t0  # host-time ok: a benchmark
    elf = PROGRAMS / f"{name}-ev4.elf"
    proc = UserProgram(read_elf(elf), [str(elf), str(rounds)], stdout=io.BytesIO(), stderr=io.BytesIO(),
                       translate=translate)  # fmt: skip
    if translate and not native:
        proc.cpu._translator.native_on = False
    gc.collect()
    t0 = time.perf_counter()  # host-time ok: a benchmark
    proc.run(budget or None)
    dt = time.perf_counter() - t0  # host-time ok: a benchmark
    info = proc.exited
    tier = getattr(proc.cpu._translator, "native", None) if translate else None
    print(json.dumps({"instructions": proc.cpu.icount, "seconds": dt, "engine_seconds": engine_seconds,
                      "status": info.status if info else None, "message": info.message if info else "",
                      "native_compiled": tier.compiled if tier is not None else 0}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
