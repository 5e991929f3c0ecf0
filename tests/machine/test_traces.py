"""Regions (traces) change speed only: random multi-block programs agree with the
reference interpreter slice by slice, and the corpus and a kernel run give the
same outputs, instruction counts, cycles and state hashes with traces on and off."""

from __future__ import annotations

import io
import random

import pytest

from machine.alpha import translate
from machine.alpha.cpu import CPU
from machine.alpha.traps import Halt, Trap
from machine.arena import set_words, zero
from machine.elf import read_elf
from machine.usermode import UserPages, UserProgram
from tests.conftest import BIN, CORPUS, CPUS, RUN_ARGS, RUN_STDIN, elf, run_kernel
from tests.machine.test_translator_fuzz import _machine  # the same code and data pages at BASE

BASE = 0x10000  # code page; the data page follows it
DATA = BASE + 0x2000
LEN = 48  # instructions of a random program, before its halt
BUGCHK = 0x81
# (opcode, function) of operate instructions that read and write only the work registers
OPERATE = [(0x10, 0x20), (0x10, 0x29), (0x10, 0x00), (0x10, 0x2D), (0x10, 0x4D), (0x10, 0x1D), (0x10, 0x22),
           (0x11, 0x00), (0x11, 0x20), (0x11, 0x40), (0x11, 0x24), (0x11, 0x26), (0x12, 0x39), (0x12, 0x34),
           (0x12, 0x06), (0x12, 0x0B), (0x12, 0x02), (0x12, 0x31), (0x13, 0x20), (0x10, 0x40)]  # fmt: skip
LOADS = [0x29, 0x28, 0x0B, 0x0A, 0x0C]  # ldq, ldl, ldq_u, ldbu, ldwu
STORES = [0x2D, 0x2C, 0x0F, 0x0E, 0x0D]  # stq, stl, stq_u, stb, stw
BRANCHES = [0x39, 0x3D, 0x3A, 0x3E, 0x38, 0x3C, 0x3B, 0x3F]  # beq bne blt bge blbc blbs ble bgt
WORK = range(1, 9)  # registers the program computes in; $9 holds DATA, $10 a code address


def _program(rng: random.Random) -> list[int]:
    """A random program: operate runs, loads and stores into the data page
    (now and then off it, misaligned, or into the code page), and forward and
    backward branches, bsr/jmp/ret, ending in a halt."""
    words = []
    for k in range(LEN):
        roll = rng.random()
        ra, rb, rc = rng.choice(WORK), rng.choice(WORK), rng.choice(WORK)
        if roll < 0.45:
            op, fn = rng.choice(OPERATE)
            if rng.random() < 0.5:
                words.append(op << 26 | ra << 21 | rng.getrandbits(8) << 13 | 1 << 12 | fn << 5 | rc)
            else:
                words.append(op << 26 | ra << 21 | rb << 16 | fn << 5 | rc)
        elif roll < 0.55:  # lda/ldah: counters and addresses
            words.append(rng.choice([0x08, 0x09]) << 26 | ra << 21 | rb << 16 | rng.choice([1, 2, 0xFFFF, 8, 0x100]))
        elif roll < 0.75:
            op = rng.choice(LOADS + STORES)
            base = 9 if rng.random() < 0.9 else rng.choice([*WORK, 10])
            disp = rng.randrange(0, 0x2000, 8) + (rng.choice([0, 1, 2, 4]) if rng.random() < 0.1 else 0)
            words.append(op << 26 | ra << 21 | base << 16 | (disp & 0xFFFF))
        elif roll < 0.95:
            target = rng.randrange(0, LEN + 1)
            words.append(rng.choice(BRANCHES) << 26 | ra << 21 | ((target - k - 1) & 0x1FFFFF))
        elif roll < 0.97:
            target = rng.randrange(0, LEN + 1)
            words.append(rng.choice([0x30, 0x34]) << 26 | rng.choice([31, 26]) << 21 | ((target - k - 1) & 0x1FFFFF))
        else:  # jmp $31, ($10) or ret ($26)
            words.append(0x1A << 26 | 31 << 21 | rng.choice([10, 26]) << 16 | rng.choice([0, 2]) << 14)
    words.append(BUGCHK)
    return words


def _load(cpu: CPU, space: UserPages, words: list[int], regs: list[int], data: list[int]) -> None:
    cpu.flush_tlb()
    code = space.pages[BASE >> 13]
    zero(code)
    for i, w in enumerate(words):
        code[i >> 1] |= w << (32 * (i & 1))
    cpu.frame_written(code)
    set_words(space.pages[DATA >> 13], data)
    cpu.r[:] = regs
    cpu.pc, cpu.icount, cpu.cycles = BASE, 0, 0


def run_outcome(cpu: CPU, budget: int, climit: int) -> object:
    """Run one slice: None, ("halt", status), or the trap's kind, pc and address."""
    try:
        cpu.run(budget, climit)
    except Halt as h:
        return ("halt", h.status)
    except Trap as t:
        return (type(t).__name__, t.pc, getattr(t, "va", None))
    return None


def _slice(cpu: CPU, space: UserPages, budget: int, climit: int) -> tuple[object, ...]:
    outcome = run_outcome(cpu, budget, climit)
    pages = [list(space.pages[BASE >> 13]), list(space.pages[DATA >> 13])]
    return outcome, list(cpu.r), cpu.pc, cpu.icount, cpu.cycles, pages


@pytest.mark.parametrize("native", [True, False])
def test_random_multi_block_programs_agree_with_the_interpreter(native: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the native tier off, regions that settle run from the run loop's
    ``quick`` table: traps, budgets and cycle limits inside them still agree."""
    monkeypatch.setattr(translate, "HOT", 3)  # regions form within a few entries
    monkeypatch.setenv("SPINWB_CACHE", "off")  # each run compiles its regions (they are counted)
    rng = random.Random(22)
    fast, fspace = _machine(True)
    slow, sspace = _machine(False)
    assert fast._translator.traces
    fast._translator.native_on = native and fast._translator.native_on
    regions = passes = quick = 0
    orig = translate.Translator._compile_region

    def counted(self: translate.Translator, segs: list[translate.Block], loop: bool) -> translate.Block:
        nonlocal regions, passes
        regions += 1
        passes += loop
        return orig(self, segs, loop)

    monkeypatch.setattr(translate.Translator, "_compile_region", counted)
    for _ in range(250):
        words = _program(rng)
        regs = [rng.getrandbits(64) if rng.random() < 0.3 else rng.randrange(0, 64) for _ in range(31)] + [0]
        regs[9] = DATA
        regs[10] = BASE + 4 * rng.randrange(0, LEN)
        regs[26] = BASE + 4 * rng.randrange(0, LEN)
        data = [rng.getrandbits(64) if rng.random() < 0.5 else rng.randrange(0, 16) for _ in range(1024)]
        _load(fast, fspace, words, regs, data)
        _load(slow, sspace, words, regs, data)
        for _ in range(12):  # small budgets and cycle limits, so regions are cut mid-loop
            budget = rng.choice([1, 3, 17, 60, 250, 900])
            climit = fast.cycles + rng.choice([5, 40, 400, 1 << 40])
            a = _slice(fast, fspace, budget, climit)
            b = _slice(slow, sspace, budget, climit)
            assert a == b, f"program {[hex(w) for w in words]}: translator {a[0]} / interpreter {b[0]}"
            quick += len(fast._translator.quick)
            if a[0] is not None:
                break
    assert regions > 100 and passes > 20, "the programs must exercise regions and loop regions"
    if not native:
        assert quick > 50, "settled regions must run from the quick table"


def _run(path: str, args: list[str], stdin: bytes, cpu: str) -> tuple[tuple[object, ...], int]:
    out, err = io.BytesIO(), io.BytesIO()
    proc = UserProgram(read_elf(path), [path, *args], model=cpu, stdin=io.BytesIO(stdin), stdout=out,
                       stderr=err, translate=True)  # fmt: skip
    info = proc.run()
    regions = sum(len(d) for d in proc.cpu._translator.rcode.values())
    return (out.getvalue(), err.getvalue(), info.status, proc.cpu.icount, proc.cpu.cycles, list(proc.cpu.r)), regions


@pytest.mark.parametrize("cpu", CPUS)
@pytest.mark.parametrize("name", CORPUS)
def test_corpus_is_the_same_with_traces_on_and_off(name: str, cpu: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path, args, stdin = str(elf(name, cpu)), RUN_ARGS.get(name, []), RUN_STDIN.get(name, b"")
    monkeypatch.setenv("SPINWB_NATIVE", "0")  # this tier alone: native code would take the hottest loops first
    on, regions = _run(path, args, stdin, cpu)
    monkeypatch.setenv("SPINWB_TRACES", "0")
    off, none = _run(path, args, stdin, cpu)
    assert none == 0
    assert on == off
    if name in ("sort", "sieve", "crc", "matrix", "bytes"):
        assert regions > 0, "general code must run in regions"


def test_a_kernel_run_has_the_same_state_hash_with_traces_on_and_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def once() -> tuple[object, ...]:
        r = run_kernel(BIN / "preempt.elf", ["3", "3"])
        k = r.kernel
        return k.state_hash(), r.stdout, r.status, k.machine.cpu.icount, k.machine.cpu.cycles  # type: ignore[attr-defined]

    on = once()
    monkeypatch.setenv("SPINWB_TRACES", "0")
    off = once()
    assert on == off


def _op(op: int, ra: int, lit: int, fn: int, rc: int) -> int:
    return op << 26 | ra << 21 | lit << 13 | 1 << 12 | fn << 5 | rc


def test_a_region_storing_into_its_own_code_runs_the_new_code_next(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop region whose if-converted store (on pass 20) rewrites an
    instruction later in the same pass: from that instruction on, the new code
    runs, as on the interpreter (r4 counts the old instruction, r8 the new)."""
    monkeypatch.setattr(translate, "HOT", 3)
    new = _op(0x10, 8, 1, 0x20, 8)  # addq r8, 1, r8
    words = [
        _op(0x10, 2, 1, 0x20, 2),  # addq r2, 1, r2
        _op(0x10, 2, 20, 0x2D, 7),  # cmpeq r2, 20, r7
        0x39 << 26 | 7 << 21 | 1,  # beq r7, over the store
        0x2C << 26 | 3 << 21 | 10 << 16 | 24,  # stl r3, 24(r10): rewrites word 6
        0x30 << 26 | 31 << 21,  # br to the next word: a new block
        _op(0x10, 5, 1, 0x20, 5),  # addq r5, 1, r5
        _op(0x10, 4, 1, 0x20, 4),  # addq r4, 1, r4 (word 6)
        _op(0x10, 2, 50, 0x4D, 6),  # cmplt r2, 50, r6
        0x3D << 26 | 6 << 21 | (-9 & 0x1FFFFF),  # bne r6, to word 0
        BUGCHK,
    ]
    regs = [0] * 32
    regs[3], regs[10] = new, BASE
    loops = []
    orig = translate.Translator._compile_region

    def counted(self: translate.Translator, segs: list[translate.Block], loop: bool) -> translate.Block:
        loops.append(loop)
        return orig(self, segs, loop)

    monkeypatch.setattr(translate.Translator, "_compile_region", counted)
    outcomes = []
    for on in (True, False):
        cpu, space = _machine(on)
        _load(cpu, space, words, regs, [0] * 1024)
        outcomes.append(_slice(cpu, space, 10_000, 1 << 40))
    assert any(loops), "the loop must have run as a loop region before the store"
    assert outcomes[0] == outcomes[1]
    regs_after = outcomes[0][1]
    assert isinstance(regs_after, list) and (regs_after[4], regs_after[8], regs_after[5]) == (19, 31, 50)


def test_a_handler_going_back_to_a_dispatch_loop_heads_a_region_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """An interpreter's shape: a dispatch loop that picks one of two handlers,
    each branching back to it. The loop's region follows one handler; the
    other must head a region of its own that runs on through the dispatch
    (else every pass through it costs two trips through the run loop), and
    the run still agrees with the interpreter."""
    monkeypatch.setattr(translate, "HOT", 3)
    words = [
        _op(0x10, 2, 1, 0x20, 2),  # 0 D: addq r2, 1, r2
        _op(0x10, 2, 200, 0x4D, 6),  # 1    cmplt r2, 200, r6
        0x39 << 26 | 6 << 21 | 6,  # 2    beq r6, to word 9 (the halt)
        _op(0x11, 2, 1, 0x00, 7),  # 3    and r2, 1, r7
        0x3D << 26 | 7 << 21 | 2,  # 4    bne r7, to word 7 (H2)
        _op(0x10, 4, 1, 0x20, 4),  # 5 H1: addq r4, 1, r4
        0x30 << 26 | 31 << 21 | (-7 & 0x1FFFFF),  # 6    br to D
        _op(0x10, 5, 1, 0x20, 5),  # 7 H2: addq r5, 1, r5
        0x30 << 26 | 31 << 21 | (-9 & 0x1FFFFF),  # 8    br to D
        BUGCHK,
    ]
    outcomes = []
    for on in (True, False):
        cpu, space = _machine(on)
        _load(cpu, space, words, [0] * 32, [0] * 1024)
        outcomes.append(_slice(cpu, space, 10_000, 1 << 40))
        if on:
            regions = cpu._translator.regions
    assert outcomes[0] == outcomes[1]
    assert isinstance(outcomes[0][1], list) and (outcomes[0][1][4], outcomes[0][1][5]) == (99, 100)
    loop = regions[BASE][3]
    assert loop.loop and loop.index is not None
    for handler in (BASE + 4 * 5, BASE + 4 * 7):
        if handler in loop.index:
            continue  # the handler the loop's own region follows
        assert handler in regions, f"handler at {handler:#x} runs alone"
        own = regions[handler][3]
        assert own.index is not None and BASE in own.index and BASE + 12 in own.index


def test_a_trap_inside_a_region_run_from_the_quick_table_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dispatch loop above, both handlers walking a load off the data page:
    by the time one faults, the handler the loop's region does not follow has
    its own region (on through the dispatch) settled in the run loop's ``quick``
    table, and a fault inside it has the interpreter's pc, instruction count,
    cycles and registers."""
    monkeypatch.setattr(translate, "HOT", 3)
    handler = [
        0x29 << 26 | 8 << 21 | 9 << 16,  # ldq r8, 0(r9)
        0x08 << 26 | 9 << 21 | 9 << 16 | 0x80,  # lda r9, 0x80(r9)
    ]
    words = [
        _op(0x10, 2, 1, 0x20, 2),  # 0 D: addq r2, 1, r2
        0x10 << 26 | 2 << 21 | 3 << 16 | 0x4D << 5 | 6,  # 1 cmplt r2, r3 (1000), r6
        0x39 << 26 | 6 << 21 | 10,  # 2    beq r6, to word 13 (the halt)
        _op(0x11, 2, 1, 0x00, 7),  # 3    and r2, 1, r7
        0x3D << 26 | 7 << 21 | 4,  # 4    bne r7, to word 9 (H2)
        _op(0x10, 4, 1, 0x20, 4),  # 5 H1: addq r4, 1, r4
        *handler,  # 6, 7
        0x30 << 26 | 31 << 21 | (-9 & 0x1FFFFF),  # 8    br to D
        _op(0x10, 5, 1, 0x20, 5),  # 9 H2: addq r5, 1, r5
        *handler,  # 10, 11
        0x30 << 26 | 31 << 21 | (-13 & 0x1FFFFF),  # 12   br to D
        BUGCHK,
    ]
    faults = set()
    for start in (DATA, DATA + 0x80):  # the fault in one handler, then in the other
        regs = [0] * 32
        regs[3], regs[9] = 1000, start
        outcomes, quick = [], {}
        for on in (True, False):
            cpu, space = _machine(on)
            if on:
                cpu._translator.native_on = False  # regions settle at once (no native code to wait for)
            _load(cpu, space, words, regs, [7] * 1024)
            outcomes.append(_slice(cpu, space, 100_000, 1 << 40))
            if on:
                quick = {pc: e[3] for pc, e in cpu._translator.quick.items()}
                cpu._translator.native_on = True
                assert not cpu._translator.quick, "turned on, the tier must see those regions get hot again"
        assert outcomes[0] == outcomes[1]
        outcome = outcomes[0][0]
        assert isinstance(outcome, tuple) and outcome[1] in (BASE + 24, BASE + 40), "the ldq faults off its page"
        faults.add(any(g.index is not None and outcome[1] in g.index for g in quick.values()))
    assert faults == {True}, "each fault must be inside a region run from the quick table"
