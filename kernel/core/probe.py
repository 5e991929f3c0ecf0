"""The measuring probe: a system call only benchmarks and lessons install
(scenarios/programs/runtime/measure.h's SYS_probe)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kernel.kernel import Kernel

PROBE = 0x7FFF


def install_probe(k: Kernel) -> None:
    """For the measuring programs only: a0 = 0 answers the count of
    user/kernel boundary crossings, a0 = 1 the machine's cycle count."""

    def mine(strand: object, state: object) -> bool:
        return getattr(state, "v0", None) == PROBE

    def answer(strand: object, state: object) -> None:
        which = state.a0  # type: ignore[attr-defined]
        state.result = k.sal.now if which == 1 else k.sal.crossings  # type: ignore[attr-defined]

    k.dispatcher.install_handler(k.event("Trap.SystemCall"), answer, mine, owner="spinwb bench")
