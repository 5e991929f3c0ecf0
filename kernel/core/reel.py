"""Reel: a bounded frame queue from the video reader to the video sender.

SOSP'95 §5.4's server is three extensions; in SPIN the reader would
export an interface the sender links against. This workbench's
extensions import only the kernel's interfaces (``from spin import``),
so the kernel lends them this one: per stream, a queue of at most
REEL_FRAMES frames (each up to REEL_FRAME_BYTES) -- the reader's read
ahead, bounded, so the reader stops reading while the sender is behind.
Frames are held by reference, not copied (they are immutable bytes).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from kernel.sys.errors import SpinError
from kernel.sys.sandbox import shown

if TYPE_CHECKING:
    from kernel.kernel import Kernel

REEL_STREAMS = 16
REEL_FRAMES = 8
REEL_FRAME_BYTES = 64 * 1024


class Reel:
    __name__ = "Reel"

    def __init__(self) -> None:
        self.streams: dict[int, deque[tuple[int, bytes]]] = {}
        self.put = self.taken = 0

    def _queue(self, stream: Any, what: str) -> deque[tuple[int, bytes]]:
        if type(stream) is not int or not 0 <= stream < 1 << 32:
            raise SpinError(f"Reel.{what}: a stream id is a whole number below 2**32, not {shown(stream)}")
        q = self.streams.get(stream)
        if q is None:
            if len(self.streams) >= REEL_STREAMS:
                raise SpinError(f"Reel.{what}: at most {REEL_STREAMS} streams")
            q = self.streams[stream] = deque()
        return q

    def Put(self, stream: Any, number: Any, frame: Any) -> bool:  # noqa: N802 - SPIN's names
        """Queue frame ``number`` of ``stream``; False if the queue is full (read it again later)."""
        q = self._queue(stream, "Put")
        if type(number) is not int or number < 0 or not isinstance(frame, bytes) or len(frame) > REEL_FRAME_BYTES:
            raise SpinError(f"Reel.Put(stream, number, frame): a frame number and at most {REEL_FRAME_BYTES:,} "
                            f"bytes, not {shown(number)}, {shown(frame)}")  # fmt: skip
        if len(q) >= REEL_FRAMES:
            return False
        q.append((number, frame))
        self.put += 1
        return True

    def Take(self, stream: Any) -> tuple[int, bytes] | None:  # noqa: N802
        """The oldest queued (number, frame) of ``stream``, or None."""
        q = self._queue(stream, "Take")
        if not q:
            return None
        self.taken += 1
        return q.popleft()

    def Room(self, stream: Any) -> int:  # noqa: N802
        """How many more frames ``stream``'s queue takes."""
        return REEL_FRAMES - len(self._queue(stream, "Room"))


def install_reel(k: Kernel) -> Reel:
    """Offer Reel to extensions (once per kernel)."""
    r = getattr(k, "_reel", None)
    if isinstance(r, Reel):
        return r
    r = Reel()
    k._reel = r  # type: ignore[attr-defined]
    k.system.public.exports["Reel"] = r
    return r
