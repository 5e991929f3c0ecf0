"""Real hot loops, caught in the act: the machine state at a region's entry.

Each ``Hot`` names a corpus program, the region's entry PC and address window
(found with the translator's block profile: the hottest blocks of sort-ev4 and
crc-ev4), and which visit of the entry to catch. ``capture`` runs the program
under the Python translator with a breakpoint at the entry and snapshots
registers, counters and every page there.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from shared import set_page

from machine.alpha.traps import Unaligned
from machine.elf import read_program
from machine.usermode import UserProgram

BIN = Path(__file__).resolve().parents[2] / "scenarios" / "programs" / "bin"


@dataclass(frozen=True)
class Hot:
    name: str
    program: str
    entry: int
    lo: int
    hi: int
    visit: int  # which arrival at entry to catch
    what: str


HOT = [
    Hot("crc32", "crc-ev4.elf", 0x1200001C0, 0x1200001C0, 0x1200001F0, 1,
        "table CRC-32 over 20,000 bytes: one self-loop block, ldq_u+extbl, table ldl"),
    Hot("adler", "crc-ev4.elf", 0x120000240, 0x120000240, 0x1200002E4, 1,
        "Adler-32: one 41-instruction self-loop, division by multiply-shift (ALU bound)"),
    Hot("sift", "sort-ev4.elf", 0x120001D78, 0x120001D70, 0x120001E20, 1500,
        "heapsort's sift (the call with n=3000, i=0; entered at its ..ng entry): 6 blocks, ldl/stl, cmov, forward branches"),
]  # fmt: skip


@dataclass
class Snapshot:
    r: list[int]
    pc: int
    icount: int
    cycles: int
    pages: dict[int, list[int]]
    writable: set[int]


def program(hot: Hot) -> UserProgram:
    return UserProgram(read_program(BIN / hot.program), [hot.program], stdout=io.BytesIO())


def capture(hot: Hot) -> tuple[UserProgram, Snapshot]:
    p = program(hot)
    cpu = p.cpu
    seen = 0
    while True:
        cpu.stops = {hot.entry}
        try:
            cpu.run(1 << 40)
        except Unaligned as u:
            p._fix_unaligned(u)
            continue
        if cpu.pc == hot.entry:
            seen += 1
            if seen == hot.visit:
                break
            cpu.stops = set()
            cpu.step()
    cpu.stops = set()
    return p, snapshot(p)


def snapshot(p: UserProgram) -> Snapshot:
    cpu = p.cpu
    pages = {v: list(pg) for v, pg in p.space.pages.items()}
    writable = {v for v, prot in p.space.prot.items() if prot & 2}
    return Snapshot(list(cpu.r), cpu.pc, cpu.icount, cpu.cycles, pages, writable)


def restore(p: UserProgram, s: Snapshot) -> None:
    """Put the state back in place (same page objects: translated code stays valid)."""
    cpu = p.cpu
    for v, words in s.pages.items():
        set_page(p.space.pages[v], words)
    cpu.r[:] = s.r
    cpu.pc, cpu.icount, cpu.cycles = s.pc, s.icount, s.cycles
