"""Random instruction words through the block translator and the reference
interpreter from identical random states: the same registers, FPCR, PC,
memory and trap, or the same Python-free failure, for every word."""

from __future__ import annotations

import random

from machine.alpha.cpu import CPU
from machine.alpha.traps import Halt, Trap
from machine.arena import set_words
from machine.usermode import UserPages

BASE = 0x10000
# Every opcode with rows in the table (and a few without), operate groups weighted up.
OPCODES = [0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x14, 0x16, 0x17, 0x18, 0x1A, 0x22, 0x23, 0x26,
           0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F, *range(0x30, 0x40), 0x01, 0x19, 0x15,
           *[0x10, 0x11, 0x12, 0x13, 0x1C] * 4]  # fmt: skip
BUGCHK = 0x81
WORDS = 100_000  # issue 22: at least 100,000 random words per CPU tier (about a minute)


class _StopPal:
    def call_pal(self, cpu: CPU, fn: int, pc: int) -> int:
        raise Halt("pal", fn)


def _machine(translate: bool) -> tuple[CPU, UserPages]:
    space = UserPages()
    space.map(BASE, 0x4000, 7)
    cpu = CPU(space, _StopPal(), "ev67")
    cpu.enable_translation(translate)
    return cpu, space


def _run(cpu: CPU, space: UserPages, word: int, regs: list[int], fregs: list[int], fpcr: int, data: list[int]):
    cpu.flush_tlb()
    page = space.pages[BASE >> 13]
    set_words(page, data)
    page[0] = word | (BUGCHK << 32)  # the word, then call_pal bugchk to stop
    cpu.r[:] = regs
    cpu.f[:] = fregs
    cpu.fpcr = fpcr
    cpu.pc = BASE
    cpu.icount = 0
    outcome: object = None
    try:
        cpu.run(10)
    except Halt as h:
        outcome = ("halt", h.status)
    except Trap as t:
        outcome = (type(t).__name__, t.pc, getattr(t, "va", None), getattr(t, "summary", None))
    return outcome, list(cpu.r), list(cpu.f), cpu.read_fpcr(), cpu.pc, cpu.icount, list(page[1:])


def test_translator_matches_interpreter_on_random_words() -> None:
    rng = random.Random(133)
    fast, fspace = _machine(True)
    slow, sspace = _machine(False)
    interesting = [0, 1, 7, 0x80, BASE, BASE + 8, BASE + 3, BASE + 0x2000, 1 << 63, (1 << 64) - 1]
    for _ in range(WORDS):
        opcode = rng.choice(OPCODES)
        word = (opcode << 26) | rng.getrandbits(26)
        regs = [rng.choice(interesting) if rng.random() < 0.6 else rng.getrandbits(64) for _ in range(31)] + [0]
        fregs = [rng.getrandbits(64) for _ in range(31)] + [0]
        fpcr = rng.choice([slow.fpcr, rng.getrandbits(64)])
        data = [rng.getrandbits(64) for _ in range(1024)]
        a = _run(fast, fspace, word, regs, fregs, fpcr, data)
        b = _run(slow, sspace, word, regs, fregs, fpcr, data)
        assert a == b, f"word {word:#010x}: translator {a[0]} / interpreter {b[0]}"
