"""Lessons give a program its input (run.boot(..., stdin=...), run.type), and
a run whose program can only wait for input that nobody will type is a
failed step, reported -- not a headless run idling for ever."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scenarios import engine
from tests.conftest import ROOT

LESSON = """
from scenarios.engine import Lesson

lesson = Lesson("stdin_demo", "Programs and their input")


@lesson.step("Given its input")
def given(run):
    k = run.boot(init="upper-ev4", stdin=b"abc\\n\\nxyz\\n")
    why = run.run_until_exit(k)
    run.check("upper exited", why == "all processes exited", why)
    run.check("it upper-cased its input", run.console(k) == "  1 ABC\\nupper: line 2 is empty\\n  3 XYZ\\nupper: 3 lines, 1 empty\\n")
    run.state["exit"] = k.exit_status


@lesson.step("Typed in two goes")
def typed(run):
    k = run.boot(init="upper-ev4")
    run.type(k, "first\\n")
    run.run_until_exit(k, waiting_ok=True)
    run.check("it answered the first line and waits", run.console(k) == "  1 FIRST\\n")
    run.type(k, "second\\n", eof=True)
    run.check("then it finished", run.run_until_exit(k) == "all processes exited")


@lesson.step("Nobody types")
def nobody(run):
    k = run.boot(init="upper-ev4")
    run.state["why"] = run.run_until_exit(k)
"""


def lesson_file(tmp_path: Path) -> Path:
    f = tmp_path / "stdin_demo.py"
    f.write_text(LESSON)
    return f


def test_a_lesson_gives_its_program_input_and_a_waiting_program_fails_its_step(tmp_path: Path) -> None:
    r = engine.Runner(engine.load(str(lesson_file(tmp_path))))
    given, typed, nobody = r.run_all()
    assert given.passed, given.checks
    assert r.run.state["exit"] == 1  # one empty line
    assert typed.passed, typed.checks
    assert r.run.state["why"] == "waiting for input"
    assert not nobody.passed
    (check,) = nobody.checks
    assert check.text == "the program waits for input on stdin and none is left"
    assert check.where.endswith("stdin_demo.py:29") and "run.boot(..., stdin=" in check.detail


def test_the_headless_runner_reports_the_wait_and_exits_1(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "workbench.cli", "scenario", "run", "--headless",
                        str(lesson_file(tmp_path))], cwd=ROOT, capture_output=True, timeout=300)  # fmt: skip
    out = p.stdout.decode()
    assert p.returncode == 1, out + p.stderr.decode()
    assert "step 3/3: Nobody types" in out
    assert "[FAIL] the program waits for input on stdin and none is left" in out
    assert "result: 4 of 5 checks passed" in out


def test_the_same_lesson_input_gives_the_same_state_hash(tmp_path: Path) -> None:
    hashes = []
    for _ in range(2):
        r = engine.Runner(engine.load(str(lesson_file(tmp_path))))
        r.next()
        r.next()
        assert r.run.kernel is not None
        hashes.append(r.run.kernel.state_hash())
    assert hashes[0] == hashes[1]
