"""What the workbench drives: one booted emulated workstation.

The TUI, the shell and headless scenarios all hold a ``World``; panes read
plain snapshots of it (``strands()``, ``switches()``, ``cpu()``) instead of
reaching into the kernel, so a pane never holds a reference that the next
step invalidates. Everything here is deterministic: the same program,
arguments and steps give the same state hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kernel.boot import boot
from kernel.fs.format import build_image
from kernel.kernel import Kernel
from kernel.sys.trace import Switch
from machine.alpha.constants import CLOCK_HZ, MODE_USER
from machine.elf import read_elf

BIN = Path(__file__).resolve().parent.parent / "scenarios" / "programs" / "bin"
DEMO_DISK = ("hello-ev4", "forkcow", "preempt", "nullderef")
DEMO_INIT = ["/init", "/hello-ev4", "/forkcow", "/preempt", "/nullderef"]


@dataclass(frozen=True)
class StrandRow:
    id: int
    name: str
    owner: str
    state: str
    priority: int
    scheduler: str
    cpu_micros: float
    running: bool


@dataclass(frozen=True)
class CpuView:
    pc: int
    regs: tuple[int, ...]
    mode: str
    ipl: int
    icount: int
    cycles: int


class World:
    """One machine and its kernel, booted with init running ``argv``."""

    def __init__(self, program: Path | None = None, argv: list[str] | None = None) -> None:
        self.program = program
        self.argv = argv
        self.reset()

    def reset(self) -> None:
        self.console = bytearray()
        if self.program is None:  # the demo: init runs a few programs from the disk, one after another
            disk = build_image({n: (BIN / f"{n}.elf").read_bytes() for n in DEMO_DISK})
            self.kernel: Kernel = boot(init=read_elf(BIN / "init.elf"), argv=DEMO_INIT, disk_image=disk,
                                       console_out=self.console.extend)  # fmt: skip
        else:
            self.kernel = boot(init=read_elf(self.program), argv=self.argv or [self.program.name],
                               console_out=self.console.extend)  # fmt: skip
        self.stopped = ""

    # --- driving ---------------------------------------------------------------------

    def step(self, n: int, max_cycles: int | None = None) -> str:
        """Run up to n instructions and at most ``max_cycles`` of virtual time
        (an idle machine runs few instructions but many clock ticks); why it
        stopped: "budget", "cycle", or what ended the run."""
        if self.stopped:
            return self.stopped
        k = self.kernel
        why = k.run(n, None if max_cycles is None else k.sal.now + max_cycles)
        if why not in ("budget", "cycle"):
            self.stopped = why
        elif not k.user_strands():
            self.stopped = why = "all processes exited"
        return why

    # --- what panes read ---------------------------------------------------------------

    def strands(self) -> list[StrandRow]:
        sched = self.kernel.sched
        cur = sched.current
        rows = []
        for s in sorted(sched.strands.values(), key=lambda s: s.id):
            cycles = s.cycles + (self.kernel.sal.now - sched._switch_start if s is cur else 0)
            rows.append(StrandRow(s.id, s.name, s.owner, s.state, s.priority,
                                  s.group.name if s.group is not None else "global",
                                  cycles * 1e6 / CLOCK_HZ, s is cur))  # fmt: skip
        return rows

    def switches(self, n: int = 8) -> list[Switch]:
        return [r for r in self.kernel.trace.of(Switch) if isinstance(r, Switch)][-n:]

    def cpu(self) -> CpuView:
        m = self.kernel.machine
        mode = "user" if m.pal.mode == MODE_USER else "kernel"
        return CpuView(m.cpu.pc, tuple(m.cpu.r), mode, m.pal.ipl, m.cpu.icount, m.cpu.cycles)

    def console_text(self) -> str:
        return self.console.decode(errors="replace")

    def fetch_word(self, va: int) -> int | None:
        """The instruction word at va, read beside the machine (no TB fill, no
        cycles: looking must not change what is looked at), or None if unmapped."""
        return self.kernel.machine.peek(va & ~3, 4)
