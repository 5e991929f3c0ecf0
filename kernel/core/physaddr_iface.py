"""PhysAddr as extensions see it: frames as capabilities, never as objects.

A ``Frame`` is the kernel's own record (its number, its state, who maps
it); handing one to an extension would let it rewrite the frame number and
free another process's page table. So an extension's ``Allocate`` returns a
handle (kernel/sys/capability.py) it can only pass back, ``Deallocate``
takes back only handles it was issued, and the ``Reclaim`` event shows its
handlers a read-only ``FrameView`` (SOSP'95 §3.2: capabilities are
unforgeable references; §4.1: PhysAddr.T is an opaque type).

An extension's frames are never the kernel's reclaim candidates, but a
Reclaim handler may *volunteer* one by returning its handle (§4.1: "an
alternative page, which may be of less importance than the candidate"):
the kernel then takes that frame and revokes the handle, so the extension
can no longer reach the frame's next owner.
"""

from __future__ import annotations

from typing import Any

from kernel.core.physaddr import Frame, PhysAddr
from kernel.params import FRAMES_PER_EXTENSION
from kernel.sys import capability
from kernel.sys.errors import SpinError

EXTENSION_ATTRS = ("zeroed",)  # never "reclaimable" (the kernel would free it under the handle) or "pinned"


class FrameView:
    """A frame as a Reclaim handler sees it: what it is, not how to change it."""

    __slots__ = ("_f",)
    _f: Frame

    def __init__(self, f: Frame) -> None:
        object.__setattr__(self, "_f", f)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("frames are the kernel's: a view cannot be written")

    pfn = property(lambda self: self._f.pfn)
    tag = property(lambda self: self._f.tag)
    state = property(lambda self: self._f.state)

    def __repr__(self) -> str:
        return f"<frame {self._f.pfn:#x} {self._f.tag}>"


def frame_of(x: Any) -> Any:
    """What a Reclaim handler nominated, back in the kernel's terms."""
    if isinstance(x, FrameView):  # a view only nominates a reclaim candidate: a volunteer comes as its handle
        f = object.__getattribute__(x, "_f")
        return f if f.reclaimable else None  # a view kept from an old Reclaim may name another's frame by now
    if isinstance(x, capability.Handle):
        try:
            return capability.unwrap(x, "frame")
        except SpinError:
            return None
    return x


class ExtensionPhysAddr:
    """One extension's PhysAddr: what it allocated, as handles, within its share."""

    __name__ = "PhysAddr"

    def __init__(self, phys: PhysAddr, ext: Any) -> None:
        self._phys = phys
        self._ext = ext
        self._held: dict[int, capability.Handle] = {}
        ext.releases.append(self._release_all)

    def Allocate(self, tag: str = "", attrs: tuple[str, ...] = ()) -> capability.Handle:  # noqa: N802 - SPIN's name
        if not isinstance(tag, str) or len(tag) > 64:
            raise SpinError(f"{self._ext.name}: PhysAddr.Allocate: the tag is a short string")
        if not isinstance(attrs, tuple) or not all(a in EXTENSION_ATTRS for a in attrs):
            raise SpinError(f"{self._ext.name}: PhysAddr.Allocate: attrs may name only {', '.join(EXTENSION_ATTRS)} "
                            f"(a reclaimable frame could be reclaimed under a handle still held)")  # fmt: skip
        if len(self._held) >= FRAMES_PER_EXTENSION:
            raise SpinError(f"{self._ext.name}: PhysAddr.Allocate: an extension may hold at most "
                            f"{FRAMES_PER_EXTENSION} frames; deallocate some first")  # fmt: skip
        f = self._phys.Allocate(f"{self._ext.name}: {tag}" if tag else self._ext.name, attrs)
        try:
            h = capability.wrap(f, "frame")
            self._held[id(h)] = h
            f.volunteer = True
            f.on_reclaim = lambda fr, h=h: self._given_up(h)
        except BaseException:  # even a RecursionError here must not leak the frame
            self._phys.Deallocate(f)
            raise
        return h

    def Deallocate(self, handle: Any) -> None:  # noqa: N802
        f = capability.unwrap(handle, "frame", "PhysAddr.Deallocate")
        if id(handle) not in self._held:
            raise SpinError(f"{self._ext.name}: PhysAddr.Deallocate: this frame was not allocated by you")
        del self._held[id(handle)]
        capability.revoke(handle)
        if f.state != "free" and f.tag.startswith(self._ext.name):  # still the frame issued: never another's
            self._phys.Deallocate(f)

    def _given_up(self, h: capability.Handle) -> None:
        """The kernel took a frame the extension volunteered: the handle dies with it."""
        self._held.pop(id(h), None)
        capability.revoke(h)

    def Number(self, handle: Any) -> int:  # noqa: N802
        """The frame's number, to show or log (it grants nothing)."""
        return capability.unwrap(handle, "frame", "PhysAddr.Number").pfn

    def _release_all(self) -> None:
        for h in list(self._held.values()):
            f = capability.unwrap(h, "frame")
            capability.revoke(h)
            if f.state != "free" and f.tag.startswith(self._ext.name):
                self._phys.Deallocate(f)
        self._held.clear()
