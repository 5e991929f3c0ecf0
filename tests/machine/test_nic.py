"""The Ethernet card, the wire between machines, the pcap tap and worlds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from machine.alpha.asm import assemble
from machine.alpha.constants import CLOCK_HZ, KSEG_BASE
from machine.alpha.pal import ENT_INT
from machine.elf import parse_elf
from machine.machine import Machine
from machine.nic import (
    DONE,
    E_DMA,
    E_LENGTH,
    ERROR,
    FRAMING_BYTES,
    INT_RX,
    INT_TX,
    OWNED,
    R_INT_STATUS,
    R_MAC,
    R_RX_COUNT,
    R_RX_DROPS,
    R_RX_RING,
    R_TX_ADDR,
    R_TX_CMD,
    R_TX_ERROR,
    R_TX_LEN,
    R_TX_STATUS,
    Tap,
    Wire,
)
from machine.world import World
from tests.conftest import require

IDLE = "\t.text\n_start:\tclr $16\n\tcall_pal 0x35\n1:\tcall_pal 0x3e\n\tbr 1b\n"
RING, BUFFERS = 0x20000, 0x30000


def station(mac: int, ring_entries: int = 4) -> Machine:
    m = Machine(2 << 20)
    m.load_kernel(parse_elf(assemble(IDLE, "idle.s", text_base=KSEG_BASE + 0x10120)))
    m.pal.entries[ENT_INT] = lambda pal, entry: pal.rti()
    nic = m.attach_nic(mac)
    for i in range(ring_entries):
        m.memory.write_q(RING + 16 * i, BUFFERS + 1536 * i)
        m.memory.write_q(RING + 16 * i + 8, OWNED)
    nic.page[R_RX_RING], nic.page[R_RX_COUNT] = RING, ring_entries
    m.run(until_cycle=1000)
    return m


def frame(dst: int, src: int, n: int, tag: int) -> bytes:
    """An Ethernet frame of ethertype 0x88B5 (local experimental), n bytes."""
    head = dst.to_bytes(6, "big") + src.to_bytes(6, "big") + b"\x88\xb5"
    return head + bytes((tag + i) & 0xFF for i in range(n - len(head)))


def send(m: Machine, data: bytes, pa: int = 0x40000) -> int:
    m.memory.write(pa, data)
    regs = m.nic.page  # type: ignore[union-attr]
    regs[R_TX_ADDR], regs[R_TX_LEN] = pa, len(data)
    regs[R_TX_CMD] = 1
    return m.cpu.cycles


def received(m: Machine, i: int) -> bytes:
    status = m.memory.read_q(RING + 16 * i + 8)
    assert not status & OWNED, "buffer still owned by the card"
    return m.memory.read(BUFFERS + 1536 * i, status & 0xFFFF)


def two_on_a_wire(tmp_path: Path | None = None, **wire_args: object) -> tuple[World, Machine, Machine, Wire]:
    world = World()
    a, b = world.add(station(0x08002B000001)), world.add(station(0x08002B000002))
    tap = Tap(tmp_path / "wire.pcap") if tmp_path is not None else None
    wire = world.connect(Wire(tap=tap, **wire_args), a, b)  # type: ignore[arg-type]
    return world, a, b, wire


def test_a_frame_crosses_the_wire_with_serialization_and_latency() -> None:
    world, a, b, wire = two_on_a_wire()
    data = frame(0x08002B000002, 0x08002B000001, 100, 1)
    start = send(a, data)
    done = start + (100 + FRAMING_BYTES) * 8 * CLOCK_HZ // wire.bandwidth
    world.run(until_cycle=done + wire.latency - 1)
    assert a.nic.page[R_TX_STATUS] == DONE and b.nic.received == 0  # type: ignore[union-attr]
    world.run(until_cycle=done + wire.latency + 10)
    assert b.nic.received == 1 and received(b, 0) == data  # type: ignore[union-attr]
    assert b.nic.page[R_INT_STATUS] & INT_RX and a.nic.page[R_INT_STATUS] & INT_TX  # type: ignore[union-attr]
    assert a.nic.page[R_MAC] == 0x08002B000001  # type: ignore[union-attr]


def test_the_tap_writes_a_pcap_that_tshark_reads(tmp_path: Path) -> None:
    tshark = require("tshark")
    world, a, b, wire = two_on_a_wire(tmp_path)
    sizes = [60, 200, 1514, 64, 999]
    t = 0
    for i, n in enumerate(sizes):
        sender, dst = (a, 0x08002B000002) if i % 2 == 0 else (b, 0x08002B000001)
        send(sender, frame(dst, sender.nic.mac, n, i))  # type: ignore[union-attr]
        t += 200_000  # a 1514-byte frame holds the 10 Mb/s wire for about 164,000 cycles
        world.run(until_cycle=t)
        assert sender.nic.page[R_TX_STATUS] == DONE  # type: ignore[union-attr]
    wire.tap.close()  # type: ignore[union-attr]
    out = subprocess.run([tshark, "-r", str(tmp_path / "wire.pcap"), "-T", "fields", "-e", "frame.len",
                          "-e", "eth.type", "-e", "_ws.malformed"], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = [line.split("\t") for line in out.stdout.strip().splitlines()]
    assert [int(r[0]) for r in rows] == sizes
    assert all(r[1] == "0x88b5" for r in rows)
    assert all(len(r) < 3 or r[2] == "" for r in rows)  # nothing malformed


def test_seeded_loss_is_repeatable() -> None:
    outcomes = set()
    for _ in range(2):
        world, a, b, wire = two_on_a_wire(loss=0.5, seed=7)
        for i in range(20):
            send(a, frame(0x08002B000002, 0x08002B000001, 60, i), pa=0x40000 + 2048 * (i % 4))
            world.run(until_cycle=world.now + 20_000)
            b.nic.page[R_RX_COUNT] = 4  # type: ignore[union-attr]  # recycle the ring
            for j in range(4):
                b.memory.write_q(RING + 16 * j + 8, OWNED)
        outcomes.add((wire.lost, b.nic.received, b.state_hash()))  # type: ignore[union-attr]
    assert len(outcomes) == 1
    ((lost, got, _),) = outcomes
    assert lost + got == 20 and 3 <= lost <= 17


@pytest.mark.parametrize(("length", "pa", "error"), [(10, 0x40000, E_LENGTH), (2000, 0x40000, E_LENGTH),
                                                     (100, (2 << 20) - 50, E_DMA)])  # fmt: skip
def test_bad_transmits_report_an_error(length: int, pa: int, error: int) -> None:
    m = station(0x08002B000009)
    regs = m.nic.page  # type: ignore[union-attr]
    regs[R_TX_ADDR], regs[R_TX_LEN] = pa, length
    regs[R_TX_CMD] = 1
    assert (regs[R_TX_STATUS], regs[R_TX_ERROR]) == (ERROR, error)
    m.run(until_cycle=m.cpu.cycles + 1000)  # the machine carries on


def test_frames_without_a_free_buffer_are_dropped_and_counted() -> None:
    world = World()
    a, b = world.add(station(1)), world.add(station(2, ring_entries=1))
    world.connect(Wire(), a, b)
    for i in range(3):
        send(a, frame(2, 1, 60, i), pa=0x40000 + 2048 * i)
        world.run(until_cycle=world.now + 20_000)
    assert b.nic.received == 1 and b.nic.page[R_RX_DROPS] == 2  # type: ignore[union-attr]


def test_worlds_are_deterministic() -> None:
    hashes = set()
    for _ in range(2):
        world, a, b, _ = two_on_a_wire(loss=0.2, seed=3)
        for i in range(6):
            send(a if i % 2 else b, frame(0xFFFFFFFFFFFF, i, 80 + i, i), pa=0x40000 + 2048 * (i % 3))
            world.run(until_cycle=world.now + 30_000)
        hashes.add((a.state_hash(), b.state_hash(), world.now))
    assert len(hashes) == 1


def _traffic(world: World, steps: range, split: int | None = None) -> World:
    """Six broadcasts back and forth over a lossy wire; with ``split``, the
    world is saved and restored just after that step's frame left its card,
    while it is still on the wire."""
    from machine import state

    for i in steps:
        a, b = world.machines
        start = send(a if i % 2 else b, frame(0xFFFFFFFFFFFF, i, 80 + i, i), pa=0x40000 + 2048 * (i % 3))
        if i == split:
            world.run(until_cycle=start + 5_000)
            assert world.wires[0].in_flight, "the frame should still be on the wire"
            world = state.restore_world(state.snapshot_world(world))
            for m in world.machines:
                m.pal.entries[ENT_INT] = lambda pal, entry: pal.rti()  # Python handlers are not saved
        world.run(until_cycle=start + 30_000)
    return world


@pytest.mark.parametrize("split", [0, 3, 5])
def test_a_world_saved_with_frames_in_flight_continues_identically(split: int) -> None:
    straight = _traffic(two_on_a_wire(loss=0.3, seed=5)[0], range(6))
    resumed = _traffic(two_on_a_wire(loss=0.3, seed=5)[0], range(6), split)
    assert [m.state_hash() for m in resumed.machines] == [m.state_hash() for m in straight.machines]
    assert (resumed.now, resumed.wires[0].lost, resumed.wires[0].carried) == (
        straight.now, straight.wires[0].lost, straight.wires[0].carried)  # fmt: skip
    assert sum(m.nic.received for m in resumed.machines) > 0  # type: ignore[union-attr]


def test_state_files_say_which_kind_they_hold(tmp_path: Path) -> None:
    from machine import state

    world, a, _, _ = two_on_a_wire()
    state.save(world, tmp_path / "world.state")
    state.save(a, tmp_path / "one.state")
    with pytest.raises(
        state.StateFileError, match="holds a world of 2 machines, not one machine; load it with load_world"
    ):
        state.load(tmp_path / "world.state")
    one = state.load_world(tmp_path / "one.state")  # a machine file opens as a world of one
    assert len(one.machines) == 1 and one.machines[0].state_hash() == a.state_hash()
    assert one.machines[0].nic.mac == a.nic.mac  # type: ignore[union-attr]
