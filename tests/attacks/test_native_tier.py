"""A hostile guest against the native tier (docs/native-tier.md): each attack
runs the same code natively (regions compiled after 3 entries) and on the
interpreter alone, and the outcome -- trap, registers, pc, icount, cycles and
memory -- must be the interpreter's exactly. The guest tries to make native
code run what it may no longer fetch (a page unmapped, made non-executable,
rewritten, another address space's, the kernel's), write what it may not,
go on forever past its budget, or confuse chaining with odd, huge and
mid-block targets; two machines share the process, and the host changes
watchpoints and the translation switch between slices."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from machine.alpha import translate
from machine.alpha.asm import assemble
from machine.alpha.constants import KSEG_BASE, M64, PTE_FOE, PTE_KRE, PTE_URE, PTE_V
from machine.alpha.cpu import CPU, Watch
from machine.alpha.native import tier as native_tier
from machine.alpha.native.tier import NativeModule, NativeTier
from machine.alpha.pal import ENT_MM, ENT_SYS
from machine.alpha.traps import Halt
from machine.elf import parse_elf
from machine.pagetable import PageTable
from machine.usermode import UserPages, UserProgram
from tests.conftest import require_module
from tests.machine.test_code_cache import enter_user, user_machine
from tests.machine.test_traces import run_outcome

P1 = 0x40000  # the hot loop's page
P2 = P1 + 0x2000  # the function it calls (another page: the call and return chain natively)
DATA = P1 + 0x4000  # read-write data


CHAINED = [0, 0]  # native runs that ended in another module than they started in; all native runs


@pytest.fixture(autouse=True, params=["compile", "recompile-each-miss"])
def _hot(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regions compiled after 3 entries; and (second pass) a page compiled
    again at every exit to its code not yet seen, so the attacks also meet
    modules replaced while chained to."""
    require_module("wasmtime")
    monkeypatch.setenv("SPINWB_NATIVE", "1")
    monkeypatch.setattr(translate, "HOT", 3)
    monkeypatch.setattr(translate, "NATIVE_HOT", 3)
    monkeypatch.setattr(translate, "NATIVE_START", 0)
    if request.param == "recompile-each-miss":
        monkeypatch.setattr(native_tier, "MISSES", 1)
        monkeypatch.setattr(native_tier, "RECOMPILES", 50)
    run = NativeTier.run

    def counting(self: NativeTier, m: NativeModule) -> tuple[int, NativeModule]:
        code, last = run(self, m)
        CHAINED[0] += last is not m
        CHAINED[1] += 1
        return code, last

    monkeypatch.setattr(NativeTier, "run", counting)
    CHAINED[:] = [0, 0]


def code(source: str, base: int) -> bytes:
    seg = parse_elf(assemble("\t.text\n_start:\n" + source, "t.s", text_base=base)).segments[0]
    return seg.data[base - seg.vaddr :]


class _StopPal:
    def call_pal(self, cpu: CPU, fn: int, pc: int) -> int:
        raise Halt("pal", fn)


# A loop in P1 calling fn in P2 through $27 (so the target is whatever $27 holds), $2 times;
# each page has a self-loop, so each gets a module (native code is compiled for a hot
# self-loop or trace region, covering what the translator has seen of its page).
LOOP = """\tldah $27, 4($31)
	lda $27, 0x2000($27)
	lda $2, {n}($31)
loop:	jsr $26, ($27)
	lda $8, 2($31)
spin:	subq $8, 1, $8
	bne $8, spin
	subq $2, 1, $2
	bne $2, loop
	call_pal 0x83
"""
AFTER_CALL = P1 + 0x10  # LOOP's instruction after the jsr: native code (the self-loop) comes before the next call
FN = """\taddq $1, 1, $1
	lda $5, 3($31)
inner:	subq $5, 1, $5
	addq $1, $5, $1
	bne $5, inner
	ret ($26)
"""


def _user(native: bool, prot2: int = 7) -> tuple[CPU, UserPages]:
    space = UserPages()
    space.map(P1, 0x2000, 7)
    space.map(P2, 0x2000, prot2)
    space.map(DATA, 0x2000, 3)
    cpu = CPU(space, _StopPal(), "ev67")
    cpu.enable_translation(native)
    return cpu, space


def _load(cpu: CPU, space: UserPages, n: int = 400, fn: str = FN) -> None:
    space.write_bulk(P1, code(LOOP.format(n=n), P1))
    space.write_bulk(P2, code(fn, P2))
    cpu.pc = P1


Outcome = tuple[object, list[int], int, int, int, list[bytes | None]]  # trap, registers, pc, icount, cycles, pages


def _slice(cpu: CPU, space: UserPages, budget: int, climit: int = 1 << 62) -> Outcome:
    outcome = run_outcome(cpu, budget, climit)
    pages = [bytes(space.pages[v].cast("B")) if v in space.pages else None for v in (P1 >> 13, P2 >> 13, DATA >> 13)]
    return outcome, list(cpu.r), cpu.pc, cpu.icount, cpu.cycles, pages


Slices = list[int] | list[tuple[int, int]]


def _both(
    between: Callable[[CPU, UserPages, int], None], slices: Slices, chain: bool = True, **kw: object
) -> list[Outcome]:
    """Run the same slices (a budget, or a budget and the cycles allowed past
    the slice's start) natively and on the interpreter, calling
    ``between(cpu, space, k)`` before slice k on both; the native outcomes."""
    runs = []
    for native in (True, False):
        cpu, space = _user(native)
        _load(cpu, space, **kw)  # type: ignore[arg-type]
        out = []
        for k, sl in enumerate(slices):
            between(cpu, space, k)
            budget, dc = sl if isinstance(sl, tuple) else (sl, 1 << 40)
            out.append(_slice(cpu, space, budget, cpu.cycles + dc))
        runs.append((out, cpu))
    (fast, fcpu), (slow, _) = runs
    for k, (a, b) in enumerate(zip(fast, slow, strict=True)):
        assert a == b, f"slice {k}: native {a[:4]} / interpreter {b[:4]}"
    tier = fcpu._translator.native
    assert tier is not None and not tier.faults
    assert tier.compiled >= (2 if chain else 1), "both pages (with chain) must have run natively"
    if chain:  # 400 calls and 400 returns, each a trip through Python unless it chains
        assert CHAINED[1] < 100, "native code must go on from one page's module into the other's"
    return fast


def _nothing(cpu: CPU, space: UserPages, k: int) -> None:
    pass


def test_the_loop_runs_natively_and_chains() -> None:
    """The baseline every attack below builds on: the same result as the interpreter, natively."""
    out = _both(_nothing, [3000, 100_000])
    assert out[-1][0] == ("halt", 0x83) and out[-1][1][1] == 400 * 4
    assert CHAINED[0] >= 1 and CHAINED[1] < 10, "400 calls and returns must go on natively between the pages"


@pytest.mark.parametrize("prot", [0, 3, 5])
def test_a_function_page_losing_execute_between_slices_faults_at_the_call(prot: int) -> None:
    """After the loop is hot and chained, P2 is made unreadable, read-write
    only, or re-protected executable (5) with the host dropping its lookups:
    the next call faults at fn (or runs on) at the interpreter's count."""

    def revoke(cpu: CPU, space: UserPages, k: int) -> None:
        if k == 1:
            space.prot[P2 >> 13] = prot
            cpu.forget_exec(P2 >> 13)
            cpu.forget_data(P2 >> 13)
            cpu.pc = AFTER_CALL  # so the next call is made by native code (P1's module)

    out = _both(revoke, [3001, 100_000])
    if prot & 4:
        assert out[-1][0] == ("halt", 0x83)
    else:
        assert out[-1][0] == ("MemoryTrap", P2, P2)


def _set(k0: int, **regs: int) -> Callable[[CPU, UserPages, int], None]:
    def change(cpu: CPU, space: UserPages, k: int) -> None:
        if k == k0:
            for name, v in regs.items():
                cpu.r[int(name[1:])] = v
            cpu.pc = AFTER_CALL  # so the next call is made by native code (P1's module)

    return change


@pytest.mark.parametrize(
    ("target", "outcome"),
    [
        (P2 + 4, ("halt", 0x83)),  # the middle of fn's first block: runs from there, never at a block start
        (P2 + 1, ("halt", 0x83)),  # odd: jsr ignores the low bits
        (P2 + 3, ("halt", 0x83)),
        (P2 + 0x1FFC, ("halt", 0)),  # the page's last word (zero: call_pal 0)
        (P1 + 0x1FFC, ("halt", 0)),  # the loop's own page, past its code
        (DATA, ("MemoryTrap", DATA, DATA)),  # a readable, writable page that is not executable
        (P1 + 0x6000, ("MemoryTrap", P1 + 0x6000, P1 + 0x6000)),  # unmapped
        ((1 << 64) - 4, ("MemoryTrap", (1 << 64) - 4, (1 << 64) - 4)),  # huge: the top of the address space
        (1 << 63, ("MemoryTrap", 1 << 63, 1 << 63)),
    ],
)
def test_a_hot_call_through_a_hostile_register_goes_where_the_interpreter_goes(
    target: int, outcome: tuple[object, ...]
) -> None:
    """Once the loop and fn run natively and chain, the call's register is
    pointed at a mid-block word, an odd address, a page's last word, a
    non-executable or unmapped page, or the top of the address space."""
    out = _both(_set(1, r27=target), [3001, 100_000], chain=False)  # a mid-block entry leaves to Python
    assert out[-1][0] == outcome


def test_budget_and_cycle_limits_cut_native_code_where_the_interpreter_stops() -> None:
    """After the loop is hot: budget-1 slices, tiny slices, and cycle limits
    that end mid-block, instruction for instruction the interpreter's."""
    slices: list[tuple[int, int]] = [(3000, 1 << 40)] + [(1, 1 << 40)] * 300 + [(7, 1 << 40)] * 100
    slices += [(50, d) for d in (0, 1, 2, 3, 5, 8, 13) * 20] + [(100_000, 1 << 40)]
    out = _both(_nothing, slices, chain=False)  # 800 slices: as many native runs
    assert out[-1][0] == ("halt", 0x83)


def test_a_native_self_loop_never_runs_past_its_budget() -> None:
    """``br`` to itself: native code must stop at the budget exactly (the
    host never hangs), counting the cycles the interpreter counts."""
    forever = "loop:\taddq $1, 1, $1\n\tbr $31, loop\n"
    runs = []
    for native in (True, False):
        cpu, space = _user(native)
        space.write_bulk(P1, code(forever, P1))
        cpu.pc = P1
        # a cycle limit far past each budget, so a missing budget check fails here rather than hangs
        runs.append([_slice(cpu, space, b, cpu.cycles + 100_000) for b in (50, 1, 999, 4_000)])
    assert runs[0] == runs[1]
    cpu, space = _user(True)
    space.write_bulk(P1, code(forever, P1))
    cpu.pc = P1
    cpu.run(1000)
    per = cpu.cycles // cpu.icount
    assert cpu.cycles == per * cpu.icount
    assert cpu.run(5_000_000, cpu.cycles + 4 * per * 5_000_000) == 5_000_000
    assert cpu.icount == 5_001_000 and cpu.cycles == per * cpu.icount
    assert cpu.r[1] == 2_500_500 and cpu._translator.native is not None and cpu._translator.native.compiled


# The loop rewrites code on its 200th pass: fn's first instruction (another
# page, chained) and an instruction in its own body (its own page).
SMC = """	ldah $27, 4($31)
	lda $27, 0x2000($27)
	ldah $9, 4($31)
	lda $9, 0x4000($9)
	ldl $6, 0($9)
	lda $2, 400($31)
	lda $10, 0x44($27)
	lda $10, -0x2000($10)
loop:	jsr $26, ($27)
	lda $8, 2($31)
spin:	subq $8, 1, $8
	bne $8, spin
	subq $2, 1, $2
	cmpeq $2, 200, $7
	beq $7, skip
	stl $6, 0($27)
	stl $6, 0($10)
skip:	addq $3, 1, $3
	bne $2, loop
	call_pal 0x83
"""


def _smc(cpu: CPU, space: UserPages, k: int) -> None:
    if k == 0:
        space.write_bulk(P1, code(SMC, P1))
        assert int.from_bytes(bytes(space.pages[P1 >> 13].cast("B"))[0x44:0x48], "little") == 0x40603403
        space.write_bulk(DATA, (0x10 << 26 | 1 << 21 | 7 << 13 | 1 << 12 | 0x20 << 5 | 1).to_bytes(4, "little"))


def test_a_hot_loop_rewriting_its_own_page_and_the_chained_page_runs_the_new_code() -> None:
    """Native stores into code -- the chained function's page and the loop's
    own page -- must be seen at the next instruction, as the interpreter does."""
    out = _both(_smc, [100_000])
    assert out[-1][0] == ("halt", 0x83)
    # r3 counted 199 passes before its addq became "addq $1, 7, $1" (201 passes
    # ran that); fn added 4 a call for 200 calls, then 10 for the other 200
    assert out[-1][1][3] == 199 and out[-1][1][1] == 200 * 4 + 200 * 10 + 201 * 7


def test_a_watchpoint_set_between_slices_stops_native_code_at_the_access() -> None:
    """fn's self-loop reads DATA; a read watch set once the code is native
    (as Machine.add_watch does it: the host caches flushed) stops at the
    next read, made by native code, exactly where the interpreter stops."""
    # fn's self-loop reads DATA + 16, + 8, + 0: the first pass is Python's (fn's
    # first block takes it in), the next ones native code's, entered at the loop's head
    fn = FN.replace("subq $5, 1, $5\n", "subq $5, 1, $5\n\ts8addq $5, $9, $10\n\tldq $4, 0($10)\n")

    def watch(cpu: CPU, space: UserPages, k: int) -> None:
        if k == 0:
            cpu.r[9] = DATA
        if k == 1:
            cpu.watch_pages[DATA >> 13] = [Watch(1, DATA + 8, 8, "r", False)]
            cpu.flush_host_caches()
            cpu.pc = AFTER_CALL  # so the next read is native code's (fn's module, chained to)

    out = _both(watch, [3001, 100_000], fn=fn)
    assert out[-1][0] == ("WatchHit", P2 + 16, DATA + 8)


@pytest.mark.parametrize("other", ["own code", "kernel only", "unmapped", "no execute"])
def test_after_a_context_switch_native_code_never_goes_on_into_the_old_spaces_page(other: str) -> None:
    """Under the MMU in user mode: space 1 runs the loop (P1) calling fn (P2)
    until both are native and chained. Space 2 shares P1's frame but maps P2
    to its own code, to the same frame kernel-only, not at all, or readable
    but not executable. Switching to space 2 (swpctx) and back, every run
    must end as the interpreter's does: the other fn's result, or entMM at
    the call with the interpreter's cause, count and cycles."""
    results = []
    for translate_on in (True, False):
        m, frames, seen = user_machine(translate_on)
        loop, fn1, fn2 = frames.alloc(), frames.alloc(), frames.alloc()
        m.memory.write(loop << 13, code(LOOP.format(n=300), P1))
        m.memory.write(fn1 << 13, code(FN, P2))
        m.memory.write(fn2 << 13, code(FN.replace("addq $1, 1, $1", "addq $1, 100, $1"), P2))
        ux = PTE_V | PTE_KRE | PTE_URE
        one, two = PageTable(m.memory, frames), PageTable(m.memory, frames)
        one.map(P1, loop, ux)
        one.map(P2, fn1, ux)
        two.map(P1, loop, ux)
        if other == "own code":
            two.map(P2, fn2, ux)
        elif other == "kernel only":
            two.map(P2, fn1, PTE_V | PTE_KRE)
        elif other == "no execute":
            two.map(P2, fn1, PTE_V | PTE_KRE | PTE_URE | PTE_FOE)
        runs = []
        for asn, pt, pc in ((1, one, P1), (2, two, AFTER_CALL), (1, one, AFTER_CALL), (2, two, AFTER_CALL)):
            # after the first run, start just past the call with 4 calls to go, so
            # the first call in the other space is made by native code (P1's module)
            m.cpu.r[1], m.cpu.r[2], m.cpu.r[27] = 0, 5, P2
            runs.append((enter_user(m, pt, asn, pc), m.cpu.icount, m.cpu.cycles, m.cpu.pc))
        if translate_on:
            tier = m.cpu._translator.native
            assert tier is not None and tier.compiled >= 2 and not tier.faults
            assert CHAINED[0] >= 1, "the call and return must have chained between the pages"
        results.append((runs, seen))
    assert results[0] == results[1]
    seen = results[0][1]
    assert seen[0][:2] == (ENT_SYS, 300 * 4) and seen[2][:2] == (ENT_SYS, 4 * 4)
    if other == "own code":
        assert seen[1][:2] == seen[3][:2] == (ENT_SYS, 4 * 103)
    else:
        assert seen[1][0] == seen[3][0] == ENT_MM and seen[1][2] == seen[3][2] == P2, "space 2's call must fault at fn"


@pytest.mark.parametrize("va", [DATA + 0x1FFE, DATA + 0x1FFC, P2 - 2, DATA + 0x1FF8])
def test_an_access_made_unaligned_or_straddling_in_hot_code_traps_as_on_the_interpreter(va: int) -> None:
    """fn loads and stores a longword through $9 on every call; once native,
    $9 is pointed at a straddle into an unmapped page, an aligned page end, a
    straddle between the two code pages, or a quadword's second half."""
    fn = "\tldl $4, 0($9)\n\tstl $4, 0($9)\n" + FN

    def point(cpu: CPU, space: UserPages, k: int) -> None:
        if k == 0:
            cpu.r[9] = DATA
        if k == 1:
            cpu.r[9] = va
            cpu.pc = AFTER_CALL

    out = _both(point, [3001, 100_000], fn=fn)
    if va & 3:
        assert out[-1][0] == ("Unaligned", P2, va)
    else:
        assert out[-1][0] == ("halt", 0x83)


@pytest.mark.parametrize("into_code", [False, True])
def test_ldq_u_and_stq_u_at_page_ends_in_hot_code(into_code: bool) -> None:
    """ldq_u of the code page's last quadword (an unaligned address just below
    the data page), stq_u to the data page's last quadword, and (into_code) a
    stq_u into fn's own page on every call: the interpreter's memory and counts."""
    fn = "\tldq_u $4, -1($9)\n\taddq $4, $1, $4\n\tstq_u $4, 0x1fff($9)\n"
    if into_code:
        fn += "\tstq_u $4, -3($9)\n"
    fn += FN

    def point(cpu: CPU, space: UserPages, k: int) -> None:
        if k == 0:
            cpu.r[9] = DATA

    out = _both(point, [3001, 100_000], chain=not into_code, fn=fn)  # a store to fn's page drops it each call
    assert out[-1][0] == ("halt", 0x83)
    p2, data = out[-1][5][1], out[-1][5][2]
    assert p2 is not None and data is not None
    if into_code:  # both hold the last call's value
        assert p2[-8:] == data[-8:] != bytes(8)
    else:
        assert int.from_bytes(data[-8:], "little") == 399 * 4 and p2[-8:] == bytes(8)


def test_two_machines_in_one_process_keep_their_own_native_code_and_memory() -> None:
    """Two CPUs on two memories, the same addresses, different code in P2,
    their slices interleaved: each agrees with its own interpreter twin, and
    neither's native code sees the other's pages."""
    pairs = []
    for add in (1, 100):
        fn = FN.replace("addq $1, 1, $1", f"addq $1, {add}, $1")
        pair = []
        for native in (True, False):
            cpu, space = _user(native)
            _load(cpu, space, fn=fn)
            pair.append((cpu, space))
        pairs.append(pair)
    for k in range(41):
        for (fast, fspace), (slow, sspace) in pairs:
            budget = 3001 if k == 0 else (1, 7, 250, 60)[k % 4]
            assert _slice(fast, fspace, budget) == _slice(slow, sspace, budget)
    for (fast, fspace), (slow, sspace) in pairs:
        a, b = _slice(fast, fspace, 100_000), _slice(slow, sspace, 100_000)
        assert a == b and a[0] == ("halt", 0x83)
    (one, _), _ = pairs[0]
    (two, _), _ = pairs[1]
    assert one.r[1] == 400 * 4 and two.r[1] == 400 * 103
    t1, t2 = one._translator.native, two._translator.native
    assert t1 is not None and t2 is not None and t1.rt is not t2.rt and t1.compiled >= 2 and t2.compiled >= 2


def test_translation_off_and_on_with_the_code_rewritten_while_off() -> None:
    """Hot and chained; translation off; fn rewritten by the host (nothing
    translated to tell) and P2 made read-only; translation on again: the
    new translator's native code must not reach the old fn's module."""
    runs = []
    for native in (True, False):
        cpu, space = _user(native)
        _load(cpu, space)
        out = [_slice(cpu, space, 3001)]
        if native:
            cpu.enable_translation(False)
        space.write_bulk(P2, code(FN.replace("addq $1, 1, $1", "addq $1, 9, $1"), P2))
        cpu.frame_written(space.pages[P2 >> 13])
        cpu.pc, cpu.r[2], cpu.r[27] = AFTER_CALL, 50, P2
        out.append(_slice(cpu, space, 200))
        if native:
            cpu.enable_translation(True)
        out.append(_slice(cpu, space, 400))
        space.prot[P2 >> 13] = 3
        cpu.forget_exec(P2 >> 13)
        cpu.pc, cpu.r[2], cpu.r[27] = AFTER_CALL, 50, P2
        out.append(_slice(cpu, space, 100_000))
        runs.append(out)
    assert runs[0] == runs[1]
    assert runs[0][-1][0] == ("MemoryTrap", P2, P2)


@pytest.mark.parametrize(("prot", "trap"), [(1, ("MemoryTrap", P2 + 4, DATA)), (0, ("MemoryTrap", P2, DATA))])
def test_a_data_page_revoked_between_slices_faults_in_native_code(prot: int, trap: tuple[object, ...]) -> None:
    """fn loads and stores DATA on every call, so its frame is in the native
    TB; then DATA is made read-only (the store must fault) or inaccessible
    (the load must), its lookups dropped as the DTB drops them."""
    fn = "\tldq $4, 0($9)\n\tstq $1, 0($9)\n" + FN

    def revoke(cpu: CPU, space: UserPages, k: int) -> None:
        if k == 0:
            cpu.r[9] = DATA
        if k == 1:
            space.prot[DATA >> 13] = prot
            cpu.forget_data(DATA >> 13)
            cpu.pc = AFTER_CALL

    out = _both(revoke, [3001, 100_000], fn=fn)
    assert out[-1][0] == trap


W1, W5 = 0x40203401, 0x4020B401  # addq $1, 1, $1 and addq $1, 5, $1
RET = 0x6BFA8001  # ret ($26)
# The loop calls fn (which stores $6 at DATA) every pass, and in its second half
# also calls the code at DATA, which it thereby makes code; at pass 100 $6 becomes
# another instruction, so fn's next store (from native code) rewrites DATA's code.
DATA_CODE = """\tldah $27, 4($31)
	lda $27, 0x2000($27)
	ldah $9, 4($31)
	lda $9, 0x4000($9)
	lda $2, 400($31)
loop:	jsr $26, ($27)
	lda $8, 2($31)
spin:	subq $8, 1, $8
	bne $8, spin
	cmplt $2, 200, $7
	beq $7, skip
	jsr $26, ($9)
	cmpeq $2, 100, $7
	cmovne $7, $13, $6
skip:	subq $2, 1, $2
	bne $2, loop
	call_pal 0x83
"""


def test_native_stores_into_a_page_that_became_code_are_seen() -> None:
    """A page first only written by native code (so its frame is in the
    native write TB) becomes code when the loop starts calling it; a later
    native store rewriting that code must reach the translator, as every
    store into code does: the new instruction runs, as on the interpreter."""

    def setup(cpu: CPU, space: UserPages, k: int) -> None:
        if k == 0:
            space.prot[DATA >> 13] = 7
            space.write_bulk(P1, code(DATA_CODE, P1))
            space.write_bulk(P2, code("\tstl $6, 0($9)\n" + FN, P2))
            space.write_bulk(DATA + 4, RET.to_bytes(4, "little"))
            cpu.r[6], cpu.r[13] = W1, W5

    assert code("\taddq $1, 1, $1\n\taddq $1, 5, $1\n\tret\n", 0) == b"".join(
        w.to_bytes(4, "little") for w in (W1, W5, RET)
    )
    out = _both(setup, [3001, 100_000], chain=False)  # DATA's code stays Python: each call there leaves
    assert out[-1][0] == ("halt", 0x83)
    assert out[-1][1][1] == 400 * 4 + 100 * 1 + 99 * 5


def test_user_mode_native_code_never_reads_what_kernel_mode_cached() -> None:
    """Under the MMU: the loop runs natively in user mode, then in kernel
    mode (a system call's view: the same user pages) reading a kernel page
    through KSEG, so native code's TB holds that page; back in user mode the
    same native read of the kernel address must take entMM (ACV), never
    return the kernel's data. fn's self-loop reads $9 + $5 * $11 for $5 = 2,
    1, 0: the first pass is Python's (fn's first block takes it in), the
    second native code's; $9 and $11 put the first at DATA, the second at
    the kernel page (and the third, in kernel mode, at an unmapped address)."""
    fn = FN.replace("subq $5, 1, $5\n", "subq $5, 1, $5\n\tmulq $5, $11, $10\n\taddq $10, $9, $10\n\tldq $4, 0($10)\n")
    results = []
    for translate_on in (True, False):
        m, frames, seen = user_machine(translate_on)
        loop, fn1, data, secret = frames.alloc(), frames.alloc(), frames.alloc(), frames.alloc()
        m.memory.write(loop << 13, code(LOOP.format(n=300), P1))
        m.memory.write(fn1 << 13, code(fn, P2))
        m.memory.write(secret << 13, (0x5EC2E7).to_bytes(8, "little") * 4)
        pt = PageTable(m.memory, frames)
        ux = PTE_V | PTE_KRE | PTE_URE
        pt.map(P1, loop, ux)
        pt.map(P2, fn1, ux)
        pt.map(DATA, data, ux)
        kseg = KSEG_BASE + (secret << 13)
        stride = (DATA - kseg) & M64
        base = (DATA - 2 * stride) & M64
        runs: list[object] = []
        m.cpu.r[9], m.cpu.r[11] = DATA, 0
        runs.append(enter_user(m, pt, 1, P1))  # hot and native, in user mode
        m.pal._set_ps(0)  # kernel mode: the same code reads the kernel's page
        m.cpu.r[2], m.cpu.r[9], m.cpu.r[11], m.cpu.r[27], m.cpu.pc = 50, base, stride, P2, AFTER_CALL
        m.halt_reason = None
        runs.append(m.run(max_instructions=10_000))
        runs.append(m.cpu.r[4])
        m.cpu.r[2], m.cpu.r[4] = 50, 0
        runs.append(enter_user(m, pt, 1, AFTER_CALL))  # user mode: the same native read of it
        runs.append((m.cpu.r[4], m.cpu.icount, m.cpu.cycles))
        if translate_on:
            tier = m.cpu._translator.native
            assert tier is not None and tier.compiled >= 2 and not tier.faults
        results.append((runs, seen))
    assert results[0] == results[1]
    runs, seen = results[0]
    assert runs[2] == 0x5EC2E7 and seen[-2][0] == ENT_MM, "kernel mode reads the page (then faults past it)"
    assert seen[-1][0] == ENT_MM and seen[-1][2] == kseg and runs[4][0] == 0, "user mode must fault on it"  # type: ignore[index]


# A program for the user-mode harness: the loop calls fn (the next page) until
# both are native and chained, then a system call unmaps or remaps fn's page,
# then the loop calls fn again (natively: the spin loop is entered first).
REMAP = """\t.text
	.globl _start
_start:
	ldiq $27, fn
	lda $2, 400($31)
loop:	jsr $26, ($27)
after:	lda $8, 2($31)
spin:	subq $8, 1, $8
	bne $8, spin
	subq $2, 1, $2
	bne $2, loop
	bne $3, done
	lda $3, 1($31)
	lda $2, 3($31)
	lda $0, {sys}($31)
	srl $27, 13, $16
	sll $16, 13, $16
	ldiq $17, 8192
	lda $18, {prot}($31)
	ldiq $19, 0x110
	lda $20, -1($31)
	clr $21
	call_pal 0x83
	br $31, after
done:	mov $1, $16
	lda $0, 1($31)
	call_pal 0x83
	.align 13
fn:	addq $1, 1, $1
	lda $5, 3($31)
inner:	subq $5, 1, $5
	bne $5, inner
	ret ($26)
"""


@pytest.mark.parametrize(
    ("sys", "prot", "status"),
    [(73, 0, 128 + 11), (71, 3, 128 + 11), (71, 1, 128 + 11), (71, 7, 128 + 4)],
    ids=["munmap", "mmap-rw", "mmap-r", "mmap-rwx-zeros"],
)
def test_a_system_call_unmapping_or_remapping_hot_chained_code(sys: int, prot: int, status: int) -> None:
    """munmap, or mmap MAP_FIXED without execute (or with it, demand-zero:
    call_pal 0, SIGILL), of fn's page while fn is native and chained to:
    the next native call must die as on the interpreter, at the same count."""
    image = parse_elf(assemble(REMAP.format(sys=sys, prot=prot), "remap.s"))
    outs = []
    for native in ("1", "0"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SPINWB_NATIVE", native)
            out, err = io.BytesIO(), io.BytesIO()
            proc = UserProgram(image, ["remap"], model="ev67", stdout=out, stderr=err)
            info = proc.run(1_000_000)
            tier = proc.cpu._translator.native
            if native == "1":
                assert tier is not None and tier.compiled >= 2 and not tier.faults
            else:
                assert tier is None
            outs.append((info, err.getvalue(), proc.cpu.icount, proc.cpu.cycles, list(proc.cpu.r), proc.cpu.pc))
    assert outs[0] == outs[1]
    assert outs[0][0].status == status


P2C = P2 + 256 * 0x2000  # the same chain-map entry as P2 (direct-mapped on the vpn's low 8 bits)


@pytest.mark.parametrize("revoked", [P2, P2C])
def test_two_pages_sharing_a_chain_map_entry_each_lose_execute_alone(revoked: int) -> None:
    """fn at P2 and another fn at P2C collide in the chain map; the loop calls
    each in turn, slice by slice, so each publishes over the other. Then one
    of them loses execute permission: its next call (from native code) must
    fault, the other's must run, as on the interpreter."""

    def turn(cpu: CPU, space: UserPages, k: int) -> None:
        if k == 0:
            space.map(P2C, 0x2000, 7)
            space.write_bulk(P2C, code(FN.replace("addq $1, 1, $1", "addq $1, 100, $1"), P2C))
        if k == 7:
            space.prot[revoked >> 13] = 3
            cpu.forget_exec(revoked >> 13)
        if k >= 1:  # P2, P2C, ..., then the revoked page (last published), it again, the other one
            cpu.pc, cpu.r[2] = AFTER_CALL, 20
            other = P2C if revoked == P2 else P2
            cpu.r[27] = (P2, P2C)[k % 2] if k < 6 else revoked if k < 8 else other

    out = _both(turn, [3001] + [2000] * 8)
    assert out[6][0] == ("halt", 0x83)
    assert out[7][0] == ("MemoryTrap", revoked, revoked)
    assert out[8][0] == ("halt", 0x83), "the other page still runs"


def test_a_breakpoint_set_between_slices_inside_native_code_stops_there() -> None:
    """A breakpoint inside fn's self-loop (P2's native module), set as
    Machine.add_breakpoint sets it once both pages are native (translations
    flushed, so blocks split at it): the next slice stops before it (and
    stays: the CPU does not step over a breakpoint), as on the interpreter;
    removed again, the loop runs to its end. (A stop put in ``cpu.stops``
    without the flush is run through by the Python translator as well, native
    tier or not: Machine.add_breakpoint, its only setter, flushes.)"""

    def stop(cpu: CPU, space: UserPages, k: int) -> None:
        if k == 1:
            cpu.stops.add(P2 + 12)  # "addq $1, $5, $1" in the self-loop
            cpu.flush_tlb()
            cpu.pc = AFTER_CALL
        if k == 3:
            cpu.stops.discard(P2 + 12)
            cpu.flush_tlb()

    out = _both(stop, [3001, 500, 500, 100_000])
    assert out[1][0] is None and out[1][2] == out[2][2] == P2 + 12 and out[1][3] < out[0][3] + 500
    assert out[3][0] == ("halt", 0x83)
