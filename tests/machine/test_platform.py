"""The workstation without a Python kernel: PALcode, page tables, traps and
the interval timer, driven by guest code written in our assembler."""

from __future__ import annotations

from pathlib import Path

import pytest

from machine.alpha.asm import assemble
from machine.alpha.constants import KSEG_BASE
from machine.alpha.pal import ENT_IF, ENT_INT, ENT_MM, ENT_SYS
from machine.elf import parse_elf
from machine.machine import Machine
from tests.conftest import PROGRAMS

KERNEL_TEXT = KSEG_BASE + 0x10120


def boot(source: str, translate: bool = True) -> Machine:
    m = Machine(8 << 20, translate=translate)
    m.load_kernel(parse_elf(assemble(source, "kernel.s", text_base=KERNEL_TEXT)))
    return m


SMOKE = (PROGRAMS / "baremetal" / "smoke.s").read_text()


@pytest.mark.parametrize("translate", [True, False])
def test_bare_metal_smoke_program(translate: bool) -> None:
    """wrent, a page table, rti to user mode, then a system call, a page
    fault and a timer tick, all handled by guest code and printed."""
    m = boot(SMOKE, translate)
    assert m.run(max_instructions=2_000_000) == "halt"
    assert m.console.output.decode().splitlines() == [
        "smoke: kernel up",
        "smoke: system call",
        "smoke: page fault handled",
        "smoke: timer tick",
        "smoke: user program exited",
    ]
    assert m.pal.counts[ENT_SYS] == 2 and m.pal.counts[ENT_MM] == 1 and m.pal.counts[ENT_INT] == 1
    assert m.ticks == 1 and m.cpu.cycles >= m.tick_cycle(1)
    assert m.pal.mode == 0  # halted in the kernel


def test_runs_are_deterministic_and_engine_independent() -> None:
    hashes = set()
    for translate in (True, True, False):
        m = boot(SMOKE, translate)
        m.run(max_instructions=2_000_000)
        hashes.add((m.state_hash(), m.cpu.icount, m.cpu.cycles))
    assert len(hashes) == 1


def test_the_same_budget_stops_at_the_same_state() -> None:
    a, b = boot(SMOKE), boot(SMOKE, translate=False)
    for m in (a, b):
        m.run(max_instructions=40_000)
    assert a.state_hash() == b.state_hash() and a.cpu.icount == 40_000


CLOCK_KERNEL = """
	.set	KSEG, 0xfffffc0000000000
	.text
	.globl	_start
_start:	br	$29, 1f
1:	ldgp	$29, 0($29)
	lda	$16, ent_int
	clr	$17
	call_pal 0x34			# wrent entInt
	ldiq	$9, KSEG + 0x80000	# where the handler records RPCC per tick
	clr	$10			# ticks seen
	rpcc	$11
	ldiq	$12, {masked_cycles}
2:	rpcc	$1			# spin at IPL 7 for a while: ticks must wait
	subq	$1, $11, $1
	cmplt	$1, $12, $1
	bne	$1, 2b
	clr	$16
	call_pal 0x35			# swpipl 0
3:	cmplt	$10, {wanted}, $1
	bne	$1, 3b
	clr	$16
	call_pal 0x00			# halt
ent_int:
	rpcc	$1
	s8addq	$10, $9, $2
	stq	$1, 0($2)
	addq	$10, 1, $10
	call_pal 0x3f			# rti
"""


def test_clock_ticks_arrive_on_time_once_unmasked() -> None:
    m = boot(CLOCK_KERNEL.format(masked_cycles=0, wanted=4))
    assert m.run(max_instructions=5_000_000) == "halt"
    assert m.pal.counts[ENT_INT] == 4
    seen = [m.memory.read_q(0x80000 + 8 * i) & 0xFFFF_FFFF for i in range(4)]
    for n, cycle in enumerate(seen, start=1):
        # delivered at the first instruction boundary after the tick, plus the PAL entry
        assert m.tick_cycle(n) <= cycle <= m.tick_cycle(n) + 200, (n, cycle, m.tick_cycle(n))


def test_ticks_are_held_while_the_ipl_masks_them() -> None:
    """Three tick times pass at IPL 7; lowering the IPL delivers one
    (latched) clock interrupt at once, not three."""
    m = boot(CLOCK_KERNEL.format(masked_cycles=3 * 129_883 + 1000, wanted=1))
    assert m.run(max_instructions=5_000_000) == "halt"
    assert m.ticks >= 3
    assert m.pal.counts[ENT_INT] == 1
    first = m.memory.read_q(0x80000) & 0xFFFF_FFFF
    assert first > m.tick_cycle(3)  # taken only after the spin ended


USER_PRIV = """
	.set	KSEG, 0xfffffc0000000000
	.text
	.globl	_start
_start:	lda	$16, ent_if
	lda	$17, 3
	call_pal 0x34			# wrent entIF
	lda	$30, -48($30)
	lda	$1, 8
	stq	$1, 0($30)
	lda	$1, user
	stq	$1, 8($30)
	call_pal 0x3f			# rti into user mode (no page table: KSEG is kernel-only)
ent_if:	mov	$16, $9			# a0: 4 = OPCDEC
	ldq	$10, 8($30)		# the saved PC
	clr	$16
	call_pal 0x00
user:	call_pal 0x34
"""


def test_user_mode_cannot_fetch_from_kseg() -> None:
    """User mode fetching from KSEG takes entMM (ACV); with no handler the
    machine halts with a clear reason instead of running on."""
    m = boot(USER_PRIV)
    why = m.run(max_instructions=10_000)
    assert why == "entMM taken with no handler installed (wrent)"
    assert m.pal.counts[ENT_MM] == 1 and m.pal.counts[ENT_IF] == 0


def test_kernel_stack_not_valid_halts_the_machine() -> None:
    m = boot("\t.text\n_start:\n\tldiq $30, 0x40000\n\t.long 0x04000000\n")  # no page table: the frame push faults
    why = m.run(max_instructions=100)
    assert why.startswith("kernel stack not valid")


def _pal_machine() -> tuple[Machine, list[tuple[int, int, int, int]]]:
    """A machine whose kernel stack is in KSEG and whose entries are Python
    handlers that record (entry, a0, a1, a2) and return with rti."""
    m = Machine(4 << 20)
    m.cpu.r[30] = KSEG_BASE + 0x10_0000
    seen: list[tuple[int, int, int, int]] = []

    def handler(pal, entry: int) -> None:  # noqa: ANN001 - the PAL's callback signature
        r = pal.cpu.r
        seen.append((entry, r[16], r[17], r[18]))
        pal.rti()

    m.pal.entries = [handler] * 6
    return m, seen


def test_privileged_and_unknown_call_pal_are_opcdec_from_user_mode() -> None:
    from machine.alpha.constants import IF_OPCDEC

    m, seen = _pal_machine()
    pal, cpu = m.pal, m.cpu
    pal.ksp, pal.ps = cpu.r[30], 8  # pretend to be in user mode
    cpu.r[30] = 0x5000
    for fn in (0x34, 0x3F, 0x01, 0xC0, 0x85):
        cpu.pc = 0x2000
        pal.call_pal(cpu, fn, 0x2000)
        assert seen[-1][:2] == (ENT_IF, IF_OPCDEC), hex(fn)
        assert (cpu.pc, pal.ps, cpu.r[30]) == (0x2004, 8, 0x5000)  # rti came back to user mode, user stack


def test_ipl_ps_and_stack_pointer_calls() -> None:
    m, seen = _pal_machine()
    pal, cpu, r = m.pal, m.cpu, m.cpu.r
    r[16] = 3
    pal.call_pal(cpu, 0x35, 0x1000)  # swpipl
    assert r[0] == 7 and pal.ipl == 3
    pal.call_pal(cpu, 0x36, 0x1004)  # rdps
    assert r[0] == 3
    r[16] = 0x1234_5678
    pal.call_pal(cpu, 0x38, 0x1008)  # wrusp
    r[0] = 0
    pal.call_pal(cpu, 0x3A, 0x100C)  # rdusp
    assert r[0] == 0x1234_5678 and cpu.pc == 0x1010
    pal.call_pal(cpu, 0x83, 0x1010)  # callsys in kernel mode: a bug check
    assert seen[-1][:2] == (ENT_IF, 1)


def test_entry_frame_and_rti_round_trip() -> None:
    m, seen = _pal_machine()
    pal, cpu, r = m.pal, m.cpu, m.cpu.r
    pal.ps, pal.ksp = 8, r[30]
    r[30], r[29], r[16], r[17], r[18] = 0x7000, 0xAAAA, 1, 2, 3
    frames = []

    def look(pal_, entry: int) -> None:  # noqa: ANN001
        sp = pal_.cpu.r[30]
        frames.append([m.memory.read_q(sp - KSEG_BASE + 8 * i) for i in range(6)])
        assert pal_.mode == 0 and pal_.usp == 0x7000
        pal_.rti()

    pal.entries[ENT_MM] = look
    pal.kgp = 0xBBBB
    pal.enter(ENT_MM, 0xDEAD, 1, 0, pc=0x4000)
    assert frames == [[8, 0x4000, 0xAAAA, 1, 2, 3]]  # PS, PC, gp, a0, a1, a2
    assert (pal.ps, cpu.pc, r[30], r[29], r[16], r[17], r[18]) == (8, 0x4000, 0x7000, 0xAAAA, 1, 2, 3)
    assert pal.ksp == KSEG_BASE + 0x10_0000  # the kernel stack is back where it was


def test_save_restore_continues_to_the_same_final_state(tmp_path: Path) -> None:
    """Save at instruction N, restore into a new machine, continue: the final
    state hash equals that of a run never interrupted."""
    from machine import state

    straight = boot(SMOKE)
    straight.run(max_instructions=2_000_000)
    for n in (1, 500, 30_000, 64_000):
        m = boot(SMOKE)
        m.run(max_instructions=n)
        path = tmp_path / f"at{n}.state"
        state.save(m, path)
        back = state.load(path)
        assert back.state_hash() == m.state_hash()
        back.run(max_instructions=2_000_000)
        assert back.state_hash() == straight.state_hash(), n
        assert back.console.output == straight.console.output


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda b: b"hello world\n", "not a SPIN Workbench state file"),
        (lambda b: b"SPINWB-STATE 9" + b[b.index(b"\n") :], "version 9; this workbench reads versions 2 and 3"),
        (lambda b: b[: len(b) // 2], "corrupted or truncated"),
        (lambda b: b[:-40] + bytes(40), "corrupted or truncated"),
    ],
)
def test_bad_state_files_are_rejected_clearly(tmp_path: Path, mangle, message: str) -> None:  # noqa: ANN001
    from machine import state

    m = boot(SMOKE)
    m.run(max_instructions=1000)
    path = tmp_path / "bad.state"
    path.write_bytes(mangle(state.snapshot(m)))
    with pytest.raises(state.StateFileError) as e:
        state.load(path)
    assert message in str(e.value)
    assert m.run(max_instructions=2_000_000) == "halt"  # the machine it came from is unharmed


@pytest.mark.parametrize("name", ["hello", "divide", "bytes", "switch"])
def test_paged_run_matches_the_user_mode_harness(name: str) -> None:
    """The same program through page tables, TBs, user mode and timer
    interrupts prints and counts exactly what the unmapped harness does."""
    from machine.elf import read_elf
    from machine.paged import boot_program
    from tests.conftest import elf, run_ours

    path = elf(name, "ev4")
    flat = run_ours(path, [])
    m = boot_program(read_elf(path), [str(path)])
    assert m.run(max_instructions=50_000_000) == f"exit {flat.status}"
    assert bytes(m.console.output) == flat.stdout
    assert m.cpu.icount == flat.icount
    assert m.mmu.dtb.fills == m.mmu.dtb.misses and m.mmu.itb.misses >= 1


def _resealed(data: bytes, edit) -> bytes:  # noqa: ANN001
    """A state file whose body was edited and whose checksum was recomputed:
    well-formed, but not a state this workbench can use."""
    import hashlib

    magic, digest, body = data.split(b"\n", 2)
    body = edit(body)
    return magic + b"\n" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: b.replace(b'"pc":', b'"qc":', 1), "the machine does not fit this workbench: cpu has no 'pc' field"),
        (lambda b: b.replace(b'"memory_size":8388608', b'"memory_size":8192', 1),
         "the machine does not fit this workbench: its memory reaches 0x"),
        (lambda b: b.replace(b'"model":"ev4"', b'"model":"ev9"', 1), "unknown CPU model 'ev9'"),
        (lambda b: b.replace(b"machine\n", b"toaster\n", 1), "unknown kind of state 'toaster'"),
    ],
)  # fmt: skip
def test_mismatched_state_files_name_what_does_not_fit(tmp_path: Path, edit, message: str) -> None:  # noqa: ANN001
    from machine import state

    m = boot(SMOKE)
    m.run(max_instructions=1000)
    path = tmp_path / "odd.state"
    path.write_bytes(_resealed(state.snapshot(m), edit))
    with pytest.raises(state.StateFileError) as e:
        state.load(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value)
