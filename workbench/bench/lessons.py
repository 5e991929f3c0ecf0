"""`spinwb bench lessons`: each lesson run headless from process start, and `spinwb --help`.

What a student or a grader waits for is the whole process: interpreter
start-up, imports, booting, translating and running. So each figure is a
fresh `python -m workbench.cli ...` timed from spawn to exit (host wall time),
the median of several runs, beside issue 22's goals. The project's bytecode is
brought up to date first, as a user's first run leaves it: where
PYTHONDONTWRITEBYTECODE is set (some containers and CI images), every run
would otherwise compile each edited module from source (about 30 ms a lesson).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LESSON_GOAL = 0.25  # seconds, process start to result (issue 22)
HELP_GOAL = 0.1
PACKAGES = ("workbench", "machine", "kernel", "scenarios", "extensions")


def _seconds(argv: list[str]) -> tuple[float, int, str]:
    """Wall time of one `python -m workbench.cli ARGV` from spawn to exit, its exit status and stderr's end."""
    t0 = time.perf_counter()  # host-time ok: a benchmark
    p = subprocess.run([sys.executable, "-m", "workbench.cli", *argv], cwd=ROOT, capture_output=True, check=False)
    return time.perf_counter() - t0, p.returncode, p.stderr.decode(errors="replace").strip()[-300:]


def _median(argv: list[str], runs: int) -> dict[str, Any]:
    times, status, err = [], 0, ""
    for _ in range(runs):
        dt, status, err = _seconds(argv)
        times.append(dt)
        if status != 0:
            break  # a failing lesson is reported, not timed again
    fig: dict[str, Any] = {"seconds": round(statistics.median(times), 3), "runs_seconds": [round(t, 3) for t in times],
                           "status": status}  # fmt: skip
    if status != 0:
        fig["error"] = err
    return fig


def _bytecode() -> None:
    """Write the project's missing or stale ``__pycache__`` files (quietly; where the tree
    cannot be written, the runs compile as they would anyway)."""
    import compileall

    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=2)


def bench(names: list[str], runs: int, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every lesson named (all if none), slowest first, and --help. A name
    that is no lesson raises ValueError before anything runs; ``progress``
    hears each lesson's figure as it comes (all of them take minutes)."""
    from scenarios.engine import available

    lessons = available()
    unknown = [n for n in names if n not in lessons]
    if unknown:
        raise ValueError(f"no lesson named {', '.join(unknown)} (see spinwb scenario list)")
    _bytecode()
    rows = []
    for name in names or list(lessons):
        rows.append({"name": name, **_median(["scenario", "run", name, "--headless"], runs)})
        if progress is not None:
            progress(f"  {name}: {rows[-1]['seconds']:.3f} s")
    rows.sort(key=lambda r: -r["seconds"])
    return {"runs": runs, "lesson_goal_seconds": LESSON_GOAL, "help_goal_seconds": HELP_GOAL, "lessons": rows,
            "help": _median(["--help"], runs)}  # fmt: skip


def report(res: dict[str, Any]) -> list[str]:
    lines = [f"spinwb bench lessons — seconds from process start to exit, median of {res['runs']} runs (host time)"]
    for r in res["lessons"]:
        verdict = "meets" if r["seconds"] < res["lesson_goal_seconds"] else "over"
        failed = f"  FAILED (exit {r['status']}): {r['error'].splitlines()[-1] if r['error'] else ''}" if r["status"] else ""  # fmt: skip
        lines.append(f"  {r['name']:<24} {r['seconds']:>7.3f} s  {verdict} the goal{failed}")
    h = res["help"]
    verdict = "meets" if h["seconds"] < res["help_goal_seconds"] else "over"
    lines.append(f"  {'spinwb --help':<24} {h['seconds']:>7.3f} s  {verdict} the goal")
    if res["lessons"]:
        med = statistics.median(r["seconds"] for r in res["lessons"])
        lines.append(f"  median lesson {med:.3f} s")
    lines.append(f"  goals (issue 22): a headless lesson under {res['lesson_goal_seconds']} s, spinwb --help under "
                 f"{res['help_goal_seconds']} s, from process start")  # fmt: skip
    return lines


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(as_json: bool, names: list[str], runs: int) -> int:
    try:
        res = bench(names, runs, None if as_json or not sys.stderr.isatty() else _progress)
    except ValueError as e:
        print(f"spinwb bench lessons: {e}", file=sys.stderr)
        return 2
    print(json.dumps(res) if as_json else "\n".join(report(res)))
    return 1 if any(r["status"] for r in res["lessons"]) else 0
