"""`spinwb bench specialize`: the figures' shape (Synthetix §3.1, §4.3) comes from the read path's work."""

from __future__ import annotations

import json

import pytest

from kernel.core.costs import REPLUG_SWAP
from kernel.unix.fileread import Reads
from workbench.bench import specialize


def test_the_bench_gives_the_papers_shape_from_the_mechanism(capsys: pytest.CaptureFixture[str]) -> None:
    assert specialize.main(True, 60) == 0  # few reads: the incremental replug (535) weighs on the mean
    res = json.loads(capsys.readouterr().out)
    rows = {r["size"]: r for r in res["rows"]}
    assert set(rows) == set(specialize.SIZES) and res["modeled"] is True
    assert rows[1]["factor"] > 3 and rows[65536]["factor"] < 1.5  # small reads: >3x; big ones: the copy dominates
    factors = [rows[s]["factor"] for s in specialize.SIZES]
    assert factors == sorted(factors, reverse=True)
    for r in rows.values():
        g, s = r["generic"], r["specialized"]
        assert g["crossings"] == s["crossings"] == 2 and g["copies"] == s["copies"] == 1
        assert g["layers"] >= 4 and s["layers"] == 0 and s["guard_checks"] >= 1 and g["guard_checks"] == 0
        assert 1 <= r["crossover_reads"] <= 3  # "loses only if the file is opened for read and then never read"
    assert res["replug_at_second_open_cycles"] == REPLUG_SWAP  # the second opener's guard: one replug
    assert res["paper"] == {"factor_more_than": 3, "call_cycles": 35, "replug_cycles": 535}


def test_mutation_a_kernel_that_never_finds_the_invariants_fails_the_bench(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(Reads, "eligible", lambda self, f: False)
    monkeypatch.setattr(specialize, "SIZES", (1,))
    assert specialize.main(False, 5, bars=False) == 1
    assert "expected more than 3x" in capsys.readouterr().out
