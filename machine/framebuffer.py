"""A small frame buffer: 128 x 96 pixels, 8 bits each (a palette index), and a Present register.

SOSP'95 §5.4's video client writes decompressed frames "directly to the
frame buffer"; this is the display it writes to (the DEC 3000's own was a
TURBOchannel card, far larger; this one is sized to the issue's movies and
to a terminal's half-block pixels). The palette is the video format's
(kernel/video/format.py): the device stores indices and knows no colours.

Pixel memory is memory-mapped: two pages of I/O space at ``FB_MEM_PA``, one
byte a pixel, row by row (12,288 bytes; the rest of the second page is not
memory). Registers (quadwords) on one page at ``FB_PA``:

    +0x00 WIDTH    read: 128
    +0x08 HEIGHT   read: 96
    +0x10 CMD      write 1: present -- what is in pixel memory becomes the frame shown
    +0x18 FRAMES   read: frames presented so far
    +0x20 ERROR    read: 1 if a write fell outside pixel memory (it was refused); write: clear
    +0x28 REFUSED  read: writes refused so far

Pixel memory is the back buffer and ``shown`` is what the display shows:
a frame half written is never on the screen, and the workbench's Video
pane draws ``shown``. This double buffering is a departure from the
paper, whose client wrote "directly to the frame buffer" -- the memory on
the screen: here the client's writes land in the back buffer and appear
at Present, so a frame whose chunks arrive over its 33 ms is shown whole
or not at all. A write outside pixel memory changes nothing and is
counted (a device error, never a host exception).

Its saved state is the geometry, both buffers and the counters; a machine
saves and hashes it only when one is attached (machine.py), so machines
without a frame buffer keep the state hashes they always had.
"""

from __future__ import annotations

import zlib
from typing import Any

from machine.console import MmioPage
from machine.fields import COUNT, Misfit, Part, hexbytes, inflate, integer, obj

FB_PA = 0x1_0000_6000  # the register page
FB_MEM_PA = 0x1_0001_0000  # pixel memory: two pages
FB_WIDTH, FB_HEIGHT = 128, 96
FB_BYTES = FB_WIDTH * FB_HEIGHT
FB_PAGES = 2
R_WIDTH, R_HEIGHT, R_CMD, R_FRAMES, R_ERROR, R_REFUSED = range(6)
CMD_PRESENT = 1
E_BOUNDS = 1
_PAGE = 8192


class FrameBuffer(Part):
    STATE_NAME = "framebuffer"
    STATE_FIELDS = ("width", "height", "pixels", "shown", "frames", "error", "refused")
    NOT_STATE = {"page": "the register window", "apertures": "the pixel memory's windows onto ``pixels``"}

    def __init__(self) -> None:
        self.width, self.height = FB_WIDTH, FB_HEIGHT
        self.pixels = bytearray(FB_BYTES)  # the back buffer: what writes change
        self.shown = bytes(FB_BYTES)  # the frame on the display: pixel memory at the last Present
        self.frames = 0
        self.error = 0
        self.refused = 0
        self.page = MmioPage(self._read, self._write)
        self.apertures = [self._aperture(p) for p in range(FB_PAGES)]

    # --- registers -----------------------------------------------------------------------

    def _read(self, index: int) -> int:
        regs = (self.width, self.height, 0, self.frames, self.error, self.refused)
        return regs[index] if 0 <= index < len(regs) else 0

    def _write(self, index: int, value: int) -> None:
        if index == R_CMD and value & 0xFF == CMD_PRESENT:
            self.present()
        elif index == R_ERROR:
            self.error = 0

    # --- pixel memory, as the CPU sees it (quadwords) --------------------------------------

    def _aperture(self, page: int) -> MmioPage:
        def load(index: int) -> int:
            return self._load(page, index)

        def store(index: int, value: int) -> None:
            self._store(page, index, value)

        return MmioPage(load, store)

    def _load(self, page: int, index: int) -> int:
        at = page * _PAGE + index * 8
        return int.from_bytes(self.pixels[at : at + 8], "little") if 0 <= index < _PAGE // 8 else 0

    def _store(self, page: int, index: int, value: int) -> None:
        self.store(page * _PAGE + index * 8, (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little"))

    # --- the host side (the kernel's driver, through sal) -----------------------------------

    def store(self, offset: int, data: bytes | bytearray | memoryview) -> bool:
        """Copy ``data`` into pixel memory at ``offset``: False (and the ERROR
        register set, the refusal counted) if any of it falls outside."""
        n = len(data)
        if type(offset) is not int or not 0 <= offset <= offset + n <= FB_BYTES:
            self.error = E_BOUNDS
            self.refused += 1
            return False
        self.pixels[offset : offset + n] = data
        return True

    def present(self) -> None:
        """Show what pixel memory holds (a page flip)."""
        self.shown = bytes(self.pixels)
        self.frames += 1

    # --- saved state -------------------------------------------------------------------------

    def save_state(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "pixels": zlib.compress(bytes(self.pixels), 6).hex(),
                "shown": zlib.compress(self.shown, 6).hex(), "frames": self.frames, "error": self.error,
                "refused": self.refused}  # fmt: skip

    def check_state(self, saved: object) -> dict[str, Any]:
        s = obj(saved, "framebuffer", self.STATE_FIELDS)
        integer(s["width"], "framebuffer.width", (FB_WIDTH, FB_WIDTH))
        integer(s["height"], "framebuffer.height", (FB_HEIGHT, FB_HEIGHT))
        out = dict(s)
        for name in ("pixels", "shown"):
            data = inflate(hexbytes(s[name], f"framebuffer.{name}"), FB_BYTES, f"framebuffer.{name}")
            if len(data) != FB_BYTES:
                raise Misfit(f"framebuffer.{name} is {len(data)} bytes; the display has {FB_BYTES} pixels")
            out[name] = data
        integer(s["frames"], "framebuffer.frames", COUNT)
        integer(s["error"], "framebuffer.error", (0, E_BOUNDS))
        integer(s["refused"], "framebuffer.refused", COUNT)
        return out

    def apply_state(self, checked: dict[str, Any]) -> None:
        self.pixels = bytearray(checked["pixels"])
        self.shown = bytes(checked["shown"])
        self.frames, self.error, self.refused = checked["frames"], checked["error"], checked["refused"]
