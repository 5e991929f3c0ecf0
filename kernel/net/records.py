"""The network's trace records: a packet's arrival or departure, its
copies and its drop. Each carries the packet's id; the Dispatch records
of the events it passed carry the same id as ``subject``.

A frame's one-line summary is worked out when someone reads it (the
Packets pane, a test), not on the packet's way through the stack: the
record keeps a reference to the frame, which is immutable.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernel.net.packet import describe
from kernel.sys.trace import Record


@dataclass(frozen=True, slots=True)
class PacketFrame(Record):
    cycle: int = 0
    packet: int = 0
    frame: bytes = b""
    kind = "packet"

    @property
    def summary(self) -> str:
        return describe(self.frame)

    @property
    def length(self) -> int:
        return len(self.frame)


@dataclass(frozen=True, slots=True)
class PacketIn(PacketFrame):
    """A frame the driver handed to the network thread."""


@dataclass(frozen=True, slots=True)
class PacketOut(PacketFrame):
    """A frame handed to the driver to send."""


@dataclass(frozen=True, slots=True)
class PacketDrop(Record):
    """The stack dropped a packet: where, and why (also counted)."""

    cycle: int = 0
    packet: int = 0
    layer: str = ""
    reason: str = ""
    kind = "packet"


@dataclass(frozen=True, slots=True)
class PacketCopy(Record):
    """Bytes of a packet copied: into a handler's own buffer, across the
    user/kernel boundary, or into a forwarded packet."""

    cycle: int = 0
    packet: int = 0
    nbytes: int = 0
    where: str = ""
    kind = "packet"
