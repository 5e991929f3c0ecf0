"""``ldl`` through the longword TB (``cpu.rltlb``, translate.py): on the data
page, a write-only page and an unmapped one, aligned and not, in a self-loop,
after a store to the same longword, the translator agrees with the
interpreter on registers, memory, pc, icount, cycles and the trap; and the
longword TB follows the host TB it copies, so an unmapped page faults."""

from __future__ import annotations

import random

import pytest

from machine.alpha import translate
from tests.machine.test_byte_fusion import (
    DATA,
    HOLE,
    T0,
    T1,
    T2,
    T3,
    T4,
    WO,
    _both,
    _load,
    _machine,
    _regs,
    _slice,
    bne,
    mem,
    subq_lit,
    tb_follows_the_host_tb,
)


def ldl(ra: int, disp: int, rb: int) -> int:
    return mem(0x28, ra, rb, disp)


def stl(ra: int, disp: int, rb: int) -> int:
    return mem(0x2C, ra, rb, disp)


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINWB_CACHE", "off")  # every block compiled here


@pytest.mark.skipif(not translate.LITTLE, reason="the longword view is used on little-endian hosts only")
def test_ldl_runs_from_the_longword_view() -> None:
    """The translated ldl reads through the view: a block of two ldl (one
    each half of a quadword), run twice, leaves the page in ``rltlb`` and
    agrees with the interpreter, sign extension included."""
    data = [0x8000_0001_7FFF_FFFF, 0xFFFF_FFFF_0000_0000] + [0] * 1022
    regs = [0] * 32
    regs[T1] = DATA
    words = [ldl(T2, 0, T1), ldl(T3, 4, T1), ldl(T4, 12, T1)]
    out = _both(words, regs, data, [1 << 20])
    r = out[-1][1]
    assert (r[T2], r[T3], r[T4]) == (0x7FFF_FFFF, 0xFFFF_FFFF_8000_0001, 0xFFFF_FFFF_FFFF_FFFF)
    cpu, space = _machine(True)
    _load(cpu, space, words, regs, data)
    _slice(cpu, space, 1 << 20)
    assert DATA in cpu.rltlb, "the ldl must have filled the longword TB"


@pytest.mark.parametrize("where", [DATA, WO, HOLE])
def test_random_ldl_and_stl_agree_with_the_interpreter(where: int) -> None:
    """Random bases (any byte offset: misaligned ones trap as unaligned, also once
    the page is in the host TB), a store then a load of the same longword, in a
    self-loop cut by budgets."""
    rng = random.Random(where)
    for _ in range(40):
        regs = _regs(rng, where)
        regs[T4] = rng.randrange(1, 6)
        if rng.random() < 0.7:
            regs[T1] &= ~3  # mostly aligned
        regs[T0] &= ~7  # an aligned load first puts the page in the host TB: a misaligned one must still trap
        disp = rng.choice([0, 4, 8, -4, 2])
        words = [ldl(T2, 0, T0), ldl(T2, disp, T1), stl(T3, disp, T1), ldl(T2, disp, T1), ldl(T3, disp + 4, T1),
                 subq_lit(T4, 1, T4), bne(T4, -7)]  # fmt: skip
        data = [rng.getrandbits(64) for _ in range(1024)]
        _both(words, regs, data, [rng.randrange(1, 12), 1 << 20])


@pytest.mark.skipif(not translate.LITTLE, reason="the longword view is used on little-endian hosts only")
def test_the_longword_tb_follows_the_host_tb() -> None:
    """A page unmapped after ldl ran from it must fault: the longword TB drops it with rtlb."""
    regs = [0] * 32
    regs[T1], regs[T4] = DATA + 8, 3
    tb_follows_the_host_tb([ldl(T2, 0, T1), subq_lit(T4, 1, T4), bne(T4, -3)], regs, "rltlb")
