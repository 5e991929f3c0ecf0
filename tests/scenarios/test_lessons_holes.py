"""The Poking Holes lesson (macro_call): it passes, and its checks fail when
the macro call crosses as often as the program's own calls, or does the
wrong thing."""

from __future__ import annotations

import pytest

from kernel.unix.calls_ext import CallOps
from tests.scenarios.lesson_run import failed, run


def test_the_lesson_passes() -> None:
    assert failed(run("macro_call")) == set()


def test_it_fails_when_the_macro_call_crosses_as_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each read inside the macro call blocks once more and restarts: extra kernel entries, as if it crossed."""
    real = CallOps.read
    blocked: set[int] = set()

    def read(self: CallOps, st, fd, buf, n):  # noqa: ANN001, ANN202
        key = id(self.progress(st))
        if key not in blocked:
            blocked.add(key)
            s = self.call(st)[1]
            self.k.sched.sleep_until(s, self.k.sal.now + 1000)
            return None
        return real(self, st, fd, buf, n)

    monkeypatch.setattr(CallOps, "read", read)
    bad = failed(run("macro_call"))
    assert "it saved exactly the crossings the profile predicted" in bad
    assert "the same output as smallfiles" not in bad  # the output is still right: only the crossings tell


def test_it_fails_when_the_macro_call_reads_the_wrong_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    real = CallOps.read
    monkeypatch.setattr(CallOps, "read", lambda self, st, fd, buf, n: real(self, st, fd, buf + 1, n))
    bad = failed(run("macro_call"))
    assert "the same output as smallfiles" in bad
