"""Saving and restoring a whole machine, or a world of machines on wires.

A state file is ``SPINWB-STATE <version>\n``, a sha256 of everything after
that line, the kind ("machine" or "world"), then per machine one line of
JSON -- the machine's ``save_state``: its own fields and each part's
(CPU, PAL, MMU, timer, console, disk, NIC), each part saving, checking and
hashing its own (machine/fields.py) -- and the zlib-compressed frames of
memory in use. Nothing is unpickled: a state file from a stranger can at
worst be rejected, with a message naming the field that did not fit.
Python entry handlers (the SPIN kernel's) are saved as "python" and come
back as stand-ins that halt until their owner installs them again.

Version 3 gave the timer and each device their own sections (a device's
scheduled events among them); version-2 files are still read, rearranged
into version 3's shape before they are checked.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from machine.alpha.constants import DTB_ENTRIES
from machine.fields import COUNT, Misfit, integer, integers, items, obj
from machine.hostfile import STATE_MAX, HostFileError, read_bytes
from machine.machine import Machine
from machine.memory import BusError
from machine.nic import Wire
from machine.world import World

MAGIC = b"SPINWB-STATE"
VERSION = 3
READS = (2, 3)  # versions this workbench reads
MAX_MACHINES = 64


class StateFileError(Exception):
    """The file is not a usable machine state; the message says why.
    ``unforeseen`` marks a body that failed in a way no check named (a bug
    here: the fuzz tests look for it)."""

    unforeseen = False


def _json(line: bytes, what: str) -> Any:
    try:
        return json.loads(line)
    except RecursionError:
        raise Misfit(f"{what} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise Misfit(f"{what} is not JSON ({str(e)[:80]})") from None


# --- version 2 -------------------------------------------------------------------------------

_V2_FIELDS = ("model", "memory_size", "cpu", "pal", "mmu", "machine", "console", "events", "event_order", "disk",
              "nic")  # fmt: skip
_V2_EVENTS = {"disk_done": ("disk", "done", "a disk transfer needs a disk"),
              "nic_tx_done": ("nic", "tx_done", "a transmission needs a network card"),
              "nic_rx": ("nic", "rx", "a frame arriving needs a network card")}  # fmt: skip


def _upgrade_v2(saved: object) -> dict[str, Any]:
    """A version-2 machine header in version 3's shape: the clock's ticks
    move to the timer, each queued event to the device that owns it, and
    the TBs lose their hit counters (not state: fields.py). The values are
    then checked as version 3's are."""
    h = obj(saved, "the header", _V2_FIELDS)
    mach = obj(h["machine"], "machine", ("ticks", "halt_reason"))
    mmu = obj(h["mmu"], "mmu", ("ptbr", "asn", "mode", "tbs"))
    tbs = []
    for t, tb in enumerate(items(mmu["tbs"], "mmu.tbs", 2)):
        *entries, counts = items(tb, f"mmu.tbs[{t}]", most=DTB_ENTRIES + 1) or [None]
        _hits, misses, fills = items(counts, f"mmu.tbs[{t}] counters", 3)
        tbs.append({"entries": entries, "misses": misses, "fills": fills})
    disk = nic = None
    if h["disk"] is not None:
        disk = {**obj(h["disk"], "disk", ("regs", "cylinder", "completed", "data")), "bad_blocks": [], "events": []}
    if h["nic"] is not None:
        nic = {**obj(h["nic"], "nic", ("mac", "regs", "sent", "received")), "events": []}
    for i, ev in enumerate(items(h["events"], "events")):
        cycle, order, name, args = items(ev, f"events[{i}]", 4)
        if not isinstance(name, str) or name not in _V2_EVENTS:
            raise Misfit(f"events[{i}]: unknown device event {str(name)[:20]!r}")
        owner, kind, needs = _V2_EVENTS[name]
        device = disk if owner == "disk" else nic
        if device is None:
            raise Misfit(f"events[{i}]: {needs}")
        device["events"].append([cycle, order, kind, args])
    return {"model": h["model"], "memory_size": h["memory_size"], "halt_reason": mach["halt_reason"],
            "event_order": h["event_order"], "cpu": h["cpu"], "pal": h["pal"],
            "mmu": {"ptbr": mmu["ptbr"], "asn": mmu["asn"], "mode": mmu["mode"], "itb": tbs[0], "dtb": tbs[1]},
            "timer": {"ticks": mach["ticks"]}, "console": h["console"], "disk": disk, "nic": nic}  # fmt: skip


# --- writing ---------------------------------------------------------------------------------


def _machine_body(m: Machine) -> bytes:
    head = json.dumps(m.save_state(), separators=(",", ":")).encode()
    return head + b"\n" + m.memory.save_frames()


def _seal(kind: bytes, body: bytes) -> bytes:
    body = kind + b"\n" + body
    return MAGIC + b" %d\n" % VERSION + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def snapshot(m: Machine) -> bytes:
    """One machine's state file, as bytes."""
    return _seal(b"machine", _machine_body(m))


def snapshot_world(world: World) -> bytes:
    """A world's state file: every machine, every wire, the shared clock."""
    index = {id(m): i for i, m in enumerate(world.machines)}
    wires = [w.save_state() | {"nics": [index[id(n.machine)] for n in w.nics]} for w in world.wires]
    head = json.dumps({"now": world.now, "wires": wires, "machines": len(world.machines)}).encode()
    parts = [head + b"\n"]
    for m in world.machines:
        body = _machine_body(m)
        parts.append(b"%d\n" % len(body) + body)
    return _seal(b"world", b"".join(parts))


def save(what: Machine | World, path: str | Path) -> None:
    """Write a machine's or a world's state file."""

    Path(path).write_bytes(snapshot_world(what) if isinstance(what, World) else snapshot(what))


# --- reading ---------------------------------------------------------------------------------


def _open(data: bytes, name: str) -> tuple[int, bytes, bytes]:
    """Check the magic line, version and checksum; return (version, kind, body)."""
    magic, _, rest = data.partition(b"\n")
    parts = magic.split(b" ")
    if parts[0] != MAGIC or len(parts) != 2:
        raise StateFileError(f"{name}: not a SPIN Workbench state file")
    version = next((v for v in READS if parts[1] == str(v).encode()), None)
    if version is None:
        raise StateFileError(f"{name}: state file version {parts[1][:20].decode(errors='replace')}; this workbench "
                             f"reads versions {' and '.join(map(str, READS))}")  # fmt: skip
    digest, _, body = rest.partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise StateFileError(f"{name}: the file is corrupted or truncated (checksum mismatch)")
    kind, _, body = body.partition(b"\n")
    if kind not in (b"machine", b"world"):
        raise StateFileError(f"{name}: unknown kind of state {kind[:20].decode(errors='replace')!r}")
    return version, kind, body


def _fits(name: str, what: str, e: Exception) -> StateFileError:
    """A well-formed checksum over a body this workbench cannot use: say
    which part did not fit, never a traceback."""
    if isinstance(e, KeyError):
        why = f"it has no {e.args[0]!r} field (written by another version of the workbench?)"
    elif isinstance(e, BusError):
        why = f"its memory reaches {e.pa:#x}, past the machine's own memory size"
    elif isinstance(e, Misfit):
        why = f"{e}"
    else:
        why = f"{type(e).__name__}: {e}"
    err = StateFileError(f"{name}: {what} does not fit this workbench: {why}")
    err.unforeseen = not isinstance(e, (KeyError, BusError, Misfit))
    return err


def restore(data: bytes, name: str = "<state>") -> Machine:
    """A new machine in the saved state."""
    version, kind, body = _open(data, name)
    if kind == b"world":
        count: int | str = "?"
        try:
            count = integer(_json(body.partition(b"\n")[0], "the header")["machines"], "machines", COUNT)
        except (ValueError, KeyError, TypeError):
            pass
        raise StateFileError(f"{name}: holds a world of {count} machines, not one machine; load it with "
                             f"load_world")  # fmt: skip
    m = _restore_machine(body, name, "the machine", version)
    _check_frames_in_flight([m], name)
    return m


def restore_world(data: bytes, name: str = "<state>") -> World:
    """A new world in the saved state (a one-machine file gives a world of one)."""

    version, kind, body = _open(data, name)
    world = World()
    if kind == b"machine":
        world.add(_restore_machine(body, name, "the machine", version))
        world.now = world.machines[0].cpu.cycles
        _check_frames_in_flight(world.machines, name)
        return world
    try:
        head, _, rest = body.partition(b"\n")
        h = obj(_json(head, "the world's header"), "the world's header", ("now", "wires", "machines"))
        count = integer(h["machines"], "machines", (1, MAX_MACHINES))
        wires = []
        for i, saved in enumerate(items(h["wires"], "wires", most=MAX_MACHINES)):
            where = f"wires[{i}]"
            joined = obj(saved, where, (*Wire.STATE_FIELDS, "nics"))
            nics = integers(joined["nics"], f"{where}.nics", None, (0, count - 1), most=count)
            if len(set(nics)) != len(nics):
                raise Misfit(f"{where}.nics joins one machine twice")
            w = Wire()
            w.apply_state(w.check_state({k: v for k, v in joined.items() if k != "nics"}, where))
            wires.append((w, nics))
        world.now = integer(h["now"], "now", COUNT)
        for i in range(count):
            size, _, rest = rest.partition(b"\n")
            if not size.isdigit() or len(size) > 12 or int(size) > len(rest):
                raise Misfit(f"machine {i}'s length {size[:20].decode(errors='replace')!r} does not fit the file")
            n = int(size)
            world.machines.append(_restore_machine(rest[:n], name, f"machine {i}", version))
            rest = rest[n:]
        if rest:
            raise Misfit(f"{len(rest)} bytes follow the last machine")
        taken: set[int] = set()
        for i, (w, nics) in enumerate(wires):
            for k in nics:
                nic = world.machines[k].nic
                if nic is None:
                    raise Misfit(f"wire {i} joins machine {k}, which has no NIC")
                if k in taken:
                    raise Misfit(f"machine {k} is joined to two wires; it has one card")
                taken.add(k)
                w.attach(nic)
            world.wires.append(w)
        behind = [i for i, m in enumerate(world.machines) if m.halt_reason is None and m.cpu.cycles < world.now]
        if behind:  # every running machine has reached the world's clock (World.run)
            raise Misfit(f"the world's clock {world.now} is past machine {behind[0]}'s "
                         f"{world.machines[behind[0]].cpu.cycles}")  # fmt: skip
    except StateFileError:
        raise
    except Exception as e:
        raise _fits(name, "the world", e) from None
    _check_frames_in_flight(world.machines, name)
    return world


def _restore_machine(body: bytes, name: str, what: str, version: int) -> Machine:
    try:
        head, _, packed = body.partition(b"\n")
        h = _json(head, "the header")
        if version == 2:
            h = _upgrade_v2(h)
        model, size = Machine.check_build(h)
        m = Machine(size, model)
        m.load_state(h)
        m.memory.load_frames(packed)
    except Exception as e:  # a well-formed checksum over a malformed body: say so, never a traceback
        raise _fits(name, what, e) from None
    return m


def _check_frames_in_flight(machines: list[Machine], name: str) -> None:
    """Each frame a machine expects off a wire must be on that wire."""
    for i, m in enumerate(machines):
        if m.nic is None:
            continue
        for fid in m.nic.frames_awaited():
            if m.nic.wire is None or fid not in m.nic.wire.in_flight:
                where = "the machine" if len(machines) == 1 else f"machine {i}"
                raise StateFileError(f"{name}: {where} does not fit this workbench: it waits for frame {fid}, "
                                     "which is on no wire it is joined to (save the world, not one machine)")  # fmt: skip


def _read(path: str | Path) -> bytes:
    try:
        return read_bytes(path, STATE_MAX, "a state file")
    except HostFileError as e:
        raise StateFileError(str(e)) from None


def load(path: str | Path) -> Machine:
    return restore(_read(path), str(path))


def load_world(path: str | Path) -> World:
    return restore_world(_read(path), str(path))
