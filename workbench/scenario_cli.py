"""`spinwb scenario list` and `spinwb scenario run NAME --headless`: the
scenario engine (scenarios/engine.py) without the workbench -- for grading.
Exit 0 only if every check of every step passed."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import asdict

from scenarios import engine


def _list(args: argparse.Namespace) -> int:
    for name, path in engine.available().items():
        try:
            lesson = engine.load(str(path))
        except engine.ScenarioError as e:
            print(f"{name:<20} (does not load: {e})")
            continue
        print(f"{name:<20} {lesson.title} ({len(lesson.steps)} steps)")
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        lesson = engine.load(args.name)
    except engine.ScenarioError as e:
        print(f"spinwb scenario: {e}", file=sys.stderr)
        return 2
    if not args.headless:
        from workbench.app import run_app

        return run_app(scenario=args.name, seed=args.seed)
    runner = engine.Runner(lesson, args.seed)
    if not args.json:
        print(f"scenario {lesson.name} (seed {args.seed}): {lesson.title}")
    for _ in lesson.steps:
        res = runner.next()
        if not args.json:
            _print_step(res, len(lesson.steps), args.answers)
    passed = runner.passed
    checks = [c for r in runner.results for c in r.checks]
    if args.json:
        print(json.dumps({"scenario": lesson.name, "title": lesson.title, "seed": args.seed, "passed": passed,
                          "steps": [asdict(r) | {"passed": r.passed} for r in runner.results]}, indent=2))  # fmt: skip
    else:
        ok = sum(c.ok for c in checks)
        errors = sum(bool(r.error) for r in runner.results)
        print(f"result: {ok} of {len(checks)} checks passed" + (f", {errors} steps failed to run" if errors else ""))
    return 0 if passed else 1


def _print_step(res: engine.StepResult, total: int, answers: bool) -> None:
    print(f"\nstep {res.number}/{total}: {res.title}")
    for para in res.narration.split("\n\n"):
        print(textwrap.fill(" ".join(para.split()), width=88, initial_indent="  ", subsequent_indent="  "))
    for c in res.checks:
        mark = "ok  " if c.ok else "FAIL"
        detail = f" -- {' | '.join(c.detail.splitlines())}" if c.detail and not c.ok else ""
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


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("scenario", help="lessons: list them, run one headless")
    ssub = p.add_subparsers(dest="scenario_command", required=True)
    ls = ssub.add_parser("list", help="the scenarios in scenarios/lessons")
    ls.set_defaults(fn=_list)
    r = ssub.add_parser("run", help="run a scenario's steps and checks; exit 0 only if every check passes")
    r.add_argument("name", help="a scenario name (see list) or a path to a scenario file")
    r.add_argument("--headless", action="store_true", help="print the steps instead of opening the workbench")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--json", action="store_true", help="one JSON document: steps, checks, answers")
    r.add_argument("-c", "--answers", action="store_true", help="print the questions' answers (OSTEP's -c)")
    r.set_defaults(fn=_run)
