"""The specialized_read lesson (Synthetix §3.1, §4): it passes unbroken, and
fails a named check when the guard at open does not wait for the strand
inside, or does not replug at all."""

from __future__ import annotations

from typing import Any

import pytest

from kernel.unix.fileread import Reads
from scenarios import engine


def failed(name: str) -> set[str]:
    r = engine.Runner(engine.load(name))
    r.run_all()
    return {c.text for res in r.results for c in res.checks if not c.ok}


def test_the_unbroken_lesson_passes() -> None:
    assert failed("specialized_read") == set()


def test_a_guard_that_does_not_wait_for_the_strand_inside_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    hasty = Reads._generic

    def no_wait(self: Reads, g: Any, why: str, s: Any, rejoin: bool = False) -> bool:
        return hasty(self, g, why, None, rejoin)  # replug "later", and let the open go on

    monkeypatch.setattr(Reads, "_generic", no_wait)
    bad = failed("specialized_read")
    assert "the child's open parked: a strand is inside the parent's specialized read" in bad
    assert "the child's open returned only after the swap (it waited for the strand inside)" in bad


def test_an_open_without_its_guard_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Reads, "_generic", lambda self, g, why, s, rejoin=False: True)
    bad = failed("specialized_read")
    assert "the guard replugged the parent's read back to the generic one" in bad
