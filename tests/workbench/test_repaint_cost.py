"""What a repaint costs while the machine runs (issue 22: the TUI's instruction rate):
a pane whose size its layout sets is redrawn alone, without a layout pass over the
screen; a tab switch draws its pane once; repaints are spaced out when drawing is dear."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widget import Widget

from tests.workbench.test_app import drive
from workbench.session import BIN, Session
from workbench.tui import app as tui
from workbench.tui.app import Workbench
from workbench.tui.panes import Pane


def _bench_session() -> Session:
    return Session(BIN / "bench-ev4.elf", ["bench-ev4", "1000000"])


def test_a_repaint_lays_nothing_out_and_a_tab_switch_draws_once(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Workbench(session=_bench_session())
    layouts: list[str] = []
    shows: list[str] = []
    refresh = Widget.refresh

    def spy(self: Widget, *regions: Any, layout: bool = False, **kw: Any) -> Any:
        if layout and isinstance(self, Pane):
            layouts.append(self.TITLE)
        return refresh(self, *regions, layout=layout, **kw)

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("7")  # the CPU pane, shown once so it has its size
        await pilot.press("1")
        await pilot.pause()
        monkeypatch.setattr(Widget, "refresh", spy)
        app.session.step(5_000)
        app.refresh_panes()
        assert layouts == [], "a pane's new content must not lay the screen out again"
        for pane in app.query(Pane):
            monkeypatch.setattr(pane, "show", lambda s, p=pane: (shows.append(p.TITLE), type(p).show(p, s)))
        await pilot.press("7")
        await pilot.pause()
        await pilot.pause()

    drive(app, body, size=(100, 30))
    # at once (the key's answer), and once laid out at its size (a hidden tab's pane has none); it was three
    assert shows == ["CPU", "CPU"]


def test_repaints_space_out_when_drawing_is_dear(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Workbench(session=_bench_session())
    clock = iter([1.0, 1.002, 1.022, 1.2])  # the UI thread's CPU at four repaints
    monkeypatch.setattr(tui.time, "thread_time", lambda: next(clock))
    app.runner = object()  # type: ignore[assignment]  # as while the worker runs the machine
    app._pace_repaints()
    app._pace_repaints()  # 2 ms of drawing: the usual tick
    assert app.run_tick == pytest.approx(tui.TICK)
    app._pace_repaints()  # 20 ms: ten times that apart, so drawing stays a tenth of the time
    assert app.run_tick == pytest.approx(0.02 / tui.UI_SHARE)
    app._pace_repaints()  # 178 ms: no further apart than MAX_TICK
    assert app.run_tick == tui.MAX_TICK
    app.runner = None
    clock = iter([2.0])
    app._pace_repaints()  # paused: every repaint is asked for, none is spaced out
    assert app.run_tick == app.tick
