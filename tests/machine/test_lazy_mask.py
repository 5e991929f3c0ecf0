"""Lazy 64-bit masking (translate.py ``_Emitter.loose``): sums left unreduced
must give what the interpreter gives wherever they are observed -- a compare,
a shift, a store's value, an address, a trap's write-back and the registers
at the exit -- in a self-loop, where they are carried round, and cut short by
budgets, cycle limits and a fault."""

from __future__ import annotations

import pytest

from machine.alpha import translate
from tests.machine.test_traces import BASE, BUGCHK, DATA, _load, _op, _slice
from tests.machine.test_translator_fuzz import _machine

M = (1 << 64) - 1


def _lda(ra: int, rb: int, disp: int, op: int = 0x08) -> int:
    return op << 26 | ra << 21 | rb << 16 | (disp & 0xFFFF)


def _mem(op: int, ra: int, rb: int, disp: int) -> int:
    return op << 26 | ra << 21 | rb << 16 | (disp & 0xFFFF)


WORDS = [
    _lda(1, 1, -1),  # lda r1, -1(r1): from 0 wraps to 2**64 - 1, and on down, unreduced all the loop
    _op(0x10, 1, 1, 0x20, 2),  # addq r1, 1, r2: wraps to 0
    0x10 << 26 | 2 << 21 | 9 << 16 | 0x1D << 5 | 3,  # cmpult r2, r9, r3: 0 only if r2 was reduced
    _mem(0x2D, 2, 9, 0),  # stq r2, 0(r9): the reduced value
    _lda(5, 1, 9),  # lda r5, 9(r1): wraps to a small offset, then below zero
    _op(0x12, 5, 60, 0x34, 4),  # srl r5, 60, r4: the reduced value's top bits
    0x10 << 26 | 9 << 21 | 5 << 16 | 0x20 << 5 | 6,  # addq r9, r5, r6: an address past a wrap
    _mem(0x0E, 1, 6, 0),  # stb r1, 0(r6) (ev67 has BWX): the low byte
    _mem(0x0B, 11, 6, -1),  # ldq_u r11, -1(r6)
    0x10 << 26 | 9 << 21 | 14 << 16 | 0x20 << 5 | 15,  # addq r9, r14, r15: r14 = -8, so past 2**64 unreduced
    _mem(0x29, 11, 15, 16),  # ldq r11, 16(r15): an aligned load at that address
    _lda(7, 7, 0x7FFF, 0x09),  # ldah r7, 0x7fff(r7): grows the loop-carried r7 by 2**31 - 2**16 each pass
    0x10 << 26 | 7 << 21 | 14 << 16 | 0x20 << 5 | 7,  # addq r7, r14, r7: and by r14 (about 2**64)
    _op(0x10, 7, 0, 0x00, 12),  # addl r7, 0, r12: the low longword, sign-extended
    _mem(0x29, 13, 10, 0),  # ldq r13, 0(r10): r10 walks down, off the page in the end: a fault mid-loop
    _lda(10, 10, -8),  # lda r10, -8(r10)
    _op(0x10, 8, 1, 0x29, 8),  # subq r8, 1, r8
    0x3D << 26 | 8 << 21 | (-18 & 0x1FFFFF),  # bne r8, to word 0: a self-loop of 18
    BUGCHK,
]


SLICES = ([(10_000, 1 << 40)], [(7, 1 << 40), (100, 45), (10_000, 1 << 40)])  # (budget, cycles) per run


@pytest.mark.parametrize("r10", [BASE + 64, DATA + 8 * 700])
@pytest.mark.parametrize("slices", SLICES)
def test_unreduced_sums_are_reduced_wherever_observed(
    r10: int, slices: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = []
    orig = translate.Translator._compile

    def kept(self: translate.Translator, pc: int, insns: list[translate.Insn]) -> translate.Block:
        b = orig(self, pc, insns)
        sources.append(b.source)
        return b

    monkeypatch.setenv("SPINWB_CACHE", "off")  # every block compiled here, none from the disk cache
    monkeypatch.setattr(translate.Translator, "_compile", kept)
    regs = [0] * 32
    regs[7], regs[8], regs[9], regs[10], regs[14] = M - 5, 40, DATA + 512, r10, M - 7
    outcomes = []
    for on in (True, False):
        cpu, space = _machine(on)
        _load(cpu, space, WORDS, regs, list(range(1024)))
        outcomes.append([_slice(cpu, space, budget, cpu.cycles + climit)
                         for budget, climit in slices])  # fmt: skip
    src = sources[0]  # the self-loop's block
    assert "x1 = x1 + -1\n" in src and "x7 = x7 + x14\n" in src, "the sums must be left unreduced"
    assert outcomes[0] == outcomes[1]
    final = outcomes[0][-1]
    if r10 == BASE + 64:  # r10 leaves the mapped pages after 9 passes: the fault is reported with reduced registers
        assert final[0][0] == "MemoryTrap" and all(0 <= v <= M for v in final[1])
    else:
        assert final[0] == ("halt", BUGCHK) and final[1][8] == 0
