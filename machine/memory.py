"""Physical memory of the emulated workstation.

Memory is a set of 8 KiB frames, each 1,024 unsigned 64-bit little-endian
quadwords (the CPU's page format, see machine/alpha/cpu.py): slices of one
arena (machine/arena.py), frame n at slot n, so the native tier can see
them too. The arena is an anonymous mapping, so a 64 MiB machine costs only
the frames it touches. Device DMA and the loader use the byte-level helpers.

Its saved state is the frames that are not all zeros, each as its number
and its words (``save_frames``); the state digest is of the same bytes.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from machine.alpha.constants import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE
from machine.arena import Arena, Frame, as_bytes, is_zero, set_bytes, zero
from machine.fields import Misfit

WORDS = PAGE_SIZE // 8
DEFAULT_SIZE = 64 << 20  # the DEC 3000/400's 64 MiB
_SAVED = struct.Struct(f"<Q{WORDS}Q")  # a saved frame: its number, then its words
_PFN = struct.Struct("<Q")


class BusError(Exception):
    """An access to a physical address with no memory behind it."""

    def __init__(self, pa: int) -> None:
        super().__init__(f"no memory at physical address {pa:#x}")
        self.pa = pa


class PhysicalMemory:
    NOT_STATE = {"size": "the machine's memory_size, saved and hashed by the machine", "nframes": "follows from size",
                 "io": "the devices' register windows", "on_write": "a link to the machine",
                 "arena": "the bytes behind frames",
                 "frames": "saved by save_frames, hashed by state_digest"}  # fmt: skip

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size <= 0 or size & PAGE_MASK:
            raise ValueError(f"memory size {size} is not a positive multiple of {PAGE_SIZE}")
        self.size = size
        self.nframes = size >> PAGE_SHIFT
        self.arena = Arena(self.nframes)
        self.frames: dict[int, Frame] = {}  # the frames touched so far
        self.io: dict[int, Any] = {}  # pfn -> a device's register page (machine.console.MmioPage)
        # Told of every write made through this object (DMA, loaders, a Python
        # kernel), not of CPU stores: (frame, physical address, length).
        self.on_write: Callable[[Frame, int, int], None] | None = None

    def frame(self, pfn: int) -> Frame:
        """The frame's quadwords (or a device's register page); BusError
        where nothing answers."""
        f = self.frames.get(pfn)
        if f is None:
            if not 0 <= pfn < self.nframes:
                dev = self.io.get(pfn)
                if dev is not None:
                    return dev
                raise BusError(pfn << PAGE_SHIFT)
            f = self.frames[pfn] = self.arena.frame(pfn)
        return f

    def read_q(self, pa: int) -> int:
        """An aligned quadword (page-table walks use this)."""
        return self.frame(pa >> PAGE_SHIFT)[(pa & PAGE_MASK) >> 3]

    def write_q(self, pa: int, value: int) -> None:
        f = self.frame(pa >> PAGE_SHIFT)
        f[(pa & PAGE_MASK) >> 3] = value & 0xFFFF_FFFF_FFFF_FFFF
        if self.on_write is not None:
            self.on_write(f, pa, 8)

    def read(self, pa: int, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            a = pa + len(out)
            off = a & PAGE_MASK
            k = min(PAGE_SIZE - off, n - len(out))
            out += as_bytes(self.frame(a >> PAGE_SHIFT))[off : off + k]
        return bytes(out)

    def write(self, pa: int, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            a = pa + pos
            f = self.frame(a >> PAGE_SHIFT)
            off = a & PAGE_MASK
            k = min(PAGE_SIZE - off, len(data) - pos)
            set_bytes(f, off, data[pos : pos + k])
            if self.on_write is not None:
                self.on_write(f, a, k)
            pos += k

    # --- saved state ---------------------------------------------------------------

    def _saved(self) -> Iterator[bytes]:
        for pfn in sorted(self.frames):
            frame = self.frames[pfn]
            if not is_zero(frame):
                yield _PFN.pack(pfn) + as_bytes(frame).tobytes()

    def state_digest(self) -> bytes:
        h = hashlib.sha256()
        for b in self._saved():
            h.update(b)
        return h.digest()

    def save_frames(self) -> bytes:
        """The frames in use, zlib-compressed."""
        return zlib.compress(b"".join(self._saved()), 6)

    def load_frames(self, packed: bytes) -> None:
        """Install saved frames; every other frame reads zero again. The
        image is inflated a frame at a time, each checked to be in this
        memory before the next is inflated (no zip bombs), and nothing
        changes unless all of it fits. Frames are changed in place: the CPU's
        watchpoints know them by identity."""
        loaded: dict[int, bytes] = {}
        d = zlib.decompressobj()
        pending, buf, count = packed, b"", 0
        while True:
            before = len(pending)
            try:
                got = d.decompress(pending, _SAVED.size - len(buf))
            except zlib.error as e:
                raise Misfit(f"the memory image is not zlib data ({e})") from None
            pending, buf = d.unconsumed_tail, buf + got
            if len(buf) == _SAVED.size:
                count += 1
                if count > self.nframes:
                    raise Misfit(f"the memory image holds more frames than the machine's {self.nframes}")
                (pfn,) = _PFN.unpack_from(buf)
                if not 0 <= pfn < self.nframes:
                    raise BusError(pfn << PAGE_SHIFT)
                loaded[pfn] = buf[_PFN.size :]
                buf = b""
            elif d.eof:
                if buf:
                    raise Misfit("the memory image is not whole frames")
                break
            elif not pending or (not got and len(pending) == before):
                raise Misfit("the memory image is cut short")
        for pfn, frame in self.frames.items():
            if pfn not in loaded:
                zero(frame)
        for pfn, saved in loaded.items():
            set_bytes(self.frame(pfn), 0, saved)
