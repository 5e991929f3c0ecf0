"""`spinwb bench cpu`: guest MIPS of each CPU tier on several workloads, beside qemu-alpha.

One CPU-bound program says little: the original bench spends almost all its
instructions in one self-loop (the division millicode), which the translator
runs as a Python ``while``, so it flatters. General code -- an interpreter
loop, a hash table, string handling, a sort -- runs a few instructions per
block, and block dispatch is what it pays for (issue 22). So each workload is
timed per tier (median of several runs), and a separate counting run says
how many instructions it runs per dynamic block; the normal runs pay nothing
for the count.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from machine.alpha.translate import Block, Translator
from machine.elf import read_elf
from machine.usermode import UserProgram

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = ROOT / "scenarios" / "programs" / "bin"
DEFAULT_ROUNDS = 25  # --rounds when not given: about 5M instructions per workload
DEFAULT_RUNS = 3
INTERPRETED_BUDGET = 250_000  # instructions per interpreted run: about a second of the reference interpreter
TRIVIAL = "hello"  # qemu-alpha's start-up is timed on this program and subtracted
# qemu-alpha runs a workload in a few ms, inside its start-up's noise, so it is timed on enough times the rounds
# for about QEMU_INSTRUCTIONS; its instructions are then ours extrapolated: 0 rounds' plus the scale times the rest.
QEMU_INSTRUCTIONS = 300_000_000
GOALS = ("goals (issue 22): general code >= 10 MIPS on the Python translator, >= 50 with a native tier; "
         "a real 133 MHz 21064 ran about 100 MIPS")  # fmt: skip


@dataclass(frozen=True)
class Workload:
    name: str  # the corpus program (scenarios/programs/corpus/NAME.c), run as its ev4 ELF
    rounds: int  # its argv[1] at the default --rounds (scaled with it)
    general: bool  # counts in the "general code" mean (everything but the division-bound bench)


WORKLOADS = (
    Workload("bench", 25, False),
    Workload("interp", 3, True),
    Workload("hash", 4, True),
    Workload("strings", 10, True),
    Workload("sort", 3, True),
)


@dataclass(frozen=True)
class Tier:
    """A way of running guest code, one column of the table."""

    name: str
    translate: bool
    budget: int | None  # instructions per run (a prefix of the workload); None: the whole program
    native: bool = False  # hot regions compiled to wasm (machine/alpha/native); the others run without it
    steady: int = 0  # if set, also runs of this many times the rounds: the marginal rate, warm-up excluded
    warm: bool = False  # the on-disk caches filled by an untimed run first (a program's second run); else off


def native_available() -> bool:
    """The native tier can run here: wasmtime is installed and ``SPINWB_NATIVE`` is not 0."""
    import importlib.util

    from machine.alpha.native import enabled

    return enabled() and importlib.util.find_spec("wasmtime") is not None


STEADY = 16  # the native tier's long runs, in multiples of the rounds (about 80M instructions)
TIERS = (
    Tier("native", True, None, True, STEADY),
    Tier("native warm", True, None, True, warm=True),
    Tier("translated", True, None),
    Tier("translated warm", True, None, warm=True),
    Tier("interpreted", False, INTERPRETED_BUDGET),
)


class CountingTranslator(Translator):
    """A translator whose blocks count their runs in ``entered``: a block
    run as a ``while`` loop counts once per iteration. Only the bench's
    counting run uses it, so the translator's own hot path stays as it is."""

    def __init__(self, cpu: Any) -> None:
        super().__init__(cpu)
        self.entered = 0
        self.traces = False  # the figure is per basic block: regions would run blocks uncounted
        self.native_on = False

    def translate(self, pc: int) -> Block:
        # Wrapped here, after the block is built or taken from the on-disk code cache
        # (which keeps only the real function: a closure is never cached).
        b = super().translate(pc)
        fn, cpu = b.fn, self.cpu
        if b.loop:

            def loop(r: list[int], rt: Any, wt: Any, lim: int) -> int:
                try:
                    pc: int = fn(r, rt, wt, lim)
                except BaseException:  # cpu.iters whole iterations, then the one that left
                    self.entered += cpu.iters + 1
                    raise
                self.entered += cpu.iters
                return pc

            b.fn = loop
        else:

            def once(r: list[int], rt: Any, wt: Any) -> int:
                self.entered += 1
                pc: int = fn(r, rt, wt)
                return pc

            b.fn = once
        self._publish(b)  # the run loop's tables hold the function itself
        return b


def _rounds(w: Workload, rounds: int) -> int:
    return max(1, w.rounds * rounds // DEFAULT_ROUNDS)


def _program(w: Workload, n: int, translate: bool, native: bool = False) -> UserProgram:
    elf = PROGRAMS / f"{w.name}-ev4.elf"
    proc = UserProgram(read_elf(elf), [str(elf), str(n)], stdout=io.BytesIO(), stderr=io.BytesIO(),
                       translate=translate)  # fmt: skip
    if translate and not native:
        proc.cpu._translator.native_on = False
    return proc


def _check(proc: UserProgram, w: Workload, budget: int | None) -> None:
    info = proc.exited
    assert info is not None
    if budget is not None and info.status == 124:
        return  # stopped at the budget, as asked
    if info.status != 0:
        raise RuntimeError(f"{w.name}: exit {info.status} {info.message}".rstrip())


def counted_run(proc: UserProgram) -> CountingTranslator:
    """Run ``proc`` to its end on a CountingTranslator, which it returns."""
    counter = CountingTranslator(proc.cpu)
    proc.cpu._translator = counter  # the CPU's one translator slot (CPU.enable_translation fills it)
    proc.run()
    return counter


def count_blocks(w: Workload, n: int) -> tuple[int, int, int, bytes]:
    """The counting run of ``n`` rounds: instructions, dynamic blocks, blocks translated, stdout."""
    proc = _program(w, n, translate=True)
    counter = counted_run(proc)
    _check(proc, w, None)
    out = proc.stdout
    assert isinstance(out, io.BytesIO)
    return proc.cpu.icount, counter.entered, counter.translated, out.getvalue()


def time_tier(w: Workload, n: int, tier: Tier, cache: Path | None = None) -> tuple[int, float, float]:
    """One timed run of ``n`` rounds, in a fresh process (cpu_run.py): instructions and
    host seconds, translation included. ``cache``: the code caches' directory for a warm
    tier (else they are off, and the run translates and compiles everything). Also the
    seconds the process spent on wasmtime's import and engine, before the timer."""
    env = dict(os.environ)
    env["SPINWB_CACHE"] = str(cache) if tier.warm and cache is not None else "off"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    argv = [w.name, str(n), str(int(tier.translate)), str(int(tier.native)), str(tier.budget or 0)]
    p = subprocess.run([sys.executable, "-m", "workbench.bench.cpu_run", *argv], capture_output=True, text=True,
                       env=env, cwd=ROOT, check=False)  # fmt: skip
    try:
        got = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        last = (p.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{w.name}: the {tier.name} run failed: {last}") from None
    status = got["status"]
    if not (tier.budget is not None and status == 124) and status != 0:
        raise RuntimeError(f"{w.name}: exit {status} {got['message']}".rstrip())
    return int(got["instructions"]), float(got["seconds"]), float(got["engine_seconds"])


def _qemu(qemu: str, name: str, args: list[str]) -> tuple[float, bytes]:
    """Wall seconds of one qemu-alpha run, and its stdout; a run that fails raises."""
    t0 = time.perf_counter()  # host-time ok: a benchmark
    p = subprocess.run([qemu, "-cpu", "ev4", str(PROGRAMS / f"{name}-ev4.elf"), *args], capture_output=True,
                       check=False)  # fmt: skip
    if p.returncode != 0:
        raise RuntimeError(f"qemu-alpha {name} {' '.join(args)}: exit {p.returncode}")
    return time.perf_counter() - t0, p.stdout


def _mips(instructions: int, seconds: float) -> float | None:
    return round(instructions / seconds / 1e6, 2) if seconds > 0 else None


def geomean(values: list[float | None]) -> float | None:
    """The geometric mean, or None if any figure is missing."""
    if not values or any(v is None or v <= 0 for v in values):
        return None
    return round(math.exp(sum(math.log(v) for v in values if v is not None) / len(values)), 2)


def bench(rounds: int = DEFAULT_ROUNDS, runs: int = DEFAULT_RUNS, qemu: bool = True,
          workloads: tuple[Workload, ...] = WORKLOADS, tiers: tuple[Tier, ...] = TIERS) -> dict[str, Any]:  # fmt: skip
    """Every workload on every tier (median of ``runs``), its instructions
    per dynamic block, and qemu-alpha's MIPS if it is installed."""
    qemu_path = shutil.which("qemu-alpha") if qemu else None
    native = native_available()
    if not native:  # no wasmtime here, or SPINWB_NATIVE=0: no native column (the report says so)
        tiers = tuple(t for t in tiers if not t.native)
    out: dict[str, Any] = {"rounds": rounds, "runs": runs, "cpu": "ev4", "tiers": [t.name for t in tiers],
                           "budgets": {t.name: t.budget for t in tiers}, "native_available": native,
                           "steady": {t.name: t.steady for t in tiers if t.steady}}  # fmt: skip
    startup = None
    if qemu_path:
        _qemu(qemu_path, TRIVIAL, [])  # a first run reads qemu-alpha from disk
        startup = statistics.median(_qemu(qemu_path, TRIVIAL, [])[0] for _ in range(runs))
        out["qemu_startup_seconds"] = round(startup, 4)
    with tempfile.TemporaryDirectory(prefix="spinwb-bench-cache-") as cache:
        out["workloads"] = [_workload(w, rounds, runs, tiers, Path(cache), qemu_path, startup) for w in workloads]
    cols = _columns(out) + (["qemu"] if qemu_path else [])
    general = [r for r in out["workloads"] if r["general"]]
    out["general_geomean"] = {c: geomean([r[c]["mips"] for r in general]) for c in cols}
    return out


def _workload(w: Workload, rounds: int, runs: int, tiers: tuple[Tier, ...], cache: Path, qemu_path: str | None,
              startup: float | None) -> dict[str, Any]:  # fmt: skip
    """One row of the table: ``w`` on every tier, and on qemu-alpha if it is here."""
    wr = _rounds(w, rounds)
    n, blocks, translated, stdout = count_blocks(w, wr)
    row: dict[str, Any] = {"name": w.name, "program": f"{w.name}-ev4.elf", "args": [str(wr)],
                           "general": w.general, "instructions": n, "blocks": blocks, "blocks_translated": translated,
                           "insns_per_block": round(n / blocks, 2) if blocks else None,
                           "output": stdout.decode(errors="replace").strip()}  # fmt: skip
    for tier in tiers:
        times, counts = [], set()
        engines: list[float] = []
        if tier.warm:
            time_tier(w, wr, tier, cache)  # fills the caches; not timed
        for _ in range(runs):
            k, dt, engine = time_tier(w, wr, tier, cache)
            times.append(dt)
            counts.add(k)
            if tier.native:
                engines.append(engine)
        if tier.budget is None and counts != {n}:
            raise RuntimeError(f"{w.name}: {tier.name} ran {sorted(counts)} instructions, the counting run {n}")
        k = counts.pop()
        med = statistics.median(times)
        row[tier.name] = {"instructions": k, "host_seconds": round(med, 4), "mips": _mips(k, med),
                          "runs_seconds": [round(t, 4) for t in times]}  # fmt: skip
        if engines:
            row[tier.name]["engine_seconds"] = round(statistics.median(engines), 4)
        if tier.steady:  # the same again at steady x the rounds: what the extra instructions cost
            long = [time_tier(w, tier.steady * wr, tier) for _ in range(runs)]
            k2, t2 = long[0][0], min(dt for _, dt, _ in long)  # the fastest of each: the least disturbed
            t1 = min(times)
            row[tier.name + " steady"] = {"instructions": k2, "host_seconds": round(t2, 4),
                                          "mips": _mips(k2 - k, t2 - t1) if t2 > t1 else None}  # fmt: skip
    if qemu_path and startup is not None:
        same = _qemu(qemu_path, w.name, [str(wr)])[1] == stdout
        base = count_blocks(w, 0)[0]
        scale = max(1, -(-QEMU_INSTRUCTIONS // n))
        est = base + scale * (n - base)
        med = statistics.median(_qemu(qemu_path, w.name, [str(scale * wr)])[0] for _ in range(runs))
        row["qemu"] = {"args": [str(scale * wr)], "instructions_estimated": est, "host_seconds": round(med, 4),
                       "mips": _mips(est, med - startup), "same_output": same}  # fmt: skip
    return row


def _fmt(v: float | None, width: int) -> str:
    if v is None:
        return f"{'n/a':>{width}}"
    return f"{v:>{width},.0f}" if v >= 100 else f"{v:>{width}.2f}"


def _columns(res: dict[str, Any]) -> list[str]:
    """The tiers' columns, each tier's steady-state one after it."""
    steady = res.get("steady", {})
    return [c for t in res["tiers"] for c in ([t, t + " steady"] if t in steady else [t])]


def report(res: dict[str, Any]) -> list[str]:
    """The table `spinwb bench cpu` prints."""
    cols = _columns(res) + (["qemu"] if "qemu_startup_seconds" in res else [])
    heads = [("qemu-alpha" if c == "qemu" else c) for c in cols]
    widths = [max(len(h), 8) for h in heads]
    lines = [f"spinwb bench cpu — {len(res['workloads'])} workloads ({res['cpu']} ELFs), MIPS, median of "
             f"{res['runs']} runs (host time)",  # fmt: skip
             f"  {'workload':<10} {'args':>5} {'instructions':>13} {'insns/block':>12}"
             + "".join(f" {h:>{k}}" for h, k in zip(heads, widths, strict=True))]  # fmt: skip
    for r in res["workloads"]:
        mark = "" if r["general"] else "  (not general: division millicode)"
        if "qemu" in r and not r["qemu"]["same_output"]:
            mark += "  OUTPUT DIFFERS FROM QEMU"
        lines.append(f"  {r['name']:<10} {' '.join(r['args']) or '-':>5} {r['instructions']:>13,} "
                     f"{_fmt(r['insns_per_block'], 12)}"
                     + "".join(f" {_fmt(r[c]['mips'], k)}" for c, k in zip(cols, widths, strict=True)) + mark)  # fmt: skip
    g = res["general_geomean"]
    lines.append(f"  {'general code (geometric mean)':<43}"
                 + "".join(f" {_fmt(g[c], k)}" for c, k in zip(cols, widths, strict=True)))  # fmt: skip
    cold = [t for t, b in res["budgets"].items() if not b and not t.endswith(" warm")]
    warm = [t for t in res["budgets"] if t.endswith(" warm")]
    parts = [f"{t}: the first {b:,} instructions" for t, b in res["budgets"].items() if b]
    if cold:
        lines.append(f"  {', '.join(cold)}: whole runs, each in a fresh process with the on-disk code caches off, "
                     "so every block is translated and every region compiled in the time, as in a program's "
                     "first run")  # fmt: skip
    if warm:
        lines.append(f"  {', '.join(warm)}: the same with the caches (docs/native-tier.md) filled by an untimed run "
                     "first, as in its second run")  # fmt: skip
    if parts:
        lines.append(f"  {'; '.join(parts)}")
    engines = [r[t]["engine_seconds"] for r in res["workloads"] for t in res["tiers"] if "engine_seconds" in r[t]]
    if engines:
        lines.append(f"  native columns leave out wasmtime's import and engine ({1000 * statistics.median(engines):.0f} ms "
                     "once per process, before the program starts), as qemu-alpha's figure leaves out its start-up")  # fmt: skip
    for t, k in res.get("steady", {}).items():
        lines.append(f"  {t} steady: the marginal rate from the args above to {k}x as many rounds (the fastest of "
                     f"{res['runs']} cold runs of each): the speed once translated and compiled, which the whole runs "
                     "mostly spend getting to")  # fmt: skip
    if not res.get("native_available", True):
        lines.append("  native: not measured here (wasmtime cannot be imported, or SPINWB_NATIVE=0)")
    lines.append("  insns/block: instructions per dynamic block (a separate counting run; a self-loop block counts "
                 "each iteration)")  # fmt: skip
    if "qemu_startup_seconds" in res:
        lines.append(f"  qemu-alpha: the same ELF at enough rounds for about {QEMU_INSTRUCTIONS // 1_000_000}M "
                     "instructions (at the args above it ends inside its start-up's noise), our instruction count")  # fmt: skip
        lines.append("  extrapolated to those rounds over its wall time minus its start-up "
                     f"({1000 * res['qemu_startup_seconds']:.1f} ms, timed on {TRIVIAL}); its output at the args "
                     "above is compared with ours")  # fmt: skip
    else:
        lines.append("  qemu-alpha: not installed (Debian: qemu-user), no column")
    lines.append("  " + GOALS)
    return lines
