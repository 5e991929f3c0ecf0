"""`spinwb bench net`: the figures are printed, not asserted; what is
asserted is the shape the paper reports -- which path wins, and why
(crossings and copies)."""

from __future__ import annotations

import pytest

from workbench.bench import net as bench_net
from workbench.cli.main import main


@pytest.fixture(scope="module")
def figures() -> dict:
    return bench_net.bench_net(10)


def test_guards_cost_what_they_evaluate(figures: dict) -> None:
    g = {m: f.value for m, f in figures["guards"].items()}
    assert g["none"] < g["false"] < g["true"]  # §5.5: 565 < 585 < 637
    assert abs(g["false-indexed"] - g["none"]) < 1.0  # fifty failing indexed guards: one lookup
    assert g["true-indexed"] < g["true"]  # the handlers still run, the guards are not called


def test_in_kernel_endpoints_win_by_crossings_and_copies(figures: dict) -> None:
    lat = figures["table5"]["latency"]
    assert lat["kernel"].value < lat["socket"].value
    assert lat["kernel"].crossings == 0 and lat["kernel"].copies == 0
    assert lat["socket"].crossings >= 8 and lat["socket"].copies == 4  # copyin and copyout on both hosts
    bw = figures["table5"]["bandwidth"]
    for way in ("kernel", "socket"):
        assert 8.0 < bw[way].value < 10.0  # the wire, not the host, limits bandwidth (the paper: 8.9 both)


def test_forwarding_in_the_kernel_beats_a_splicer(figures: dict) -> None:
    for proto in ("tcp", "udp"):
        row = figures["table6"][proto]
        assert row["kernel"].value < row["splicer"].value, proto
        assert row["kernel"].crossings == 0 and row["splicer"].crossings >= 8, proto


def test_the_command_prints_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "net", "--ops", "3"]) == 0
    out = capsys.readouterr().out
    for heading in ("SOSP'95 §5.5", "SOSP'95 Table 5", "SOSP'95 Table 6", "50 guards, all true", "TCP", "UDP"):
        assert heading in out
