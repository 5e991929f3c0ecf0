"""The terminal workbench (Textual). For now: a CPU pane stepping a user
program, and its console; the SPIN panes grow with the kernel issues."""

from __future__ import annotations

import io
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Static

from machine.alpha.constants import REG_NAMES
from machine.alpha.disasm import disasm_word
from machine.alpha.traps import Trap
from machine.elf import read_elf
from machine.usermode import Process

DEMO = Path(__file__).resolve().parent.parent / "scenarios" / "programs" / "bin" / "hello-ev4.elf"


class CpuPane(Static):
    """Registers (changed ones highlighted) and the disassembly around PC."""

    DEFAULT_CSS = "CpuPane { width: 2fr; height: 1fr; border: round $accent; padding: 0 1; }"

    def show(self, proc: Process, before: list[int]) -> None:
        cpu = proc.cpu
        lines = [f"pc {cpu.pc:#018x}", f"instructions {cpu.icount:,}   cycles {cpu.cycles:,}", ""]
        per_row = max(1, min(4, (self.size.width - 2) // 23))  # "  v0 0123456789abcdef" + gap
        for row in range(0, 32, per_row):
            cells = []
            for n in range(row, min(32, row + per_row)):
                v = cpu.r[n]
                mark = "[reverse]" if v != before[n] else ""
                end = "[/reverse]" if mark else ""
                cells.append(f"{REG_NAMES[n]:>4} {mark}{v:016x}{end}")
            lines.append("  ".join(cells))
        lines.append("")
        for k in range(-3, 6):
            pc = cpu.pc + 4 * k
            try:
                text = disasm_word(cpu.fetch(pc), pc, symbolic=True).replace("\t", " ")
            except Trap:
                text = "--"
            arrow = "[b]=>[/b]" if k == 0 else "  "
            lines.append(f"{arrow} {pc:x}: {text}")
        self.update("\n".join(lines))


class ConsolePane(Static):
    DEFAULT_CSS = "ConsolePane { width: 1fr; height: 1fr; border: round $secondary; padding: 0 1; }"


class Workbench(App[None]):
    TITLE = "SPIN Workbench"
    BINDINGS = [
        Binding("s", "step", "Step"),
        Binding("n", "run_some", "Run 10k"),
        Binding("r", "reset", "Reset"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, program: Path = DEMO) -> None:
        super().__init__()
        self.program = program
        self.out = io.BytesIO()
        self.proc = self._new_proc()
        self.before = list(self.proc.cpu.r)

    def _new_proc(self) -> Process:
        self.out = io.BytesIO()
        return Process(read_elf(self.program), [str(self.program)], stdout=self.out, stderr=self.out)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield CpuPane(id="cpu")
            yield ConsolePane(id="console")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cpu", CpuPane).border_title = "CPU"
        self.query_one("#console", ConsolePane).border_title = "Console"
        self.call_after_refresh(self._refresh)  # pane sizes are known after the first layout

    def on_resize(self) -> None:
        self.call_after_refresh(self._refresh)

    def _refresh(self) -> None:
        self.query_one("#cpu", CpuPane).show(self.proc, self.before)
        status = (
            f"\n[b]{self.proc.exited.message or 'exited ' + str(self.proc.exited.status)}[/b]"
            if self.proc.exited
            else ""
        )
        self.query_one("#console", ConsolePane).update(self.out.getvalue().decode(errors="replace") + status)

    def _advance(self, n: int) -> None:
        if self.proc.exited is None:
            self.before = list(self.proc.cpu.r)
            self.proc.run(self.proc.cpu.icount + n)
            if self.proc.exited is not None and self.proc.exited.status == 124:
                self.proc.exited = None  # budget reached, not an exit
        self._refresh()

    def action_step(self) -> None:
        self._advance(1)

    def action_run_some(self) -> None:
        self._advance(10_000)

    def action_reset(self) -> None:
        self.proc = self._new_proc()
        self.before = list(self.proc.cpu.r)
        self._refresh()


def run_app() -> int:
    Workbench().run()
    return 0
