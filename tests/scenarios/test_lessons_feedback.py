"""The software feedback lesson (Synthetix §3.2, issue 21): it passes quickly, and fails a named
check when damping is broken (the damped controller tuned as the undamped one) or read-ahead never
reads ahead."""

from __future__ import annotations

import pytest

from kernel.fs import readahead
from tests.scenarios.lesson_run import failed, run

HOST_BUDGET_S = 20.0


def test_the_lesson_passes_quickly_and_says_what_it_saw() -> None:
    r = run("software_feedback")
    assert r.passed, failed(r)
    assert sum(res.host_seconds for res in r.results) < HOST_BUDGET_S
    assert all(c.detail for res in r.results for c in res.checks), "every check says what it saw"
    text = " ".join(res.narration for res in r.results)
    assert "§3.2" in text and "§4" in text and "modeled" in text and "departure" in text


def test_without_damping_the_damped_window_does_not_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readahead, "DAMPED", readahead.UNDAMPED)
    bad = failed(run("software_feedback"))
    assert "the damped window settles: no turn inside a sequential phase, at most two in all" in bad
    assert "damping cut the turns" in bad


def test_read_ahead_that_never_reads_ahead_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readahead.ReadAhead, "read", lambda self, *a: None)
    bad = failed(run("software_feedback"))
    assert "the sequential phases went at least twice as fast as on demand" in bad
    assert "the controller moved the window" in bad
