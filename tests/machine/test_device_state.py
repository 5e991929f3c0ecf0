"""Each part of the machine saves, loads and hashes its own state from one field list.

The state hash once missed fields the state file held (the lock address, the
PAL's idle flag, FEN, the MMU mode, the console's input...), so two machines
that would run differently could hash the same. These tests perturb every
saved field in turn and require the hash to change, check that every
attribute of every part is either state or named as not state, and check
that state files of version 2 still load and run on identically.
"""

from __future__ import annotations

import copy
import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from machine import state
from machine.alpha.asm import assemble
from machine.alpha.constants import KSEG_BASE, PAGE_SIZE
from machine.alpha.pal import ENT_INT, ENT_MM, UnsavedHandler
from machine.disk import CMD_READ, R_BLOCK, R_CMD, R_COUNT, R_DMA
from machine.elf import parse_elf
from machine.fields import Misfit, Part
from machine.machine import Machine
from machine.nic import R_TX_ADDR, R_TX_CMD, R_TX_LEN, Wire
from tests.machine.test_disk import command as disk_command
from tests.machine.test_disk import machine_with_disk, pattern
from tests.machine.test_nic import frame, send, two_on_a_wire
from tests.machine.test_platform import SMOKE, boot

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
IDLE = "\t.text\n_start:\tclr $16\n\tcall_pal 0x35\n1:\tcall_pal 0x3e\n\tbr 1b\n"
IMAGE = bytes(range(256)) * 64  # 32 blocks


def rich() -> Machine:
    """A machine whose every part holds something to lose: guest and Python
    entry handlers, an interrupt pending, TB entries, a reservation, console
    input waiting, a disk transfer in flight and a bad block, a frame being sent."""
    m = Machine(2 << 20)
    m.load_kernel(parse_elf(assemble(IDLE, "idle.s", text_base=KSEG_BASE + 0x10120)))
    m.pal.entries[ENT_INT] = lambda pal, entry: pal.rti()
    m.pal.entries[ENT_MM] = KSEG_BASE + 0x10120
    disk = m.attach_disk(IMAGE)
    disk.bad_blocks.add(5)
    nic = m.attach_nic(0x08002B000001)
    m.run(until_cycle=1000)
    m.console.feed(b"typed ahead")
    m.console.end_of_input()
    m.console.send(b"hello")
    m.console.send(b"oops", stream=2)
    disk.page[R_BLOCK], disk.page[R_COUNT], disk.page[R_DMA] = 3, 2, 0x6000
    disk.page[R_CMD] = CMD_READ
    m.memory.write(0x40000, bytes(range(60)))
    nic.page[R_TX_ADDR], nic.page[R_TX_LEN] = 0x40000, 60
    nic.page[R_TX_CMD] = 1
    m.run(until_cycle=m.cpu.cycles + 500)
    m.mmu.itb.fill(0x10, 1, 0x1234_0000_1101)
    m.mmu.dtb.fill(0x20, 1, 0x1235_0000_1101)
    m.mmu.dtb.fill(0x21, 2, 0x1236_0000_1111)  # ASM: a global entry
    m.pal.post_interrupt(2, 3, 0x800)  # above the idle loop's IPL 0: taken when it runs on
    m.cpu.lock_addr, m.cpu.lock_value = 0x6000, 7
    m.cpu.intr_flag = 1
    m.mmu.asn = 1
    return m


def header(data: bytes) -> dict[str, Any]:
    return json.loads(data.split(b"\n", 4)[3])


def resealed(data: bytes, h: dict[str, Any]) -> bytes:
    """The machine state file ``data`` with its header replaced by ``h``, checksum recomputed."""
    magic, _, body = data.split(b"\n", 2)
    kind, _, rest = body.partition(b"\n")
    _, _, packed = rest.partition(b"\n")
    body = kind + b"\n" + json.dumps(h).encode() + b"\n" + packed
    return magic + b"\n" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def parts(m: Machine) -> dict[str, Part]:
    """Every part with a field list, by where its fields sit in a state file."""
    out: dict[str, Part] = {"": m}
    for name, part in m.parts():
        assert part is not None
        out[name] = part
    out["mmu.itb"], out["mmu.dtb"] = m.mmu.itb, m.mmu.dtb
    return out


def field_paths() -> list[str]:
    """Every saved field: the machine's own and each part's, through the MMU to its TBs."""
    m = Machine(PAGE_SIZE * 64)
    m.attach_disk(bytes(512))
    m.attach_nic(1)
    subparts = {name for name in parts(m) if name}
    return [
        f"{where}.{f}".lstrip(".")
        for where, part in parts(m).items()
        for f in part.STATE_FIELDS
        if f"{where}.{f}".lstrip(".") not in subparts
    ]


def _other_image() -> str:
    flipped = bytearray(IMAGE)
    flipped[700] ^= 1
    return zlib.compress(bytes(flipped)).hex()


# Where flipping bit 0 of the first number would not give a state a machine could be in.
SPECIAL: dict[str, Any] = {
    "model": lambda v: "ev5",
    "memory_size": lambda v: v + PAGE_SIZE,
    "halt_reason": lambda v: "halted for the test",
    "disk.data": lambda v: _other_image(),
    "pal.entries": lambda v: [None, *v[1:]],  # the Python handler at entInt, gone
    "mmu.itb.entries": lambda v: [[v[0][0], v[0][1], v[0][2] ^ 1 << 40], *v[1:]],
    "mmu.dtb.entries": lambda v: v[:-1],
}


def perturb(v: Any) -> Any:
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v ^ 1
    if isinstance(v, str):
        return v + "41"  # the console's hex: one more byte
    if isinstance(v, list):
        assert v, "the test machine should hold something here"
        return [perturb(v[0]), *v[1:]]
    raise AssertionError(f"no perturbation for {v!r}")


def at(h: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    *parents, last = path.split(".")
    for p in parents:
        h = h[p]
    return h, last


@pytest.fixture(scope="module")
def saved() -> bytes:
    return state.snapshot(rich())


@pytest.mark.parametrize("path", field_paths())
def test_every_saved_field_is_hashed(saved: bytes, path: str) -> None:
    """Change one field of a saved state: it loads, reads back changed, and
    the machine's hash differs from the unchanged state's."""
    base = state.restore(saved)
    h = header(saved)
    parent, key = at(h, path)
    parent[key] = SPECIAL.get(path, perturb)(parent[key])
    changed = state.restore(resealed(saved, h))
    assert changed.save_state() == h  # what was loaded is what was saved: nothing dropped or defaulted
    assert changed.state_hash() != base.state_hash(), f"{path} is saved but not hashed"


def test_every_part_saves_exactly_its_field_list_and_names_what_it_does_not_save() -> None:
    """Each part's save_state writes its STATE_FIELDS, no more; each of its
    attributes is a field or is named in NOT_STATE with a reason, so a new
    attribute cannot slip in unsaved and unhashed."""
    m = rich()
    checked: dict[str, Any] = {**parts(m), "memory": m.memory}
    for where, part in checked.items():
        fields = set(getattr(part, "STATE_FIELDS", ()))
        if isinstance(part, Part):
            assert set(part.save_state()) == fields, where
        attrs = set(vars(part))
        assert not fields & set(part.NOT_STATE), where
        assert attrs <= fields | set(part.NOT_STATE), (
            f"{where or 'machine'}: {sorted(attrs - fields - set(part.NOT_STATE))}"
        )
        assert set(part.NOT_STATE) <= attrs, f"{where or 'machine'}: NOT_STATE names what is not there"
        assert all(why for why in part.NOT_STATE.values())
    wire = Wire()
    assert set(wire.save_state()) == set(Wire.STATE_FIELDS)
    assert set(vars(wire)) == set(Wire.STATE_FIELDS) | set(Wire.NOT_STATE)


def test_the_hash_covers_what_it_once_left_out() -> None:
    """The fields issue 17 lists, and the others the old hash skipped: each, changed, changes the hash."""
    changes = {
        "lock address": lambda m: setattr(m.cpu, "lock_addr", 0x6008),
        "lock value": lambda m: setattr(m.cpu, "lock_value", 8),
        "interrupt flag": lambda m: setattr(m.cpu, "intr_flag", 0),
        "PAL idle": lambda m: setattr(m.pal, "idle", not m.pal.idle),
        "FEN": lambda m: setattr(m.pal, "fen", 0),
        "MCES": lambda m: setattr(m.pal, "mces", 1),
        "VPTPTR": lambda m: setattr(m.pal, "vptptr", 1 << 33),
        "entries taken": lambda m: m.pal.counts.__setitem__(3, 9),
        "Python handler": lambda m: m.pal.entries.__setitem__(ENT_INT, None),
        "MMU mode": lambda m: setattr(m.mmu, "mode", 1),
        "TB misses": lambda m: setattr(m.mmu.dtb, "misses", 99),
        "console input": lambda m: m.console.feed(b"!"),
        "console end of input": lambda m: m.console.end_of_input(),
        "stderr apart": lambda m: m.console.errors.__setitem__(0, [5, 8]),
        "halt reason": lambda m: setattr(m, "halt_reason", "halt"),
        "bad block": lambda m: m.disk.bad_blocks.add(9),  # type: ignore[union-attr]
        "NIC address": lambda m: setattr(m.nic, "mac", 2),
        "model": lambda m: setattr(m.cpu, "model", "ev5"),
    }
    base = rich().state_hash()
    for what, change in changes.items():
        m = rich()
        assert m.state_hash() == base
        change(m)
        assert m.state_hash() != base, what


def test_tb_hits_are_not_state() -> None:
    """A TB's hit count depends on when the host caches were last flushed, so
    it is neither saved nor hashed: a restored machine (its caches empty)
    reaches the same state as one never saved."""
    m = rich()
    before = m.state_hash()
    m.mmu.dtb.hits += 5
    assert m.state_hash() == before
    assert "hits" in m.mmu.dtb.NOT_STATE


def test_a_saved_state_loads_back_exactly() -> None:
    """restore then snapshot gives the same bytes, for a machine and for a world."""
    data = state.snapshot(rich())
    assert state.snapshot(state.restore(data)) == data
    world, a, _, _ = two_on_a_wire(loss=0.3, seed=5)
    send(a, frame(0xFFFFFFFFFFFF, 1, 80, 1))
    world.run(until_cycle=a.cpu.cycles + 5_000)
    assert world.wires[0].in_flight
    data = state.snapshot_world(world)
    assert state.snapshot_world(state.restore_world(data)) == data


def test_a_python_handler_comes_back_as_a_stand_in_that_says_so() -> None:
    m = state.restore(state.snapshot(rich()))
    assert isinstance(m.pal.entries[ENT_INT], UnsavedHandler)
    assert m.pal.save_state()["entries"][ENT_INT] == "python"
    why = m.run(max_instructions=10_000)  # the pending interrupt enters entInt
    assert why == "entInt: the saved machine had a Python handler here; install it again after restoring"


def test_load_state_in_place_rewinds_a_running_machine() -> None:
    """PyBoy's shape: save a live machine's state, run on, load it back into
    the same machine (its Python handler kept), run on again: the same end."""
    m = rich()
    saved, frames = m.save_state(), m.memory.save_frames()
    m.run(until_cycle=m.cpu.cycles + 40_000_000)
    ahead = m.state_hash()
    assert m.disk.completed == 1  # type: ignore[union-attr]  # the transfer finished, its DMA landed
    m.load_state(saved)
    m.memory.load_frames(frames)
    assert m.save_state() == saved and m.disk.completed == 0  # type: ignore[union-attr]
    m.run(until_cycle=m.cpu.cycles + 40_000_000)
    assert m.state_hash() == ahead


def test_a_refused_state_changes_nothing() -> None:
    """Every field is checked before any is installed: a state whose last
    part does not fit leaves the machine as it was."""
    m = rich()
    before, h = m.state_hash(), m.save_state()
    bad = copy.deepcopy(h)
    bad["cpu"]["pc"] = 1
    bad["nic"]["events"] = [[1, 1, "tx_done", [7]]]
    with pytest.raises(Misfit, match=r"nic.events\[0\] arguments should hold 0 items, not 1"):
        m.load_state(bad)
    assert m.state_hash() == before and m.save_state() == h
    with pytest.raises(Misfit, match="disk is null: the saved machine has none, and this one has one"):
        m.load_state({**h, "disk": None})
    with pytest.raises(Misfit, match="memory_size is 8192; this machine has 2097152 bytes"):
        m.load_state({**h, "memory_size": 8192})
    with pytest.raises(Misfit, match="cpu should be an object, not a list"):
        m.cpu.load_state([])


def test_devices_own_their_events() -> None:
    """The disk's transfer and the card's transmission sit in their own
    saved state and are handled by their owner, in one queue ordered by cycle."""
    m = rich()
    s = m.save_state()
    (disk_ev,) = s["disk"]["events"]
    (nic_ev,) = s["nic"]["events"]
    assert disk_ev[2:] == ["done", [CMD_READ, 3, 2, 0x6000]] and nic_ev[2:] == ["tx_done", []]
    assert sorted(list(e[:2]) for e in m.events) == sorted([disk_ev[:2], nic_ev[:2]])
    m.run(until_cycle=nic_ev[0])
    assert m.save_state()["nic"]["events"] == [] and m.save_state()["disk"]["events"] == [disk_ev]
    m.run(until_cycle=disk_ev[0])
    assert m.events == [] and m.memory.read(0x6000, 1024) == IMAGE[3 * 512 : 5 * 512]
    assert m.timer.next_event() == m.tick_cycle(m.ticks + 1) >= m.next_event()


def test_a_wire_saves_and_hashes_its_own_fields() -> None:
    w = Wire(latency_cycles=700, loss=0.25, seed=9)
    w.in_flight = {3: b"\x01\x02"}
    w.next_id, w.carried, w.lost = 3, 4, 1
    saved = w.save_state()
    special = {"loss": 0.5, "rng": [3, [*saved["rng"][1][:-1], 7], None], "in_flight": [[3, "0103"]]}
    for f in Wire.STATE_FIELDS:
        s = copy.deepcopy(saved)
        s[f] = special[f] if f in special else perturb(s[f])
        other = Wire()
        other.load_state(s)
        assert other.save_state() == s and other.state_digest() != w.state_digest(), f


# --- version 2 ----------------------------------------------------------------------------------
# The three files were written by the workbench before version 3 (its commit 19ce681).


def test_a_version_2_machine_runs_on_as_one_never_saved() -> None:
    """Saved at instruction 64,000 of the smoke program (guest handlers, a page table, user mode)."""
    back = state.load(GOLDEN / "state-v2-smoke.state")
    assert back.cpu.icount == 64_000
    straight = boot(SMOKE)
    straight.run(max_instructions=2_000_000)
    back.run(max_instructions=2_000_000)
    assert back.state_hash() == straight.state_hash()
    assert back.console.output == straight.console.output


def test_a_version_2_disk_transfer_in_flight_completes() -> None:
    back = state.load(GOLDEN / "state-v2-disk.state")
    (ev,) = back.save_state()["disk"]["events"]
    assert ev[2:] == ["done", [CMD_READ, 9, 2, 0x6000]]
    straight, _ = machine_with_disk(pattern(64))
    start = disk_command(straight, CMD_READ, 9, 2, 0x6000)
    straight.run(until_cycle=start + 30_000_000)
    back.pal.entries[ENT_INT] = straight.pal.entries[ENT_INT] = lambda pal, entry: pal.rti()
    back.run(until_cycle=start + 30_000_000)
    assert back.memory.read(0x6000, 1024) == pattern(64)[9 * 512 : 11 * 512]
    assert back.state_hash() == straight.state_hash()


def test_a_version_2_world_delivers_its_frame_in_flight() -> None:
    back = state.load_world(GOLDEN / "state-v2-world.state")
    assert back.wires[0].in_flight and back.machines[0].nic.frames_awaited() == [1]  # type: ignore[union-attr]
    straight, _, b, _ = two_on_a_wire(loss=0.3, seed=5)
    start = send(b, frame(0xFFFFFFFFFFFF, 0, 80, 0))
    for w in (straight, back):
        for m in w.machines:
            m.pal.entries[ENT_INT] = lambda pal, entry: pal.rti()
        w.run(until_cycle=start + 30_000)
    assert [m.state_hash() for m in back.machines] == [m.state_hash() for m in straight.machines]
    assert back.machines[0].nic.received == 1  # type: ignore[union-attr]


def test_a_version_2_file_of_the_wrong_shape_names_the_field() -> None:
    data = (GOLDEN / "state-v2-disk.state").read_bytes()
    h = header(data)
    h["events"][0][2] = "format_disk"
    with pytest.raises(state.StateFileError, match=r"events\[0\]: unknown device event 'format_disk'") as e:
        state.restore(resealed(data, h), "old.state")
    assert not e.value.unforeseen
    h = header(data)
    h["disk"] = None
    with pytest.raises(state.StateFileError, match=r"events\[0\]: a disk transfer needs a disk"):
        state.restore(resealed(data, h), "old.state")
    h = header(data)
    h["machine"]["ticks"] = -1
    with pytest.raises(state.StateFileError, match="timer.ticks is -1, outside"):
        state.restore(resealed(data, h), "old.state")
