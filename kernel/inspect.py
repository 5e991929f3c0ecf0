"""The kernel's read-only inspection API (ARCHITECTURE.md, "Observability").

Each function takes a booted ``Kernel`` and returns frozen rows: the panes,
the shell's tables, the lessons' checks and the benches read the kernel
through these and the command layer, not through its internals. Nothing
here changes what it looks at -- no TB fill, no cycle, no trap: page tables
are walked beside the machine (``Sal.user_walk``), and the Alpha's details
(PTE bits, the walk, the TBs) come decoded from ``kernel/core/sal.py``, the
one module that knows the machine.

Rows: strands, domains (with their rights), events and their bindings in
dispatch order (call counts, fuel, guard verdicts of the last dispatch),
address spaces with their mappings and a page-table walk, the TBs, the CPU's
register names and the code around a PC, packets
(their rows, their way through the protocol graph, drops by reason), devices,
memory in use (physical frames, each process, each extension's kept heap --
the SPIN web server's status commands show "the state of the heap"), the kernel's
counters, an extension's plain-data globals for a lesson's checks, and the
frame buffer's shown frame (the Video pane's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kernel.core.costs import CLOCK_MHZ
from kernel.sys.authority import ALL_PROCESSES
from kernel.sys.dispatcher import FieldEquals
from kernel.sys.domain import Domain
from kernel.sys.trace import Dispatch, Record

if TYPE_CHECKING:
    from kernel.kernel import Kernel
    from kernel.net.records import PacketFrame
    from kernel.net.topology import Network

# --- Strands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StrandRow:
    id: int
    name: str
    owner: str
    kind: str  # "user", "kernel" or "idle"
    state: str  # ready, running, blocked, done
    priority: int
    group: str  # the application scheduler it belongs to, or "global"
    us: float  # virtual time it has run, µs at the machine's clock
    current: bool  # on the processor now
    blocked_on: str  # what it waits for, when blocked
    cycles: int  # virtual time it has run, in cycles (its current turn included)
    pid: int  # the UNIX process it runs, 0 for the kernel's strands


def strands(k: Kernel) -> list[StrandRow]:
    """Every strand of the global scheduler, by id (SOSP'95 §4.2)."""
    sched = k.sched
    cur = sched.current
    rows = []
    for s in sorted(sched.strands.values(), key=lambda s: s.id):
        rows.append(StrandRow(s.id, s.name, s.owner, s.kind, s.state, s.priority,
                              s.group.name if s.group is not None else "global", sched.ran(s) / CLOCK_MHZ, s is cur,
                              s.blocked_on if s.state == "blocked" else "", sched.ran(s), s.pid or 0))  # fmt: skip
    return rows


# --- Domains ---------------------------------------------------------------------------------


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
    members: tuple[str, ...] = ()  # an aggregate's member domains (kernel/sys/domain.py combine)


def domains(k: Kernel) -> list[DomainRow]:
    """The domains the name server lists at /svc/domains (SpinPublic and
    SpinTrusted, and any a kernel module exported there), then each linked
    extension's domain."""
    system = k.system
    rows = []
    listed = [system.names.lookup_soft(f"/svc/domains/{n}", "kernel") for n in system.names.entries("/svc/domains")]
    for d in [x for x in listed if isinstance(x, Domain)] or [system.public, system.trusted]:
        rows.append(DomainRow(d.name, "kernel", "+".join(sorted(d.rights)), tuple(d.all_exports()), (),
                              tuple(d.resolutions), 0, members=tuple(m.name for m in d.subdomains)))  # fmt: skip
    for name, ext in sorted(system.extensions.items()):
        d = ext.domain
        imports = tuple((i, d.bound[i][1] if i in d.bound else "") for i in d.imports)
        live = sum(1 for b in ext.bindings if b.installed)
        held = ", ".join(sorted(ext.rights)) or "none (a user's extension)"
        served = ", ".join(str(p) for p in ext.clients) or "none given"
        authority = f"{held}; its processes: {served}" if ALL_PROCESSES not in ext.rights else held
        rows.append(DomainRow(name, "extension", "+".join(sorted(d.rights)), tuple(d.all_exports()), imports,
                              tuple(d.resolutions), live, authority))  # fmt: skip
    return rows


# --- Events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRow:
    name: str
    bindings: int
    calls: int  # handler calls over all its bindings (a booted kernel counts the intrinsics' too)
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
    imposed: str = ""  # guards imposed on the binding, each with who imposed it ("" if none)


GUARD_RESULT = {True: "passed", False: "rejected", None: "-"}  # a binding's guard in one dispatch


def name_of(fn: Any) -> str:
    """A guard's or handler's name as people read it."""
    if fn is None:
        return "-"
    if isinstance(fn, FieldEquals):  # the kernel's own declarative guard; an extension's `describe` is never called
        return fn.describe()
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__)


def _imposed_name(fn: Any) -> str:
    """An imposed guard by the name its imposer gave it ("pid in [2] or a child"), else as name_of."""
    name = getattr(fn, "__name__", "")
    return name if isinstance(name, str) and name and "<" not in name else name_of(fn)


def guards_text(d: Dispatch | None) -> str:
    """One dispatch's guard verdicts: ``#id+`` passed, ``#id-`` rejected, ``#id·`` not evaluated."""
    if d is None:
        return ""
    return " ".join(f"#{i}{'+' if ok else '-' if ok is not None else '·'}" for i, ok in d.guards)


def events(k: Kernel) -> list[EventRow]:
    rows = []
    for name, ev in sorted(k.dispatcher.events.items()):
        calls = sum(b.calls for b in ev.bindings)
        rows.append(EventRow(name, len(ev.bindings), calls, ev.path, guards_text(ev.last_dispatch)))
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
        rows.append(BindingRow(b.id, name_of(b.guard), name_of(b.handler), text[:40], b.option_names, b.owner,
                               b.calls, b.fuel_used, b.faulted or "", last.get(b.id),
                               "; ".join(f"{_imposed_name(g.guard)} (by {g.imposer})" for g in b.imposed)))  # fmt: skip
    return rows


def dispatch_source(k: Kernel, event: str) -> str:
    """The dispatch function generated for an event's current bindings ("" for a plain call)."""
    ev = k.dispatcher.events.get(event)
    return "" if ev is None else ev.source


# --- Address spaces, page tables, TBs ----------------------------------------------------------


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
    vpn: int  # va's virtual page number (the machine's page size)


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


def pte_bits(k: Kernel, pte: int) -> str:
    return k.sal.pte_text(pte)


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
    sal = k.sal
    rows = []
    for vpn in sorted(sp.mapped)[:limit]:
        va = vpn << sal.page_shift
        pte = sal.user_walk(sp.root, va)[3]
        rows.append(MappingRow(va, sp.mapped[vpn], sal.pte_text(pte), vpn))
    return rows


def walk(k: Kernel, space_id: int, va: int) -> tuple[list[WalkStep], str]:
    """The three-level walk for va in a space, each PTE decoded, and its outcome."""
    sp = _space(k, space_id)
    if sp is None:
        return [], f"no address space {space_id}"
    steps, pa, why, _ = k.sal.user_walk(sp.root, va)
    rows = [WalkStep(level, addr, pte, k.sal.pte_text(pte)) for level, addr, pte in steps]
    outcome = (
        f"{va:#x} -> physical {pa:#x} (user read allowed)" if pa is not None else f"{va:#x}: a user read faults ({why})"
    )
    return rows, outcome


def tbs(k: Kernel, recent: int = 8) -> list[TbRow]:
    return [TbRow(*t) for t in k.sal.tb_view(recent)]


# --- The CPU ------------------------------------------------------------------------------------

CLOCK_HZ = CLOCK_MHZ * 1_000_000  # cycles in a second of virtual time


def register_names(k: Kernel) -> tuple[str, ...]:
    """The integer registers' names, r0 first, as the machine's software calls them."""
    return k.sal.register_names


@dataclass(frozen=True)
class CodeRow:
    pc: int
    text: str  # the instruction there, disassembled; "--" where nothing is mapped


def code(k: Kernel, pc: int, before: int, count: int) -> list[CodeRow]:
    """count instructions around pc, before of them ahead of it, read beside the machine."""
    at = [(pc + 4 * i) & ((1 << 64) - 1) for i in range(-before, count - before)]
    return [CodeRow(a, k.sal.code_at(a)) for a in at]


# --- Devices, memory, counters -----------------------------------------------------------------


@dataclass(frozen=True)
class DeviceRow:
    name: str
    state: str  # what it has done, in its own words


def devices(k: Kernel) -> list[DeviceRow]:
    return [DeviceRow(name, state) for name, state in k.sal.device_view()]


@dataclass(frozen=True)
class MemoryRow:
    owner: str  # "physical", a process ("pid 3 sh"), an extension's name
    kind: str  # "frames" (physical), "process" (pages mapped) or "extension" (kept heap at the last measure)
    pages: int  # frames in use or pages mapped; 0 for an extension
    bytes: int
    objects: int  # an extension's kept objects; 0 otherwise


def memory(k: Kernel) -> list[MemoryRow]:
    """Memory in use: physical frames, each address space's pages, each
    extension's kept heap (its footprint when last measured: the quota's view)."""
    page = 1 << k.sal.page_shift
    rows = []
    if k.phys is not None:
        used = k.phys.in_use()
        rows.append(MemoryRow("physical", "frames", used, used * page, 0))
    for sp in spaces(k):
        rows.append(MemoryRow(sp.name, "process", sp.pages, sp.pages * page, 0))
    for name, ext in sorted(k.system.extensions.items()):
        size, count = ext.footprint
        rows.append(MemoryRow(name, "extension", 0, size, count))
    return rows


@dataclass(frozen=True)
class Counters:
    cycles: int
    instructions: int
    crossings: int  # user -> kernel entries plus kernel -> user returns
    syscalls: int
    faults: int
    switches: int
    ticks: int
    copies: int  # copies of packet data (0 without a network)
    free_frames: int = 0  # physical frames PhysAddr can still hand out
    frames: int = 0  # physical frames PhysAddr manages
    forwarded: int = 0  # packets a forwarding node sent on (0 without a network)
    busy: int = 0  # cycles run less what the idle strand ran: the processor's work
    file_hits: int = 0  # extent-FS reads answered from the buffer cache: file data copied out of it (0 without a disk)


def counters(k: Kernel) -> Counters:
    net, phys = k.net, k.phys  # PhysAddr is None only in the moment before boot attaches it
    return Counters(k.sal.now, k.sal.icount, k.sal.crossings, k.syscalls, k.faults, k.sched.switches, k.ticks,
                    net.counters["copies"] if net is not None else 0, phys.nfree if phys is not None else 0,
                    len(phys.frames) if phys is not None else 0,
                    net.counters["forwarded"] if net is not None else 0, _busy(k),
                    k.fs.hits if k.fs is not None else 0)  # fmt: skip


def fs_counters(k: Kernel) -> dict[str, int]:
    """The extent file system's counts (kernel/fs/extentfs.py): what the
    benches and lessons quote beside a figure; empty with no disk."""
    fs = k.fs
    if fs is None:
        return {}
    return {"reads": fs.reads, "hits": fs.hits, "misses": fs.misses, "writes": fs.writes,
            "writebacks": fs.writebacks, "moves": fs.moves, "block_allocs": fs.allocs, "block_frees": fs.frees,
            "dirty": len(fs.dirty), "cached": len(fs.cache), "free_blocks": fs.free_blocks(),
            "disk_errors": fs.errors}  # fmt: skip


def _busy(k: Kernel) -> int:
    idle = k.sched.idle
    return k.sal.now - (k.sched.ran(idle) if idle is not None else 0)


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
    from kernel.net.records import PacketDrop, PacketFrame, PacketIn  # lazily, as every packet function here

    drops: dict[int, str] = {}
    frames: list[PacketFrame] = []
    for r in k.trace:
        if isinstance(r, PacketFrame):
            frames.append(r)
        elif isinstance(r, PacketDrop):
            drops[r.packet] = f"{r.layer}: {r.reason}"
    calls: dict[int, str] = {}  # xid -> NFS procedure of the calls listed: a reply names its call
    return [PacketRow(r.packet, "in" if isinstance(r, PacketIn) else "out", r.cycle / CLOCK_MHZ, r.length,
                      r.summary + _nfs_note(r.frame, calls), drops.get(r.packet, ""))
            for r in frames[-limit:]]  # fmt: skip


def _nfs_note(frame: bytes, calls: dict[int, str]) -> str:
    """' · NFS LOOKUP call xid 7' for an ONC RPC datagram to the NFS port (RFC 5531, RFC 1813),
    ' · NFS LOOKUP reply xid 7' for one from it, else '' (a fragment too: its header is elsewhere)."""
    from kernel.fs.nfs_client import NFS_PORT  # lazily: the packet rows need the NFS names only here
    from kernel.fs.nfs_server import NFS_PROGRAM, PROC_NAMES
    from kernel.net import packet as P
    from kernel.net import rpc

    try:
        f = P.parse_ether(0, frame)
        if f.type != P.ETH_IP:
            return ""
        ip = P.parse_ip(f)
        if ip.fragment or ip.proto != P.PROTO_UDP:
            return ""
        u = P.parse_udp(ip)
        body = bytes(u.payload)
        if u.dst_port == NFS_PORT:
            c = rpc.decode_call(body)
            if c.prog != NFS_PROGRAM:
                return ""
            calls[c.xid] = PROC_NAMES.get(c.proc, f"procedure {c.proc}")
            return f" · NFS {calls[c.xid]} call xid {c.xid}"
        if u.src_port == NFS_PORT:
            reply = rpc.decode_reply(body)
            name = calls.get(reply.xid)
            return f" · NFS {name + ' ' if name else ''}reply xid {reply.xid}"
    except (P.Malformed, rpc.RpcError):
        return ""
    return ""


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
    from kernel.net.records import PacketCopy, PacketDrop, PacketFrame, PacketIn
    from kernel.net.stack import packet_path  # lazily: a kernel without a network never asks

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
    from kernel.net.records import PacketFrame

    if not isinstance(r, PacketFrame):
        return None
    from kernel.net.packet import ports

    return ports(r.frame)


# --- An extension's state, for a lesson's checks ----------------------------------------------

_PLAIN = (int, float, str, bool, type(None))
_PLAIN_MAX = 10_000  # items copied out of one value: a check reads numbers, not the whole heap


def extension_globals(k: Kernel, name: str) -> dict[str, Any]:
    """An extension's top-level names bound to plain data (numbers, text,
    and lists, tuples, dicts and sets of them), copied: a lesson checks what
    the extension counted without holding its objects. Other names are left out."""
    ext = k.system.extensions.get(name)
    if ext is None:
        return {}
    out = {}
    for key, value in ext.namespace.items():
        if key.startswith("_") or key == "__builtins__":
            continue
        budget = [_PLAIN_MAX]
        copied = _plain(value, budget, 0)
        if copied is not _NOT_PLAIN:
            out[key] = copied
    return out


_NOT_PLAIN = object()


def _plain(v: Any, budget: list[int], depth: int) -> Any:
    budget[0] -= 1
    if budget[0] < 0 or depth > 20:
        return _NOT_PLAIN
    if type(v) in _PLAIN:
        return v
    if type(v) in (list, tuple, set, frozenset):
        items = [_plain(x, budget, depth + 1) for x in list(v)[: budget[0] + 1]]
        if any(x is _NOT_PLAIN for x in items):
            return _NOT_PLAIN
        return type(v)(items) if type(v) is not list else items
    if type(v) is dict:
        pairs = [
            (_plain(a, budget, depth + 1), _plain(b, budget, depth + 1)) for a, b in list(v.items())[: budget[0] + 1]
        ]
        if any(a is _NOT_PLAIN or b is _NOT_PLAIN for a, b in pairs):
            return _NOT_PLAIN
        return dict(pairs)
    return _NOT_PLAIN


# --- The frame buffer (issue 20: the video client's display) -----------------------------------

VIDEO_CLIENT = "video_client"  # the extension whose counters the Video pane shows
VIDEO_COUNTERS = ("frames_shown", "frames_dropped", "packets", "bytes_received", "malformed", "stale", "other_stream",
                  "last_frame")  # fmt: skip


@dataclass(frozen=True)
class FrameBufferView:
    width: int
    height: int
    pixels: bytes  # the frame shown (the device's front buffer), row by row, palette indices
    palette: tuple[tuple[int, int, int], ...]  # index -> (r, g, b)
    frames: int  # frames presented
    refused: int  # writes the device refused as out of bounds
    now_us: float  # the machine's virtual time
    stream: dict[str, int]  # the video client extension's counters; empty if it is not loaded


def framebuffer(k: Kernel) -> FrameBufferView | None:
    """The frame buffer's shown frame, its palette and counters (None: no frame buffer on this machine)."""
    from kernel.video.format import PALETTE  # lazily, as rpc for the NFS notes: most kernels show no video

    view = k.sal.fb_view()
    if view is None:
        return None
    w, h, pixels, frames, refused = view
    stream: dict[str, int] = {}
    ext = k.system.extensions.get(VIDEO_CLIENT)
    if ext is not None:
        for name in VIDEO_COUNTERS:
            v = ext.namespace.get(name)
            if type(v) is int:
                stream[name] = v
    return FrameBufferView(w, h, pixels, PALETTE, frames, refused, k.sal.now / CLOCK_MHZ, stream)


# --- The wire (issue 20: the host bridge, workbench/web/bridge.py) ---------------------------------
# A whole world's view, so it takes the Network, not one Kernel.


@dataclass(frozen=True)
class WireView:
    carried: int  # frames the wire has carried since the world began
    lost: int  # frames it dropped (the loss model)
    in_flight: int  # frames on the wire now
    now: int  # the world's virtual time, in cycles (CLOCK_MHZ to a µs)


def wire(net: Network) -> WireView:
    """The wire's frame counts and the world's virtual time."""
    w = net.wire
    return WireView(w.carried, w.lost, len(w.in_flight), net.now)
