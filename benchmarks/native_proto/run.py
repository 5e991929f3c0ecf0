"""Native-tier prototype: wasmtime vs llvmlite vs the Python translator on real hot loops.

    python benchmarks/native_proto/run.py [--reps N] [--skip-memory] [--skip-sandbox]

For each hot region (hot.py) it captures the machine state at the region's
entry, compiles the region with each backend whose package is installed,
runs it from that state until it leaves the region, checks registers, pc,
icount, cycles and memory against the Python translator run for the same
instruction count (so the figures are for identical work), and prints compile
time, call overhead and MIPS. Then the memory-representation costs for the
Python translator (memrep.py) and the sandboxing demonstration. Host CPU time
of this process throughout (time.process_time); the figures are medians of --reps runs.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

import region  # noqa: E402
from hot import HOT, Hot, capture, program, restore  # noqa: E402
from region import EXIT_NAMES  # noqa: E402
from shared import Shared, drive, to_arena  # noqa: E402

BACKENDS = {"wasmtime": "wasm_backend", "llvmlite": "llvm_backend"}
INIT_MS: dict[str, float] = {}
# CPU time of this process, not wall time: other jobs share the machine's cores,
# and a run descheduled half-way would otherwise count their time as ours.
CLOCK = time.process_time


def available() -> dict[str, Any]:
    out = {}
    for pkg, mod in BACKENDS.items():
        try:
            __import__(pkg)
        except ImportError:
            print(f"[{pkg} is not installed: its rows are skipped (pip install {pkg})]")
            continue
        m = __import__(mod)
        t = CLOCK()
        m.Compiled.init()
        INIT_MS[pkg] = (CLOCK() - t) * 1e3
        out[pkg] = m
    return out


def installed_mb(pkg: str) -> float:
    files = importlib.metadata.files(pkg) or []
    return sum(f.locate().stat().st_size for f in files if f.locate().exists()) / 1e6


def per_call(fn: Any, n: int = 20000) -> float:
    t = CLOCK()
    for _ in range(n):
        fn()
    return (CLOCK() - t) / n


def measure(hot: Hot, backends: dict[str, Any], reps: int, dump: str | None = None) -> list[dict[str, Any]]:
    p, snap = capture(hot)
    t = CLOCK()
    reg = region.build(p.cpu, hot.entry, hot.lo, hot.hi)
    lower_ms = (CLOCK() - t) * 1e3
    starts = {b.pc for b in reg.blocks}
    inside = {b.pc + 4 * k for b in reg.blocks for k in range(b.n)}
    big = snap.icount + 10**12

    def state(q: Any) -> tuple[Any, ...]:
        cpu = q.cpu
        return (list(cpu.r), cpu.pc, cpu.icount, cpu.cycles, {v: list(q.space.pages[v]) for v in snap.pages})

    # how many instructions the region runs from here: the interpreter decides
    restore(p, snap)
    p.cpu.enable_translation(False)
    while p.cpu.pc in inside:
        p.cpu.step()
    n = p.cpu.icount - snap.icount
    p.cpu.enable_translation(True)

    def python_row(q: Any, tier: str) -> dict[str, Any]:
        restore(q, snap)
        q.cpu.run(n)  # warm: translate
        times = []
        for _ in range(reps):
            restore(q, snap)
            t = CLOCK()
            q.cpu.run(n)
            times.append(CLOCK() - t)
        med = statistics.median(times)
        return dict(tier=tier, n=n, first={}, compile_ms=float("nan"), empty_us=float("nan"), regs_us=float("nan"),
                    run_us=med * 1e6, mips=n / med / 1e6, state=state(q))  # fmt: skip

    rows = [python_row(p, "python")]
    q = program(hot)
    to_arena(q, Shared(memoryview(bytearray(4 << 20)), 4 << 20))
    rows.append(python_row(q, "python/mv"))
    for name, mod in backends.items():
        t = CLOCK()
        c = mod.Compiled(reg)
        compile_ms = (CLOCK() - t) * 1e3
        if dump:
            Path(dump).mkdir(parents=True, exist_ok=True)
            for ext, text in (("wat", "wat"), ("ll", "ir"), ("O2.ll", "optimized")):
                if hasattr(c, text):
                    (Path(dump) / f"{hot.name}.{ext}").write_text(getattr(c, text))
        sh = c.shared
        q = program(hot)
        to_arena(q, sh)  # the Python side's pages are the native side's frames
        restore(q, snap)
        stats: dict[int, int] = {}
        drive(c.call, sh, q, starts, inside, big, stats)
        first = {EXIT_NAMES[k]: v for k, v in sorted(stats.items())}
        got = state(q)
        times, inner = [], []
        for _ in range(reps):
            restore(q, snap)
            spent = [0.0]

            def timed(call: Any = c.call, spent: list[float] = spent) -> int:
                t = time.perf_counter()  # cheap (vDSO), fine for the short calls
                code = call()
                spent[0] += time.perf_counter() - t
                return int(code)

            t = CLOCK()
            drive(timed, sh, q, starts, inside, big)
            times.append(CLOCK() - t)
            inner.append(spent[0])
        # a budget that ends inside the run: the same state as Python's after as many instructions
        cut = n // 3 + 7
        restore(q, snap)
        drive(c.call, sh, q, starts, inside, snap.icount + cut)
        mid = state(q)
        restore(p, snap)
        p.cpu.run(cut)
        budget_ok = mid == state(p)
        # call overhead: pc outside the region (nothing loaded), and a budget exit
        # right at entry (registers loaded from and stored to the shared buffer)
        sh.set_cpu(snap.r, 0, snap.icount, snap.cycles, big, (1 << 63) - 1)
        empty = per_call(c.call)
        api = per_call(c.call_api, 2000) if hasattr(c, "call_api") else None
        sh.set_cpu(snap.r, snap.pc, snap.icount, snap.cycles, snap.icount, (1 << 63) - 1)
        assert c.call() == region.BUDGET
        regs_call = per_call(c.call)
        med = statistics.median(times)
        rows.append(dict(tier=name, n=got[2] - snap.icount, first=first, compile_ms=compile_ms, empty_us=empty * 1e6,
                         regs_us=regs_call * 1e6, run_us=med * 1e6, mips=n / med / 1e6, state=got,
                         api_us=None if api is None else api * 1e6, inner_us=statistics.median(inner) * 1e6,
                         budget_ok=budget_ok))  # fmt: skip
    ref = rows[0]["state"]
    for row in rows:
        bad = [
            what
            for what, a, b in zip(("registers", "pc", "icount", "cycles", "memory"), row["state"], ref, strict=True)
            if a != b
        ]
        row["exact"] = "yes" if not bad else "NO: " + ", ".join(bad)
        row["lower_ms"] = lower_ms
        row["blocks"] = len(reg.blocks)
        row["insns"] = reg.ninsns()
    return rows


def sandbox(backends: dict[str, Any]) -> None:
    """A wrong TB entry (a translator bug): where does the store land?"""
    print("\nSandboxing: a TB entry pointing 2 GiB past the buffer, then the crc32 region runs")
    if not backends:
        print("  (no backend installed)")
    for name in backends:
        res = subprocess.run([sys.executable, __file__, "--wild", name], capture_output=True, text=True, timeout=120)
        last = (res.stdout.strip().splitlines() or [""])[-1]
        how = (
            last
            if res.returncode == 0
            else f"the process died (exit status {res.returncode}): {last or res.stderr[-200:]}"
        )
        print(f"  {name:9} {how}")


def wild(name: str) -> None:
    from shared import ROFF, RTAG

    mod = available()[name]
    hot = HOT[0]
    p, snap = capture(hot)
    c = mod.Compiled(region.build(p.cpu, hot.entry, hot.lo, hot.hi))
    for v, words in snap.pages.items():
        c.shared.put_page(v, words)
    c.shared.set_cpu(snap.r, snap.pc, snap.icount, snap.cycles, snap.icount + 10**12, (1 << 63) - 1)
    for v in snap.pages:  # every TB entry says: that page is 2 GiB away
        c.shared.q[RTAG // 8 + (v & 255)] = v
        c.shared.q[ROFF // 8 + (v & 255)] = 1 << 31
    sys.stdout.flush()
    try:
        code = c.call()
        print(f"returned {code}: the access went somewhere in the host process")
    except Exception as e:  # wasmtime.Trap
        why = [line.strip() for line in str(e).splitlines() if "out of bounds" in line] or [str(e).splitlines()[0]]
        print(f"trapped, process intact: {type(e).__name__}: {why[0]}")


def table(rows: list[dict[str, Any]], hot: Hot) -> None:
    r0 = rows[0]
    print(f"\n{hot.name}: {hot.what}")
    print(f"  region: {r0['blocks']} blocks, {r0['insns']} instructions; lowering to the IR {r0['lower_ms']:.2f} ms;"
          f" one run = {r0['n']:,} guest instructions")  # fmt: skip
    print(f"  {'tier':9} {'compile':>8} {'call us':>13} {'run us':>9} {'in native':>9} {'MIPS':>7} {'vs py':>6}"
          "  exact  cut  exits on the first run (cold TB)")  # fmt: skip
    print(f"  {'':9} {'ms':>8} {'empty/regs':>13} {'':>9} {'us':>9}")
    for r in rows:
        if r["tier"].startswith("python"):
            print(f"  {r['tier']:9} {'':8} {'':13} {r['run_us']:9.1f} {'':9} {r['mips']:7.1f} {r['mips'] / r0['mips']:5.1f}x"
                  f"  {r['exact']}")  # fmt: skip
            continue
        calls = f"{r['empty_us']:.2f}/{r['regs_us']:.2f}"
        print(f"  {r['tier']:9} {r['compile_ms']:8.1f} {calls:>13} {r['run_us']:9.1f} {r['inner_us']:9.1f}"
              f" {r['mips']:7.0f} {r['mips'] / r0['mips']:5.0f}x  {r['exact']:5}  {'yes' if r['budget_ok'] else 'NO'}"
              f"  {r['first']}")  # fmt: skip
        if r.get("api_us") is not None:
            print(
                f"  {'':9} (the call through wasmtime.Func.__call__ instead of the unchecked C API: {r['api_us']:.1f} us)"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-sandbox", action="store_true")
    ap.add_argument("--dump", metavar="DIR", help="write each region's WAT and LLVM IR (before and after O2) to DIR")
    ap.add_argument("--wild", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.wild:
        wild(args.wild)
        return
    backends = available()
    print(
        f"Python {sys.version.split()[0]} on {sys.platform}; host CPU time (process_time), medians of {args.reps} runs"
    )
    for pkg in backends:
        print(f"  {pkg} {importlib.metadata.version(pkg)}: {installed_mb(pkg):.0f} MB installed,"
              f" engine set-up once {INIT_MS[pkg]:.1f} ms")  # fmt: skip
    print("  columns: compile = one region, IR to callable; call = a call that returns at once (pc outside the region)")
    print(
        "  / one that loads and stores the registers (budget exit at entry); run = one run of the region from Python,"
    )
    print("  exits and refills included; in native = the part inside the native calls; exact = registers, pc, icount,")
    print("  cycles and memory equal the Python translator's after the same instructions; cut = also with a budget")
    print("  ending a third of the way in")
    inexact = []
    for hot in HOT:
        rows = measure(hot, backends, args.reps, args.dump)
        table(rows, hot)
        inexact += [f"{hot.name}/{r['tier']}" for r in rows if r["exact"] != "yes" or r.get("budget_ok") is False]
    if not args.skip_memory:
        import memrep

        memrep.main(args.reps)
    if not args.skip_sandbox:
        sandbox(backends)
    if inexact:
        sys.exit(f"\nNOT EXACT (a translator bug): {', '.join(inexact)}")


if __name__ == "__main__":
    main()
