"""The big screen and the sense of speed (issue 18): layouts by terminal
size, the Pace dashboard's meter, the palette's lessons, the benches' bars."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from tests.conftest import ROOT
from workbench import views
from workbench.bench.chart import bar, chart
from workbench.session import Session
from workbench.tui import layouts
from workbench.tui.app import Workbench
from workbench.tui.benches import BenchScreen
from workbench.tui.dashboard import Meter


def row(instructions: int, cycles: int, syscalls: int = 0) -> views.PaceRow:
    return views.PaceRow(cycles, instructions, syscalls, 0, 0, 0, 0)


def test_default_layout_by_size() -> None:
    assert layouts.default(80, 24, False) == "single"
    assert layouts.default(159, 50, False) == "single" and layouts.default(200, 44, True) == "single"
    assert layouts.default(160, 45, False) == "overview" and layouts.default(200, 50, True) == "lesson"
    seen = ["single"]
    while (nxt := layouts.following(seen[-1])) != "single":
        seen.append(nxt)
    assert seen == layouts.NAMES  # l visits every layout and comes back


def test_meter_counts_rates_only_while_running() -> None:
    m = Meter()
    m.sample(row(0, 0), 0.0, running=False)
    m.sample(row(5_000, 9_000), 10.0, running=False)  # a step while paused: no rate, no host time
    assert m.ips == 0 and m.host_running == 0
    assert m.sample(row(1_005_000, 133_009_000, 40), 12.0, running=True)
    assert m.ips == 500_000 and list(m.rates["syscalls"])[-1] == 20
    assert m.host_running == 2.0 and abs(m.ratio() - 0.5) < 1e-9  # 1 virtual second in 2 host seconds
    assert not m.sample(row(1_006_000, 133_010_000), 12.1, running=True)  # not due yet
    m.sample(row(10, 10), 13.0, running=True)  # went backwards: reset or step back
    assert m.host_running == 0 and m.ips == 0


def test_the_palette_runs_a_bench_and_shows_its_figures_with_bars() -> None:
    """Ctrl-P, "bench threads", enter: the bench runs in a child process and its
    screen shows `spinwb bench threads`' table (the modeled figures a test of
    the bench checks) and the paper's comparison as bars; Escape goes back."""

    async def go() -> tuple[str, bool]:
        app = Workbench(session=Session())
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("ctrl+p")
            await pilot.pause(0.5)
            for ch in "bench threads":
                await pilot.press("space" if ch == " " else ch)
            await pilot.pause(0.5)
            await pilot.press("enter")
            text = ""
            for _ in range(1200):  # the bench boots machines: seconds of host time
                await pilot.pause(0.1)
                if isinstance(app.screen, BenchScreen):
                    text = str(app.screen.query_one("#bench-out").render())
                    if "Fork-Join" in text:
                        break
            await pilot.press("escape")
            await pilot.pause(0.2)
            return text, isinstance(app.screen, BenchScreen)

    text, still = asyncio.run(go())
    assert "Table 3" in text and "Fork-Join     18.0" in text, text[:400]
    assert "█" in text and "paper" in text, "no bars beside the numbers"
    assert not still, "Escape did not go back to the workbench"


def test_the_palette_lists_and_opens_a_lesson() -> None:
    """Ctrl-P, "boot tour", enter: the lesson opens, the status bar says so."""

    async def go() -> tuple[str, str]:
        app = Workbench(session=Session())
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("ctrl+p")
            await pilot.pause(0.5)
            for ch in "boot tour":
                await pilot.press("space" if ch == " " else ch)
            await pilot.pause(0.5)
            await pilot.press("enter")
            for _ in range(100):
                await pilot.pause(0.1)
                if app.session.runner is not None and not app.busy:
                    break
            assert app.session.runner is not None, "the lesson did not open"
            await pilot.pause(0.2)
            status = str(app.query_one("#status").render())
            return app.session.runner.lesson.name, status

    name, status = asyncio.run(go())
    assert name == "boot_tour"
    assert status.startswith("scenario boot_tour seed 0 step 0/"), status


def test_bars_scale_to_the_largest() -> None:
    assert bar(10, 10, 20) == "█" * 20 and bar(5, 10, 20) == "█" * 10 and bar(0, 10, 20) == ""
    assert bar(1, 1000, 20) == "▏"  # a small figure is still seen
    lines = chart("t", [("Fault", [("ours", 29.3), ("paper OSF/1", 329.0), ("none", None)])], "µs")
    assert lines[0] == "t" and lines[1] == "  Fault" and "n/a" in lines[4]
    assert all(len(ln) <= 80 for ln in lines)
    ours, osf = lines[2].count("█"), lines[3].count("█")
    assert osf > 10 * ours > 0


def test_bench_vm_prints_its_numbers_then_the_bars() -> None:
    """The table is as it was (the lines --no-chart prints, host µs aside); the bars follow, within 80 columns."""
    cmd = [sys.executable, "-m", "workbench.cli", "bench", "vm", "--ops", "3"]
    with_bars = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()
    plain = subprocess.run([*cmd, "--no-chart"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    plain_lines = plain.splitlines()
    assert "as bars" not in plain and "█" not in plain
    cut = with_bars.index("")  # the blank line before the chart
    assert len(with_bars[:cut]) == len(plain_lines)

    def modeled(line: str) -> list[str]:  # every column but the host µs ones
        f = line.split()
        return f[:3] + f[4:6] + f[7:] if f and f[0] in ("Fault", "Trap", "Appel1") else f[:1]

    for a, b in zip(with_bars[:cut], plain_lines, strict=True):
        assert modeled(a) == modeled(b), (a, b)
    fault = next(ln for ln in with_bars[:cut] if ln.split()[:1] == ["Fault"]).split()
    chart_lines = with_bars[cut + 1 :]
    assert chart_lines[0].startswith("Table 4 as bars")
    i = chart_lines.index("  Fault")
    assert chart_lines[i + 1].split()[:3] == ["ours,", "UNIX", "way"] and chart_lines[i + 1].endswith(f"{fault[1]} µs")
    assert chart_lines[i + 3].endswith("329.0 µs") and chart_lines[i + 4].endswith("415.0 µs")  # the paper's
    assert all(len(ln) <= 80 for ln in chart_lines)
