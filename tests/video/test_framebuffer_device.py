"""The frame-buffer device (machine/framebuffer.py): pixel memory and registers in I/O space,
writes out of bounds refused as a device error, Present flips, and state saved and hashed
only when attached -- a machine without one keeps the state hash it had before the device existed."""

from __future__ import annotations

import hashlib
import json
import zlib

import pytest

from machine import state
from machine.fields import Misfit
from machine.framebuffer import FB_BYTES, FB_MEM_PA, FB_PA, R_CMD, R_ERROR, R_FRAMES, R_HEIGHT, R_REFUSED, R_WIDTH
from machine.machine import Machine
from tests.machine.test_device_state import header, resealed, rich

# Computed on the commit before the frame buffer existed (94e1eea): rich()'s hash and state file.
RICH_HASH = "a01719693f987688aaffb45061617b7928b8253214fdc49755f74880c4219bfb"
RICH_FILE_SHA = "dc98db5566a06709a6dc5aeed4ef0a9b6511242f70ae3482dc82016802269e06"
NETWORK_HOST_HASH = "49edb37562e4d8062a64ab783e9d8c0edfe47814705ee95618192cc948351f95"  # Network(2), 20 ms, host 1


def reg(m: Machine, r: int) -> int:
    return m.memory.read_q(FB_PA + 8 * r)


def test_existing_state_hashes_are_unchanged() -> None:
    m = rich()
    assert m.state_hash() == RICH_HASH
    assert hashlib.sha256(state.snapshot(m)).hexdigest() == RICH_FILE_SHA
    assert "framebuffer" not in m.save_state()
    from kernel.net.topology import Network

    net = Network(2)
    net.run_us(20_000)
    assert net.hosts[1].machine.state_hash() == NETWORK_HOST_HASH


def test_registers_and_pixel_memory_through_io_space() -> None:
    m = Machine(1 << 20)
    fb = m.attach_framebuffer()
    assert (reg(m, R_WIDTH), reg(m, R_HEIGHT), reg(m, R_FRAMES)) == (128, 96, 0)
    m.memory.write_q(FB_MEM_PA + 8, 0x0807060504030201)  # a CPU store's path: the page the memory hands out
    m.memory.write_q(FB_MEM_PA + 8192 + 8 * 10, 0xFF)  # the second page
    assert fb.pixels[8:16] == bytes(range(1, 9)) and fb.pixels[8192 + 80] == 0xFF
    assert m.memory.read_q(FB_MEM_PA + 8) == 0x0807060504030201
    assert fb.shown == bytes(FB_BYTES), "nothing is on the display before Present"
    m.memory.write_q(FB_PA + 8 * R_CMD, 1)
    assert reg(m, R_FRAMES) == 1 and fb.shown == bytes(fb.pixels)
    fb.store(0, b"\x09" * 4)
    assert fb.shown[:4] == bytes(4), "a write after Present waits for the next one"


def test_writes_out_of_bounds_are_refused_as_a_device_error() -> None:
    m = Machine(1 << 20)
    fb = m.attach_framebuffer()
    before = bytes(fb.pixels)
    assert not fb.store(FB_BYTES - 2, b"abc")
    assert not fb.store(-1, b"a")
    assert not fb.store(FB_BYTES + 1, b"")  # even an empty write, at an offset outside
    m.memory.write_q(FB_MEM_PA + FB_BYTES, 1)  # past the pixels, in the second page
    assert bytes(fb.pixels) == before
    assert reg(m, R_ERROR) == 1 and reg(m, R_REFUSED) == 4
    m.memory.write_q(FB_PA + 8 * R_ERROR, 0)
    assert reg(m, R_ERROR) == 0
    assert m.memory.read_q(FB_MEM_PA + FB_BYTES) == 0  # reads past the pixels see nothing
    assert fb.store(FB_BYTES - 3, b"abc") and fb.pixels[-3:] == b"abc"


def test_the_state_is_saved_hashed_and_loaded_when_attached() -> None:
    m = rich()
    fb = m.attach_framebuffer()
    fb.store(100, b"\x01\x02\x03")
    fb.present()
    fb.store(0, b"\x07")
    data = state.snapshot(m)
    back = state.restore(data)
    assert back.framebuffer is not None and back.state_hash() == m.state_hash() != RICH_HASH
    assert back.framebuffer.pixels == fb.pixels and back.framebuffer.shown == fb.shown
    assert back.framebuffer.frames == 1 and state.snapshot(back) == data
    h = header(data)
    base = back.state_hash()
    for field in ("pixels", "shown", "frames", "refused", "error"):  # every field is hashed
        other = json.loads(json.dumps(h))
        v = other["framebuffer"][field]
        other["framebuffer"][field] = v ^ 1 if isinstance(v, int) else zlib.compress(bytes([9]) * FB_BYTES).hex()
        assert state.restore(resealed(data, other)).state_hash() != base, field
    bad = json.loads(json.dumps(h))
    bad["framebuffer"]["shown"] = zlib.compress(b"short").hex()
    with pytest.raises(state.StateFileError, match="framebuffer.shown is 5 bytes"):
        state.restore(resealed(data, bad))
    with_fb = Machine(m.memory.size)
    with_fb.attach_framebuffer()
    with pytest.raises(Misfit, match="no framebuffer"):
        with_fb.load_state(rich().save_state())


def test_the_device_names_every_attribute_as_state_or_not() -> None:
    fb = Machine(1 << 20).attach_framebuffer()
    assert set(fb.save_state()) == set(fb.STATE_FIELDS)
    assert set(vars(fb)) == set(fb.STATE_FIELDS) | set(fb.NOT_STATE)
