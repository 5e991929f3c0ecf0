"""The native tier (wasm via wasmtime) changes speed only: random instruction
words and random multi-block programs agree with the reference interpreter,
and the corpus gives the same outputs, counts and cycles with it on and off.
Under CI=true a missing wasmtime fails these tests instead of skipping them."""

from __future__ import annotations

import io
import random
from types import SimpleNamespace

import pytest

from machine.alpha import translate
from machine.alpha.cpu import CPU
from machine.alpha.decode import decode
from machine.alpha.native.lower import lowerable
from machine.alpha.native.state import ROFF, RTAG
from machine.alpha.native.tier import NativeFault, NativeRegion, NativeTier, arena_of
from machine.alpha.traps import Halt, Trap
from machine.arena import set_words, zero
from machine.elf import read_elf
from machine.usermode import UserPages, UserProgram
from tests.conftest import CORPUS, CPUS, RUN_ARGS, RUN_STDIN, elf, require_module
from tests.machine.test_traces import BASE, DATA, _load, _program, _slice, run_outcome
from tests.machine.test_translator_fuzz import BUGCHK, OPCODES, _machine

WORDS = 100_000  # issue 22: at least 100,000 random words per tier
BATCH = 256  # words per compiled module: compiling is most of the cost
CODE = 0x20000  # the words' page (read and execute only: a store there faults on both sides)


@pytest.fixture(autouse=True)
def _wasmtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """wasmtime, and the tier allowed to start at once: these programs are far shorter than
    NATIVE_START (whose own test is test_the_tier_starts_only_after_start_instructions)."""
    require_module("wasmtime")
    monkeypatch.setattr(translate, "NATIVE_START", 0)


class _StopPal:
    def call_pal(self, cpu: CPU, fn: int, pc: int) -> int:
        raise Halt("pal", fn)


def _word_machine(native: bool) -> tuple[CPU, UserPages]:
    space = UserPages()
    space.map(CODE, 0x2000, 5)
    space.map(CODE + 0x2000, 0x2000, 3)
    cpu = CPU(space, _StopPal(), "ev67")
    cpu.enable_translation(False)
    return cpu, space


def _outcome(cpu: CPU, space: UserPages, run: object) -> tuple[object, ...]:
    outcome: object = None
    try:
        run()  # type: ignore[operator]
    except Halt as h:
        outcome = ("halt", h.status)
    except Trap as t:
        outcome = (type(t).__name__, t.pc, getattr(t, "va", None), getattr(t, "summary", None))
    data = space.pages[(CODE + 0x2000) >> 13]
    return outcome, list(cpu.r), list(cpu.f), cpu.read_fpcr(), cpu.pc, cpu.icount, cpu.cycles, bytes(data.cast("B"))


def test_native_matches_interpreter_on_random_words() -> None:
    """Each word at its own slot (word, then call_pal bugchk), a batch of them
    compiled as one module with every slot an entry; each run starts from the
    same random registers, FPCR and data page on both sides and goes 10
    instructions: native code, then the interpreter for what it leaves."""
    rng = random.Random(2322)
    ncpu, nspace = _word_machine(True)
    rcpu, rspace = _word_machine(False)
    tier = NativeTier(ncpu, arena_of(nspace))  # type: ignore[arg-type]
    interesting = [0, 1, 7, 0x80, CODE, CODE + 8, CODE + 3, CODE + 0x2000, CODE + 0x2003, 1 << 63, (1 << 64) - 1]
    native_insns = 0
    done = 0
    while done < WORDS:
        words = [(rng.choice(OPCODES) << 26) | rng.getrandbits(26) for _ in range(BATCH)]
        code = bytearray()
        for w in words:
            code += (w | (BUGCHK << 32)).to_bytes(8, "little")
        for space in (nspace, rspace):
            space.write_bulk(CODE, bytes(code))
        insns = {CODE + 8 * i: ins for i, w in enumerate(words) if (ins := decode(w)) is not None}
        slots = [a for a, ins in insns.items() if lowerable(ins, ncpu.features)]
        owner = SimpleNamespace(pc=slots[0])
        m = tier.module(insns, owner, {owner.pc: owner}, CODE >> 13, tuple(slots[1:]))  # type: ignore[arg-type]
        assert m is not None
        nr = NativeRegion(tier, owner, m)
        data = [rng.getrandbits(64) for _ in range(1024)]
        for i, w in enumerate(words):
            pc = CODE + 8 * i
            regs = [rng.choice(interesting) if rng.random() < 0.6 else rng.getrandbits(64) for _ in range(31)] + [0]
            fregs = [rng.getrandbits(64) for _ in range(31)] + [0]
            fpcr = rng.choice([rcpu.fpcr, rng.getrandbits(64)])
            for cpu, space in ((ncpu, nspace), (rcpu, rspace)):
                cpu.flush_tlb()
                set_words(space.pages[(CODE + 0x2000) >> 13], data)
                cpu.r[:] = regs
                cpu.f[:] = fregs
                cpu.fpcr = fpcr
                cpu.pc, cpu.icount, cpu.cycles = pc, 0, 0
            tier.flush_tb()

            def native(pc: int = pc, nr: NativeRegion = nr) -> None:
                if pc in nr.module.starts:
                    nr.enter(10, 1 << 63)
                ncpu.interpret(10, 1 << 63)

            a = _outcome(ncpu, nspace, native)
            if pc in nr.module.starts:
                native_insns += 1
            b = _outcome(rcpu, rspace, lambda: rcpu.interpret(10, 1 << 63))
            assert a == b, f"word {w:#010x} at {pc:#x}: native {a[0]} / interpreter {b[0]}"
        done += BATCH
    assert not tier.faults
    assert native_insns > WORDS // 3, "most operate, memory and branch words must be lowered"


def test_random_multi_block_programs_agree_with_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """test_traces' random programs (loads and stores, now and then into the
    code page, branches both ways, bsr/jmp/ret) through the translator's run
    loop with regions compiled natively after 3 entries, slice by slice."""
    monkeypatch.setattr(translate, "HOT", 3)
    monkeypatch.setattr(translate, "NATIVE_HOT", 3)
    rng = random.Random(23)
    fast, fspace = _machine(True)
    slow, sspace = _machine(False)
    entries = 0
    for _ in range(200):
        words = _program(rng)
        regs = [rng.getrandbits(64) if rng.random() < 0.3 else rng.randrange(0, 64) for _ in range(31)] + [0]
        regs[9] = DATA
        regs[10] = BASE + 4 * rng.randrange(0, len(words) - 1)
        regs[26] = BASE + 4 * rng.randrange(0, len(words) - 1)
        data = [rng.getrandbits(64) if rng.random() < 0.5 else rng.randrange(0, 16) for _ in range(1024)]
        _load(fast, fspace, words, regs, data)
        _load(slow, sspace, words, regs, data)
        for _ in range(12):
            budget = rng.choice([1, 3, 17, 60, 250, 900, 5000])
            climit = fast.cycles + rng.choice([5, 40, 400, 1 << 40])
            a = _slice(fast, fspace, budget, climit)
            b = _slice(slow, sspace, budget, climit)
            assert a == b, f"program {[hex(w) for w in words]}: native {a[0]} / interpreter {b[0]}"
            if a[0] is not None:
                break
        tier = fast._translator.native
        entries = tier.compiled if tier is not None else 0
    assert fast._translator.native is not None and not fast._translator.native.faults
    assert entries > 50, "the programs must run natively"


CROSS = 0x40000  # two code pages (a program straddles their boundary), then the data page
CROSS_START = CROSS + 0x2000 - 4 * 24


def _cross_machine(native: bool) -> tuple[CPU, UserPages]:
    space = UserPages()
    space.map(CROSS, 0x4000, 7)
    space.map(CROSS + 0x4000, 0x2000, 3)
    cpu = CPU(space, _StopPal(), "ev67")
    cpu.enable_translation(native)
    return cpu, space


def _cross_load(cpu: CPU, space: UserPages, words: list[int], regs: list[int], data: list[int]) -> None:
    cpu.flush_tlb()
    for vpn in (CROSS >> 13, (CROSS >> 13) + 1):
        space.prot[vpn] = 7
        zero(space.pages[vpn])
    space.write_bulk(CROSS_START, b"".join(w.to_bytes(4, "little") for w in words))
    for vpn in (CROSS >> 13, (CROSS >> 13) + 1):
        cpu.frame_written(space.pages[vpn])
    set_words(space.pages[(CROSS >> 13) + 2], data)
    cpu.r[:] = regs
    cpu.pc, cpu.icount, cpu.cycles = CROSS_START, 0, 0


def _cross_slice(cpu: CPU, space: UserPages, budget: int, climit: int) -> tuple[object, ...]:
    outcome = run_outcome(cpu, budget, climit)
    pages = [list(space.pages[(CROSS >> 13) + k]) for k in range(3)]
    return outcome, list(cpu.r), cpu.pc, cpu.icount, cpu.cycles, pages


def test_programs_across_two_pages_chain_natively_and_keep_protection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random programs straddling a page boundary, so their branches, calls and
    returns cross from one page's module to the other's (which native code
    follows without coming back to Python), agree with the interpreter; and
    between slices the second page now and then loses execute permission
    (its ITB entry dropped, as a TB invalidation does): a jump into it from
    native code must then fault exactly as the interpreter's does, never run."""
    monkeypatch.setattr(translate, "HOT", 3)
    monkeypatch.setattr(translate, "NATIVE_HOT", 3)
    chained = 0
    run = NativeTier.run

    def counting(self: NativeTier, m: object) -> tuple[int, object]:
        nonlocal chained
        code, last = run(self, m)  # type: ignore[arg-type]
        chained += last is not m
        return code, last

    monkeypatch.setattr(NativeTier, "run", counting)
    rng = random.Random(2404)
    fast, fspace = _cross_machine(True)
    slow, sspace = _cross_machine(False)
    second = (CROSS >> 13) + 1
    revoked = 0
    for _ in range(200):
        words = _program(rng)
        regs = [rng.getrandbits(64) if rng.random() < 0.3 else rng.randrange(0, 64) for _ in range(31)] + [0]
        regs[9] = CROSS + 0x4000
        regs[10] = CROSS_START + 4 * rng.randrange(0, len(words) - 1)
        regs[26] = CROSS_START + 4 * rng.randrange(0, len(words) - 1)
        data = [rng.getrandbits(64) if rng.random() < 0.5 else rng.randrange(0, 16) for _ in range(1024)]
        _cross_load(fast, fspace, words, regs, data)
        _cross_load(slow, sspace, words, regs, data)
        for _ in range(12):
            if rng.random() < 0.2:
                prot = rng.choice([3, 7])  # read-write only, or executable again
                revoked += prot == 3
                for cpu, space in ((fast, fspace), (slow, sspace)):
                    space.prot[second] = prot
                    cpu.forget_exec(second)
                    cpu.forget_data(second)
            budget = rng.choice([1, 3, 17, 60, 250, 900, 5000])
            climit = fast.cycles + rng.choice([5, 40, 400, 1 << 40])
            a = _cross_slice(fast, fspace, budget, climit)
            b = _cross_slice(slow, sspace, budget, climit)
            assert a == b, f"program {[hex(w) for w in words]}: native {a[0]} / interpreter {b[0]}"
            if a[0] is not None:
                break
    tier = fast._translator.native
    assert tier is not None and not tier.faults
    assert tier.compiled > 50, "the programs must run natively"
    assert chained > 100, "jumps between the pages must go on natively"
    assert revoked > 20


LOOP, FN = CROSS + 0x1FE0, CROSS + 0x2010  # a hot loop in the first page calling a function in the second


def _two_page_loop() -> dict[int, int]:
    """The loop (12 instructions a pass, its native head at LOOP + 8) and its function, by address."""
    loop, fn = LOOP, FN
    return {
        loop: 0x10 << 26 | 2 << 21 | 1 << 13 | 1 << 12 | 0x20 << 5 | 2,  # addq r2, 1, r2
        loop + 4: 0x34 << 26 | 26 << 21 | (fn - loop - 8) // 4,  # bsr r26, fn (the next page)
        loop + 8: 0x10 << 26 | 2 << 21 | 7 << 16 | 0x4D << 5 | 6,  # cmplt r2, r7, r6 (the native head)
        loop + 12: 0x3D << 26 | 6 << 21 | (-4 & 0x1FFFFF),  # bne r6, loop
        loop + 16: BUGCHK,
        fn: 0x08 << 26 | 5 << 21 | 31 << 16 | 3,  # lda r5, 3(r31)
        fn + 4: 0x10 << 26 | 5 << 21 | 1 << 13 | 1 << 12 | 0x29 << 5 | 5,  # subq r5, 1, r5 (a self-loop: native)
        fn + 8: 0x3D << 26 | 5 << 21 | (-2 & 0x1FFFFF),  # bne r5, fn + 4
        fn + 12: 0x1A << 26 | 31 << 21 | 26 << 16 | 2 << 14,  # ret (r26)
    }


@pytest.mark.parametrize("change", ["tb-invalidate", "flush", "rewrite"])
def test_native_code_never_goes_on_into_a_page_it_may_no_longer_run(
    change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hot loop in one page calls a function (a loop) in the next page, both
    native, the call and the return chained module to module. Then the
    function's page changes under the chain: it loses execute permission and
    its ITB entry is dropped (``tb-invalidate``), or it loses it and every
    cached lookup goes as at a mode or context switch (``flush``), or its code
    is rewritten from outside (``rewrite``). The next call must fault there, or
    run the new code, at the same count as on the interpreter."""
    monkeypatch.setattr(translate, "HOT", 3)
    monkeypatch.setattr(translate, "NATIVE_HOT", 3)
    loop, fn = LOOP, FN
    words = _two_page_loop()
    vpn = fn >> 13
    outcomes = []
    for native in (True, False):
        cpu, space = _cross_machine(native)
        for a, w in words.items():
            space.write_bulk(a, w.to_bytes(4, "little"))
        cpu.r[7], cpu.pc = 1 << 40, loop
        first = _cross_slice(cpu, space, 12 * 1666 + 10, 1 << 62)  # whole passes (12 instructions) and a call
        if native:
            tier = cpu._translator.native
            assert tier is not None and tier.compiled >= 2, "both pages must have run natively"
        if change == "rewrite":
            space.write_bulk(fn, (0x08 << 26 | 5 << 21 | 31 << 16 | 5).to_bytes(4, "little"))  # lda r5, 5(r31)
            cpu.frame_written(space.pages[vpn])
        else:
            space.prot[vpn] = 3  # read and write, no execute
            if change == "flush":
                cpu.flush_host_caches()
            else:
                cpu.forget_exec(vpn)
                cpu.forget_data(vpn)
        outcomes.append((first, _cross_slice(cpu, space, 20_000, 1 << 62)))
    assert outcomes[0][0][2] == loop + 8, "the first slice ends at the native head"
    assert outcomes[0][0] == outcomes[1][0]
    if change == "rewrite":
        assert outcomes[0][1][0] is None and outcomes[0][1][3] == 12 * 1666 + 10 + 20_000
    else:
        assert outcomes[0][1][0] == ("MemoryTrap", fn, fn), "the call into the page must fault"
    assert outcomes[0][1] == outcomes[1][1]


def test_translation_turned_off_and_on_again_compiles_into_the_same_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU's next translator (translation off, then on) makes a new tier on
    the same memory, whose store already holds the old tier's modules: the new
    ones take the next table slots, and the results stay the interpreter's."""
    monkeypatch.setattr(translate, "HOT", 3)
    monkeypatch.setattr(translate, "NATIVE_HOT", 3)
    machines = [_cross_machine(True), _cross_machine(False)]
    for cpu, space in machines:
        for a, w in _two_page_loop().items():
            space.write_bulk(a, w.to_bytes(4, "little"))
        cpu.r[7], cpu.pc = 1 << 40, LOOP
    tiers = []
    for _ in range(3):
        a, b = (_cross_slice(cpu, space, 5_000, 1 << 62) for cpu, space in machines)
        assert a == b
        fast = machines[0][0]
        tiers.append(fast._translator.native)
        fast.enable_translation(False)
        fast.enable_translation(True)
    assert all(t is not None for t in tiers) and len({id(t) for t in tiers}) == 3
    assert len({id(t.rt) for t in tiers}) == 1, "one store per memory"
    slots = [m.slot for m in tiers[0].by_slot]
    assert slots == list(range(len(slots))) and len(slots) >= 6, "one table, slots in compile order"


def _run(path: str, args: list[str], stdin: bytes, cpu: str) -> tuple[tuple[object, ...], int]:
    out, err = io.BytesIO(), io.BytesIO()
    proc = UserProgram(read_elf(path), [path, *args], model=cpu, stdin=io.BytesIO(stdin), stdout=out,
                       stderr=err, translate=True)  # fmt: skip
    info = proc.run()
    tier = proc.cpu._translator.native
    assert tier is None or not tier.faults, tier.faults
    return (out.getvalue(), err.getvalue(), info.status, proc.cpu.icount, proc.cpu.cycles, list(proc.cpu.r)), (
        tier.compiled if tier is not None else 0
    )


@pytest.mark.parametrize("cpu", CPUS)
@pytest.mark.parametrize("name", CORPUS)
def test_corpus_is_the_same_with_native_on_and_off(name: str, cpu: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path, args, stdin = str(elf(name, cpu)), RUN_ARGS.get(name, []), RUN_STDIN.get(name, b"")
    monkeypatch.setenv("SPINWB_NATIVE", "1")
    on, compiled = _run(path, args, stdin, cpu)
    monkeypatch.setenv("SPINWB_NATIVE", "0")
    off, none = _run(path, args, stdin, cpu)
    assert none == 0
    assert on == off
    if name in ("sort", "sieve", "crc", "matrix"):  # long enough for a region to reach the threshold
        assert compiled > 0, "general code must run natively"


def test_a_trap_in_native_code_drops_the_region_and_stops_with_a_message() -> None:
    """A wrong TB entry (a frame offset past the memory) makes wasm trap: the
    region is dropped, the fault kept, and the run ends in NativeFault with a
    message, not a traceback or a corrupted process."""
    cpu, space = _word_machine(True)
    tier = NativeTier(cpu, arena_of(space))  # type: ignore[arg-type]
    ldq = 0x29 << 26 | 1 << 21 | 2 << 16  # ldq r1, 0(r2)
    space.write_bulk(CODE, (ldq | BUGCHK << 32).to_bytes(8, "little"))
    owner = SimpleNamespace(pc=CODE, native=None)
    m = tier.module({CODE: decode(ldq)}, owner, {CODE: owner}, CODE >> 13)  # type: ignore[arg-type]
    assert m is not None
    owner.native = nr = NativeRegion(tier, owner, m)
    data = CODE + 0x2000
    vpn = data >> 13
    tier.q[(RTAG >> 3) + (vpn & 255)] = vpn
    tier.q[(ROFF >> 3) + (vpn & 255)] = 0xFFFF_E000  # 4 GiB less a page: far past the linear memory
    cpu.r[2], cpu.pc = data, CODE
    with pytest.raises(NativeFault) as e:
        nr.enter(10, 1 << 63)
    assert "native tier fault in the code of page 0x20000" in e.value.message
    assert "out of bounds" in e.value.message
    assert owner.native is None and tier.faults == [e.value.message]
    assert e.value.reason == e.value.message  # what Machine.run keeps as the halt reason


def _lda(ra: int, disp: int) -> int:
    return 0x08 << 26 | ra << 21 | ra << 16 | (disp & 0xFFFF)


def _branch(op: int, ra: int, words: int) -> int:
    return op << 26 | ra << 21 | (words & 0x1FFFFF)


LONG_LOOPS = {
    # lda $1,-1($1); bne $1,-2; halt: one block that branches to itself
    "self-loop": [_lda(1, -1), _branch(0x3D, 1, -2), 0],
    # lda $1,-1($1); br +0 (the next word); lda $3,1($3); bne $1,-4; halt: two blocks, a loop region
    "loop region": [_lda(1, -1), _branch(0x30, 31, 0), _lda(3, 1), _branch(0x3D, 1, -4), 0],
}


@pytest.mark.parametrize("shape", sorted(LONG_LOOPS))
def test_a_long_loop_entered_once_goes_native_within_its_threshold(shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop entered once that runs 100,000 times (a memset of a big table at
    start-up) must not run all of them as a Python ``while``: its passes count
    towards the native threshold, and the Python loop stops there so the next
    pass runs natively; the state is still the interpreter's."""
    first: list[int] = []
    enter = NativeRegion.enter

    def watched(self: NativeRegion, limit: int, climit: int) -> bool:
        if not first:
            first.append(self.tier.cpu.icount)
        return enter(self, limit, climit)

    monkeypatch.setattr(NativeRegion, "enter", watched)
    words = LONG_LOOPS[shape]
    outcomes = []
    for native in (True, False):
        cpu, space = _word_machine(native)
        cpu.enable_translation(native)
        space.write_bulk(CODE, b"".join(w.to_bytes(4, "little") for w in words))
        cpu.frame_written(space.pages[CODE >> 13])
        cpu.r[1], cpu.pc = 100_000, CODE
        outcomes.append(_outcome(cpu, space, lambda cpu=cpu: cpu.run(10_000_000)))
        if native:
            assert cpu._translator.native is not None and cpu._translator.native.compiled > 0
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == ("halt", 0) and outcomes[0][1][1] == 0
    per_pass = len(words) - 1
    assert first, "the loop never ran natively"
    assert first[0] <= (translate.HOT + translate.NATIVE_HOT + 2) * per_pass, first[0]


def test_the_tier_starts_only_after_start_instructions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting the tier costs about 45 ms (wasmtime's import, its engine): a run shorter
    than NATIVE_START never starts it, however hot its loop, and a longer one does, at
    the first head that gets hot past that count. Counts and state are the same either way."""
    monkeypatch.setattr(translate, "NATIVE_START", 30_000)
    first: list[int] = []
    enter = NativeRegion.enter

    def watched(self: NativeRegion, limit: int, climit: int) -> bool:
        if not first:
            first.append(self.tier.cpu.icount)
        return enter(self, limit, climit)

    monkeypatch.setattr(NativeRegion, "enter", watched)
    words = LONG_LOOPS["self-loop"]
    for budget, started in ((20_000, False), (200_000, True)):
        outcomes = []
        for native in (True, False):
            cpu, space = _word_machine(native)
            cpu.enable_translation(native)
            space.write_bulk(CODE, b"".join(w.to_bytes(4, "little") for w in words))
            cpu.frame_written(space.pages[CODE >> 13])
            cpu.r[1], cpu.pc = 100_000, CODE
            outcomes.append(_outcome(cpu, space, lambda cpu=cpu, budget=budget: cpu.run(budget)))
            if native:
                assert (cpu._translator.native is not None) == started, budget
        assert outcomes[0] == outcomes[1]
    assert first and 30_000 <= first[0] <= 30_000 + 2 * (translate.NATIVE_HOT + 2), first
