"""The scenario engine and the lessons: every lesson passes headless, one
lesson's output is golden, and broken scenarios are reported by FILE:LINE
and step without taking the engine down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenarios import engine
from tests.conftest import ROOT
from workbench.cli.main import main

GOLDEN = ROOT / "tests" / "golden"
LESSONS = sorted(engine.available())


def test_there_are_lessons_for_the_issue() -> None:
    assert {"boot_tour", "syscall_paths", "extension_safety", "page_faults", "cow_fork", "app_scheduler",
            "guarded_dispatch", "udp_forwarding", "replugging"} <= set(LESSONS)  # fmt: skip


@pytest.mark.parametrize("name", LESSONS)
def test_every_lesson_passes_headless(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "run", name, "--headless"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert out.startswith(f"scenario {name} (seed 0): ") and "FAIL" not in out and "ERROR" not in out


def test_the_boot_tour_output_is_golden(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "run", "boot_tour", "--headless", "-c"]) == 0
    assert capsys.readouterr().out == (GOLDEN / "scenario_boot_tour.txt").read_text()


def test_json_output_carries_steps_checks_and_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "run", "cow_fork", "--headless", "--json", "-c", "--seed", "5"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["scenario"] == "cow_fork" and doc["seed"] == 5 and doc["passed"] is True
    assert [s["number"] for s in doc["steps"]] == list(range(1, len(engine.load("cow_fork").steps) + 1))
    check = doc["steps"][0]["checks"][0]
    assert check["ok"] is True and check["where"].startswith("scenarios/lessons/cow_fork.py:")
    assert doc["steps"][0]["questions"][0]["answer"].isdigit()


def test_the_runner_steps_one_at_a_time_and_says_where_it_is() -> None:
    lesson = engine.load("cow_fork")
    runner = engine.Runner(lesson, seed=3)
    n = len(lesson.steps)
    assert runner.position == f"scenario cow_fork seed 3 step 0/{n}"
    first = runner.next()
    assert first.number == 1 and first.passed and runner.position == f"scenario cow_fork seed 3 step 1/{n}"
    for _ in range(n - 1):
        runner.next()
    assert runner.done and runner.passed
    with pytest.raises(IndexError):
        runner.next()


def test_headless_and_stepped_runs_agree_step_by_step() -> None:
    def outcome(results: list[engine.StepResult]) -> list[tuple[object, ...]]:
        return [(r.title, [(c.text, c.ok, c.detail) for c in r.checks], [(q.text, q.answer) for q in r.questions])
                for r in results]  # fmt: skip

    whole = engine.Runner(engine.load("udp_forwarding"), seed=1).run_all()
    stepped = engine.Runner(engine.load("udp_forwarding"), seed=1)
    one_by_one = [stepped.next() for _ in range(len(stepped.lesson.steps))]
    assert outcome(whole) == outcome(one_by_one)


def test_a_scenario_with_a_syntax_error_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("from scenarios.engine import Lesson\nlesson = Lesson('b', 'B')\n\ndef oops(:\n    pass\n")
    assert main(["scenario", "run", str(bad), "--headless"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: syntax error" in err


def test_a_failing_action_reports_file_line_and_step_and_the_rest_still_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "faulty.py"
    src.write_text(
        "from scenarios.engine import Lesson\n"
        "lesson = Lesson('faulty', 'Faulty')\n"
        "@lesson.step('boom')\n"
        "def boom(run):\n"
        "    k = run.boot()\n"
        "    k.no_such_thing()\n"
        "@lesson.step('after')\n"
        "def after(run):\n"
        "    run.check('the engine went on', True)\n"
        "    run.check('a false check', 1 == 2, 'one is not two')\n"
    )
    assert main(["scenario", "run", str(src), "--headless"]) == 1
    out = capsys.readouterr().out
    assert f"[ERROR] {src}:6: AttributeError" in out and "step 1/2: boom" in out
    assert "[ok  ] the engine went on" in out
    assert f"[FAIL] a false check -- one is not two ({src}:10)" in out


def test_unknown_scenarios_and_files_without_a_lesson_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scenario", "run", "no_such_lesson", "--headless"]) == 2
    assert "no such scenario (try one of: app_scheduler" in capsys.readouterr().err
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert main(["scenario", "run", str(empty), "--headless"]) == 2
    assert "defines 0 Lesson objects" in capsys.readouterr().err


def test_scenario_list_names_every_lesson(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "list"]) == 0
    out = capsys.readouterr().out
    for name in LESSONS:
        assert out.count(f"{name} ") >= 1
