"""`spinwb bench feedback` (Synthetix §3.2) on a short workload: its table, its chart, its JSON."""

from __future__ import annotations

import json
import re

import pytest

from workbench.bench import feedback


def test_the_table_puts_the_damping_rule_beside_the_figures_and_charts_the_window(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert feedback.main(False, chunks=24, random=12) == 0
    out = capsys.readouterr().out
    for policy in feedback.POLICIES:
        assert f"\n  {policy:<10} " in out
    assert "twice the longest possible" in out
    assert re.search(r"holds 30 ms after each change \((more|LESS) than twice that\)", out), "the rule, checked"
    assert "every policy read the same bytes: yes" in out
    chart = out[out.index("the window (chunks) over virtual time") :]
    assert "undamped:" in chart and "damped:" in chart and "█" in chart and "|seq1" in chart and "|random" in chart


def test_json_has_every_policy_and_the_windows(capsys: pytest.CaptureFixture[str]) -> None:
    assert feedback.main(True, chunks=24, random=12) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["policies"]) == set(feedback.POLICIES) and doc["same_bytes"]
    und, dam = doc["policies"]["undamped"], doc["policies"]["damped"]
    assert und["figures"]["turns"] > dam["figures"]["turns"]
    assert dam["windows"] and all(0 <= w <= 32 for _, w in dam["windows"])
    assert doc["policies"]["none"]["figures"]["waited"] > dam["figures"]["waited"]


def test_a_damped_controller_that_swings_makes_the_bench_say_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kernel.fs import readahead

    monkeypatch.setattr(readahead, "DAMPED", readahead.UNDAMPED)
    assert feedback.main(False, bars=False, chunks=24, random=12) == 1
    assert "NOT as expected: the damped window turned as often as the undamped one" in capsys.readouterr().out
