"""spinwb bench macro: the three ways of Poking Holes §3.2, ordered and explained."""

from __future__ import annotations

import json

import pytest

from workbench.bench import macro
from workbench.cli.main import main


def test_three_ways_ordered_with_their_mechanism(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "macro", "--ops", "10", "--json"]) == 0
    res = {w: macro.Way(**v) for w, v in json.loads(capsys.readouterr().out).items()}
    t, e, u = res["trusted"], res["extension"], res["user"]
    assert t.crossings == e.crossings == 2 and u.crossings == 6  # one entry and return instead of three
    assert t.cycles < e.cycles < u.cycles
    assert t.checks == t.fuel == 0 and e.checks > 0 and e.fuel > 0  # the extension pays for its checks
    assert e.guards == t.guards + 1  # the imposed guard: only its own process's calls
    assert u.copies == t.copies == e.copies == 2  # the path in, the data out: the same copies every way
    assert main(["bench", "macro", "--ops", "5"]) == 0
    out = capsys.readouterr().out
    assert "I trust extensions" in out and "SOSP'95 Table 2" in out and "UNEXPECTED" not in out


def test_the_bench_fails_loudly_when_the_macro_call_is_no_cheaper(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    real = macro.measure
    monkeypatch.setattr(macro, "measure", lambda way, n: real("user" if way == "trusted" else way, n))
    assert macro.main(False, 5) == 1
    assert "UNEXPECTED" in capsys.readouterr().out
