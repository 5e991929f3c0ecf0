"""What the panes show, read from a kernel as plain rows.

The rows come from the kernel's inspection API (kernel/inspect.py), which
this module re-exports for the panes and the shell; what is here beyond it
is how the workbench words a trace record. Nothing changes what it looks at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kernel.inspect import (  # noqa: F401 - re-exported for the panes and the shell
    CLOCK_HZ,
    GUARD_RESULT,
    BindingRow,
    CodeRow,
    Counters,
    DomainRow,
    DropRow,
    EventRow,
    MappingRow,
    PacketRow,
    SpaceRow,
    TbRow,
    WalkStep,
    bindings,
    code,
    counters,
    domains,
    drops,
    events,
    mappings,
    packet_ports,
    packets,
    path,
    pte_bits,
    register_names,
    spaces,
    tbs,
    walk,
)
from kernel.inspect import guards_text as _guards_text
from kernel.sys.trace import Dispatch, Record, Switch, Syscall

if TYPE_CHECKING:
    from kernel.kernel import Kernel

# --- Pace (the dashboard) ----------------------------------------------------------------------


@dataclass(frozen=True)
class PaceRow:
    """The totals since boot the dashboard turns into rates (it divides by host time itself)."""

    cycles: int  # virtual time
    instructions: int
    syscalls: int
    handler_calls: int  # event handlers run by dispatches, over all events (the intrinsics' too)
    faults: int
    switches: int
    packets: int  # frames in plus frames out (0 without a network)


def pace(k: Kernel) -> PaceRow:
    c = counters(k)
    calls = sum(e.calls for e in events(k))
    net = k.net
    frames = net.counters["frames in"] + net.counters["frames out"] if net is not None else 0
    return PaceRow(c.cycles, c.instructions, c.syscalls, calls, c.faults, c.switches, frames)


# --- Words -----------------------------------------------------------------------------------


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``n`` and its noun, in the number it takes: "1 call", "2 calls",
    "1 process" (``nouns`` for the irregular plurals: ``plural(n, "process", "processes")``)."""
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"


# --- Trace -----------------------------------------------------------------------------------


SYSCALL_PROFILE_FIELDS = ("start", "args", "entries", "text")  # spinwb profile's; the Trace pane's line stays short


def record_text(r: Record) -> str:
    """One record as a line: its type and fields (frames by their summary)."""
    from kernel.net.records import PacketFrame  # here: a lesson without a network never loads the stack's records

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
    hidden = SYSCALL_PROFILE_FIELDS if isinstance(r, Syscall) else ()
    for name in r.__dataclass_fields__:  # type: ignore[attr-defined]
        if name == "seq" or name in hidden:
            continue
        value = getattr(r, name)
        if value in ("", (), None):
            continue
        fields.append(
            f"{name}={value:#x}" if name in ("address", "pc") and isinstance(value, int) else f"{name}={value}"
        )
    return f"{type(r).__name__} " + " ".join(fields)
