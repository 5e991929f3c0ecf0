"""Architectural exceptions the CPU raises to the PAL layer.

The CPU never decides what a trap means to a program; it raises one of these
with the PC of the instruction that caused it, and the PAL layer (a user-mode
harness or the OSF/1 PAL with a kernel) delivers it (alpha-machine.md §3.3).
"""

from __future__ import annotations


class MemFault(Exception):
    """A translation failure from the memory system: MMCSR code and cause."""

    def __init__(self, va: int, mmcsr: int, cause: int) -> None:
        super().__init__(va, mmcsr, cause)
        self.va = va
        self.mmcsr = mmcsr
        self.cause = cause


class Trap(Exception):
    """Base: ``pc`` is the address of the trapping instruction."""

    kind = "trap"

    def __init__(self, pc: int) -> None:
        super().__init__(pc)
        self.pc = pc


class IllegalInstruction(Trap):
    """OPCDEC: reserved, PAL-only or unimplemented opcode or function, or a
    privileged CALL_PAL outside kernel mode."""

    kind = "illegal instruction"

    def __init__(self, pc: int, word: int, reason: str = "") -> None:
        super().__init__(pc)
        self.word = word
        self.reason = reason


class Unaligned(Trap):
    """entUna: VA, opcode and Ra of a misaligned access."""

    kind = "unaligned access"

    def __init__(self, pc: int, va: int, opcode: int, ra: int) -> None:
        super().__init__(pc)
        self.va = va
        self.opcode = opcode
        self.ra = ra


class MemoryTrap(Trap):
    """entMM: faulting VA, MMCSR (0 TNV, 1 ACV, 2 FOR, 3 FOE, 4 FOW) and cause."""

    kind = "memory fault"

    def __init__(self, pc: int, va: int, mmcsr: int, cause: int) -> None:
        super().__init__(pc)
        self.va = va
        self.mmcsr = mmcsr
        self.cause = cause


class ArithmeticTrap(Trap):
    """entArith: exception summary and register write mask."""

    kind = "arithmetic trap"

    def __init__(self, pc: int, summary: int, mask: int) -> None:
        super().__init__(pc)
        self.summary = summary
        self.mask = mask


class TbMiss(Trap):
    """A translation-buffer miss was just refilled. On the 21064 a TB miss
    enters PALcode, which walks the page table and restarts the instruction;
    the CPU raises this (before the instruction changes anything) so the run
    loop can charge that refill in virtual time exactly where it happens, then
    restart the instruction, which now hits."""

    kind = "TB miss"


class WatchHit(Trap):
    """An access touches a watched address; raised before the access."""

    kind = "watchpoint"

    def __init__(self, pc: int, va: int, width: int, access: int, watch: object) -> None:
        super().__init__(pc)
        self.va = va
        self.width = width
        self.access = access
        self.watch = watch


class Halt(Exception):
    """The PAL layer stops the CPU (program exit, halt, budget)."""

    def __init__(self, reason: str = "halt", status: int = 0) -> None:
        super().__init__(reason, status)
        self.reason = reason
        self.status = status


# How a report names each trap (one table for the harness and the kernel).
MMCSR_TEXT = {0: "not mapped", 1: "access violation", 2: "fault on read", 3: "fault on execute", 4: "fault on write"}
GENTRAP_TEXT = {
    -1: "integer overflow",
    -2: "integer divide by zero",
    -3: "floating overflow",
    -4: "floating divide by zero",
    -5: "floating underflow",
    -6: "floating invalid operation",
    -7: "floating inexact",
}  # fmt: skip  (Linux/Alpha's gentrap codes)
_ARITH_BITS = ((2, "invalid"), (4, "divide by zero"), (8, "overflow"), (16, "underflow"), (32, "inexact"),
               (64, "integer overflow"))  # fmt: skip


def arith_text(summary: int) -> str:
    """An arithmetic trap's exception summary in words."""
    bits = [n for b, n in _ARITH_BITS if summary & b]
    return "arithmetic trap: " + (", ".join(bits) or f"summary {summary:#x}")
