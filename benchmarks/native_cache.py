"""Cold and warm on-disk caches, whole processes: what the module cache (native/modcache.py)
and the block cache (codecache.py) save a run from process start.

Each repetition runs the workload or lesson four times, each a fresh process: ``off``
(SPINWB_CACHE=off), ``cold`` (an empty cache), ``warm`` (the cache that run filled; its result is checked against the cold one's) and
``native-cold`` (the block cache warm, the module cache emptied: what the module cache
alone saves against ``warm``). Figures are medians of the child processes' wall time and
CPU time (the machine is shared); ``modules`` is how many the cold run wrote.

    python -m benchmarks.native_cache cpu [hash,sort,...] [--reps 3]
    python -m benchmarks.native_cache lesson [boot_tour,...] [--reps 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("off", "cold", "warm", "native-cold")


def _argv(kind: str, name: str) -> list[str]:
    if kind == "lesson":
        return [sys.executable, "-m", "workbench.cli", "scenario", "run", name, "--headless"]
    code = ("from workbench.bench.cpu import WORKLOADS, _program; from machine.alpha.native import modcache\n"
            f"w = [w for w in WORKLOADS if w.name == {name!r}][0]; p = _program(w, w.rounds, True, True); p.run()\n"
            "assert p.exited.status == 0\n"
            "print('icount', p.cpu.icount, 'cycles', p.cpu.cycles, 'compiled', modcache.COMPILED)")  # fmt: skip
    return [sys.executable, "-c", code]


def _once(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{argv[-1][:60]}: exit {p.returncode}: {p.stderr.decode(errors='replace')[-400:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    lines = p.stdout.decode(errors="replace").strip().splitlines()
    return wall, cpu, lines[-1] if lines else ""


def measure(kind: str, name: str, reps: int) -> str:
    d = Path(tempfile.mkdtemp(prefix="spinwb-cache-"))
    env = dict(os.environ, SPINWB_CACHE=str(d), PYTHONPATH=str(ROOT))
    rows: dict[str, list[tuple[float, float, str]]] = {k: [] for k in KINDS}
    argv = _argv(kind, name)
    modules = 0
    try:
        for _ in range(reps):
            rows["off"].append(_once(argv, dict(env, SPINWB_CACHE="off")))
            shutil.rmtree(d, ignore_errors=True)
            rows["cold"].append(_once(argv, env))
            modules = len(list((d / "native").glob("*/*")))
            rows["warm"].append(_once(argv, env))
            shutil.rmtree(d / "native", ignore_errors=True)
            rows["native-cold"].append(_once(argv, env))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    figs = "  ".join(f"{k} {statistics.median(r[0] for r in v):6.3f}s {statistics.median(r[1] for r in v):6.3f}cpu"
                     for k, v in rows.items())  # fmt: skip
    cold, warm = (rows[k][-1][2].split(" compiled")[0] for k in ("cold", "warm"))
    same = "same result" if cold == warm else "RESULTS DIFFER"
    return f"{name:20} modules {modules:3}  {figs}  | warm: {rows['warm'][-1][2]} ({same})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=("cpu", "lesson"))
    p.add_argument("names", nargs="?", default="")
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_intermixed_args()
    if a.names:
        names = a.names.split(",")
    elif a.kind == "cpu":
        names = ["hash", "sort", "strings", "interp", "bench"]
    else:
        from scenarios.engine import available

        names = list(available())
    for name in names:
        print(measure(a.kind, name, a.reps), flush=True)


if __name__ == "__main__":
    main()
