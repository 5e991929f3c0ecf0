"""Guest frames as slices of one byte buffer.

Physical memory and the user-mode harness's pages keep their 8 KiB frames in
one arena: an anonymous mapping (zero pages cost nothing until touched) whose
frames Python sees as ``memoryview(...).cast("Q")`` slices of 1,024
quadwords, so the CPU's and the translator's ``p[(a & 8191) >> 3]`` work as
on lists. The native tier (docs/native-tier.md) maps the same bytes into a
wasm linear memory, so there is one representation whether it is on or not
and the state hash cannot depend on it. The first ``STATE`` bytes are kept
for the native tier's state page (registers, counters, its TB); frames
follow. Hosts are little-endian (x86_64, aarch64), as the wasm memory is: a
frame's bytes are its quadwords in guest order.
"""

from __future__ import annotations

import mmap
import struct
import sys
from typing import Any

from machine.alpha.constants import PAGE_SIZE

WORDS = PAGE_SIZE // 8
STATE = 64 << 10  # one wasm page for the native tier's state
WASM_PAGE = 64 << 10
_ZERO = bytes(PAGE_SIZE)
_FRAME = struct.Struct(f"<{WORDS}Q")
Frame = Any  # memoryview of 1,024 'Q' (or a device's register page)

if sys.byteorder != "little":  # pragma: no cover - every supported host is little-endian
    raise ImportError("SPIN Workbench needs a little-endian host: frames are guest memory byte for byte")


class ArenaFull(Exception):
    """No free frame is left in the arena."""


class Arena:
    """``nframes`` frames after the state area; frames by slot, created (and
    cached, so each has one identity) on first use; a free list for owners
    that give frames back."""

    def __init__(self, nframes: int) -> None:
        self.nframes = nframes
        size = STATE + nframes * PAGE_SIZE
        self.size = (size + WASM_PAGE - 1) // WASM_PAGE * WASM_PAGE
        self.buf = mmap.mmap(-1, self.size)
        self.q = memoryview(self.buf).cast("Q")
        self.views: dict[int, memoryview] = {}  # slot -> its frame
        self.slot_of: dict[int, int] = {}  # id(frame) -> slot
        self.free: list[int] = []
        self.next = 0
        self.shared: Any = None  # set by the native tier once it maps these bytes into wasm

    def offset(self, slot: int) -> int:
        """Byte offset of a slot's frame in the buffer."""
        return STATE + slot * PAGE_SIZE

    def frame(self, slot: int) -> memoryview:
        """The frame at ``slot`` (its contents as they are)."""
        v = self.views.get(slot)
        if v is None:
            w = (STATE >> 3) + slot * WORDS
            v = self.views[slot] = self.q[w : w + WORDS]
            self.slot_of[id(v)] = slot
        return v

    def alloc(self) -> memoryview:
        """A zero-filled frame from the free list or the next unused slot."""
        if self.free:
            slot = self.free.pop()
        elif self.next < self.nframes:
            slot = self.next
            self.next += 1
        else:
            raise ArenaFull(f"all {self.nframes} frames ({self.nframes * PAGE_SIZE >> 20} MiB) are in use")
        v = self.frame(slot)
        zero(v)
        return v

    def release(self, frame: memoryview) -> None:
        """Give a frame back. Its view is forgotten, so a frame made from the
        slot again is a new object: caches keyed by identity never confuse the two."""
        slot = self.slot_of.pop(id(frame))
        del self.views[slot]
        self.free.append(slot)


def zero(frame: Frame) -> None:
    frame.cast("B")[:] = _ZERO


def set_words(frame: Frame, words: Any) -> None:
    """Fill a frame from 1,024 quadwords (a list, tuple or another frame)."""
    if isinstance(words, memoryview):
        frame[:] = words
    else:
        frame.cast("B")[:] = _pack(words)


def set_bytes(frame: Frame, off: int, data: bytes | memoryview) -> None:
    frame.cast("B")[off : off + len(data)] = data


def as_bytes(frame: Frame) -> memoryview:
    """The frame's 8,192 bytes, little-endian quadwords (a view: copy before keeping)."""
    if isinstance(frame, memoryview):
        return frame.cast("B")
    return memoryview(_pack(frame))


def is_zero(frame: Frame) -> bool:
    return as_bytes(frame).tobytes() == _ZERO


def _pack(words: Any) -> bytes:
    return _FRAME.pack(*words)


__all__ = ["Arena", "ArenaFull", "Frame", "STATE", "WORDS", "as_bytes", "is_zero", "set_bytes", "set_words", "zero"]
