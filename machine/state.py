"""Saving and restoring a whole machine.

A state file is ``SPINWB-STATE <version>\\n``, one line of JSON with every
register, the PAL, MMU, clock and console state, then the zlib-compressed
frames of memory in use; a sha256 of everything after the magic line guards
against corruption. Nothing is unpickled: a state file from a stranger can
at worst be rejected. Python entry handlers (the SPIN kernel's) are not
saved; whoever restores a machine with them must install them again.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from machine.alpha.constants import PAGE_SHIFT
from machine.memory import BusError

if TYPE_CHECKING:
    from machine.machine import Machine
    from machine.world import World

MAGIC = b"SPINWB-STATE"
VERSION = 2
_FRAME = struct.Struct("<Q1024Q")
_CPU_FIELDS = ("pc", "r", "f", "fpcr", "unique", "intr_flag", "lock_addr", "lock_value", "icount", "cycles",
               "pcc_offset")  # fmt: skip


class StateFileError(Exception):
    """The file is not a usable machine state; the message says why."""


def _machine_body(m: Machine) -> bytes:
    cpu, pal, mmu = m.cpu, m.pal, m.mmu
    header: dict[str, Any] = {
        "model": cpu.model,
        "memory_size": m.memory.size,
        "cpu": {k: getattr(cpu, k) for k in _CPU_FIELDS},
        "pal": {"ps": pal.ps, "ksp": pal.ksp, "usp": pal.usp, "kgp": pal.kgp, "sysval": pal.sysval,
                "pcbb": pal.pcbb, "fen": pal.fen, "mces": pal.mces, "vptptr": pal.vptptr, "idle": pal.idle,
                "entries": [e if isinstance(e, int) or e is None else "python" for e in pal.entries],
                "pending": [[ipl, k, v] for ipl, (k, v) in sorted(pal.pending.items())], "counts": pal.counts},
        "mmu": {"ptbr": mmu.ptbr, "asn": mmu.asn, "mode": mmu.mode,
                "tbs": [[[k[0], k[1], pte] for k, pte in tb.entries.items()] + [[tb.hits, tb.misses, tb.fills]]
                        for tb in (mmu.itb, mmu.dtb)]},
        "machine": {"ticks": m.ticks, "halt_reason": m.halt_reason},
        "console": {"output": m.console.output.hex(), "input": bytes(m.console.input).hex()},
        "events": [[c, o, e, list(a)] for c, o, e, a in m.events],
        "event_order": m._event_order,
        "disk": None if m.disk is None else {"regs": m.disk.regs, "cylinder": m.disk.cylinder,
                                              "completed": m.disk.completed,
                                              "data": zlib.compress(bytes(m.disk.data), 6).hex()},
        "nic": None if m.nic is None else {"mac": m.nic.mac, "regs": m.nic.regs, "sent": m.nic.sent,
                                            "received": m.nic.received},
    }  # fmt: skip
    frames = b"".join(_FRAME.pack(pfn, *f) for pfn, f in sorted(m.memory.frames.items()) if any(f))
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + zlib.compress(frames, 6)


def _seal(kind: bytes, body: bytes) -> bytes:
    body = kind + b"\n" + body
    return MAGIC + b" %d\n" % VERSION + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def snapshot(m: Machine) -> bytes:
    """One machine's state file, as bytes."""
    return _seal(b"machine", _machine_body(m))


def snapshot_world(world: World) -> bytes:
    """A world's state file: every machine, every wire, the shared clock."""
    index = {id(m): i for i, m in enumerate(world.machines)}
    wires = []
    for w in world.wires:
        version, internal, gauss = w.rng.getstate()
        wires.append({"latency": w.latency, "bandwidth": w.bandwidth, "loss": w.loss,
                      "rng": [version, list(internal), gauss], "next_id": w.next_id, "carried": w.carried,
                      "lost": w.lost, "in_flight": [[k, v.hex()] for k, v in sorted(w.in_flight.items())],
                      "nics": [index[id(n.machine)] for n in w.nics]})  # fmt: skip
    head = json.dumps({"now": world.now, "wires": wires, "machines": len(world.machines)}).encode()
    parts = [head + b"\n"]
    for m in world.machines:
        body = _machine_body(m)
        parts.append(b"%d\n" % len(body) + body)
    return _seal(b"world", b"".join(parts))


def save(what: Machine | World, path: str | Path) -> None:
    """Write a machine's or a world's state file."""
    from machine.world import World

    Path(path).write_bytes(snapshot_world(what) if isinstance(what, World) else snapshot(what))


def _open(data: bytes, name: str) -> tuple[bytes, bytes]:
    """Check the magic line, version and checksum; return (kind, body)."""
    magic, _, rest = data.partition(b"\n")
    parts = magic.split(b" ")
    if parts[0] != MAGIC or len(parts) != 2:
        raise StateFileError(f"{name}: not a SPIN Workbench state file")
    if parts[1] != str(VERSION).encode():
        raise StateFileError(f"{name}: state file version {parts[1].decode(errors='replace')}, this workbench "
                             f"reads version {VERSION}")  # fmt: skip
    digest, _, body = rest.partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise StateFileError(f"{name}: the file is corrupted or truncated (checksum mismatch)")
    kind, _, body = body.partition(b"\n")
    if kind not in (b"machine", b"world"):
        raise StateFileError(f"{name}: unknown kind of state {kind[:20].decode(errors='replace')!r}")
    return kind, body


def _fits(name: str, what: str, e: Exception) -> StateFileError:
    """A well-formed checksum over a body this workbench cannot use: say
    which part did not fit, never a traceback."""
    if isinstance(e, KeyError):
        why = f"it has no {e.args[0]!r} field (written by another version of the workbench?)"
    elif isinstance(e, BusError):
        why = f"its memory reaches {e.pa:#x}, past the machine's own memory size"
    else:
        why = f"{e}"
    return StateFileError(f"{name}: {what} does not fit this workbench: {why}")


def restore(data: bytes, name: str = "<state>") -> Machine:
    """A new machine in the saved state."""
    kind, body = _open(data, name)
    if kind == b"world":
        try:
            count = json.loads(body.partition(b"\n")[0])["machines"]
        except (ValueError, KeyError, TypeError):
            count = "?"
        raise StateFileError(f"{name}: holds a world of {count} machines, not one machine; load it with "
                             f"load_world")  # fmt: skip
    return _restore_machine(body, name, "the machine")


def restore_world(data: bytes, name: str = "<state>") -> World:
    """A new world in the saved state (a one-machine file gives a world of one)."""
    from machine.nic import Wire
    from machine.world import World

    kind, body = _open(data, name)
    world = World()
    if kind == b"machine":
        world.add(_restore_machine(body, name, "the machine"))
        world.now = world.machines[0].cpu.cycles
        return world
    try:
        head, _, rest = body.partition(b"\n")
        h = json.loads(head)
        for i in range(h["machines"]):
            size, _, rest = rest.partition(b"\n")
            n = int(size)
            world.machines.append(_restore_machine(rest[:n], name, f"machine {i}"))
            rest = rest[n:]
        world.now = h["now"]
        for i, saved in enumerate(h["wires"]):
            w = Wire(saved["latency"], saved["bandwidth"], saved["loss"])
            version, internal, gauss = saved["rng"]
            w.rng.setstate((version, tuple(internal), gauss))
            w.next_id, w.carried, w.lost = saved["next_id"], saved["carried"], saved["lost"]
            w.in_flight = {k: bytes.fromhex(v) for k, v in saved["in_flight"]}
            for k in saved["nics"]:
                nic = world.machines[k].nic
                if nic is None:
                    raise ValueError(f"wire {i} joins machine {k}, which has no NIC")
                w.attach(nic)
            world.wires.append(w)
    except StateFileError:
        raise
    except Exception as e:
        raise _fits(name, "the world", e) from None
    return world


def _restore_machine(body: bytes, name: str, what: str) -> Machine:
    from machine.alpha.mmu import TLB
    from machine.machine import Machine

    try:
        head, _, packed = body.partition(b"\n")
        h = json.loads(head)
        frames = zlib.decompress(packed)
        m = Machine(h["memory_size"], h["model"])
        cpu, pal, mmu = m.cpu, m.pal, m.mmu
        for k in _CPU_FIELDS:
            v = h["cpu"][k]
            setattr(cpu, k, list(v) if isinstance(v, list) else v)
        p = h["pal"]
        for k in ("ps", "ksp", "usp", "kgp", "sysval", "pcbb", "fen", "mces", "vptptr", "idle", "counts"):
            setattr(pal, k, p[k])
        pal.entries = [None if e == "python" else e for e in p["entries"]]
        pal.pending = {ipl: (k, v) for ipl, k, v in p["pending"]}
        mmu.ptbr, mmu.asn, mmu.mode = h["mmu"]["ptbr"], h["mmu"]["asn"], h["mmu"]["mode"]
        for tb, saved in zip((mmu.itb, mmu.dtb), h["mmu"]["tbs"], strict=True):
            assert isinstance(tb, TLB)
            *entries, (tb.hits, tb.misses, tb.fills) = saved
            for vpn, asn, pte in entries:
                tb.entries[(vpn, asn)] = pte
        m.ticks = h["machine"]["ticks"]
        m.halt_reason = h["machine"]["halt_reason"]
        m.console.output = bytearray.fromhex(h["console"]["output"])
        m.console.feed(bytes.fromhex(h["console"]["input"]))
        m.events = [(c, o, e, tuple(a)) for c, o, e, a in h["events"]]
        m._event_order = h["event_order"]
        if h["disk"] is not None:
            d = m.attach_disk(zlib.decompress(bytes.fromhex(h["disk"]["data"])))
            d.regs, d.cylinder, d.completed = h["disk"]["regs"], h["disk"]["cylinder"], h["disk"]["completed"]
        if h["nic"] is not None:
            nic = m.attach_nic(h["nic"]["mac"])
            nic.regs, nic.sent, nic.received = h["nic"]["regs"], h["nic"]["sent"], h["nic"]["received"]
        if len(frames) % _FRAME.size:
            raise ValueError("memory image is not whole frames")
        for off in range(0, len(frames), _FRAME.size):
            pfn, *words = _FRAME.unpack_from(frames, off)
            if not 0 <= pfn < m.memory.nframes:
                raise BusError(pfn << PAGE_SHIFT)
            m.memory.frame(pfn)[:] = words
        cpu.flush_tlb()
    except Exception as e:  # a well-formed checksum over a malformed body: say so, never a traceback
        raise _fits(name, what, e) from None
    return m


def _read(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise StateFileError(f"{path}: cannot read: {e.strerror}") from None


def load(path: str | Path) -> Machine:
    return restore(_read(path), str(path))


def load_world(path: str | Path) -> World:
    return restore_world(_read(path), str(path))
