"""Running a measuring program (scenarios/programs/runtime/measure.h) in a
freshly booted kernel, with the bench's probe system call installed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from kernel.boot import boot
from kernel.core.costs import micros
from kernel.core.probe import install_probe, parse_tally
from machine.elf import read_elf

PROGRAMS = Path(__file__).resolve().parents[2] / "scenarios" / "programs" / "bin"


@dataclass
class Cell:
    """One operation one way, per operation: modeled cycles and µs, crossings, host µs."""

    cycles: float
    micros: float
    crossings: float
    host_micros: float


def measured_run(program: str, args: list[str], extensions: list[Path]) -> tuple[bytes, float, int | None]:
    """Boot, load the extensions, run the program to its end: its stdout,
    host seconds, exit status."""
    out = bytearray()
    k = boot(init=read_elf(PROGRAMS / f"{program}.elf"), argv=[program, *args], halt_when_done=True,
             console_out=out.extend)  # fmt: skip
    install_probe(k)
    for ext in extensions:
        k.system.load_file(ext, importer="root")  # the bench is the owner's
    t0 = time.perf_counter()  # host-time ok: a benchmark
    k.run(2_000_000_000)
    return bytes(out), time.perf_counter() - t0, k.exit_status  # host-time ok: a benchmark


def measure(program: str, op: str, n: int, extensions: list[Path]) -> Cell | None:
    """Per-operation figures of ``program op n``; None if it printed no tally
    but said "n/a" (the way has no such operation). Host time is the run's
    minus a run with 0 operations, per operation."""
    out, host, status = measured_run(program, [op, str(n)], extensions)
    t = parse_tally(out)
    if t is None or status != 0:
        if t is None and b"n/a" in out:
            return None
        raise RuntimeError(f"{program} {op}: exit {status}, output {out.decode(errors='replace')!r}")
    _, host0, _ = measured_run(program, [op, "0"], extensions)
    per = t.cycles / t.ops
    return Cell(per, micros(per), t.crossings / t.ops, max(0.0, host - host0) / n * 1e6)
