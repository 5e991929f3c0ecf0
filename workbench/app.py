"""The terminal workbench (Textual) on a booted workstation.

Panes so far: Strands (every strand, the running one marked, and the last
context switches), CPU (registers with changes since the last step
highlighted, disassembly around PC, mode, IPL, counters) and Console. The
machine advances in bounded slices on a timer while running, so keys stay
live; each slice ends with one repaint from the world's snapshots.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from machine.alpha.constants import REG_NAMES
from machine.alpha.disasm import disasm_word
from workbench.world import StrandRow, World

TICK = 0.05  # seconds between slices: at most 20 repaints a second
SLICE_SECONDS = 0.035  # host time a slice aims for, so a key waits at most about one slice
SLICE_CYCLES = 133_000_000 // 20  # and at most 50 ms of virtual time: idle, a slice is clock ticks


class StrandsPane(Static):
    """Every strand; the running one marked; the recent switches below."""

    DEFAULT_CSS = "StrandsPane { height: 1fr; border: round $accent; padding: 0 1; }"

    # (title, justify, the cell, narrowest pane that shows the column)
    COLUMNS: ClassVar[list[tuple[str, str, Callable[[StrandRow], str], int]]] = [
        ("", "left", lambda r: "▶" if r.running else "", 0),
        ("id", "right", lambda r: str(r.id), 0),
        ("name", "left", lambda r: r.name, 0),
        ("owner", "left", lambda r: r.owner, 62),
        ("state", "left", lambda r: r.state, 0),
        ("sched", "left", lambda r: r.scheduler, 62),
        ("pri", "right", lambda r: str(r.priority), 40),
        ("cpu µs", "right", lambda r: f"{r.cpu_micros:,.0f}", 0),
    ]

    def show(self, world: World) -> None:
        cols = [c for c in self.COLUMNS if self.size.width >= c[3]]
        t = Table(box=None, padding=(0, 1), expand=True, show_edge=False)
        for title, just, _, _ in cols:
            t.add_column(title, justify=just, no_wrap=True)  # type: ignore[arg-type]
        for r in world.strands():
            style = "bold reverse" if r.running else ("dim" if r.state == "done" else "")
            t.add_row(*(cell(r) for _, _, cell, _ in cols), style=style)
        lines = [f"{s.old}→{s.new} {s.reason}" for s in world.switches(6)]
        self.update(Group(t, Text("switches: " + (", ".join(lines) if lines else "none yet"), style="italic")))


class CpuPane(Static):
    """Registers (changed ones highlighted) and the disassembly around PC."""

    DEFAULT_CSS = "CpuPane { width: 48; height: 1fr; border: round $accent; padding: 0 1; }"

    def show(self, world: World, before: tuple[int, ...]) -> None:
        cpu = world.cpu()
        lines = [f"pc {cpu.pc:#018x}  {cpu.mode} mode, IPL {cpu.ipl}",
                 f"instructions {cpu.icount:,}   cycles {cpu.cycles:,}", ""]  # fmt: skip
        per_row = max(1, min(4, (self.size.width + 2) // 23))  # "  v0 0123456789abcdef" + gap
        for row in range(0, 32, per_row):
            cells = []
            for n in range(row, min(32, row + per_row)):
                v = cpu.regs[n]
                mark = "[reverse]" if v != before[n] else ""
                end = "[/reverse]" if mark else ""
                cells.append(f"{REG_NAMES[n]:>4} {mark}{v:016x}{end}")
            lines.append("  ".join(cells))
        lines.append("")
        for k in range(-3, 6):
            pc = (cpu.pc + 4 * k) & ((1 << 64) - 1)
            word = world.fetch_word(pc)
            text = "--" if word is None else disasm_word(word, pc, symbolic=True).replace("\t", " ")
            arrow = "[b]=>[/b]" if k == 0 else "  "
            lines.append(f"{arrow} {pc:x}: {text}")
        self.update("\n".join(lines))


class ConsolePane(Static):
    DEFAULT_CSS = "ConsolePane { height: 1fr; border: round $secondary; padding: 0 1; }"


class Workbench(App[None]):
    TITLE = "SPIN Workbench"
    BINDINGS = [
        Binding("space", "toggle_run", "Run/Pause"),
        Binding("s", "step", "Step"),
        Binding("n", "run_some", "Run 10k"),
        Binding("r", "reset", "Reset"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, program: Path | None = None, argv: list[str] | None = None) -> None:
        super().__init__()
        self.world = World(program, argv)
        self.before = self.world.cpu().regs
        self.runner: Timer | None = None
        self.slice = 20_000  # instructions per slice while running, adapted to the host's speed

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="left"):
                yield StrandsPane(id="strands")
                yield ConsolePane(id="console")
            yield CpuPane(id="cpu")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#strands", StrandsPane).border_title = "Strands"
        self.query_one("#cpu", CpuPane).border_title = "CPU"
        self.query_one("#console", ConsolePane).border_title = "Console"
        self.call_after_refresh(self._refresh)  # pane sizes are known after the first layout

    def on_resize(self) -> None:
        self.call_after_refresh(self._refresh)

    def _refresh(self) -> None:
        w = self.world
        self.query_one("#strands", StrandsPane).show(w)
        self.query_one("#cpu", CpuPane).show(w, self.before)
        status = f"\n[b]{w.stopped}[/b]" if w.stopped else ""
        console = self.query_one("#console", ConsolePane)
        tail = "\n".join(w.console_text().splitlines()[-max(1, console.size.height - 2) :])
        console.update(Text(tail) + Text.from_markup(status))
        self.sub_title = ("running" if self.runner else "paused") + (f" — {w.stopped}" if w.stopped else "")

    def _advance(self, n: int, max_cycles: int | None = None) -> None:
        self.before = self.world.cpu().regs
        self.world.step(n, max_cycles)
        if self.world.stopped:
            self._stop_runner()
        self._refresh()

    def _run_slice(self) -> None:
        t0 = time.perf_counter()
        self._advance(self.slice, SLICE_CYCLES)
        dt = max(time.perf_counter() - t0, 1e-4)
        self.slice = int(min(2_000_000, max(5_000, self.slice * SLICE_SECONDS / dt)))

    def _stop_runner(self) -> None:
        if self.runner is not None:
            self.runner.stop()
            self.runner = None

    def action_toggle_run(self) -> None:
        if self.runner is not None:
            self._stop_runner()
            self._refresh()
        elif not self.world.stopped:
            self.runner = self.set_interval(TICK, self._run_slice)

    def action_step(self) -> None:
        self._stop_runner()
        self._advance(1)

    def action_run_some(self) -> None:
        self._advance(10_000)

    def action_reset(self) -> None:
        self._stop_runner()
        self.world.reset()
        self.before = self.world.cpu().regs
        self._refresh()


def run_app() -> int:
    Workbench().run()
    return 0
