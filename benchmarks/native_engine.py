"""The native tier's wasmtime engine settings: compile time per module and run speed.

Compiling one module per hot page was most of what the native tier cost on `spinwb bench
cpu`'s 5M-instruction runs (docs/native-tier.md), so the compiler and its settings are
chosen by two figures:

    python -m benchmarks.native_engine compile [CONFIG ...]
        the modules the bench cpu workloads compile (captured from one run each),
        compiled again under each CONFIG: per-module median and total, best of 3;
        the WAT parse (wat2wasm) timed apart, and each artifact's serialized size
    python -m benchmarks.native_engine run [--scale 10] [--reps 3] CONFIG ...
        each workload's whole run at 1x and SCALEx its rounds (interleaved, medians):
        time, compile time, and native MIPS (instructions inside native calls over
        the time inside them, i.e. the generated code's speed)

CONFIG is a compiler, ``winch`` or ``cranelift``, with ``+``-joined options:
``opt=none|speed|speed_and_size``, ``nopar`` (no parallel compilation),
``regalloc=single_pass``. Times are this process's CPU time (the machine is shared);
the module caches are off.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import time
from typing import Any

os.environ["SPINWB_CACHE"] = "off"

from machine.alpha.native import wasm  # noqa: E402 - after the cache is turned off
from machine.alpha.native.state import ICOUNT  # noqa: E402
from workbench.bench.cpu import WORKLOADS, _program  # noqa: E402


def engine(config: str) -> Any:
    import wasmtime

    cfg = wasmtime.Config()
    cfg.memory_reservation = 0
    cfg.memory_guard_size = 0
    cfg.memory_reservation_for_growth = 0
    cfg.wasm_tail_call = True  # as the tier's engine (wasm._build_engine)
    compiler, *opts = config.split("+")
    if compiler == "winch":
        wasmtime._bindings.wasmtime_config_strategy_set(cfg.ptr(), wasm._WINCH)
    for o in opts:
        if o.startswith("opt="):
            cfg.cranelift_opt_level = o[4:]
        elif o == "nopar":
            cfg.parallel_compilation = False
        elif o.startswith("regalloc="):
            cfg.cranelift_flag_set("regalloc_algorithm", o[9:])
        else:
            raise SystemExit(f"unknown option {o!r}")
    return wasmtime.Engine(cfg)


def capture() -> list[str]:
    """Every module text the workloads compile at their default rounds."""
    wats: list[str] = []
    emit = wasm.emit

    def keep(region: Any, pages: int) -> str:
        wats.append(emit(region, pages))
        return wats[-1]

    setattr(wasm, "emit", keep)  # noqa: B010 - a patch mypy would refuse as an assignment
    try:
        for w in WORKLOADS:
            _program(w, w.rounds, True, True).run()
    finally:
        setattr(wasm, "emit", emit)  # noqa: B010
    return wats


def compile_figures(configs: list[str]) -> None:
    import wasmtime

    wats = capture()
    binaries = []
    parse = []
    for w in wats:
        t = time.process_time()
        binaries.append(bytes(wasmtime.wat2wasm(w)))
        parse.append(time.process_time() - t)
    print(f"{len(wats)} modules, {sum(map(len, wats)) // len(wats):,} characters of text on average")
    print(
        f"  {'wat2wasm (text -> binary)':32} total {sum(parse) * 1e3:7.1f} ms   median {statistics.median(parse) * 1e3:6.2f} ms"
    )
    for c in configs:
        e = engine(c)
        best: list[float] = []
        for _ in range(3):
            times = []
            for b in binaries:
                t = time.process_time()
                m = wasmtime.Module(e, b)
                times.append(time.process_time() - t)
            if not best or sum(times) < sum(best):
                best = times
        size = len(m.serialize())
        print(f"  {c:32} total {sum(best) * 1e3:7.1f} ms   median {statistics.median(best) * 1e3:6.2f} ms"
              f"   max {max(best) * 1e3:6.1f} ms   last artifact {size:,} B")  # fmt: skip


class _Meter:
    """Time and instructions inside native calls, and time compiling."""

    def __init__(self) -> None:
        self.native = self.compiling = 0.0
        self.insns = self.modules = 0

    def install(self) -> None:
        call, compile_ = wasm.Compiled.__call__, wasm.Runtime.compile
        meter = self

        def timed_call(fn: Any) -> int:
            ic = getattr(fn.rt, "_icount_view", None)
            if ic is None:
                base = ctypes.addressof(fn.rt.memory.data_ptr(fn.rt.store).contents)
                ic = fn.rt._icount_view = ctypes.c_uint64.from_address(base + ICOUNT)
            n, t = ic.value, time.process_time()
            r = call(fn)
            meter.native += time.process_time() - t
            meter.insns += ic.value - n
            return r

        def timed_compile(rt: Any, region: Any) -> Any:
            t = time.process_time()
            r = compile_(rt, region)
            meter.compiling += time.process_time() - t
            meter.modules += 1
            return r

        setattr(wasm.Compiled, "__call__", timed_call)  # noqa: B010
        setattr(wasm.Runtime, "compile", timed_compile)  # noqa: B010


def run_figures(configs: list[str], scale: int, reps: int) -> None:
    meter = _Meter()
    meter.install()
    rows: dict[tuple[str, str], list[tuple[float, float, float, float, int]]] = {}
    for _ in range(reps):
        for c in configs:
            wasm._engine, wasm.ENGINE = engine(c), c
            for w in WORKLOADS:
                got = []
                for k in (1, scale):
                    meter.__init__()  # type: ignore[misc]
                    proc = _program(w, w.rounds * k, True, True)
                    t = time.process_time()
                    proc.run()
                    got.append((time.process_time() - t, proc.cpu.icount, meter.compiling, meter.modules))
                (t1, i1, c1, m1), (tn, i_n, _, _) = got
                native = meter.insns / meter.native / 1e6 if meter.native else 0.0
                rows.setdefault((c, w.name), []).append((t1, c1, tn, native, m1))
    print(
        f"{'config':28} {'workload':9} {'1x s':>7} {'compile s':>10} {'modules':>8} {f'{scale}x s':>7} {'native MIPS':>12}"
    )
    for (c, name), r in rows.items():
        med = [statistics.median(x) for x in zip(*r, strict=True)]
        print(f"{c:28} {name:9} {med[0]:7.3f} {med[1]:10.3f} {int(med[4]):8d} {med[2]:7.3f} {med[3]:12.0f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("compile", "run"))
    p.add_argument("configs", nargs="*")
    p.add_argument("--scale", type=int, default=10)
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_intermixed_args()
    if a.what == "compile":
        compile_figures(a.configs or ["cranelift", "cranelift+opt=none", "cranelift+nopar",
                                      "cranelift+regalloc=single_pass", "winch"])  # fmt: skip
    else:
        run_figures(a.configs or ["cranelift", "winch"], a.scale, a.reps)


if __name__ == "__main__":
    main()
