"""Headless grading as a student's file meets it (issue 19): each step's
heading before it runs, narration as markdown, check details when they pass,
a progress line on a terminal, limits that stop a step instead of hanging
(in this process and isolated), the steps a halted lesson did not run, and
`--json` with the answers only under `-c`."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from scenarios import engine
from tests.conftest import ROOT
from workbench.cli.main import main

HEAD = "from scenarios.engine import Lesson\n\nlesson = Lesson('t', 'A test lesson')\n\n"


def lesson_file(tmp_path: Path, body: str, name: str = "t.py") -> str:
    f = tmp_path / name
    f.write_text(HEAD + body)
    return str(f)


CHECKS = """
@lesson.step("Checks", narration='''A **bold** claim and `code`.

- first point
- second point''')
def checks(run):
    print("INSIDE THE STEP")
    run.check("passes with its detail", True, "the timings: 12 us\\nand 13 us")
    run.check("passes without one", True)
    run.check("fails with its detail", False, "the fault list: none")
    run.ask("What is six times seven?", 42)
"""


def test_a_passing_checks_detail_shows_and_file_line_stays_for_failures(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    f = lesson_file(tmp_path, CHECKS)
    assert main(["scenario", "run", f, "--headless", "--no-isolate"]) == 1
    out = capsys.readouterr().out
    assert "  [ok  ] passes with its detail -- the timings: 12 us | and 13 us\n" in out
    assert "  [ok  ] passes without one\n" in out
    assert re.search(r"  \[FAIL\] fails with its detail -- the fault list: none \(\S*t\.py:\d+\)\n", out), out
    assert "  Q: What is six times seven?\n" in out and "A: 42" not in out
    assert "result: 2 of 3 checks passed" in out


def test_narration_is_markdown_without_ansi_and_the_heading_comes_before_the_step(tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    f = lesson_file(tmp_path, CHECKS)
    main(["scenario", "run", f, "--headless", "--no-isolate", "-c"])
    out = capsys.readouterr().out
    assert "\x1b" not in out  # not a terminal: no escape codes
    assert "  A bold claim and code.\n" in out  # the markdown rendered, not its asterisks and backticks
    assert "**" not in out and "`" not in out
    assert re.search(r"^   *• first point$", out, re.M) and re.search(r"^   *• second point$", out, re.M), out
    assert out.index("step 1/1: Checks") < out.index("first point") < out.index("INSIDE THE STEP") < out.index("[ok  ]")
    assert "  Q: What is six times seven?  A: 42\n" in out
    assert all(line == line.rstrip() for line in out.splitlines()), "no trailing blanks from rich's padding"


def test_json_carries_answers_only_with_c(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = lesson_file(tmp_path, CHECKS)
    main(["scenario", "run", f, "--headless", "--no-isolate", "--json"])
    (q,) = json.loads(capsys.readouterr().out)["steps"][0]["questions"]
    assert q == {"text": "What is six times seven?"}
    main(["scenario", "run", f, "--headless", "--no-isolate", "--json", "-c"])
    (q,) = json.loads(capsys.readouterr().out)["steps"][0]["questions"]
    assert q == {"text": "What is six times seven?", "answer": "42"}
    main(["scenario", "run", f, "--headless", "--json"])  # isolated, as a student's file is: the same
    (q,) = json.loads(capsys.readouterr().out)["steps"][0]["questions"]
    assert q == {"text": "What is six times seven?"}


LOOPS = """
@lesson.step("Fine")
def fine(run):
    run.check("the first step runs", True)


@lesson.step("Loops in Python", host_limit_s=1)
def loops(run):
    while True:
        pass


@lesson.step("After one")
def after_one(run):
    run.check("never", True)


@lesson.step("After two")
def after_two(run):
    run.check("never", True)
"""

IDLES = """
@lesson.step("Idles for ever", virtual_limit_s=0.05)
def idles(run):
    k = run.boot()
    k.run()


@lesson.step("After")
def after(run):
    run.check("never", True)
"""


@pytest.mark.parametrize("isolation", ["--no-isolate", "--isolate"])
def test_a_python_loop_that_never_ends_exceeds_its_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         isolation: str) -> None:  # fmt: skip
    f = lesson_file(tmp_path, LOOPS)
    assert main(["scenario", "run", f, "--headless", isolation]) == 1
    out = capsys.readouterr().out
    assert re.search(r"\[ERROR\] \S*t\.py:\d+: step 2 exceeded its limit \(1 s of host time\)", out), out
    assert "not run, because step 2 exceeded its limit: 3. After one; 4. After two" in out
    assert "step 3/4" not in out and "steps 3-4" not in out
    assert out.count("[ok  ] the first step runs") == 1


@pytest.mark.parametrize("isolation", ["--no-isolate", "--isolate"])
def test_a_machine_that_idles_for_ever_exceeds_its_virtual_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 isolation: str) -> None:  # fmt: skip
    f = lesson_file(tmp_path, IDLES)
    assert main(["scenario", "run", f, "--headless", isolation, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    (step,) = doc["steps"]
    assert "step 1 exceeded its limit (0.05 s of virtual time)" in step["error"]
    assert 50_000 <= step["virtual_us"] < 60_000  # stopped at the limit, within a clock tick or two
    assert doc["passed"] is False


def test_step_limit_overrides_every_steps_host_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = lesson_file(tmp_path, LOOPS.replace("host_limit_s=1", "host_limit_s=600"))
    assert main(["scenario", "run", f, "--headless", "--no-isolate", "--step-limit", "0.5"]) == 1
    assert "step 2 exceeded its limit (0.5 s of host time)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:  # refused by the parser: a message, no traceback
        main(["scenario", "run", f, "--headless", "--step-limit", "0"])
    assert e.value.code == 2 and "--step-limit: 0 is not a positive number of seconds" in capsys.readouterr().err


TICKS = """
import time


@lesson.step("A while")
def a_while(run):
    end = time.perf_counter() + 0.8
    while time.perf_counter() < end:
        run.tick()
        time.sleep(0.005)
    run.check("done", True)
"""


def test_progress_on_a_terminal_is_one_line_refreshed_and_cleared(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    f = lesson_file(tmp_path, TICKS)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert main(["scenario", "run", f, "--headless", "--no-isolate"]) == 0
    err = capsys.readouterr().err
    lines = re.findall(r"\r  … [\d.,]+ ms virtual, [\d.]+ s host\x1b\[K", err)
    assert 2 <= len(lines) <= 4, err  # 0.8 s at most 4 a second
    assert err.endswith("\r\x1b[K") and "\n" not in err
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert main(["scenario", "run", f, "--headless", "--no-isolate"]) == 0
    assert capsys.readouterr().err == ""  # a log file gets no progress


STDIN = """
@lesson.step("Its input")
def given(run):
    k = run.boot(init="upper-ev4", stdin="one\\ntwo\\n")
    run.check("upper exited", run.run_until_exit(k) == "all processes exited")
    run.check("it upper-cased its input", "1 ONE" in run.console(k) and "2 TWO" in run.console(k), run.console(k))
"""


def test_a_lesson_gives_its_program_stdin_headless(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = lesson_file(tmp_path, STDIN)
    assert main(["scenario", "run", f, "--headless"]) == 0, capsys.readouterr().out
    assert "[ok  ] it upper-cased its input --   1 ONE |   2 TWO" in capsys.readouterr().out


def test_every_public_run_method_and_attribute_is_in_docs_lessons() -> None:
    doc = (ROOT / "docs" / "lessons.md").read_text()
    names = {n for n, _ in inspect.getmembers(engine.Run) if not n.startswith("_")}
    run = engine.Run(engine.Lesson("x", "X"), 0)
    names |= {n for n in vars(run) if not n.startswith("_")}
    missing = sorted(n for n in names if f"run.{n}" not in doc)
    assert not missing, f"docs/lessons.md does not show run.{', run.'.join(missing)}"
    params = inspect.signature(engine.Lesson.step).parameters
    assert all(p in doc for p in params if p != "self"), "every argument of @lesson.step"
    assert "Lesson(" in doc and "python -m workbench.tui.pane_text" in doc and "--headless" in doc
