"""The OSF/1 page walk and the 21064 translation buffers (alpha-machine.md §4)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from machine.alpha.constants import (
    ACCESS_EXEC,
    ACCESS_READ,
    ACCESS_WRITE,
    KSEG_BASE,
    MMCSR_ACV,
    MMCSR_FOE,
    MMCSR_FOR,
    MMCSR_FOW,
    MMCSR_TNV,
    MODE_KERNEL,
    MODE_USER,
    PTE_ASM,
    PTE_FOE,
    PTE_FOR,
    PTE_FOW,
    PTE_KRE,
    PTE_KWE,
    PTE_URE,
    PTE_UWE,
    PTE_V,
)
from machine.alpha.mmu import MMU, translate
from machine.alpha.traps import MemFault
from machine.memory import BusError, PhysicalMemory
from machine.pagetable import FrameAllocator, PageTable


def page_tables(mem: PhysicalMemory, first_free: int = 16) -> PageTable:
    """A page table for the tests, its frames allocated upward from first_free."""
    return PageTable(mem, FrameAllocator(mem, first_free))


def expected(bits: int, access: int, mode: int) -> int | None:
    """What §4 says for a valid level-3 PTE, written out case by case."""
    if mode == MODE_KERNEL:
        allowed = {ACCESS_READ: bits & PTE_KRE, ACCESS_EXEC: bits & PTE_KRE, ACCESS_WRITE: bits & PTE_KWE}[access]
    else:
        allowed = {ACCESS_READ: bits & PTE_URE, ACCESS_EXEC: bits & PTE_URE, ACCESS_WRITE: bits & PTE_UWE}[access]
    if not allowed:
        return MMCSR_ACV
    if access == ACCESS_READ and bits & PTE_FOR:
        return MMCSR_FOR
    if access == ACCESS_WRITE and bits & PTE_FOW:
        return MMCSR_FOW
    if access == ACCESS_EXEC and bits & PTE_FOE:
        return MMCSR_FOE
    return None


PROT = [PTE_KRE, PTE_URE, PTE_KWE, PTE_UWE]
FO = [PTE_FOR, PTE_FOW, PTE_FOE]


def test_every_permission_and_fault_on_combination() -> None:
    mem = PhysicalMemory(4 << 20)
    pt = page_tables(mem)
    va = 0x1_2000_4000
    cases = 0
    for prot in itertools.product((0, 1), repeat=4):
        for fo in itertools.product((0, 1), repeat=3):
            bits = PTE_V | sum(b for b, on in zip(PROT, prot, strict=True) if on)
            bits |= sum(b for b, on in zip(FO, fo, strict=True) if on)
            pt.map(va, 300, bits)
            for mode in (MODE_KERNEL, MODE_USER):
                for access in (ACCESS_READ, ACCESS_WRITE, ACCESS_EXEC):
                    t = translate(mem.read_q, pt.root, va + 0x123, access, mode)
                    want = expected(bits, access, mode)
                    assert t.fault == want, f"bits {bits:#x} mode {mode} access {access}"
                    assert t.pa == (None if want is not None else (300 << 13) + 0x123)
                    cases += 1
    assert cases == 16 * 8 * 6


def test_fault_at_each_level() -> None:
    mem = PhysicalMemory(4 << 20)
    pt = page_tables(mem)
    va = 0x2_0000_6000
    t = translate(mem.read_q, pt.root, va, ACCESS_READ, MODE_USER)
    assert (t.fault, len(t.steps)) == (MMCSR_TNV, 1)  # empty L1
    l3 = pt.map(va, 77, PTE_V | PTE_KRE | PTE_URE)
    assert translate(mem.read_q, pt.root, va, ACCESS_READ, MODE_USER).pa == 77 << 13
    other = va + (1 << 23)  # same L1 entry, a missing L2 entry
    t = translate(mem.read_q, pt.root, other, ACCESS_READ, MODE_USER)
    assert (t.fault, len(t.steps)) == (MMCSR_TNV, 2)
    mem.write_q(l3, 77 << 32)  # L3 entry not valid
    t = translate(mem.read_q, pt.root, va, ACCESS_READ, MODE_KERNEL)
    assert (t.fault, len(t.steps)) == (MMCSR_TNV, 3)
    l1 = pt.entry_addr(va, 1, pt.root)
    mem.write_q(l1, mem.read_q(l1) & ~PTE_KRE)  # a valid L1 entry without KRE
    assert translate(mem.read_q, pt.root, va, ACCESS_READ, MODE_USER).fault == MMCSR_ACV


def test_addresses_outside_the_43_bit_space_are_acv() -> None:
    mem = PhysicalMemory(1 << 20)
    for va in (1 << 43, 0x8000_0000_0000_0000, 0xFFFF_F000_0000_0000 ^ (1 << 42)):
        assert translate(mem.read_q, 0, va, ACCESS_READ, MODE_KERNEL).fault == MMCSR_ACV


def test_kseg_is_the_kernel_superpage() -> None:
    mem = PhysicalMemory(1 << 20)
    t = translate(mem.read_q, 0, KSEG_BASE + 0x12345, ACCESS_WRITE, MODE_KERNEL)
    assert (t.pa, t.fault, t.steps) == (0x12345, None, ())
    for access in (ACCESS_READ, ACCESS_WRITE, ACCESS_EXEC):
        assert translate(mem.read_q, 0, KSEG_BASE + 0x12345, access, MODE_USER).fault == MMCSR_ACV


def _mmu() -> tuple[MMU, PageTable, PhysicalMemory]:
    mem = PhysicalMemory(8 << 20)
    pt = page_tables(mem)
    mmu = MMU(mem)
    mmu.switch_context(pt.root, 1)
    mmu.mode = MODE_USER
    return mmu, pt, mem


USER_RW = PTE_V | PTE_KRE | PTE_KWE | PTE_URE | PTE_UWE


def test_tb_keeps_a_stale_translation_until_tbis_or_tbia() -> None:
    mmu, pt, mem = _mmu()
    va = 0x1_0000_0000
    l3 = pt.map(va, 100, USER_RW)
    assert mmu.translate(va, ACCESS_READ) == 100 << 13
    mem.write_q(l3, (200 << 32) | USER_RW)  # the OS changes the PTE...
    assert mmu.translate(va, ACCESS_READ) == 100 << 13  # ...the TB still holds the old one
    mmu.tbis(va)
    assert mmu.translate(va, ACCESS_READ) == 200 << 13
    mem.write_q(l3, (300 << 32) | USER_RW)
    mmu.tbi(-2)  # TBIA
    assert mmu.translate(va, ACCESS_READ) == 300 << 13
    mem.write_q(l3, (300 << 32) | PTE_V | PTE_KRE)  # now kernel-only
    mmu.tbi(3, va)
    with pytest.raises(MemFault) as e:
        mmu.translate(va, ACCESS_WRITE)
    assert (e.value.mmcsr, e.value.cause) == (MMCSR_ACV, 1)


def test_tbisd_and_tbisi_touch_one_buffer() -> None:
    mmu, pt, mem = _mmu()
    va = 0x1_0000_0000
    l3 = pt.map(va, 100, USER_RW)
    mmu.translate(va, ACCESS_READ)
    mmu.translate(va, ACCESS_EXEC)
    mem.write_q(l3, (101 << 32) | USER_RW)
    mmu.tbi(2, va)  # TBISD
    assert mmu.translate(va, ACCESS_READ) == 101 << 13
    assert mmu.translate(va, ACCESS_EXEC) == 100 << 13  # the ITB entry is still the old one
    mmu.tbi(1, va)  # TBISI
    assert mmu.translate(va, ACCESS_EXEC) == 101 << 13


def test_asn_tags_keep_address_spaces_apart() -> None:
    mem = PhysicalMemory(8 << 20)
    a = page_tables(mem, first_free=16)
    b = page_tables(mem, first_free=64)
    va = 0x4000_0000
    a.map(va, 500, USER_RW)
    b.map(va, 600, USER_RW)
    mmu = MMU(mem)
    mmu.mode = MODE_USER
    mmu.switch_context(a.root, 1)
    assert mmu.translate(va, ACCESS_READ) == 500 << 13
    mmu.switch_context(b.root, 2)  # swpctx to another ASN, no TB flush
    assert mmu.translate(va, ACCESS_READ) == 600 << 13
    hits = mmu.dtb.hits
    mmu.switch_context(a.root, 1)
    assert mmu.translate(va, ACCESS_READ) == 500 << 13
    assert mmu.dtb.hits == hits + 1  # ASN 1's entry survived and was used


def test_asm_entries_are_shared_and_survive_tbiap() -> None:
    mem = PhysicalMemory(8 << 20)
    a = page_tables(mem, first_free=16)
    b = page_tables(mem, first_free=64)
    va = 0x7000_0000
    a.map(va, 700, USER_RW | PTE_ASM)
    b.map(va, 700, USER_RW | PTE_ASM)
    mmu = MMU(mem)
    mmu.mode = MODE_USER
    mmu.switch_context(a.root, 1)
    mmu.translate(va, ACCESS_READ)
    mmu.switch_context(b.root, 2)
    hits = mmu.dtb.hits
    assert mmu.translate(va, ACCESS_READ) == 700 << 13
    assert mmu.dtb.hits == hits + 1  # the global entry served ASN 2
    mmu.tbiap()
    assert mmu.translate(va, ACCESS_READ) == 700 << 13
    assert mmu.dtb.hits == hits + 2  # TBIAP keeps ASM entries
    mmu.tbia()
    mmu.translate(va, ACCESS_READ)
    assert mmu.dtb.misses >= 2


def test_dtb_capacity_and_counters() -> None:
    mmu, pt, _ = _mmu()
    pages = [0x1_0000_0000 + i * 8192 for i in range(33)]
    for i, va in enumerate(pages):
        pt.map(va, 1000 + i, USER_RW)
    for va in pages:
        mmu.translate(va, ACCESS_READ)
    assert (mmu.dtb.misses, mmu.dtb.fills, mmu.dtb.hits) == (33, 33, 0)
    assert len(mmu.dtb.entries) == 32
    mmu.translate(pages[-1], ACCESS_WRITE)
    assert mmu.dtb.hits == 1
    mmu.translate(pages[0], ACCESS_READ)  # evicted first (FIFO)
    assert mmu.dtb.misses == 34
    assert mmu.itb.fills == 0


def test_faults_carry_cause_and_are_not_cached() -> None:
    mmu, pt, mem = _mmu()
    va = 0x1_0000_0000
    with pytest.raises(MemFault) as e:
        mmu.translate(va + 8, ACCESS_EXEC)
    assert (e.value.va, e.value.mmcsr, e.value.cause) == (va + 8, MMCSR_TNV, -1)
    pt.map(va, 100, USER_RW)
    assert mmu.translate(va, ACCESS_EXEC) == 100 << 13  # the TNV was not remembered


def test_memory_past_the_end_is_a_bus_error() -> None:
    mem = PhysicalMemory(1 << 20)
    with pytest.raises(BusError):
        mem.read_q(1 << 20)
    mem.write(0x1FFC, b"spin workbench")
    assert mem.read(0x1FFC, 14) == b"spin workbench"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.integers(1, 400), st.sampled_from([USER_RW, PTE_V | PTE_KRE,
                                                                                     USER_RW | PTE_FOW, 0])),
                min_size=1, max_size=40))  # fmt: skip
def test_tb_translation_equals_the_walk_when_the_os_invalidates(ops: list[tuple[int, int, int]]) -> None:
    """Any sequence of PTE rewrites, each followed by TBIS as an OS must, keeps
    the TB-backed MMU equal to the pure walk of the current tables."""
    mmu, pt, mem = _mmu()
    pages = [0x1_0000_0000 + i * 8192 for i in range(16)]
    for page, pfn, bits in ops:
        pt.map(pages[page], pfn, bits)
        mmu.tbis(pages[page])
        for va in pages[: page + 2]:
            for access in (ACCESS_READ, ACCESS_WRITE):
                walk = translate(mem.read_q, pt.root, va, access, MODE_USER)
                try:
                    got: int | None = mmu.translate(va, access)
                    fault = None
                except MemFault as e:
                    got, fault = None, e.mmcsr
                assert (got, fault) == (walk.pa, walk.fault)


class _HaltPal:
    def call_pal(self, cpu: object, fn: int, pc: int) -> int:
        from machine.alpha.traps import Halt

        raise Halt("pal", fn)


@pytest.mark.parametrize("translated", [False, True])
def test_cpu_runs_user_code_through_the_mmu(translated: bool) -> None:
    from machine.alpha.asm import assemble
    from machine.alpha.cpu import CPU
    from machine.alpha.traps import Halt, MemoryTrap
    from machine.elf import parse_elf

    mmu, pt, mem = _mmu()
    code_va, data_va = 0x1_2000_0000, 0x1_4000_0000
    pt.map(code_va, 40, PTE_V | PTE_KRE | PTE_URE)  # user read/execute, no write
    pt.map(data_va, 41, USER_RW)
    program = ["ldq $1, 0($2)", "addq $1, 5, $1", "stq $1, 8($2)", "ldq $3, 0($4)", "call_pal 0x81"]
    (text,) = parse_elf(assemble("\t.text\n" + "\n".join(f"\t{line}" for line in program))).text_sections()
    mem.write(40 * 8192, text.data)
    mem.write_q(41 * 8192, 37)
    cpu = CPU(mmu, _HaltPal())
    cpu.enable_translation(translated)
    cpu.pc = code_va
    cpu.r[2] = data_va
    cpu.r[4] = 0x1_6000_0000  # not mapped
    with pytest.raises(MemoryTrap) as e:
        cpu.run(10)
    assert (e.value.pc, e.value.va, e.value.mmcsr, e.value.cause) == (code_va + 12, 0x1_6000_0000, MMCSR_TNV, 0)
    assert mem.read_q(41 * 8192 + 8) == 42  # the store went through the MMU to frame 41
    assert cpu.icount == 3
    cpu.r[4] = KSEG_BASE  # user access to the kernel superpage
    with pytest.raises(MemoryTrap) as e:
        cpu.run(10)
    assert e.value.mmcsr == MMCSR_ACV
    cpu.r[4] = code_va  # readable
    with pytest.raises(Halt):
        cpu.run(10)
    cpu.pc = code_va + 8  # stq into the read-only code page
    cpu.r[2] = code_va - 8
    with pytest.raises(MemoryTrap) as e:
        cpu.run(10)
    assert (e.value.mmcsr, e.value.cause) == (MMCSR_ACV, 1)


def test_cpu_host_cache_follows_tb_evictions() -> None:
    """33 data pages through a 32-entry DTB: touching the first page again is
    a modeled miss even though the CPU had cached it."""
    from machine.alpha.cpu import CPU

    mmu, pt, mem = _mmu()
    pages = [0x1_0000_0000 + i * 8192 for i in range(33)]
    for i, va in enumerate(pages):
        pt.map(va, 500 + i, USER_RW)
    cpu = CPU(mmu, _HaltPal())
    mmu.attach(cpu)
    for va in [*pages, pages[0]]:
        cpu.load(va, 8, 0)
    assert (mmu.dtb.misses, mmu.dtb.fills) == (34, 34)
    assert len(cpu.rtlb) <= 32
