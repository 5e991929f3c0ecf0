"""The phased read workload under a read-ahead policy: the disk image, the
program's arguments, and what a run measured (Synthetix §3.2; the feedback
bench, the software_feedback lesson and their tests share it).

``readphases`` (scenarios/programs/kernel/readphases.c) reads one file in
three phases -- sequential from the start, random in the middle, sequential
to the end -- computing between reads, so read-ahead has something to hide
and, in the middle phase, something to waste.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernel.core.sal import PAGE_SIZE
from kernel.fs.format import build_image

if TYPE_CHECKING:
    from kernel.kernel import Kernel

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "scenarios" / "programs" / "bin" / "readphases.elf"
FILE = "data"
CHUNKS = 96  # reads in each sequential phase, one 8 KiB chunk each
RANDOM = 40  # reads in the random phase
SPAN = 8  # the random phase picks among SPAN x CHUNKS chunks: few reads land where read-ahead went
WORK = 5  # passes of compute over each chunk read: about 3.9 ms, more than the disk takes to stream one
SEED = 7
PHASE = re.compile(rb"phase (\w+) reads=(\d+) bytes=(\d+) sum=(\d+) cycles=(\d+)")


def image(chunks: int = CHUNKS, span: int = SPAN) -> bytes:
    """A disk with one file of (2 + span) x chunks chunks of patterned bytes."""
    n = (2 + span) * chunks * PAGE_SIZE
    return build_image({FILE: bytes((i * 7 + (i >> 13)) & 0xFF for i in range(n))})


def argv(chunks: int = CHUNKS, random: int = RANDOM, work: int = WORK, seed: int = SEED) -> list[str]:
    return ["readphases", f"/{FILE}", str(chunks), str(random), str(work), str(seed)]


@dataclass
class Phase:
    name: str
    reads: int
    sum: str  # the program's checksum so far: the same under every policy, or a read gave wrong bytes
    cycles: int  # virtual (the bench's probe), or the process's rpcc without it


@dataclass
class Measured:
    """One run: the program's phases, the read-ahead's figures, the window over time."""

    policy: str
    status: int | None
    cycles: int  # the machine's virtual time at the end: the modeled run time
    phases: list[Phase] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    windows: list[tuple[int, int]] = field(default_factory=list)  # (cycle, window) from the first read on


def measure(k: Kernel, policy: str, output: bytes) -> Measured:
    """What a finished run of ``readphases`` under ``policy`` measured."""
    ra = k.fs.readahead if k.fs is not None else None
    m = Measured(policy, k.exit_status, k.sal.now)
    m.phases = [Phase(g[0].decode(), int(g[1]), g[3].decode(), int(g[4])) for g in PHASE.findall(output)]
    if ra is not None:
        m.figures = ra.figures()
        m.windows = [(c, w) for c, label, w in ra.history if label.endswith(f" {FILE}")]
    return m


def run(policy: str, chunks: int = CHUNKS, random: int = RANDOM, work: int = WORK, seed: int = SEED,
        disk: bytes | None = None) -> Measured:  # fmt: skip
    """Boot a workstation with ``disk`` (``image(chunks)`` if None) and read-ahead
    ``policy``, run ``readphases`` to its end with the probe installed (so its
    phases are timed by the machine's clock), and measure it."""
    from kernel.boot import boot  # here: boot imports the file system, which this module sits beside
    from kernel.core.probe import install_probe
    from machine.elf import read_elf

    out = bytearray()
    k = boot(init=read_elf(PROGRAM), argv=argv(chunks, random, work, seed), halt_when_done=True,
             disk_image=image(chunks) if disk is None else disk, console_out=out.extend, readahead=policy)  # fmt: skip
    install_probe(k)
    start = k.sal.now
    k.run(2_000_000_000)
    m = measure(k, policy, bytes(out))
    m.cycles -= start
    return m
