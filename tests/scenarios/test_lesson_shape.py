"""What every lesson owes a student (issue 19): enough steps to teach, a pane
named for each, every question's answer readable off that pane in the real
workbench, and a mutation test that breaks what it teaches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scenarios import engine
from tests.conftest import ROOT

LESSONS = sorted(engine.available())
TESTS = ROOT / "tests" / "scenarios"


def test_the_seeds_are_taught_by_at_least_sixteen_lessons() -> None:
    assert len(LESSONS) >= 16, LESSONS
    assert {"protection_domains", "event_authority", "handler_combination", "thread_packages", "user_endpoint",
            "memory_reclaim", "external_references"} <= set(LESSONS)  # fmt: skip


@pytest.mark.parametrize("name", LESSONS)
def test_a_lesson_has_five_to_ten_steps_each_naming_a_pane(name: str) -> None:
    lesson = engine.load(name)
    assert 5 <= len(lesson.steps) <= 10, f"{name}: {len(lesson.steps)} steps"
    panes = [s.pane for s in lesson.steps]
    assert all(p in engine.PANES for p in panes)
    # The Scenario pane holds narration and exhibits; most steps point at the mechanism's own pane.
    assert panes.count("Scenario") <= len(panes) // 3, f"{name}: {panes}"
    runs_programs = re.search(r"\b(init|programs)=", Path(lesson.file).read_text())
    assert not runs_programs or any(s.watch for s in lesson.steps), f"{name}: its programs run too fast to watch"


@pytest.mark.parametrize("name", LESSONS)
def test_every_answer_is_on_the_pane_its_step_names(name: str) -> None:
    from workbench.tui.pane_text import on_pane, step_texts

    texts = step_texts(name)
    assert len(texts) == len(engine.load(name).steps)
    missing = []
    for st in texts:
        assert st.result.passed, f"{name} step {st.result.number}: {st.result.error or st.result.checks}"
        assert st.shown == engine.load(name).steps[st.result.number - 1].pane.lower().replace(" ", ""), (
            f"{name} step {st.result.number}: the workbench showed {st.shown}, not {st.pane}"
        )
        for q in st.result.questions:
            if not on_pane(q.answer, st.text):
                missing.append(f"step {st.result.number} ({st.pane}): {q.text} -> {q.answer!r}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("name", LESSONS)
def test_every_lesson_has_a_mutation_test(name: str) -> None:
    """A test under tests/scenarios/test_lessons_*.py loads the lesson with a
    mechanism broken and expects a check to fail (the tests themselves run in CI)."""
    sources = {p.name: p.read_text() for p in TESTS.glob("test_lessons_*.py")}
    hits = [f for f, text in sources.items() if re.search(rf"""["']{re.escape(name)}["']""", text)]
    assert hits, f"no tests/scenarios/test_lessons_*.py names the lesson {name}"
