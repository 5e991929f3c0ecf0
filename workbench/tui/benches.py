"""The benches in the TUI: the palette runs `spinwb bench NAME` and shows its
table with the paper's comparison drawn as bars (workbench/bench/chart.py).

Each bench runs in a child process, the same command a user types, so its
machines and host-time measurements are apart from the workbench's own
running machine, and what the TUI shows is exactly what `spinwb bench` prints.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from functools import partial

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from workbench.tui.palette import EntryCommands

# The benches the paper's figures stand beside: name, what it measures.
BENCHES = (
    ("vm", "SOSP'95 Table 4: virtual memory operations, the UNIX way and the SPIN way"),
    ("threads", "SOSP'95 Table 3: fork-join and ping-pong, kernel and user threads"),
    ("net", "SOSP'95 §5.5 and Tables 5-6: UDP round trips, guards, forwarding"),
    ("macro", "Poking Holes §3.2: one macro call as kernel code, a verified extension and user code"),
)
TIMEOUT_S = 600  # a bench that takes longer than this on the host is reported, not waited on


def run_bench(name: str) -> str:
    """`spinwb bench NAME`'s output, or what went wrong, in words."""
    try:
        p = subprocess.run([sys.executable, "-m", "workbench.cli", "bench", name], capture_output=True,
                           text=True, timeout=TIMEOUT_S)  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"spinwb bench {name} took longer than {TIMEOUT_S} s on this host and was stopped"
    if p.returncode != 0:
        return f"spinwb bench {name} failed (exit {p.returncode}):\n{p.stderr.strip()}"
    return p.stdout


class BenchScreen(ModalScreen[None]):
    """One bench's figures and bars, scrollable; Escape goes back."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]
    DEFAULT_CSS = """
    BenchScreen { align: center middle; }
    BenchScreen > VerticalScroll { width: 110; max-width: 100%; height: 90%; border: round $accent; }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.bench = name

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = f"spinwb bench {self.bench}"
            box.border_subtitle = "Escape: back"
            yield Static(f"running spinwb bench {self.bench} (modeled µs; a few seconds) ...", id="bench-out",
                         markup=False)  # fmt: skip

    def on_mount(self) -> None:
        self.run_worker(self._run, thread=True, exclusive=True)

    def _run(self) -> None:
        text = run_bench(self.bench)
        self.app.call_from_thread(self.query_one("#bench-out", Static).update, text)


class BenchCommands(EntryCommands):
    """Benches as commands: "Bench: vm — SOSP'95 Table 4 ..."."""

    def entries(self) -> list[tuple[str, str, Callable[[], object]]]:
        return [(f"Bench: {name}", what, partial(self._open, name)) for name, what in BENCHES]

    def _open(self, name: str) -> None:
        self.app.push_screen(BenchScreen(name))
