"""The dispatcher lessons (syscall_paths, guarded_dispatch, handler_combination):
each passes, each question's answer is on the pane its step names, and each
fails a named check when the mechanism it teaches is broken."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kernel.sys import dispatcher as D
from scenarios import engine

LESSONS = ("syscall_paths", "guarded_dispatch", "handler_combination")


def checks(name: str, **constants: object) -> dict[str, bool]:
    """Run a lesson headless (with some of its module's constants replaced): each
    check's text and whether it passed every time it was made (no step may error)."""
    lesson = engine.load(name)
    lesson.steps[0].action.__globals__.update(constants)
    results = engine.Runner(lesson).run_all()
    errors = [r.error for r in results if r.error]
    assert not errors, errors
    out: dict[str, bool] = {}
    for r in results:
        for c in r.checks:
            out[c.text] = out.get(c.text, True) and c.ok
    return out


@pytest.mark.parametrize("name", LESSONS)
def test_the_unbroken_lesson_passes_with_5_to_10_steps(name: str) -> None:
    lesson = engine.load(name)
    assert 5 <= len(lesson.steps) <= 10
    assert sum(s.pane == "Scenario" for s in lesson.steps) <= len(lesson.steps) / 3
    got = checks(name)
    assert got and all(got.values()), [t for t, ok in got.items() if not ok]


def test_syscall_paths_fails_when_the_server_polls_instead_of_waiting_in_its_receive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken IPC: the server's receive never blocks, it traps again and again until a
    request is queued. Calls still get their answers, but no request is handed to a
    server waiting in its receive, and each call costs more crossings."""
    for f in engine.EXTENSIONS.glob("*.py"):
        shutil.copy(f, tmp_path / f.name)
    src = (tmp_path / "xcall.py").read_text()
    waits = "    waiting[0] = True\n    Strand.Block(strand)\n    state.result = Trap.Restart\n"
    assert waits in src
    (tmp_path / "xcall.py").write_text(src.replace(waits, "    state.result = Trap.Restart\n"))
    monkeypatch.setattr(engine, "EXTENSIONS", tmp_path)
    got = checks("syscall_paths", WATCH_N=5)  # a polling server spins a quantum a call: few calls
    assert got["almost every request went straight to a server blocked in its receive"] is False
    assert got["every call got the server's answer (request + 1)"] is True  # broken, yet it still answers


def test_guarded_dispatch_fails_when_the_dispatcher_skips_extensions_guards(monkeypatch: pytest.MonkeyPatch) -> None:
    real = D.Dispatcher._callable

    def skip_guards(self: D.Dispatcher, b: D.Binding, guard: bool = False, count: bool = False) -> object:
        if guard and not b.trusted:
            return None  # an extension's guard is never asked: its handler always runs
        return real(self, b, guard, count)

    monkeypatch.setattr(D.Dispatcher, "_callable", skip_guards)
    got = checks("guarded_dispatch")
    assert got["the guards' handlers never ran"] is False


def test_handler_combination_fails_when_the_result_handler_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(D.Dispatcher, "install_result_handler", lambda self, event, rh, module, closure=None: None)
    got = checks("handler_combination")
    assert got["the raise returned the sum of every handler's result"] is False
    assert got["the raise returned the last handler's result"] is True


def test_handler_combination_fails_when_an_asynchronous_handler_runs_synchronously(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(D, "_spawn", lambda d, b, args: b.call_handler(*args))
    got = checks("handler_combination")
    assert got["the raise returned after the synchronous handler only"] is False
    assert got["the asynchronous handler waits in a strand of its own"] is False
