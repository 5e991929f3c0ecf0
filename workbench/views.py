"""What the panes show, read from a kernel as plain rows.

The rows come from the kernel's inspection API (kernel/inspect.py), which
this module re-exports for the panes and the shell; what is here beyond it
is the workbench's own reading of the packet trace. Nothing changes what
it looks at.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernel.core.costs import CLOCK_MHZ
from kernel.core.sal import Sal
from kernel.inspect import (  # noqa: F401 - re-exported for the panes and the shell
    GUARD_RESULT,
    BindingRow,
    DomainRow,
    EventRow,
    MappingRow,
    SpaceRow,
    TbRow,
    WalkStep,
    bindings,
    domains,
    events,
    mappings,
    spaces,
    tbs,
    walk,
)
from kernel.inspect import guards_text as _guards_text
from kernel.kernel import Kernel
from kernel.net.packet import ports
from kernel.net.records import PacketCopy, PacketDrop, PacketFrame, PacketIn
from kernel.net.stack import packet_path
from kernel.sys.trace import Dispatch, Record, Switch


def pte_bits(pte: int) -> str:
    return Sal.pte_text(pte)


# --- Packets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PacketRow:
    id: int
    direction: str  # "in" or "out"
    us: float  # virtual time
    length: int
    summary: str
    dropped: str  # the drop's layer and reason, if the stack dropped it


def packets(k: Kernel, limit: int = 200) -> list[PacketRow]:
    drops: dict[int, str] = {}
    frames: list[PacketFrame] = []
    for r in k.trace:
        if isinstance(r, PacketFrame):
            frames.append(r)
        elif isinstance(r, PacketDrop):
            drops[r.packet] = f"{r.layer}: {r.reason}"
    return [PacketRow(r.packet, "in" if isinstance(r, PacketIn) else "out", r.cycle / CLOCK_MHZ, r.length,
                      r.summary, drops.get(r.packet, "")) for r in frames[-limit:]]  # fmt: skip


@dataclass(frozen=True)
class DropRow:
    layer: str
    reason: str
    count: int  # packets dropped for this reason since boot


def drops(k: Kernel) -> list[DropRow]:
    """The stack's drops counted by layer and reason, most frequent first."""
    if k.net is None:
        return []
    return [DropRow(layer, reason, n) for layer, reason, n in k.net.drop_counts()]


def path(k: Kernel, packet: int) -> list[str]:
    """One packet's way through the protocol graph, a line per step: events
    raised with each guard passed (+) or rejected (-), the handlers run, copies."""
    evs = k.dispatcher.events
    lines = []
    recs = packet_path(k.trace, packet)
    # A Dispatch record is written when its raise returns, so a nest of raises
    # (Ether raising IP raising UDP) is recorded innermost first, after the
    # copies and drops its handlers made: put each nest back in the order the
    # packet went through it, followed by what happened inside.
    ordered: list[Record] = []
    run: list[Record] = []
    inside: list[Record] = []
    for r in [*recs, None]:
        if isinstance(r, Dispatch):
            run.append(r)
            continue
        if run:
            ordered += run[::-1] + inside
            run, inside = [], []
        if isinstance(r, (PacketCopy, PacketDrop)):
            inside.append(r)
        elif r is not None:
            ordered.append(r)
    ordered += inside
    for r in ordered:
        if isinstance(r, PacketFrame):
            lines.append(f"{'arrived' if isinstance(r, PacketIn) else 'sent'}: {r.summary}")
        elif isinstance(r, Dispatch):
            ev = evs.get(r.event)
            owners = {b.id: b.owner for b in ev.bindings} if ev is not None else {}
            guards = ", ".join(f"#{i} {owners.get(i, '(gone)')} {'passed' if ok else 'rejected' if ok is not None else '-'}"
                               for i, ok in r.guards)  # fmt: skip
            ran = ", ".join(f"#{i} {owners.get(i, '(gone)')}" for i in r.handlers) or "none"
            lines.append(f"{r.event}: guards {guards or 'none'}; handlers {ran}")
        elif isinstance(r, PacketCopy):
            lines.append(f"copy: {r.nbytes} bytes {r.where}")
        elif isinstance(r, PacketDrop):
            lines.append(f"dropped at {r.layer}: {r.reason}")
    return lines


def packet_ports(r: Record) -> tuple[int, int] | None:
    return ports(r.frame) if isinstance(r, PacketFrame) else None


# --- Trace -----------------------------------------------------------------------------------


def record_text(r: Record) -> str:
    """One record as a line: its type and fields (frames by their summary)."""
    if isinstance(r, PacketFrame):
        return f"{type(r).__name__} #{r.packet} at {r.cycle:,}: {r.summary}"
    if isinstance(r, Dispatch):
        about = (
            f" packet #{r.subject}" if r.subject and r.event.startswith(("Ether", "IP", "ICMP", "UDP", "TCP")) else ""
        )
        return (f"Dispatch {r.event}{about}: guards {_guards_text(r) or 'none'}; handlers "
                f"{' '.join(f'#{h}' for h in r.handlers) or 'none'}" + ("; default" if r.default else ""))  # fmt: skip
    if isinstance(r, Switch):
        return f"Switch {r.old}→{r.new} ({r.old_name}→{r.new_name}) {r.reason} at cycle {r.cycle:,}"
    fields = []
    for name in r.__dataclass_fields__:  # type: ignore[attr-defined]
        if name == "seq":
            continue
        value = getattr(r, name)
        if value in ("", (), None):
            continue
        fields.append(
            f"{name}={value:#x}" if name in ("address", "pc") and isinstance(value, int) else f"{name}={value}"
        )
    return f"{type(r).__name__} " + " ".join(fields)
