"""Emulating a misaligned load or store, as OSF/1's and Linux's entUna
handlers do (alpha-machine.md §2.4): both the one-process harness
(machine/usermode.py) and the kernel's Trap.Unaligned handler use this."""

from __future__ import annotations

from collections.abc import Callable

from machine.alpha import isa
from machine.alpha.decode import decode
from machine.alpha.semantics import function


class NotLoadStore(Exception):
    """The trapping instruction is not a load or store: signal the process."""


def emulate(word: int, r: list[int], f: list[int], va: int, model: str,
            read: Callable[[int, int], bytes], write: Callable[[int, bytes], None]) -> int:  # fmt: skip
    """Do the access ``word`` describes at ``va`` on registers r and f, through
    read/write (which raise if the memory is not accessible); the cycles the
    instruction itself costs."""
    ins = decode(word)
    if ins is None or ins.op.kind not in ("ld", "st", "fld", "fst"):
        raise NotLoadStore(f"unaligned {ins.op.name if ins else hex(word)} at address {va:#x}")
    op = ins.op
    if op.kind in ("ld", "fld"):
        val = function(op.sem, model)(0, 0, int.from_bytes(read(va, op.width), "little"), 0, 0)
        if op.kind == "fld":
            f[ins.ra] = val
        elif ins.ra != 31:
            r[ins.ra] = val
    else:
        if op.kind == "fst":
            value = function(op.sem, model)(f[ins.ra] if ins.ra != 31 else 0, 0, 0, 0, 0)
        else:
            value = r[ins.ra] if ins.ra != 31 else 0
        write(va, (value & ((1 << (8 * op.width)) - 1)).to_bytes(op.width, "little"))
    return isa.COST[op.cost]
