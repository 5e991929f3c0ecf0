"""What the panes show, read from a kernel as plain rows.

Each function takes a booted ``Kernel`` and returns frozen rows: the panes,
the shell's tables and the tests all read the same views, and none of them
changes what it looks at (no TB fill, no cycle: ``Machine.peek`` and the
page walk read physical memory beside the machine). Names follow the
pane titles of issue 7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kernel.kernel import Kernel
from kernel.net.packet import ports
from kernel.net.records import PacketCopy, PacketDrop, PacketFrame, PacketIn
from kernel.net.stack import packet_path
from kernel.sys.authority import ALL_PROCESSES as authority_all
from kernel.sys.dispatcher import FieldEquals
from kernel.sys.trace import Dispatch, Record, Switch
from machine.alpha.constants import (
    CLOCK_HZ,
    MODE_USER,
    PAGE_SHIFT,
    PTE_ASM,
    PTE_FOE,
    PTE_FOR,
    PTE_FOW,
    PTE_KRE,
    PTE_KWE,
    PTE_PFN_SHIFT,
    PTE_SOFT_SHIFT,
    PTE_URE,
    PTE_UWE,
    PTE_V,
)
from machine.alpha.mmu import READ, translate
from machine.alpha.traps import MMCSR_TEXT

# --- Domains -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainRow:
    name: str
    kind: str  # "kernel" (exports interfaces) or "extension"
    rights: str
    exports: tuple[str, ...]
    imports: tuple[tuple[str, str], ...]  # (interface, the domain that supplied it, or "" if unresolved)
    resolutions: tuple[str, ...]
    bindings: int  # handlers the extension has installed
    authority: str = ""  # an extension's rights on kernel events and the processes it serves (kernel/sys/authority.py)


def domains(k: Kernel) -> list[DomainRow]:
    """The kernel's aggregate domains, then each linked extension's domain."""
    system = k.system
    rows = []
    for d in (system.public, system.trusted):
        rows.append(DomainRow(d.name, "kernel", "+".join(sorted(d.rights)), tuple(d.all_exports()), (),
                              tuple(d.resolutions), 0))  # fmt: skip
    for name, ext in sorted(system.extensions.items()):
        d = ext.domain
        imports = tuple((i, d.bound[i][1] if i in d.bound else "") for i in d.imports)
        live = sum(1 for b in ext.bindings if getattr(b, "installed", False))
        held = ", ".join(sorted(ext.rights)) or "none (a user's extension)"
        served = ", ".join(str(p) for p in ext.clients) or "none given"
        authority = f"{held}; its processes: {served}" if authority_all not in ext.rights else held
        rows.append(DomainRow(name, "extension", "+".join(sorted(d.rights)), tuple(d.all_exports()), imports,
                              tuple(d.resolutions), live, authority))  # fmt: skip
    return rows


# --- Events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRow:
    name: str
    bindings: int
    calls: int  # handler calls over all its bindings
    path: str  # how a raise is dispatched: a plain call, generated code, ...
    last_guards: str  # the last dispatch's guard results, "#id+ #id-" ("" if none recorded)


@dataclass(frozen=True)
class BindingRow:
    id: int
    guard: str
    handler: str
    closure: str
    options: str
    owner: str
    calls: int
    fuel: int
    faulted: str
    last_guard: bool | None  # in the last dispatch: passed, rejected, not evaluated (None)


def _name(fn: Any) -> str:
    if fn is None:
        return "-"
    if isinstance(fn, FieldEquals):  # the kernel's own declarative guard; an extension's `describe` is never called
        return fn.describe()
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__)


GUARD_RESULT = {True: "passed", False: "rejected", None: "-"}  # a binding's guard in one dispatch


def _guards_text(d: Dispatch | None) -> str:
    if d is None:
        return ""
    return " ".join(f"#{i}{'+' if ok else '-' if ok is not None else '·'}" for i, ok in d.guards)


def events(k: Kernel) -> list[EventRow]:
    rows = []
    for name, ev in sorted(k.dispatcher.events.items()):
        calls = sum(b.calls for b in ev.bindings)
        rows.append(EventRow(name, len(ev.bindings), calls, ev.path, _guards_text(ev.last_dispatch)))
    return rows


def bindings(k: Kernel, event: str) -> list[BindingRow]:
    """An event's bindings in dispatch order (spin-reference.md §1)."""
    ev = k.dispatcher.events.get(event)
    if ev is None:
        return []
    last = dict(ev.last_dispatch.guards) if ev.last_dispatch is not None else {}
    rows = []
    for b in ev.bindings:
        closure = b.handler_closure if b.handler_closure is not None else b.guard_closure
        text = "-" if closure is None else repr(closure)
        rows.append(BindingRow(b.id, _name(b.guard), _name(b.handler), text[:40], b.option_names, b.owner, b.calls,
                               b.fuel_used, b.faulted or "", last.get(b.id)))  # fmt: skip
    return rows


# --- Page tables -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpaceRow:
    id: int
    name: str
    asn: int
    root: int  # the level-1 table's frame (PTBR when it runs)
    pages: int
    current: bool


@dataclass(frozen=True)
class MappingRow:
    va: int
    pfn: int
    bits: str


@dataclass(frozen=True)
class WalkStep:
    level: int
    pte_address: int
    pte: int
    bits: str


@dataclass(frozen=True)
class TbRow:
    name: str
    entries: int
    size: int
    hits: int
    misses: int
    fills: int
    recent: tuple[tuple[int, int | None, int], ...]  # (vpn, asn or None for ASM, pfn), newest first


PTE_BITS = ((PTE_V, "V"), (PTE_FOR, "FOR"), (PTE_FOW, "FOW"), (PTE_FOE, "FOE"), (PTE_ASM, "ASM"),
            (PTE_KRE, "KRE"), (PTE_URE, "URE"), (PTE_KWE, "KWE"), (PTE_UWE, "UWE"))  # fmt: skip


def pte_bits(pte: int) -> str:
    """A PTE decoded (Alpha Architecture Handbook, OSF/1 PTE): its flag
    names, PFN and software bits."""
    names = [n for bit, n in PTE_BITS if pte & bit]
    soft = (pte >> PTE_SOFT_SHIFT) & 0xFFFF
    return " ".join(names or ["invalid"]) + f" pfn {pte >> PTE_PFN_SHIFT:#x}" + (f" soft {soft:#x}" if soft else "")


def spaces(k: Kernel) -> list[SpaceRow]:
    t = k.translation
    if t is None:
        return []
    return [SpaceRow(sp.id, sp.name, sp.asn, sp.root, len(sp.mapped), sp is t.current)
            for sp in sorted(t.spaces.values(), key=lambda s: s.id) if not sp.destroyed]  # fmt: skip


def _space(k: Kernel, space_id: int) -> Any:
    t = k.translation
    return None if t is None else t.spaces.get(space_id)


def mappings(k: Kernel, space_id: int, limit: int = 400) -> list[MappingRow]:
    sp = _space(k, space_id)
    if sp is None:
        return []
    rows = []
    read_q = k.machine.memory.read_q
    for vpn in sorted(sp.mapped)[:limit]:
        va = vpn << PAGE_SHIFT
        w = translate(read_q, sp.root, va, READ, MODE_USER)
        rows.append(MappingRow(va, sp.mapped[vpn], pte_bits(w.pte)))
    return rows


def walk(k: Kernel, space_id: int, va: int) -> tuple[list[WalkStep], str]:
    """The three-level walk for va in a space, each PTE decoded, and its outcome."""
    sp = _space(k, space_id)
    if sp is None:
        return [], f"no address space {space_id}"
    w = translate(k.machine.memory.read_q, sp.root, va, READ, MODE_USER)
    steps = [WalkStep(level, addr, pte, pte_bits(pte)) for level, addr, pte in w.steps]
    if w.pa is not None:
        outcome = f"{va:#x} -> physical {w.pa:#x} (user read allowed)"
    else:
        outcome = f"{va:#x}: a user read faults ({MMCSR_TEXT.get(w.fault or 0, w.fault)})"
    return steps, outcome


def tbs(k: Kernel, recent: int = 8) -> list[TbRow]:
    mmu = k.machine.mmu
    rows = []
    for tb in (mmu.itb, mmu.dtb):
        items = list(tb.entries.items())[-recent:][::-1]
        rows.append(TbRow(tb.name, len(tb.entries), tb.size, tb.hits, tb.misses, tb.fills,
                          tuple((vpn, asn, pte >> PTE_PFN_SHIFT) for (vpn, asn), pte in items)))  # fmt: skip
    return rows


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
    return [PacketRow(r.packet, "in" if isinstance(r, PacketIn) else "out", r.cycle * 1e6 / CLOCK_HZ, r.length,
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
    events = k.dispatcher.events
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
            ev = events.get(r.event)
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
