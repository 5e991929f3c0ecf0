"""The dashboard: how fast the machine runs, in host time.

Guest instructions per host second, virtual time against the host time it
took, and sparklines of system calls, handler calls, faults, switches and
packets per host second. The machine knows only virtual time; the host
clock is read here, in the UI, and only while the machine runs: a step
taken while paused is not a rate.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from workbench import views
from workbench.session import Session

SAMPLE = 0.5  # host seconds between samples while running
HISTORY = 60  # samples a sparkline shows (30 s)
SERIES = [("syscalls", "system calls/s"), ("handler_calls", "dispatches/s"), ("faults", "faults/s"),
          ("switches", "switches/s"), ("packets", "packets/s")]  # fmt: skip


def si(x: float) -> str:
    """A rate as people read it: 12.3 M, 4.5 k, 17."""
    for div, unit in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if x >= div:
            return f"{x / div:.1f}{unit}"
    return f"{x:.0f}"


@dataclass
class Meter:
    """Rates from a series of samples of the kernel's totals, host-timed.

    A sample taken while running makes a rate from the last one; a sample
    taken while paused only moves the baseline (so a step is not counted as
    speed). Going backwards (reset, step back, another session) starts again."""

    rates: dict[str, deque[float]] = field(default_factory=dict)
    last: views.PaceRow | None = None
    last_t: float = 0.0
    ips: float = 0.0  # guest instructions per host second, the last interval
    host_running: float = 0.0  # host seconds spent running since the meter started
    virtual_running: int = 0  # cycles run in that host time
    owner: int = 0  # id() of the kernel sampled

    def __post_init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.rates = {name: deque([0.0] * HISTORY, maxlen=HISTORY) for name, _ in SERIES}
        self.last = None
        self.ips = 0.0
        self.host_running = 0.0
        self.virtual_running = 0

    def take(self, session: Session, running: bool) -> bool:
        """Sample the session's machine on show if one is due."""
        k = session.kernel
        now = time.perf_counter()  # host-time ok: the UI's dashboard, never the machine's
        if self.last is not None and running and now - self.last_t < SAMPLE and id(k) == self.owner:
            return False
        return self.sample(views.pace(k), now, running, id(k))

    def sample(self, row: views.PaceRow, now: float, running: bool, owner: int = 0, force: bool = False) -> bool:
        """Take a sample if one is due; True if the rates moved."""
        if owner != self.owner or (self.last is not None and row.instructions < self.last.instructions):
            self.clear()
            self.owner = owner
        if self.last is None or not running:
            self.last, self.last_t = row, now
            return False
        dt = now - self.last_t
        if dt < SAMPLE and not force:
            return False
        dt = max(dt, 1e-6)
        for name, _ in SERIES:
            self.rates[name].append((getattr(row, name) - getattr(self.last, name)) / dt)
        self.ips = (row.instructions - self.last.instructions) / dt
        self.host_running += dt
        self.virtual_running += row.cycles - self.last.cycles
        self.last, self.last_t = row, now
        return True

    def ratio(self) -> float:
        """Virtual seconds per host second while running (1.0: as fast as the real workstation)."""
        return self.virtual_running / views.CLOCK_HZ / self.host_running if self.host_running else 0.0


class Dashboard(Vertical):
    """The pace pane: figures at the top, one sparkline a row below."""

    TITLE = "Pace"
    DEFAULT_CSS = """
    Dashboard { height: auto; border: round $accent; padding: 0 1; }
    Dashboard > #pace-head { height: auto; }
    Dashboard > Horizontal { height: 1; }
    Dashboard .pace-label { width: 15; }
    Dashboard .pace-value { width: 9; text-align: right; }
    Dashboard Sparkline { width: 1fr; height: 1; margin: 0 1; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.border_title = self.TITLE

    def compose(self) -> ComposeResult:
        yield Static(id="pace-head")
        for name, label in SERIES:
            with Horizontal():
                yield Static(label, classes="pace-label")
                yield Sparkline([0.0] * HISTORY, id=f"spark-{name}")
                yield Static("0", id=f"value-{name}", classes="pace-value")

    def show(self, session: Session) -> None:
        m: Meter = self.app.meter  # type: ignore[attr-defined] - the app samples it at every repaint
        row = views.pace(session.kernel)
        running = getattr(self.app, "runner", None) is not None
        head = Text()
        head.append(f"{si(m.ips) if running else '-'} instructions/s", style="bold")
        head.append(" (guest, per host second)" + ("" if running else ": paused"))
        head.append("\n")
        if m.host_running:
            head.append(f"virtual {m.virtual_running / views.CLOCK_HZ:.2f} s in host {m.host_running:.1f} s: ")
            head.append(f"{m.ratio():.2f}× real time", style="bold")
        else:
            head.append("virtual time against host time: run the machine (space)", style="dim")
        head.append(f"\nsince boot: {row.instructions:,} instructions, virtual {row.cycles / views.CLOCK_HZ:.3f} s"
                    + (f" on {session.host_name}" if len(session.kernels) > 1 else ""))  # fmt: skip
        self.query_one("#pace-head", Static).update(head)
        for name, _ in SERIES:
            data = list(m.rates[name])
            spark = self.query_one(f"#spark-{name}", Sparkline)
            if spark.data != data:
                spark.data = data
                self.query_one(f"#value-{name}", Static).update(si(data[-1]))


def status(m: Meter) -> str:
    """The pace in a few words, for the status bar."""
    return f"{si(m.ips)} instr/s, {m.ratio():.2f}× real time" if m.host_running else ""
