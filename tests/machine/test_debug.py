"""Breakpoints, watchpoints and single steps on a paged machine: they stop
where they should in either engine, say what happened, and never change the
run: after removing them the machine ends in the state an unwatched run does."""

from __future__ import annotations

import pytest

from machine.elf import read_elf
from machine.machine import Machine
from machine.paged import boot_program
from tests.conftest import elf


def booted(name: str, translate: bool = True, model: str = "ev4") -> tuple[Machine, dict[str, int]]:
    path = elf(name, model)
    image = read_elf(path)
    m = boot_program(image, [str(path)], model)
    m.cpu.enable_translation(translate)
    return m, {s.name: s.value for s in image.symbols if s.name}


def finished(name: str) -> Machine:
    m, _ = booted(name)
    m.run(max_instructions=50_000_000)
    return m


@pytest.mark.parametrize("translate", [True, False])
def test_a_breakpoint_stops_before_each_call_and_leaves_the_run_unchanged(translate: bool) -> None:
    m, sym = booted("divide", translate)
    m.add_breakpoint(sym["__divq"])
    stops = []
    while (why := m.run(max_instructions=50_000_000)) == "breakpoint":
        assert m.cpu.pc == sym["__divq"] and m.stop_detail == f"breakpoint at {sym['__divq']:#x}"
        stops.append(m.cpu.icount)
        if len(stops) == 3:
            m.remove_breakpoint(sym["__divq"])
    assert why.startswith("exit")
    assert len(stops) == 3 and stops == sorted(set(stops))
    assert m.state_hash() == finished("divide").state_hash()


def test_both_engines_stop_at_the_same_instruction_count() -> None:
    counts = []
    for translate in (True, False):
        m, sym = booted("divide", translate)
        m.add_breakpoint(sym["__divq"] + 8)  # inside a block, not at its start
        assert m.run(max_instructions=50_000_000) == "breakpoint"
        counts.append((m.cpu.icount, m.cpu.cycles, m.cpu.pc))
    assert counts[0] == counts[1]


def test_a_virtual_watchpoint_reports_the_store_and_the_values() -> None:
    """On the ev4 (no BWX) ``composite[j] = 1`` is an stq_u of the whole
    quadword, so stores to its neighbours touch the watched byte too."""
    m, sym = booted("sieve")
    target = sym["composite"] + 4
    w = m.add_watch(target, 1, "w")
    hits = []
    while (why := m.run(max_instructions=50_000_000)) == "watchpoint":
        hits.append(m.stop_detail)
    assert why == "exit 0"
    head = f"watchpoint {w.number}: writes to 1 bytes at virtual {target:#x}: `stq_u t1,0(t0)` at pc "
    assert all(h.startswith(head) for h in hits)
    assert hits[0].endswith(f"wrote 8 bytes at {target - 4:#x}; 0x0 -> 0x1")  # composite[4] = 1
    assert len(hits) == 2 and hits[1].endswith("; value 0x1")  # composite[6] = 1, same quadword
    assert m.state_hash() == finished("sieve").state_hash()


def test_a_read_watch_ignores_writes() -> None:
    """With BWX (ev56) the sieve stores the byte with stb, which a read watch
    ignores; the first read is the outer loop's test of composite[4]."""
    m, sym = booted("sieve", model="ev56")
    target = sym["composite"] + 4
    m.add_watch(target, 1, "r")
    assert m.run(max_instructions=50_000_000) == "watchpoint"
    assert "`ldbu" in m.stop_detail and m.stop_detail.endswith(f"read 1 bytes at {target:#x}; value 0x1")


def test_a_physical_watch_sees_cpu_stores_and_host_writes() -> None:
    m, sym = booted("sieve")
    target = sym["composite"] + 4
    pa = m.mmu.walk(target).pa
    assert pa is not None
    m.add_watch(pa, 1, "w", physical=True)
    assert m.run(max_instructions=50_000_000) == "watchpoint"
    assert f"at physical {pa:#x}: `stq_u" in m.stop_detail and m.stop_detail.endswith("0x0 -> 0x1")
    m.memory.write(pa, b"\x07")  # as a device's DMA would
    assert m.run(max_instructions=50_000_000) == "watchpoint"
    assert m.stop_detail.endswith(f"a device or the host wrote 1 bytes at physical {pa:#x}")


def test_step_executes_exactly_one_instruction_even_on_a_breakpoint() -> None:
    """Like gdb: stepping or continuing from a breakpoint's own PC runs its
    instruction; the next breakpoint stops the run."""
    m, _ = booted("hello")
    start = m.cpu.pc
    m.add_breakpoint(start)
    m.add_breakpoint(start + 8)
    assert m.step() == "budget" and (m.cpu.icount, m.cpu.pc) == (1, start + 4)
    assert m.run() == "breakpoint" and (m.cpu.icount, m.cpu.pc) == (2, start + 8)
    assert m.run() == "exit 0"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.add_breakpoint(0x120000002), "not a multiple of 4"),
        (lambda m: m.remove_breakpoint(0x120000000), "no breakpoint at 0x120000000"),
        (lambda m: m.add_watch(0x1000, 8, "x"), "use 'r', 'w' or 'rw'"),
        (lambda m: m.add_watch(0x1000, 0), "give 1 to 8192 bytes"),
        (lambda m: m.add_watch(1 << 40, 8, physical=True), "this machine has 0x4000000 bytes"),
        (lambda m: m.remove_watch(99), "no watchpoint 99"),
    ],
)
def test_bad_debug_requests_say_what_is_wrong(call, message: str) -> None:  # noqa: ANN001
    m, _ = booted("hello")
    with pytest.raises(ValueError, match=message):
        call(m)
    assert m.run(max_instructions=50_000_000) == "exit 0"


def test_a_removed_watch_no_longer_stops_the_run() -> None:
    m, sym = booted("sieve", model="ev56")
    target = sym["composite"]
    gone = m.add_watch(m.mmu.walk(target + 4).pa, 1, "w", physical=True)  # composite[4]: written first
    kept = m.add_watch(target + 6, 1, "w")  # composite[6]: written next
    m.remove_watch(gone.number)
    assert m.run(max_instructions=50_000_000) == "watchpoint"
    assert m.stop_detail.startswith(f"watchpoint {kept.number}:") and f"at {target + 6:#x}" in m.stop_detail
    m.remove_watch(kept.number)
    assert not m.cpu.watch_pages and not m.cpu.watch_frames
    assert m.run(max_instructions=50_000_000) == "exit 0"
