"""Translated code under the MMU: keyed by virtual page and physical frame,
re-checked through the ITB in the current mode, dropped when its frame is
written by any path; TB misses cost virtual time where they happen."""

from __future__ import annotations

import pytest

from machine.alpha.asm import assemble
from machine.alpha.constants import KSEG_BASE, PTE_KRE, PTE_KWE, PTE_URE, PTE_UWE, PTE_V, TB_MISS_CYCLES
from machine.alpha.isa import COST
from machine.alpha.pal import ENT_IF, ENT_MM, ENT_SYS, PAL_ENTRY_CYCLES
from machine.alpha.traps import Halt
from machine.elf import parse_elf
from machine.machine import Machine
from machine.pagetable import FrameAllocator, PageTable

CODE_VA = 0x10000


def code(source: str, base: int = CODE_VA) -> bytes:
    return parse_elf(assemble("\t.text\n_start:\n" + source, "t.s", text_base=base)).segments[0].data


def user_machine(translate: bool = True) -> tuple[Machine, FrameAllocator, list[tuple[int, ...]]]:
    """A machine whose entSys and entMM are Python handlers that record
    (entry, $1, a0, a1) and halt."""
    m = Machine(8 << 20, translate=translate)
    seen: list[tuple[int, ...]] = []

    def stop(entry: int):  # noqa: ANN202
        def handler(pal, e):  # noqa: ANN001, ANN202
            seen.append((entry, pal.cpu.r[1], pal.cpu.r[16], pal.cpu.r[17]))
            raise Halt("stopped")

        return handler

    m.pal.entries[ENT_SYS] = stop(ENT_SYS)
    m.pal.entries[ENT_MM] = stop(ENT_MM)
    m.pal.entries[ENT_IF] = stop(ENT_IF)
    m.pal.ksp = KSEG_BASE + 0x10_0000
    return m, FrameAllocator(m.memory, 0x100), seen


def enter_user(m: Machine, pt: PageTable, asn: int, pc: int = CODE_VA) -> str:
    """swpctx to (pt, asn), drop to user mode at pc and run to the halt."""
    m.mmu.switch_context(pt.root, asn)
    m.cpu.flush_host_caches()  # what swpctx does
    m.pal._set_ps(8)
    m.cpu.pc = pc
    m.halt_reason = None
    return m.run(max_instructions=10_000)


def test_two_address_spaces_run_their_own_code_at_one_address() -> None:
    """The same virtual PC holds different code in two spaces; each switch
    runs the right one, and switching back reuses the translation."""
    m, frames, seen = user_machine()
    spaces = []
    for value in (11, 22):
        pt = PageTable(m.memory, frames)
        f = frames.alloc()
        pt.map(CODE_VA, f, PTE_V | PTE_KRE | PTE_URE)
        m.memory.write(f << 13, code(f"\tlda $1, {value}($31)\n\taddq $1, 1, $1\n\tcall_pal 0x83\n"))
        spaces.append(pt)
    for _ in range(3):
        for asn, pt in enumerate(spaces, 1):
            assert enter_user(m, pt, asn) == "stopped"
    assert [s[1] for s in seen] == [12, 23] * 3
    assert m.cpu._translator.translated == 2  # one block per space, kept across six switches


def test_user_mode_never_runs_a_block_translated_in_kernel_mode() -> None:
    """Kernel code at a KSEG address is translated while the kernel runs it;
    user mode jumping there still takes entMM with ACV."""
    m, _, seen = user_machine()
    target = KSEG_BASE + 0x30000
    m.memory.write(0x30000, code("\taddq $1, 1, $1\n\tcall_pal 0x80\n", target))  # bpt: entIF
    m.cpu.pc, m.cpu.r[30] = target, m.pal.ksp
    assert m.run(max_instructions=100) == "stopped"  # kernel mode: runs
    assert seen == [(ENT_IF, 1, 0, 0)]
    m.pal._set_ps(8)
    m.cpu.pc = target
    m.halt_reason = None
    assert m.run(max_instructions=100) == "stopped"
    entry, _, va, mmcsr = seen[1]
    assert (entry, va, mmcsr) == (ENT_MM, target, 1)  # ACV on the fetch


@pytest.mark.parametrize("how", ["kseg store", "host write"])
def test_a_write_through_another_mapping_drops_the_translation(how: str) -> None:
    """User code runs and is translated; the kernel then rewrites the frame
    through KSEG (a CPU store) or the host writes it (as DMA does); the next
    run executes the new code."""
    m, frames, seen = user_machine()
    pt = PageTable(m.memory, frames)
    f = frames.alloc()
    pt.map(CODE_VA, f, PTE_V | PTE_KRE | PTE_URE)
    m.memory.write(f << 13, code("\tlda $1, 5($31)\n\tcall_pal 0x83\n"))
    assert enter_user(m, pt, 1) == "stopped"
    new = code("\tlda $1, 9($31)\n\tcall_pal 0x83\n")
    if how == "kseg store":
        m.pal._set_ps(0)  # kernel mode, as in a system call
        for i in range(0, len(new), 4):
            m.cpu.store(KSEG_BASE + (f << 13) + i, 4, int.from_bytes(new[i : i + 4], "little"), 0)
    else:
        m.memory.write(f << 13, new)
    assert enter_user(m, pt, 1) == "stopped"
    assert [s[1] for s in seen] == [5, 9]


LOOP = """\tlda $2, 40($31)
	lda $3, 0x2000($31)
	sll $3, 4, $3
loop:	ldq $4, 0($3)
	lda $3, 0x2000($3)
	subq $2, 1, $2
	bne $2, loop
	call_pal 0x83
"""


def _paged_loop(translate: bool) -> Machine:
    """A user loop touching 40 pages, more than the 32-entry DTB holds."""
    m, frames, _ = user_machine(translate)
    pt = PageTable(m.memory, frames)
    f = frames.alloc()
    pt.map(CODE_VA, f, PTE_V | PTE_KRE | PTE_URE)
    m.memory.write(f << 13, code(LOOP))
    for k in range(40):
        pt.map(0x20000 + k * 0x2000, frames.alloc(), PTE_V | PTE_KRE | PTE_URE | PTE_KWE | PTE_UWE)
    assert enter_user(m, pt, 1) == "stopped"
    return m


def test_each_tb_miss_costs_its_refill_in_either_engine() -> None:
    """Cycles = the instructions' costs + TB_MISS_CYCLES per ITB and DTB miss
    + the system call's PAL entry, and the translator charges exactly what
    the interpreter does."""
    fast, slow = _paged_loop(True), _paged_loop(False)
    for m in (fast, slow):
        misses = m.mmu.itb.misses + m.mmu.dtb.misses
        assert m.mmu.dtb.misses == 40 and m.mmu.itb.misses == 1
        issue = 2 * COST["alu"] + COST["shift"] + 40 * (COST["load"] + 2 * COST["alu"] + COST["branch"])
        assert m.cpu.cycles == issue + COST["pal"] + misses * TB_MISS_CYCLES + PAL_ENTRY_CYCLES
    assert (fast.cpu.icount, fast.cpu.cycles) == (slow.cpu.icount, slow.cpu.cycles)
