"""Reel: a bounded frame queue from the video reader to the video sender.

SOSP'95 §5.4's server is three extensions; in SPIN the reader would
export an interface the sender links against. This workbench's
extensions import only the kernel's interfaces (``from spin import``),
so the kernel lends them this one: per stream, a queue of at most
REEL_FRAMES frames (each up to REEL_FRAME_BYTES; the bounds are in
kernel/params.py) -- the reader's read ahead, bounded, so the reader
stops reading while the sender is behind.
Frames are held by reference, not copied (they are immutable bytes).

A reel belongs to the extension that created it -- ``Reel.Create(stream,
names)``, or its first Put, Take or Room -- and only it and the extensions
it names may Put, Take or look at it: SPIN's reader would have exported
its interface to the sender's domain alone (SOSP'95 §3.1), not to
everyone. A reel made by an extension loaded by root or the kernel (one
holding the raise right) is out of reach of a user's extension even if
the creator names one, so a user cannot load an extension under the
sender's name and take the stream. A user's extension owns at most
REEL_STREAMS_USER reels (REEL_STREAMS in all), and an extension's reels
go when it is unloaded.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from kernel.params import REEL_FRAME_BYTES, REEL_FRAMES, REEL_NAMES, REEL_STREAMS, REEL_STREAMS_USER
from kernel.sys import authority
from kernel.sys.errors import SpinError
from kernel.sys.sandbox import shown

if TYPE_CHECKING:
    from kernel.kernel import Kernel


class _Stream:
    __slots__ = ("owner", "names", "q")

    def __init__(self, owner: Any, names: frozenset[str]) -> None:
        self.owner = owner
        self.names = names
        self.q: deque[tuple[int, bytes]] = deque()


class Reel:
    """The kernel side: every stream, its owner and who it named."""

    def __init__(self) -> None:
        self.streams: dict[int, _Stream] = {}
        self.put = self.taken = 0
        self.refused = 0  # calls on a reel by an extension that neither made it nor was named

    def _check_id(self, ext: Any, stream: Any, what: str) -> int:
        if type(stream) is not int or not 0 <= stream < 1 << 32:
            raise SpinError(f"{ext.name}: Reel.{what}: a stream id is a whole number below 2**32, not {shown(stream)}")
        return stream

    def _new(self, ext: Any, stream: int, names: frozenset[str], what: str) -> _Stream:
        if len(self.streams) >= REEL_STREAMS:
            raise SpinError(f"{ext.name}: Reel.{what}: at most {REEL_STREAMS} streams")
        if authority.RAISE not in ext.rights:
            mine = sum(1 for s in self.streams.values() if s.owner is ext)
            if mine >= REEL_STREAMS_USER:
                raise SpinError(f"{ext.name}: Reel.{what}: a user's extension owns at most {REEL_STREAMS_USER} reels")
        if not ext.loaded:
            raise SpinError(f"{ext.name}: unloaded; it can make no reel")
        if not any(s.owner is ext for s in self.streams.values()):  # its first: give them back on unload
            ext.releases.append(lambda: self._release(ext))
        s = self.streams[stream] = _Stream(ext, names)
        return s

    def _release(self, ext: Any) -> None:
        """The owner was unloaded: its reels, and the frames in them, go."""
        for sid in [sid for sid, s in self.streams.items() if s.owner is ext]:
            del self.streams[sid]

    def _may(self, s: _Stream, ext: Any) -> bool:
        if s.owner is ext:
            return True
        if ext.name not in s.names:
            return False
        return authority.RAISE not in s.owner.rights or authority.RAISE in ext.rights

    def _queue(self, ext: Any, stream: Any, what: str) -> deque[tuple[int, bytes]]:
        sid = self._check_id(ext, stream, what)
        s = self.streams.get(sid)
        if s is None:
            return self._new(ext, sid, frozenset(), what).q
        if not self._may(s, ext):
            self.refused += 1
            raise SpinError(f"{ext.name}: Reel.{what}: stream {sid} is {s.owner.name}'s reel, and {s.owner.name} "
                            f"did not name {ext.name} (Reel.Create(stream, names) names who may use it)")  # fmt: skip
        return s.q

    def create(self, ext: Any, stream: Any, names: Any) -> None:
        sid = self._check_id(ext, stream, "Create")
        ok = isinstance(names, (tuple, list)) and len(names) <= REEL_NAMES and all(isinstance(n, str) for n in names)
        if not ok:
            raise SpinError(f"{ext.name}: Reel.Create(stream, names): names is a list of at most {REEL_NAMES} "
                            f"extension names, not {shown(names)}")  # fmt: skip
        s = self.streams.get(sid)
        if s is None:
            self._new(ext, sid, frozenset(names), "Create")
        elif s.owner is ext:
            s.names = frozenset(names)
        else:
            self.refused += 1
            raise SpinError(f"{ext.name}: Reel.Create: stream {sid} is {s.owner.name}'s reel already")

    def put_frame(self, ext: Any, stream: Any, number: Any, frame: Any) -> bool:
        q = self._queue(ext, stream, "Put")
        if type(number) is not int or number < 0 or not isinstance(frame, bytes) or len(frame) > REEL_FRAME_BYTES:
            raise SpinError(f"{ext.name}: Reel.Put(stream, number, frame): a frame number and at most "
                            f"{REEL_FRAME_BYTES:,} bytes, not {shown(number)}, {shown(frame)}")  # fmt: skip
        if len(q) >= REEL_FRAMES:
            return False
        q.append((number, frame))
        self.put += 1
        return True

    def take(self, ext: Any, stream: Any) -> tuple[int, bytes] | None:
        q = self._queue(ext, stream, "Take")
        if not q:
            return None
        self.taken += 1
        return q.popleft()

    def room(self, ext: Any, stream: Any) -> int:
        return REEL_FRAMES - len(self._queue(ext, stream, "Room"))


class _ExtensionReel:
    """Reel as one extension sees it."""

    __name__ = "Reel"

    def __init__(self, reel: Reel, ext: Any) -> None:
        self._reel = reel
        self._ext = ext

    def Create(self, stream: Any, names: Any = ()) -> None:  # noqa: N802 - SPIN's names
        """Make ``stream``'s reel, this extension's, usable also by the extensions ``names`` lists."""
        self._reel.create(self._ext, stream, names)

    def Put(self, stream: Any, number: Any, frame: Any) -> bool:  # noqa: N802
        """Queue frame ``number`` of ``stream``; False if the queue is full (read it again later)."""
        return self._reel.put_frame(self._ext, stream, number, frame)

    def Take(self, stream: Any) -> tuple[int, bytes] | None:  # noqa: N802
        """The oldest queued (number, frame) of ``stream``, or None."""
        return self._reel.take(self._ext, stream)

    def Room(self, stream: Any) -> int:  # noqa: N802
        """How many more frames ``stream``'s queue takes."""
        return self._reel.room(self._ext, stream)


def install_reel(k: Kernel) -> Reel:
    """Offer Reel to extensions (once per kernel)."""
    if k.reel is not None:
        return k.reel
    r = k.reel = Reel()
    k.system.public.exports["Reel"] = lambda ext: _ExtensionReel(r, ext)
    return r
