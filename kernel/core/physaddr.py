"""PhysAddr: physical frames as kernel objects (SOSP'95 §4.1, Fig. 3;
spin-reference.md §4).

``Allocate(tag, attrs)`` hands out a frame; ``Deallocate`` returns it (and is
idempotent, as in 33.1). When no frame is free the service picks the oldest
frame allocated with the ``reclaimable`` attribute (FIFO, as SPIN's
reclamation was) and raises ``PhysAddr.Reclaim(candidate)``: a handler may
*nominate* another reclaimable frame instead, or *volunteer* a frame of
its own that it can spare (SOSP'95 §4.1: "the handler for this event [may]
volunteer an alternative page, which may be of less importance than the
candidate page"; an extension's frames are volunteers, its handle to the
frame is revoked when it is taken: kernel/core/physaddr_iface.py). The
frame's owner is told through its ``on_reclaim`` callback and the frame is
reused; each reclaim leaves a ``Reclaimed`` trace record saying which frame
was asked for and which was taken. With nothing
to reclaim, Allocate raises OutOfFrames; a kernel path taking a frame on a
process's behalf turns that into an errno or kills the process that asked
(kernel/unix/personality.py), never into a kernel crash.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kernel.core import costs
from kernel.core.sal import Sal
from kernel.sys.errors import SpinError
from kernel.sys.interface import Interface
from kernel.sys.trace import Record, Trace

FREE, ACTIVE, PINNED = "free", "active", "pinned"
ATTRS = ("pinned", "reclaimable", "zeroed")


@dataclass(frozen=True, slots=True)
class Reclaimed(Record):
    """One reclaim: the frame PhysAddr asked for (the oldest reclaimable, FIFO),
    the frame it took, and whether a Reclaim handler volunteered that one."""

    cycle: int = 0
    candidate: str = ""  # "0x5f cache data#0": its number and tag
    taken: str = ""
    volunteered: bool = False
    kind = "reclaimed"


class OutOfFrames(SpinError):
    """No free frame, and nothing the Reclaim event could give up."""


class Frame:
    """A PhysAddr.T: one 8 KiB frame with a tag naming its user."""

    __slots__ = ("pfn", "tag", "state", "reclaimable", "on_reclaim", "refs", "volunteer")

    def __init__(self, pfn: int) -> None:
        self.pfn = pfn
        self.tag = ""
        self.state = FREE
        self.reclaimable = False
        self.on_reclaim: Callable[[Frame], object] | None = None
        self.refs = 0  # address spaces mapping it (copy-on-write sharing)
        self.volunteer = False  # its holder may give it up in answer to Reclaim (an extension's frame)

    def __repr__(self) -> str:
        return f"<frame {self.pfn:#x} {self.tag} {self.state}>"


class PhysAddrInterface(Interface):
    """The PhysAddr interface: its procedures, and the ``Reclaim`` event's
    slot (its intrinsic handler until boot makes it an event)."""

    Allocate: Callable[..., Frame]
    Deallocate: Callable[[Frame], None]
    Reclaim: Callable[[Any], Any]


def _same(x: Any) -> Any:
    return x


class PhysAddr:
    """The frames from ``first`` to the end of memory. Reclaim handlers get
    ``view(candidate)`` and nominate something ``nominee`` turns back into
    a Frame (boot passes kernel/core/physaddr_iface.py's FrameView and frame_of)."""

    def __init__(self, sal: Sal, first: int, last: int, view: Callable[[Frame], Any] = _same,
                 nominee: Callable[[Any], Any] = _same, trace: Trace | None = None) -> None:  # fmt: skip
        self.sal = sal
        self.frames = {pfn: Frame(pfn) for pfn in range(first, last)}
        self.free = list(range(last - 1, first - 1, -1))  # pop() gives the lowest frame first
        self.reclaimable: OrderedDict[int, Frame] = OrderedDict()  # FIFO of reclaim candidates
        self.reclaims = 0
        self.volunteered = 0  # reclaims that took a volunteered frame instead of the candidate
        self.trace = trace
        self._view, self._nominee = view, nominee
        self.iface = PhysAddrInterface("PhysAddr", "physical frames", Allocate=self.Allocate,
                                       Deallocate=self.Deallocate, Reclaim=self._reclaim_intrinsic)  # fmt: skip

    @staticmethod
    def _reclaim_intrinsic(candidate: Any) -> Any:
        return candidate

    def Allocate(self, tag: str = "", attrs: tuple[str, ...] = ()) -> Frame:  # noqa: N802 - SPIN's name
        for a in attrs:
            if a not in ATTRS:
                raise SpinError(f"PhysAddr.Allocate: unknown attribute {a!r} (use {', '.join(ATTRS)})")
        if not self.free:
            self._reclaim()
        f = self.frames[self.free.pop()]
        f.tag = tag
        f.state = PINNED if "pinned" in attrs else ACTIVE
        f.reclaimable = "reclaimable" in attrs
        f.refs = 0
        f.volunteer = False
        if f.reclaimable:
            self.reclaimable[f.pfn] = f
        self.sal.charge(costs.FRAME_ALLOC)
        if "zeroed" in attrs:
            self.sal.zero_frame(f.pfn)
            self.sal.charge(costs.PAGE_ZERO)
        return f

    def make_reclaimable(self, f: Frame) -> None:
        """Offer a frame to Reclaim from now on (a cache frame, once the
        device has finished filling it: reclaimed mid-transfer, the device
        would write into its next owner's page)."""
        if f.state != FREE and not f.reclaimable:
            f.reclaimable = True
            self.reclaimable[f.pfn] = f

    def keep(self, f: Frame) -> None:
        """Take a frame off the reclaim list again (a cache chunk that now
        holds data the disk does not: dirty, or mapped into a process)."""
        if f.reclaimable:
            f.reclaimable = False
            self.reclaimable.pop(f.pfn, None)

    def alloc_zeroed_pfn(self, tag: str) -> int:
        """A zeroed, pinned frame's number (page tables, kernel stacks)."""
        return self.Allocate(tag, ("pinned", "zeroed")).pfn

    def Deallocate(self, f: Frame) -> None:  # noqa: N802
        if f.state == FREE:
            return
        f.state = FREE
        f.tag = ""
        f.on_reclaim = None
        self.reclaimable.pop(f.pfn, None)
        self.free.append(f.pfn)

    def _reclaim(self) -> None:
        if not self.reclaimable:
            raise OutOfFrames("out of physical memory: no free frame and none reclaimable")
        candidate = next(iter(self.reclaimable.values()))
        chosen = self._nominee(self.iface.Reclaim(self._view(candidate)))
        volunteered = isinstance(chosen, Frame) and chosen.volunteer and chosen.state == ACTIVE
        if not isinstance(chosen, Frame) or not (chosen.pfn in self.reclaimable or volunteered):
            chosen = candidate  # a nomination must be a reclaimable frame or a volunteer
            volunteered = False
        self.reclaims += 1
        self.volunteered += volunteered
        if self.trace is not None:
            self.trace.add(Reclaimed(cycle=self.sal.now, candidate=f"{candidate.pfn:#x} {candidate.tag}",
                                     taken=f"{chosen.pfn:#x} {chosen.tag}", volunteered=volunteered))  # fmt: skip
        if chosen.on_reclaim is not None:
            chosen.on_reclaim(chosen)
        self.Deallocate(chosen)

    @property
    def nfree(self) -> int:
        return len(self.free)

    def in_use(self) -> int:
        return len(self.frames) - len(self.free)
