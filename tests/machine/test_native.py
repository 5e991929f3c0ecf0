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
from machine.arena import set_words
from machine.elf import read_elf
from machine.usermode import UserPages, UserProgram
from tests.conftest import CORPUS, CPUS, RUN_ARGS, RUN_STDIN, elf, require_module
from tests.machine.test_traces import BASE, DATA, _load, _program, _slice
from tests.machine.test_translator_fuzz import BUGCHK, OPCODES, _machine

WORDS = 100_000  # issue 22: at least 100,000 random words per tier
BATCH = 256  # words per compiled module: compiling is most of the cost
CODE = 0x20000  # the words' page (read and execute only: a store there faults on both sides)


@pytest.fixture(autouse=True)
def _wasmtime() -> None:
    require_module("wasmtime")


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
        nr = tier.region(insns, owner, {owner.pc: owner}, tuple(slots[1:]))  # type: ignore[arg-type]
        assert nr is not None
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
                if pc in nr.starts:
                    nr.enter(10, 1 << 63)
                ncpu.interpret(10, 1 << 63)

            a = _outcome(ncpu, nspace, native)
            if pc in nr.starts:
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
    nr = tier.region({CODE: decode(ldq)}, owner, {CODE: owner})  # type: ignore[arg-type]
    assert nr is not None
    owner.native = nr
    data = CODE + 0x2000
    vpn = data >> 13
    tier.q[(RTAG >> 3) + (vpn & 255)] = vpn
    tier.q[(ROFF >> 3) + (vpn & 255)] = 0xFFFF_E000  # 4 GiB less a page: far past the linear memory
    cpu.r[2], cpu.pc = data, CODE
    with pytest.raises(NativeFault) as e:
        nr.enter(10, 1 << 63)
    assert "native tier fault in the region at 0x20000" in e.value.message
    assert "out of bounds" in e.value.message
    assert owner.native is None and tier.faults == [e.value.message]
    assert e.value.reason == e.value.message  # what Machine.run keeps as the halt reason
