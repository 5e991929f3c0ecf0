"""The measuring probe: a system call only benchmarks and lessons install
(scenarios/programs/runtime/measure.h's SYS_probe)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from kernel.kernel import Kernel

PROBE = 0x7FFF
_TALLY = re.compile(rb"^(\w+) ops=(\d+) cycles=(\d+) crossings=(-?\d+)$", re.M)


class Tally(NamedTuple):
    """measure.h's tally_print line: totals over ``ops`` operations."""

    op: str
    ops: int
    cycles: int
    crossings: int  # -1: no probe


def parse_tally(out: bytes) -> Tally | None:
    """The tally a measuring program printed (the benches and the lessons read it), or None."""
    m = _TALLY.search(out)
    return None if m is None else Tally(m[1].decode(), int(m[2]), int(m[3]), int(m[4]))


def install_probe(k: Kernel) -> None:
    """For the measuring programs only: a0 = 0 answers the count of
    user/kernel boundary crossings, a0 = 1 the machine's cycle count."""

    def mine(strand: object, state: object) -> bool:
        return getattr(state, "v0", None) == PROBE

    def answer(strand: object, state: object) -> None:
        which = state.a0  # type: ignore[attr-defined]
        state.result = k.sal.now if which == 1 else k.sal.crossings  # type: ignore[attr-defined]

    k.dispatcher.install_handler(k.event("Trap.SystemCall"), answer, mine, owner="spinwb bench")
