"""Running a measuring program (scenarios/programs/runtime/measure.h) in a
freshly booted kernel, with the bench's probe system call installed."""

from __future__ import annotations

import time
from pathlib import Path

from kernel.boot import boot
from kernel.kernel import Kernel
from machine.elf import read_elf

PROGRAMS = Path(__file__).resolve().parent.parent / "scenarios" / "programs" / "bin"
PROBE = 0x7FFF  # measure.h's SYS_probe


def install_probe(k: Kernel) -> None:
    """For the measuring programs only: a0 = 0 answers the count of
    user/kernel boundary crossings, a0 = 1 the machine's cycle count."""

    def mine(strand: object, state: object) -> bool:
        return getattr(state, "v0", None) == PROBE

    def answer(strand: object, state: object) -> None:
        which = state.a0  # type: ignore[attr-defined]
        state.result = k.sal.now if which == 1 else k.sal.crossings  # type: ignore[attr-defined]

    k.dispatcher.install_handler(k.event("Trap.SystemCall"), answer, mine, owner="spinwb bench")


def measured_run(program: str, args: list[str], extensions: list[Path]) -> tuple[bytes, float, int | None]:
    """Boot, load the extensions, run the program to its end: its stdout,
    host seconds, exit status."""
    out = bytearray()
    k = boot(init=read_elf(PROGRAMS / f"{program}.elf"), argv=[program, *args], halt_when_done=True,
             console_out=out.extend)  # fmt: skip
    install_probe(k)
    for ext in extensions:
        k.system.load_file(ext)
    t0 = time.perf_counter()  # host-time ok: a benchmark
    k.run(2_000_000_000)
    return bytes(out), time.perf_counter() - t0, k.exit_status  # host-time ok: a benchmark
