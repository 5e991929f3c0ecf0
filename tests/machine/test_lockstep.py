"""Lockstep against qemu-alpha: the full register file (PC, 31 integer and 31
floating-point registers, FPCR) before every one of the first 20,000
instructions matches qemu's single-step trace (``-singlestep -d
nochain,cpu,fpu``), run on the reference interpreter.

qemu's user-mode start state has quirks (it leaves $23 = 8 and $24 = entry,
and its stack is elsewhere), so our CPU starts from qemu's first record: the
same registers, the stack placed so that sp matches. The programs chosen do
not dereference argv strings, whose addresses differ.
"""

from __future__ import annotations

import io
import itertools
import re
import subprocess
from collections.abc import Iterator

import pytest

from machine.alpha.constants import REG_NAMES
from machine.elf import read_elf
from machine.usermode import UserProgram
from tests.conftest import elf, require

STEPS = 20_000
_FIELD = re.compile(r"(\w+)\s+([0-9a-f]+)")


FREGS = [f"f{i}" for i in range(31)]


def qemu_records(path: str, cpu: str) -> Iterator[tuple[int, list[int], list[int]]]:
    """(PC, integer registers, FP registers + FPCR) before each instruction."""
    qemu = require("qemu-alpha")
    p = subprocess.Popen([qemu, "-cpu", cpu, "-singlestep", "-d", "nochain,cpu,fpu", "-D", "/dev/stdout", path],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    assert p.stdout is not None
    cur: dict[str, int] = {}
    try:
        for line in p.stdout:
            for name, val in _FIELD.findall(line):
                cur[name] = int(val, 16)
            if "fpcr" in line:
                yield cur["PC"], [cur[n] for n in REG_NAMES[:31]], [cur[n] for n in FREGS] + [cur["fpcr"]]
                cur = {}
    finally:
        p.kill()
        p.stdout.close()
        p.wait()


@pytest.mark.oracle
@pytest.mark.parametrize(("name", "cpu"), [("divide", "ev4"), ("bytes", "ev4"), ("crc", "ev56"), ("fp", "ev4"),
                                         ("fp", "ev67")])  # fmt: skip
def test_lockstep_with_qemu(name: str, cpu: str) -> None:
    path = str(elf(name, cpu))
    records = qemu_records(path, cpu)
    pc0, regs0, fregs0 = next(records)
    probe = UserProgram(read_elf(path), [path], model=cpu, stdout=io.BytesIO(), translate=False)
    top = probe.stack_top + (regs0[30] - probe.cpu.r[30])
    out = io.BytesIO()
    proc = UserProgram(read_elf(path), [path], model=cpu, stdout=out, translate=False, stack_top=top)
    cpu_ = proc.cpu
    assert cpu_.r[30] == regs0[30] and cpu_.pc == pc0
    cpu_.r[:31] = regs0
    assert cpu_.f[:31] + [cpu_.read_fpcr()] == fregs0
    names = [*REG_NAMES[:31], *FREGS, "fpcr"]
    checked = 0
    for pc, regs, fregs in itertools.chain([(pc0, regs0, fregs0)], records):
        ours = [*cpu_.r[:31], *cpu_.f[:31], cpu_.read_fpcr()]
        if cpu_.pc != pc or ours != [*regs, *fregs]:
            diffs = [
                f"{n}: ours {a:#x} qemu {b:#x}" for n, a, b in zip(names, ours, [*regs, *fregs], strict=True) if a != b
            ]
            pytest.fail(f"diverged before instruction {checked} at pc ours {cpu_.pc:#x} qemu {pc:#x}: {diffs[:4]}")
        checked += 1
        if checked >= STEPS:
            break
        cpu_.step()
    records.close()
    assert checked == STEPS
