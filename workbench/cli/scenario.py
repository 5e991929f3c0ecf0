"""`spinwb scenario list` and `spinwb scenario run NAME|FILE... --headless`:
the scenario engine (scenarios/engine.py) without the workbench -- for
grading. Exit 0 only if every check of every step of every scenario passed.

A scenario file is arbitrary Python, so grading students' files runs each in
a process of its own under workbench/cli/isolate.py's limits (files by default,
``--isolate`` for lessons too): the child streams one JSON line per step, and
a file that breaks out of its limits -- CPU, memory, a write outside its
scratch directory, the network -- fails on its own while the others go on."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli import narration
from workbench.cli.args import SEED

if TYPE_CHECKING:  # imported where used: `spinwb --help` builds this parser without the engine or rich
    from scenarios import engine
    from workbench.cli import isolate

STREAM = "\x1espinwb "  # marks the isolated child's protocol lines


def _list(args: argparse.Namespace) -> int:
    from scenarios import engine
    from workbench.views import plural

    for name, path in engine.available().items():
        try:
            lesson = engine.load(str(path))
        except engine.ScenarioError as e:
            print(f"{name:<20} (does not load: {e})")
            continue
        print(f"{name:<20} {lesson.title} ({plural(len(lesson.steps), 'step')})")
    return 0


def _run(args: argparse.Namespace) -> int:
    from scenarios import engine

    names: list[str] = args.name
    if args.stream:
        return _stream(names[0], args.seed, args.step_limit)
    if not args.headless:
        if len(names) > 1:
            print("spinwb scenario: the workbench opens one scenario; add --headless to grade several", file=sys.stderr)
            return 2
        try:
            engine.load(names[0])
        except engine.ScenarioError as e:
            print(f"spinwb scenario: {e}", file=sys.stderr)
            return 2
        from workbench.tui.app import run_app  # lazy: Textual takes 600 ms; headless grading never needs it

        return run_app(scenario=names[0], seed=args.seed, pace=args.pace)
    docs: list[dict[str, Any]] = []
    worst = 0
    for i, name in enumerate(names):
        if i and not args.json:
            print()
        isolated = args.isolate if args.isolate is not None else _is_file(name)
        code, doc = _isolated(name, args) if isolated else _here(name, args)
        worst = max(worst, code)
        if doc is not None:
            docs.append(doc)
    if args.json and docs:
        import json  # here, as in every handler: `spinwb --help` builds this parser without it

        out = docs[0] if len(names) == 1 else {"passed": worst == 0, "scenarios": docs}
        print(json.dumps(out, indent=2))
    return worst


def _is_file(name: str) -> bool:
    return name.endswith(".py") and Path(name).exists()


def _here(name: str, args: argparse.Namespace) -> tuple[int, dict[str, Any] | None]:
    """One scenario in this process (a lesson of the project's own)."""
    from scenarios import engine

    try:
        lesson = engine.load(name)
    except engine.ScenarioError as e:
        print(f"spinwb scenario: {e}", file=sys.stderr)
        return 2, None
    runner = engine.Runner(lesson, args.seed, host_limit_s=args.step_limit)
    total = len(lesson.steps)
    if not args.json:
        print(f"scenario {lesson.name} (seed {args.seed}): {lesson.title}", flush=True)
    progress = Progress() if not args.json and sys.stderr.isatty() else None
    runner.run.observer = progress
    while not runner.done:
        step = runner.upcoming
        assert step is not None
        if not args.json:
            _print_heading(len(runner.results) + 1, total, step.title, step.narration)
        try:
            with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
                res = runner.next()  # under --json a lesson's own prints must not break the document
        finally:
            if progress is not None:
                progress.clear()
        if not args.json:
            _print_outcome(res, args.answers)
    if runner.halted and not args.json:
        _not_run(len(runner.results), [s.title for s in lesson.steps])
    return _finish(lesson.name, lesson.title, args, runner.results, runner.passed)


class Progress:
    """One line on stderr (a terminal) while a step runs: its virtual and host time so
    far, at most 4 times a second (engine.Run.observer), cleared when the step ends."""

    EVERY = 0.25

    def __init__(self) -> None:
        self.shown = 0.0
        self.wrote = False

    def __call__(self, run: engine.Run) -> None:
        now = time.perf_counter()
        if now - self.shown < self.EVERY or run.step is None:
            return
        self.shown = now
        sys.stderr.write(f"\r  … {run.virtual_seconds() * 1000:,.1f} ms virtual, {run.host_seconds():.1f} s host\x1b[K")
        sys.stderr.flush()
        self.wrote = True

    def clear(self) -> None:
        if self.wrote:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
        self.wrote = False
        self.shown = time.perf_counter()  # the first line a quarter of a second into the next step


def _not_run(done: int, titles: list[str]) -> None:
    """The steps a halted lesson never ran (a step that exceeded its limit leaves its machines mid-run)."""
    rest = [f"{i}. {t}" for i, t in enumerate(titles, 1) if i > done]
    if rest:
        print(f"\n  not run, because step {done} exceeded its limit: " + "; ".join(rest))


def _finish(name: str, title: str, args: argparse.Namespace, results: list[engine.StepResult], passed: bool,
            isolation: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:  # fmt: skip
    from dataclasses import asdict

    from workbench.views import plural

    checks = [c for r in results for c in r.checks]
    steps = [asdict(r) | {"passed": r.passed} for r in results]
    if not args.answers:  # the answers are -c's, as on the terminal: a student's --json does not give them away
        for st in steps:
            st["questions"] = [{"text": q["text"]} for q in st["questions"]]
    doc = {"scenario": name, "title": title, "seed": args.seed, "passed": passed, "steps": steps}
    if isolation is not None:
        doc["isolation"] = isolation
    if not args.json:
        ok = sum(c.ok for c in checks)
        errors = sum(bool(r.error) for r in results)
        print(
            f"result: {ok} of {plural(len(checks), 'check')} passed"
            + (f", {plural(errors, 'step')} failed to run" if errors else ""),
            flush=True,
        )
    return (0 if passed else 1), doc


# --- isolated runs ----------------------------------------------------------------------------

_warned: set[str] = set()


def _isolated(name: str, args: argparse.Namespace) -> tuple[int, dict[str, Any] | None]:
    """One scenario in an isolated child (see workbench/cli/isolate.py): the
    child streams its steps; a step it never finished is reported with what
    ended it (a limit, a signal)."""
    from dataclasses import asdict

    from scenarios import engine
    from workbench.cli import isolate  # lazy: ctypes and the confinement probes, which a lesson run here never needs

    limits = isolate.Limits(args.cpu_limit, args.memory_limit * isolate.MiB, wall_seconds=3 * args.cpu_limit + 30)
    target = str(Path(name).resolve()) if _is_file(name) else name
    cmd = [sys.executable, "-m", "workbench.cli", "scenario", "run", target, "--stream", "--seed", str(args.seed)]
    if args.step_limit is not None:
        cmd += ["--step-limit", str(args.step_limit)]
    tty = not args.json and sys.stderr.isatty()
    if tty:  # progress: the child's steps print when it ends
        sys.stderr.write(f"\r  … {name}: running isolated\x1b[K")
        sys.stderr.flush()
    out = isolate.run(cmd, limits)
    if tty:
        sys.stderr.write("\r\x1b[K")
    conf = out.confinement
    for line in conf.warnings:
        if line not in _warned:  # one line per missing mechanism, however many files
            _warned.add(line)
            print(line, file=sys.stderr)
    lesson: dict[str, Any] | None = None
    started: dict[str, Any] | None = None
    halted = ""  # a step exceeded its limit: the child stopped there on purpose
    results: list[engine.StepResult] = []
    import json

    for raw in out.stdout.decode("utf-8", "replace").split("\n"):  # not splitlines: \x1e splits there
        if not raw.startswith(STREAM):
            continue
        msg = json.loads(_unroot(raw[len(STREAM) :]))
        if "load_error" in msg:
            print(f"spinwb scenario: {msg['load_error']}", file=sys.stderr)
            return 2, None
        if "lesson" in msg:
            lesson = msg["lesson"]
        elif "start" in msg:
            started = msg["start"]
        elif "halted" in msg:
            halted = msg["halted"]
        elif "step" in msg:
            results.append(_step_result(msg["step"], conf, limits))
            started = None
    ended = out.killed or (f"exit status {out.returncode}" if out.returncode else "")
    if lesson is None:
        last = out.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        print(f"spinwb scenario: {name}: the isolated run ended before the lesson loaded ({ended or 'no report'}): "
              f"{last[0]}", file=sys.stderr)  # fmt: skip
        return 2, None
    if started is not None or (len(results) < lesson["steps"] and ended and not halted):
        at = started or {"number": len(results) + 1, "title": "?", "narration": ""}
        results.append(engine.StepResult(at["number"], at["title"], at["narration"],
                                         error=f"{name}: the isolated run was stopped: {ended}"))  # fmt: skip
    isolation = asdict(conf) | {"killed": out.killed, "cpu_seconds": round(out.cpu_seconds, 2)}
    if not args.json:
        print(f"scenario {lesson['name']} (seed {args.seed}): {lesson['title']}")
        print(f"  isolated: {conf.brief()}")
        for res in results:
            _print_heading(res.number, lesson["steps"], res.title, res.narration)
            _print_outcome(res, args.answers)
        if halted:
            _not_run(len(results), lesson.get("titles") or [f"step {i + 1}" for i in range(lesson["steps"])])
    passed = len(results) == lesson["steps"] and all(r.passed for r in results)
    return _finish(lesson["name"], lesson["title"], args, results, passed, isolation)


def _unroot(text: str) -> str:
    """The child works in a scratch directory, so it names files absolutely;
    show those under our directory as the run here would."""
    import json

    return text.replace(json.dumps(str(Path.cwd()) + os.sep)[1:-1], "")


def _step_result(d: dict[str, Any], conf: isolate.Confinement, limits: isolate.Limits) -> engine.StepResult:
    from scenarios import engine
    from workbench.cli import isolate

    error = d["error"]
    if ": MemoryError" in error and "rlimits" in conf.applied:
        error += f" (an isolated run has {limits.memory_bytes // isolate.MiB} MiB of address space)"
    elif ": PermissionError" in error and "landlock" in conf.applied:
        error += " (an isolated run may write only in its scratch directory, and has no network)"
    return engine.StepResult(d["number"], d["title"], d["narration"], [engine.Check(**c) for c in d["checks"]],
                             [engine.Question(**q) for q in d["questions"]],
                             [engine.Exhibit(**e) for e in d["exhibits"]], error, d.get("pane", "Scenario"),
                             d.get("host_seconds", 0.0), d.get("virtual_us", 0.0))  # fmt: skip


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} is not at least 1")
    return v


def _stream(name: str, seed: int, step_limit: float | None) -> int:
    """The isolated child's side: run the lesson, one protocol line per
    event on the real stdout; the lesson's own prints go to stderr."""
    import json
    from dataclasses import asdict

    from scenarios import engine

    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(**msg: Any) -> None:
        proto.write(STREAM + json.dumps(msg) + "\n")

    try:
        lesson = engine.load(name)
    except engine.ScenarioError as e:
        send(load_error=str(e))
        return 2
    send(lesson={"name": lesson.name, "title": lesson.title, "steps": len(lesson.steps),
                 "titles": [s.title for s in lesson.steps]})  # fmt: skip
    runner = engine.Runner(lesson, seed, host_limit_s=step_limit)
    while not runner.done:
        step = lesson.steps[len(runner.results)]
        send(start={"number": len(runner.results) + 1, "title": step.title, "narration": step.narration})
        send(step=asdict(runner.next()))
    if runner.halted:
        send(halted=runner.halted)
    return 0 if runner.passed else 1


def _print_heading(number: int, total: int, title: str, narration: str) -> None:
    """A step's heading and narration, printed before it runs (a long step shows what it is doing)."""
    print(f"\nstep {number}/{total}: {title}", flush=True)
    if narration:
        _markdown(narration)


def _markdown(text: str) -> None:
    """Narration as markdown, 88 columns, indented; plain text (no ANSI) when stdout is not a
    terminal, rendered without rich where workbench/cli/narration.py can (the same text, and
    no rich.markdown, markdown-it or pygments to import)."""
    tty = sys.stdout.isatty()
    out = None if tty else narration.plain(text, 88, indent=2)
    if out is None:
        out = _rich_markdown(text, tty)
    sys.stdout.write(out)
    sys.stdout.flush()


def _rich_markdown(text: str, tty: bool) -> str:
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.padding import Padding

    buf = io.StringIO()
    console = Console(width=88, file=buf, force_terminal=tty, color_system="auto" if tty else None, highlight=False)
    console.print(Padding(Markdown(text), (0, 0, 0, 2)))
    out = buf.getvalue()
    if not tty:  # rich pads each line to the width: greppable text has no trailing blanks
        out = "".join(line.rstrip() + "\n" for line in out.splitlines())
    return out


def _print_outcome(res: engine.StepResult, answers: bool) -> None:
    """What a step did: its checks (each with its detail; FILE:LINE for a failure), exhibits, questions."""
    for c in res.checks:
        mark = "ok  " if c.ok else "FAIL"
        detail = f" -- {' | '.join(c.detail.splitlines())}" if c.detail else ""
        print(f"  [{mark}] {c.text}{detail}" + (f" ({c.where})" if not c.ok else ""))
    for ex in res.exhibits:
        print(f"  {ex.title}:")
        widths = [max(len(x) for x in col) for col in zip(ex.columns, *ex.rows, strict=True)]
        for row in [ex.columns, *ex.rows]:
            print("    " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if res.error:
        print(f"  [ERROR] {res.error}")
    for q in res.questions:
        print(f"  Q: {q.text}" + (f"  A: {q.answer}" if answers else ""))
    sys.stdout.flush()


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return v


PACE_UNITS = {"us": 1.0, "µs": 1.0, "ms": 1000.0, "s": 1e6}


def _pace(text: str) -> float:
    """A watch step's pace: virtual time per host second, in µs, or with a unit (250us, 2ms, 0.01s)."""
    t = text.strip().lower().removesuffix("/s")
    unit = next((u for u in ("us", "µs", "ms", "s") if t.endswith(u)), "")
    try:
        v = float(t.removesuffix(unit)) * PACE_UNITS.get(unit, 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: say virtual time per host second, e.g. 100 (µs), 250us, 2ms"
        ) from None
    if not 1 <= v <= 1e7:
        raise argparse.ArgumentTypeError(f"{text}: a pace is from 1 µs to 10 s of virtual time per host second")
    return v


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("scenario", help="lessons: list them, run one headless")
    ssub = p.add_subparsers(dest="scenario_command", required=True)
    ls = ssub.add_parser("list", help="the scenarios in scenarios/lessons")
    ls.set_defaults(fn=_list)
    r = ssub.add_parser("run", help="run a scenario's steps and checks; exit 0 only if every check passes")
    r.add_argument("name", nargs="+", metavar="NAME|FILE",
                   help="scenario names (see list) or paths to scenario files; several need --headless")  # fmt: skip
    r.add_argument("--headless", action="store_true", help="print the steps instead of opening the workbench")
    r.add_argument("--seed", type=SEED, default=0, help="the run's seed (a whole number; default 0)")
    r.add_argument("--json", action="store_true", help="one JSON document: steps, checks, answers")
    r.add_argument("-c", "--answers", action="store_true", help="print the questions' answers (OSTEP's -c)")
    iso = r.add_mutually_exclusive_group()
    iso.add_argument("--isolate", dest="isolate", action="store_true", default=None,
                     help="run each scenario in an isolated process (the default for files: students' work)")  # fmt: skip
    iso.add_argument("--no-isolate", dest="isolate", action="store_false",
                     help="run scenario files in this process (your own, while writing them)")  # fmt: skip
    r.add_argument("--cpu-limit", type=_positive, default=60, metavar="S",
                   help="isolated: CPU seconds per scenario (default 60; wall clock 3x + 30 s)")  # fmt: skip
    r.add_argument("--memory-limit", type=_positive, default=2048, metavar="MIB",
                   help="isolated: address space per scenario, MiB (default 2048)")  # fmt: skip
    r.add_argument("--step-limit", type=_seconds, default=None, metavar="S",
                   help="host seconds each step may take, overriding the lesson's own (default: the step's)")  # fmt: skip
    r.add_argument("--pace", type=_pace, default=None, metavar="X",
                   help="the workbench: watch steps run at X of virtual time per host second "
                        "(µs, or say 250us, 2ms; default 100 µs; + and - change it live)")  # fmt: skip
    r.add_argument("--stream", action="store_true", help=argparse.SUPPRESS)  # the isolated child's protocol
    r.set_defaults(fn=_run)
