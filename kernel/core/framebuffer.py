"""The frame buffer's driver, and FrameBuffer as an extension sees it.

SOSP'95 §5.4 (Figure 5): the video client is an extension that takes
packets off the network and writes the decompressed frames "directly to
the frame buffer" -- no process, no crossing, no copy to user space. This
module is the kernel's side of that path: the driver speaks to the device
through sal (machine/framebuffer.py's registers and pixel memory) and
exports ``FrameBuffer`` to extensions when the machine has one:

    FrameBuffer.Size() -> (width, height)
    FrameBuffer.Write(offset, data) -> len(data)   pixels, one byte each, row by row
    FrameBuffer.Frames() -> int                     frames presented so far
    FrameBuffer.Present()                           show what was written (a page flip)

Write is bounds-checked and raises SpinError naming the extension rather
than touch anything outside pixel memory. Costs are modeled
(kernel/core/costs.py: FB_WRITE, FB_COPY_PER_8, FB_PRESENT).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.sys.errors import SpinError
from kernel.sys.interface import Interface
from kernel.sys.sandbox import shown

if TYPE_CHECKING:
    from kernel.kernel import Kernel

NAME = "FrameBuffer"


class FrameBufferDriver:
    """The kernel's handle on the frame buffer: checked writes, presents, counters."""

    def __init__(self, k: Kernel) -> None:
        if not k.sal.has_framebuffer():
            raise ValueError("a frame-buffer driver needs a frame buffer (machine.attach_framebuffer)")
        self.sal = k.sal
        self.width, self.height = k.sal.fb_size()
        self.size = self.width * self.height
        self.writes = 0
        self.bytes = 0

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> bool:
        """Copy ``data`` into pixel memory at ``offset``; False (nothing
        written, nothing charged but the check) if it does not fit."""
        n = len(data)
        if not 0 <= offset <= offset + n <= self.size:
            self.sal.charge(costs.FB_WRITE)
            return False
        self.sal.charge(costs.FB_WRITE + costs.FB_COPY_PER_8 * ((n + 7) // 8))
        ok = self.sal.fb_write(offset, data)
        if ok:
            self.writes += 1
            self.bytes += n
        return ok

    def present(self) -> None:
        self.sal.charge(costs.FB_PRESENT)
        self.sal.fb_present()

    def frames(self) -> int:
        return self.sal.fb_frames()


class ExtensionFrameBuffer:
    """FrameBuffer for one extension: every call checks its arguments."""

    __name__ = NAME

    def __init__(self, driver: FrameBufferDriver, ext: Any) -> None:
        self._driver = driver
        self._ext = ext

    def Size(self) -> tuple[int, int]:  # noqa: N802 - SPIN's names
        return self._driver.width, self._driver.height

    def Write(self, offset: Any, data: Any) -> int:  # noqa: N802
        d = self._driver
        if type(offset) is not int or not isinstance(data, (bytes, bytearray, memoryview)):
            raise SpinError(f"{self._ext.name}: FrameBuffer.Write(offset, data) takes a pixel offset (an int) and "
                            f"bytes, not {shown(offset)}, {type(data).__name__}")  # fmt: skip
        if not d.write(offset, data):
            raise SpinError(f"{self._ext.name}: FrameBuffer.Write: {len(data)} bytes at offset {offset} do not fit "
                            f"the {d.width}x{d.height} frame buffer (offsets 0..{d.size})")  # fmt: skip
        return len(data)

    def Frames(self) -> int:  # noqa: N802
        return self._driver.frames()

    def Present(self) -> None:  # noqa: N802
        self._driver.present()


def attach(k: Kernel) -> FrameBufferDriver:
    """Start the driver on a booted kernel whose machine has a frame buffer
    and export FrameBuffer to extensions (SpinPublic)."""
    driver = FrameBufferDriver(k)
    k.ifaces[NAME] = Interface(NAME, "the frame buffer: pixels written by extensions, presented as frames",
                               Size=lambda: (driver.width, driver.height), Write=driver.write,
                               Frames=driver.frames, Present=driver.present)  # fmt: skip
    k.system.public.exports[NAME] = lambda ext: ExtensionFrameBuffer(driver, ext)
    return driver
