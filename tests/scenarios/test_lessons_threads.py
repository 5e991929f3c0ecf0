"""The lessons on strands -- app_scheduler, replugging, thread_packages: each
passes unbroken, each fails a named check when the mechanism it teaches is
broken, and each question's answer is on the pane its step names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kernel.sys import replug
from kernel.unix import cthreads
from scenarios import engine

LESSONS = ("app_scheduler", "replugging", "thread_packages")


def run(name: str) -> engine.Runner:
    r = engine.Runner(engine.load(name))
    r.run_all()
    return r


def failed(r: engine.Runner) -> set[str]:
    return {c.text for res in r.results for c in res.checks if not c.ok}


@pytest.mark.parametrize("name", LESSONS)
def test_the_unbroken_lesson_passes_in_five_to_ten_steps(name: str) -> None:
    r = run(name)
    assert r.passed, [(res.title, res.error, [(c.text, c.detail) for c in res.checks if not c.ok]) for res in r.results]
    assert 5 <= len(r.results) <= 10
    assert sum(res.pane == "Scenario" for res in r.results) <= len(r.results) / 3
    assert all(c.detail for res in r.results for c in res.checks), "every check says what it saw"


# --- replugging ------------------------------------------------------------------------------


def _call_without_tank(self: replug.Slot, *args: Any) -> Any:
    """Slot.__call__ with no holding tank: callers enter whatever the slot points at."""
    self.inside += 1
    self.calls += 1
    try:
        return self.fn(*args)
    finally:
        self.inside -= 1
        if self.inside == 0 and self.waiter is not None and self.blocked == 0:
            w, self.waiter = self.waiter, None
            self._parker().unblock(w)


def test_replugging_without_a_holding_tank_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replug.Slot, "__call__", _call_without_tank)
    assert "no call entered a version after its replug began (the holding tank)" in failed(run("replugging"))


def test_replugging_without_the_inside_counter_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    original = replug.Slot.replug

    def swap_at_once(self: replug.Slot, new: Any, reason: str = "") -> bool:
        """The replugger does not wait for the callers inside: it sees the counter as 0."""
        inside, self.inside = self.inside, 0
        try:
            return original(self, new, reason)
        finally:
            self.inside += inside

    monkeypatch.setattr(replug.Slot, "replug", swap_at_once)
    bad = failed(run("replugging"))
    assert "no read's advance of the offset was lost (final offset = reads × 512)" in bad
    assert "the guard's replug waited for the reader inside" in bad


# --- app_scheduler ---------------------------------------------------------------------------


def test_a_lottery_that_ignores_tickets_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    source = (engine.EXTENSIONS / "lottery.py").read_text()
    assert source.count("tickets.get(s, 1)") == 2
    blind = tmp_path / "lottery.py"
    blind.write_text(source.replace("tickets.get(s, 1)", "1"))
    load = engine.Run.load

    def load_blind(self: engine.Run, k: Any, extension: str, **settings: Any) -> Any:
        return load(self, k, str(blind) if extension == "lottery" else extension, **settings)

    monkeypatch.setattr(engine.Run, "load", load_blind)
    assert "A (3 tickets) ran 2 to 4.5 times as long as B (1 ticket)" in failed(run("app_scheduler"))


# --- thread_packages -------------------------------------------------------------------------


def test_a_layered_package_that_behaves_like_the_integrated_one_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    program = engine.Run.program

    def as_integrated(self: engine.Run, name: str) -> Any:
        return program(self, "threads_integrated" if name == "threads_layered" else name)

    monkeypatch.setattr(engine.Run, "program", as_integrated)
    bad = failed(run("thread_packages"))
    assert "layered makes more crossings per fork-join than integrated" in bad
    assert "integrated fork-join is faster than layered" in bad


def test_a_join_that_does_not_wait_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cthreads.CThreads, "cthread_join", lambda self, p, s, pkg, st: 0)
    assert ("every cthread_join waited for and returned its own child's value (exit status 0)"
            in failed(run("thread_packages")))  # fmt: skip
