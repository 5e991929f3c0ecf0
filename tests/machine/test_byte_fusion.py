"""ev4's byte loads fused by the translator (translate.py ``_byte_loads``):
``ldq_u``+``extbl`` and ``ldq_u``+``extqh``+``sra 56``, as gcc schedules them,
agree with the reference interpreter on registers, memory, pc, icount, cycles
and the trap -- on the data page, a write-only page and an unmapped one, with
the base reused as the destination, in blocks, self-loops and regions, cut by
budgets -- and the byte TB (``cpu.rbtlb``) follows the host TB it copies."""

from __future__ import annotations

import random
from typing import Any

import pytest

from machine.alpha import translate
from machine.alpha.cpu import CPU
from machine.alpha.traps import Halt, Trap
from machine.arena import set_words, zero
from machine.usermode import UserPages
from tests.machine.test_traces import run_outcome

BASE = 0x10000  # code
DATA = BASE + 0x2000  # read-write
WO = BASE + 0x4000  # write-only: ldq_u faults there, stq_u does not
HOLE = BASE + 0x6000  # unmapped
BUGCHK = 0x81
T0, T1, T2, T3, T4, T5, T6, T7, T8 = 1, 2, 3, 4, 5, 6, 7, 8, 22  # gcc's names for the registers


class _StopPal:
    def call_pal(self, cpu: CPU, fn: int, pc: int) -> int:
        raise Halt("pal", fn)


def mem(op: int, ra: int, rb: int, disp: int) -> int:
    return op << 26 | ra << 21 | rb << 16 | (disp & 0xFFFF)


def opr(op: int, fn: int, ra: int, rb: int, rc: int) -> int:
    return op << 26 | ra << 21 | rb << 16 | fn << 5 | rc


def lit(op: int, fn: int, ra: int, n: int, rc: int) -> int:
    return op << 26 | ra << 21 | n << 13 | 1 << 12 | fn << 5 | rc


def ldq_u(ra: int, disp: int, rb: int) -> int:
    return mem(0x0B, ra, rb, disp)


def stq_u(ra: int, disp: int, rb: int) -> int:
    return mem(0x0F, ra, rb, disp)


def lda(ra: int, disp: int, rb: int) -> int:
    return mem(0x08, ra, rb, disp)


def extbl(a: int, b: int, c: int) -> int:
    return opr(0x12, 0x06, a, b, c)


def extqh(a: int, b: int, c: int) -> int:
    return opr(0x12, 0x7A, a, b, c)


def sra56(a: int, c: int) -> int:
    return lit(0x12, 0x3C, a, 56, c)


def insbl(a: int, b: int, c: int) -> int:
    return opr(0x12, 0x0B, a, b, c)


def mskbl(a: int, b: int, c: int) -> int:
    return opr(0x12, 0x02, a, b, c)


def bis(a: int, b: int, c: int) -> int:
    return opr(0x11, 0x20, a, b, c)


def addq_lit(a: int, n: int, c: int) -> int:
    return lit(0x10, 0x20, a, n, c)


def subq_lit(a: int, n: int, c: int) -> int:
    return lit(0x10, 0x29, a, n, c)


def bne(ra: int, disp: int) -> int:
    return 0x3D << 26 | ra << 21 | (disp & 0x1FFFFF)


UNOP = ldq_u(31, 0, 30)
UNSIGNED = [ldq_u(T2, 0, T1), extbl(T2, T1, T2)]
SIGNED = [ldq_u(T2, 0, T3), lda(T8, 1, T3), extqh(T2, T8, T2), sra56(T2, T2)]
# strings-ev4 0x1200002dc: the index register made from the base before the ldq_u, a displacement
STRINGS = [lda(T5, -200, T1), lda(T6, 1, T5), ldq_u(T0, -200, T1), extbl(T0, T5, T0)]
# strings-ev4 0x120000320: two signed loads interleaved; the first's window holds the second ldq_u
INTERLEAVED = [ldq_u(T2, 0, T1), lda(T4, 1, T0), lda(T1, 1, T1), ldq_u(T0, 0, T0), extqh(T2, T1, T2),
               extqh(T0, T4, T0), sra56(T2, T2), sra56(T0, T0)]  # fmt: skip
SELF = [lda(T3, 0, T1), ldq_u(T1, 0, T1), UNOP, extbl(T1, T3, T1)]  # the base is the destination
SIGNED_SELF = [bis(T1, 31, T4), ldq_u(T1, 0, T1), addq_lit(T4, 1, T3), extqh(T1, T3, T1), sra56(T1, T1)]
# not fusable, the ldq_u's value is observed: by a read, by a trap in between, by a different destination
READ = [ldq_u(T2, 0, T1), bis(T2, 31, T7), extbl(T2, T1, T2)]
OTHER_DEST = [ldq_u(T2, 0, T1), extbl(T2, T1, T4)]
# the index register written in an if-converted body: when skipped it holds something else
CONDITIONAL = [bne(T0, 1), lda(T5, 0, T1), ldq_u(T2, 0, T1), extbl(T2, T5, T2)]
STORE = [insbl(T6, T3, T6), ldq_u(T2, 0, T3), mskbl(T2, T3, T2), bis(T6, T2, T6), stq_u(T6, 0, T3)]
IDIOMS = {"unsigned": UNSIGNED, "signed": SIGNED, "strings": STRINGS, "interleaved": INTERLEAVED, "self": SELF,
          "signed_self": SIGNED_SELF}  # fmt: skip
FUSED = {"unsigned": 1, "signed": 1, "strings": 1, "interleaved": 1, "self": 1, "signed_self": 1}


def _machine(translate_on: bool) -> tuple[CPU, UserPages]:
    space = UserPages()
    space.map(BASE, 0x4000, 7)
    space.map(WO, 0x2000, 2)
    cpu = CPU(space, _StopPal(), "ev4")
    cpu.enable_translation(translate_on)
    return cpu, space


def _load(cpu: CPU, space: UserPages, words: list[int], regs: list[int], data: list[int]) -> None:
    cpu.flush_tlb()
    code = space.pages[BASE >> 13]
    zero(code)
    for i, w in enumerate([*words, BUGCHK]):
        code[i >> 1] |= w << (32 * (i & 1))
    cpu.frame_written(code)
    set_words(space.pages[DATA >> 13], data)
    set_words(space.pages[WO >> 13], data[::-1])
    cpu.r[:] = regs
    cpu.pc, cpu.icount, cpu.cycles = BASE, 0, 0


def _slice(cpu: CPU, space: UserPages, budget: int, climit: int = 1 << 40) -> tuple[Any, ...]:
    outcome = run_outcome(cpu, budget, climit)
    pages = [list(space.pages[v >> 13]) for v in (BASE, DATA, WO)]
    return outcome, list(cpu.r), cpu.pc, cpu.icount, cpu.cycles, pages


def _both(words: list[int], regs: list[int], data: list[int], budgets: list[int]) -> list[tuple[Any, ...]]:
    """The same program on both, slice by slice, three times from the same
    state (the byte TB is filled on the second, used on the third); the
    translated run's results, third time."""
    machines = [_machine(True), _machine(False)]
    for cpu, space in machines:
        _load(cpu, space, words, regs, data)
    for _ in range(3):
        out = []
        for cpu, space in machines:  # again from the start, the host TBs kept
            set_words(space.pages[DATA >> 13], data)
            cpu.r[:] = regs
            cpu.pc, cpu.icount, cpu.cycles = BASE, 0, 0
        for budget in budgets:
            a, b = (_slice(cpu, space, budget) for cpu, space in machines)
            assert a == b, f"translator {a[:5]} / interpreter {b[:5]}"
            out.append(a)
    return out


def _regs(rng: random.Random, addr: int) -> list[int]:
    regs = [rng.getrandbits(64) for _ in range(31)] + [0]
    for r in (T0, T1, T3, T4):  # the bases: byte addresses in the page, any lane, -200 still inside
        regs[r] = addr + 0x100 + rng.randrange(0, 0x1E00)
    regs[30] = DATA
    return regs


@pytest.fixture
def fusions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the loads each compiled block or region fused."""
    seen: list[int] = []
    orig = translate._byte_loads

    def counted(insns: list[translate.Insn], hammocks: dict[int, int]) -> tuple[dict[int, bool], set[int]]:
        fuse, skip = orig(insns, hammocks)
        seen.append(len(fuse))
        return fuse, skip

    monkeypatch.setenv("SPINWB_CACHE", "off")  # every block compiled here
    monkeypatch.setattr(translate, "_byte_loads", counted)
    return seen


@pytest.mark.parametrize("name", sorted(IDIOMS))
def test_idioms_fuse_and_agree_with_the_interpreter(name: str, fusions: list[int]) -> None:
    rng = random.Random(name)
    data = [rng.getrandbits(64) for _ in range(1024)]  # bytes of both signs
    for lane in range(8):  # every byte lane, from the block's first instruction and cut inside it
        regs = _regs(rng, DATA)
        for r in (T0, T1, T3, T4):
            regs[r] = regs[r] & ~7 | lane
        _both(IDIOMS[name], regs, data, [1 << 20])
        _both(IDIOMS[name], regs, data, [2, 1 << 20])
    assert max(fusions) == FUSED[name], f"{name}: the fusion did not happen"


@pytest.mark.parametrize("words", [READ, OTHER_DEST, CONDITIONAL], ids=["read", "other_dest", "conditional"])
def test_an_observed_quadword_or_an_unsure_address_is_not_fused(words: list[int], fusions: list[int]) -> None:
    rng = random.Random(7)
    for _ in range(8):
        regs = _regs(rng, DATA)
        regs[T5] = rng.getrandbits(64)
        _both(words, regs, [rng.getrandbits(64) for _ in range(1024)], [1 << 20])
    assert max(fusions) == 0


@pytest.mark.parametrize("where", [WO, HOLE], ids=["write_only", "unmapped"])
@pytest.mark.parametrize("name", sorted(IDIOMS))
def test_a_fault_on_the_ldq_u_is_the_unfused_one(name: str, where: int, fusions: list[int]) -> None:
    """The trap at the ldq_u's pc, the instructions before it done, its
    destination (perhaps its own base) untouched."""
    rng = random.Random(3)
    regs = _regs(rng, where)
    (first,) = _both([bis(31, 31, T7), *IDIOMS[name]], regs, [rng.getrandbits(64) for _ in range(1024)], [1 << 20])
    assert first[0][0] == "MemoryTrap" and first[1][T7] == 0 and first[0][1] > BASE
    assert max(fusions) >= 1


def test_the_store_idiom_then_a_fused_load_sees_the_byte(fusions: list[int]) -> None:
    """A byte store (ldq_u, mskbl, or, stq_u), unfused, then the fused load of
    that byte through the byte TB: the same memory; into a write-only page the
    stq_u succeeds but the ldq_u before it faults."""
    rng = random.Random(5)
    words = [*STORE, ldq_u(T5, 0, T3), extbl(T5, T3, T5)]
    for where in (DATA, WO, BASE + 0x1000):  # BASE + 0x1000: the code page (a store drops its blocks)
        regs = _regs(rng, where)
        regs[T3] = where + rng.randrange(0, 0x800)
        out = _both(words, regs, [rng.getrandbits(64) for _ in range(1024)], [3, 1 << 20])
        if where != WO:
            assert out[-1][1][T5] == regs[T6] & 0xFF
    assert max(fusions) == 1


def tb_follows_the_host_tb(words: list[int], regs: list[int], view: str) -> None:
    """Run ``words`` (loads from DATA) until the halt, then unmap DATA: the next
    run of the same block must fault, so the CPU's view TB ``view`` must have
    dropped the page with rtlb, on a TB invalidation and on a whole flush."""
    fast, fspace = _machine(True)
    _load(fast, fspace, words, regs, list(range(1024)))
    assert _slice(fast, fspace, 1 << 20)[0] == ("halt", BUGCHK)
    assert getattr(fast, view), f"the load must have used {view}"
    fspace.unmap(DATA, 0x2000)
    fast.forget_pages(DATA, 0x2000)
    assert not getattr(fast, view)
    fast.r[:] = regs
    fast.pc = BASE
    with pytest.raises(Trap) as trap:
        fast.run(1 << 20)
    assert trap.value.pc == BASE and fast.r == regs
    fspace.map(DATA, 0x2000, 7)
    fast.flush_tlb()
    fast.r[:] = regs
    fast.pc = BASE
    assert _slice(fast, fspace, 1 << 20)[0] == ("halt", BUGCHK) and fast.r[T2] == 0  # a fresh zero page
    assert getattr(fast, view)
    fspace.unmap(DATA, 0x2000)  # the same through a whole flush (a context switch, a watchpoint set)
    fast.flush_host_caches()
    assert not getattr(fast, view)
    fast.r[:] = regs
    fast.pc = BASE
    with pytest.raises(Trap):
        fast.run(1 << 20)


def test_the_byte_tb_follows_the_host_tb(fusions: list[int]) -> None:
    """A page unmapped after a fused load ran from it must fault (see tb_follows_the_host_tb)."""
    regs = _regs(random.Random(11), DATA)
    regs[T4] = 3
    tb_follows_the_host_tb([*UNSIGNED, subq_lit(T4, 1, T4), bne(T4, -4)], regs, "rbtlb")  # ldq_u, extbl, count down


HARMLESS = [lambda r: lda(r(), r.disp(), r()), lambda r: addq_lit(r(), r.lit(), r()),
            lambda r: bis(r(), 31, r()), lambda r: opr(0x10, 0x20, r(), r(), r()),
            lambda r: opr(0x12, 0x34, r(), r(), r()), lambda r: UNOP]  # fmt: skip
OBSERVING = [lambda r: mem(0x29, r(), 30, 8 * r.rng.randrange(1024)), lambda r: stq_u(r(), r.disp(), 30),
             lambda r: bne(r(), 1), lambda r: mem(0x28, r(), r(), 0)]  # fmt: skip


class _Pick:
    """Random operands over a few registers, so idioms and fillers collide."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self) -> int:
        return self.rng.choice([T0, T1, T2, T3, T4, T8])

    def disp(self) -> int:
        return self.rng.choice([0, 1, -1, 7, 8, -200])

    def lit(self) -> int:
        return self.rng.choice([0, 1, 2, 8])


def _random_program(rng: random.Random) -> list[int]:
    """Idioms (some with displacements and shifted index registers) with random
    fillers in their windows: harmless ones, which keep the fusion, and loads,
    stores and branches, which must stop it."""
    pick = _Pick(rng)
    words: list[int] = []
    for _ in range(rng.randrange(2, 6)):
        idiom = list(rng.choice([*IDIOMS.values(), READ, OTHER_DEST, STORE]))
        out = [idiom[0]]
        for w in idiom[1:]:
            for _ in range(rng.choice([0, 0, 1, 2])):
                out.append(rng.choice(HARMLESS if rng.random() < 0.8 else OBSERVING)(pick))
            out.append(w)
        words += out
    return words


def test_random_combinations_agree_with_the_interpreter(fusions: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(translate, "HOT", 2)  # regions form too: each program runs as a counted loop
    rng = random.Random(24)
    for _ in range(400):
        body = _random_program(rng)
        words = [*body, subq_lit(T7, 1, T7), bne(T7, -len(body) - 2)]
        regs = _regs(rng, rng.choice([DATA, DATA, DATA, WO, HOLE - 8]))
        regs[T7] = rng.randrange(1, 6)
        data = [rng.getrandbits(64) for _ in range(1024)]
        budgets = [rng.choice([1, 5, 13, 40, 400]) for _ in range(4)] + [2000]
        _both(words, regs, data, budgets)
    assert sum(fusions) > 500


def test_a_branch_over_an_instruction_that_emits_nothing_compiles() -> None:
    """An if-converted body of a unop (or a write to $31) emits no statement:
    the block once failed to compile (an empty ``else:``)."""
    rng = random.Random(9)
    for words in ([bne(T0, 1), UNOP, lda(T1, 1, T1)], [bne(T0, 1), bis(T1, T1, 31), lda(T1, 1, T1)]):
        for t0 in (0, 1):
            regs = _regs(rng, DATA)
            regs[T0] = t0
            _both(words, regs, [0] * 1024, [1 << 20])
