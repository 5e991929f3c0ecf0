"""Physical memory of the emulated workstation.

Memory is a set of 8 KiB frames, each a list of 1,024 unsigned 64-bit
little-endian quadwords (the CPU's page format, see machine/alpha/cpu.py),
created zero-filled on first touch so a 64 MiB machine costs only what it
uses. Device DMA and the loader use the byte-level helpers.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from machine.alpha.constants import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE

WORDS = PAGE_SIZE // 8
DEFAULT_SIZE = 64 << 20  # the DEC 3000/400's 64 MiB
_FRAME = struct.Struct(f"<{WORDS}Q")


class BusError(Exception):
    """An access to a physical address with no memory behind it."""

    def __init__(self, pa: int) -> None:
        super().__init__(f"no memory at physical address {pa:#x}")
        self.pa = pa


class PhysicalMemory:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size <= 0 or size & PAGE_MASK:
            raise ValueError(f"memory size {size} is not a positive multiple of {PAGE_SIZE}")
        self.size = size
        self.nframes = size >> PAGE_SHIFT
        self.frames: dict[int, list[int]] = {}
        self.io: dict[int, Any] = {}  # pfn -> a device's register page (machine.console.MmioPage)
        # Told of every write made through this object (DMA, loaders, a Python
        # kernel), not of CPU stores: (frame, physical address, length).
        self.on_write: Callable[[list[int], int, int], None] | None = None

    def frame(self, pfn: int) -> list[int]:
        """The frame's quadwords (or a device's register page); BusError
        where nothing answers."""
        f = self.frames.get(pfn)
        if f is None:
            if not 0 <= pfn < self.nframes:
                dev = self.io.get(pfn)
                if dev is not None:
                    return dev
                raise BusError(pfn << PAGE_SHIFT)
            f = self.frames[pfn] = [0] * WORDS
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
            out += _FRAME.pack(*self.frame(a >> PAGE_SHIFT))[off : off + k]
        return bytes(out)

    def write(self, pa: int, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            a = pa + pos
            f = self.frame(a >> PAGE_SHIFT)
            off = a & PAGE_MASK
            k = min(PAGE_SIZE - off, len(data) - pos)
            raw = bytearray(_FRAME.pack(*f))
            raw[off : off + k] = data[pos : pos + k]
            f[:] = _FRAME.unpack(raw)
            if self.on_write is not None:
                self.on_write(f, a, k)
            pos += k
