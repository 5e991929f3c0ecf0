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
import heapq
import json
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from machine.alpha.constants import CLOCK_HZ, CPU_MODELS, DTB_ENTRIES, ITB_ENTRIES, M64, PAGE_SHIFT, PAGE_SIZE
from machine.hostfile import DISK_MAX, STATE_MAX, HostFileError, read_bytes
from machine.machine import TIMER_HZ
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
    """The file is not a usable machine state; the message says why.
    ``unforeseen`` marks a body that failed in a way no check named (a bug
    here: the fuzz tests look for it)."""

    unforeseen = False


# --- the shape a state file's JSON must have -----------------------------------------------
# A state file with a good checksum may still come from another version, or be
# written by hand: every field is checked for its type and range before any of
# it is used, so a restored machine can run without tripping over a value no
# machine of ours could hold (a float for a register, a list for a count).

MAX_MEMORY = 1 << 30  # the largest memory a saved machine may have
MAX_MACHINES = 64
MAX_EVENTS = 1 << 16
MAX_TEXT = 1 << 16  # characters in a saved string such as the halt reason
U64 = (0, M64)
WORD = (-(1 << 63), M64)  # a 64-bit value saved with either sign convention
COUNT = (0, (1 << 63) - 1)


class _Misfit(ValueError):
    """A field of the wrong type or range; the message names the field."""


def _kind(v: object) -> str:
    return {bool: "true/false", int: "an integer", float: "a number with a fraction", str: "a string",
            list: "a list", dict: "an object", type(None): "null"}.get(type(v), type(v).__name__)  # fmt: skip


def _int(v: object, where: str, rng: tuple[int, int]) -> int:
    if type(v) is not int:  # bool is an int to Python, not to a register
        raise _Misfit(f"{where} should be an integer, not {_kind(v)}")
    lo, hi = rng
    if not lo <= v <= hi:
        shown = str(v) if v.bit_length() < 80 else f"a {v.bit_length()}-bit number"
        raise _Misfit(f"{where} is {shown}, outside {lo:#x}..{hi:#x}")
    return v


def _obj(v: object, where: str, fields: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _Misfit(f"{where} should be an object, not {_kind(v)}")
    for f in fields:
        if f not in v:
            raise KeyError(f)
    extra = sorted(set(v) - set(fields))
    if extra:
        raise _Misfit(f"{where} has an unexpected field {extra[0][:40]!r} (written by another version of the "
                      "workbench?)")  # fmt: skip
    return v


def _list(v: object, where: str, n: int | None = None, most: int = MAX_EVENTS) -> list[Any]:
    if not isinstance(v, list):
        raise _Misfit(f"{where} should be a list, not {_kind(v)}")
    if n is not None and len(v) != n:
        raise _Misfit(f"{where} should hold {n} items, not {len(v)}")
    if len(v) > most:
        raise _Misfit(f"{where} holds {len(v)} items, more than {most}")
    return v


def _ints(v: object, where: str, n: int | None, rng: tuple[int, int], most: int = MAX_EVENTS) -> list[int]:
    return [_int(x, f"{where}[{i}]", rng) for i, x in enumerate(_list(v, where, n, most))]


def _str(v: object, where: str, most: int = MAX_TEXT) -> str:
    if not isinstance(v, str):
        raise _Misfit(f"{where} should be a string, not {_kind(v)}")
    if len(v) > most:
        raise _Misfit(f"{where} is {len(v)} characters long, more than {most}")
    return v


def _hex(v: object, where: str) -> bytes:
    try:
        return bytes.fromhex(_str(v, where, 2 * STATE_MAX))
    except ValueError:
        raise _Misfit(f"{where} should be hexadecimal digits") from None


def _inflate(packed: bytes, limit: int, what: str) -> bytes:
    """zlib data that may inflate to at most ``limit`` bytes (no zip bombs)."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(packed, limit + 1)
    except zlib.error as e:
        raise _Misfit(f"{what} is not zlib data ({e})") from None
    if len(out) > limit or d.unconsumed_tail:
        raise _Misfit(f"{what} inflates to more than {limit} bytes")
    if not d.eof:
        raise _Misfit(f"{what} is cut short")
    return out


def _json(line: bytes, what: str) -> Any:
    try:
        return json.loads(line)
    except RecursionError:
        raise _Misfit(f"{what} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise _Misfit(f"{what} is not JSON ({str(e)[:80]})") from None


def _check_machine(h: object) -> dict[str, Any]:
    """A machine header that every later step may trust."""
    h = _obj(h, "the header", ("model", "memory_size", "cpu", "pal", "mmu", "machine", "console", "events",
                               "event_order", "disk", "nic"))  # fmt: skip
    if not isinstance(h["model"], str) or h["model"] not in CPU_MODELS:
        raise _Misfit(f"unknown CPU model {str(h['model'])[:20]!r} (known: {', '.join(CPU_MODELS)})")
    size = _int(h["memory_size"], "memory_size", (PAGE_SIZE, MAX_MEMORY))
    if size % PAGE_SIZE:
        raise _Misfit(f"memory_size {size} is not a whole number of {PAGE_SIZE}-byte pages")
    cpu = _obj(h["cpu"], "cpu", _CPU_FIELDS)
    for k in _CPU_FIELDS:
        if k in ("r", "f"):
            _ints(cpu[k], f"cpu.{k}", 32, U64)
        else:
            _int(cpu[k], f"cpu.{k}", {"intr_flag": (0, 1), "lock_addr": WORD, "lock_value": WORD,
                                      "icount": COUNT, "cycles": COUNT}.get(k, U64))  # fmt: skip
    pal = _obj(h["pal"], "pal", ("ps", "ksp", "usp", "kgp", "sysval", "pcbb", "fen", "mces", "vptptr", "idle",
                                 "entries", "pending", "counts"))  # fmt: skip
    for k in ("ksp", "usp", "kgp", "sysval", "pcbb", "vptptr"):
        _int(pal[k], f"pal.{k}", U64)
    _int(pal["ps"], "pal.ps", (0, 0xF))
    _int(pal["fen"], "pal.fen", (0, 1))
    _int(pal["mces"], "pal.mces", (0, 0x1F))
    if not isinstance(pal["idle"], bool):
        raise _Misfit(f"pal.idle should be true or false, not {_kind(pal['idle'])}")
    for i, e in enumerate(_list(pal["entries"], "pal.entries", 6)):
        if e is not None and e != "python":
            _int(e, f"pal.entries[{i}]", U64)
    ipls = set()
    for i, p in enumerate(_list(pal["pending"], "pal.pending", most=32)):
        ipl, _, _ = _ints(p, f"pal.pending[{i}]", 3, U64)
        if ipl > 31 or ipl in ipls:
            raise _Misfit(f"pal.pending[{i}]: interrupt level {ipl} is not 0..31 or is pending twice")
        ipls.add(ipl)
    _ints(pal["counts"], "pal.counts", 6, COUNT)
    mmu = _obj(h["mmu"], "mmu", ("ptbr", "asn", "mode", "tbs"))
    _int(mmu["ptbr"], "mmu.ptbr", U64)
    _int(mmu["asn"], "mmu.asn", (0, 255))
    _int(mmu["mode"], "mmu.mode", (0, 1))
    for t, (tb, most) in enumerate(zip(_list(mmu["tbs"], "mmu.tbs", 2), (ITB_ENTRIES, DTB_ENTRIES), strict=True)):
        where = f"mmu.tbs[{t}]"
        *entries, counts = _list(tb, where, most=most + 1) or [None]
        _ints(counts, f"{where} counters", 3, COUNT)
        for i, e in enumerate(entries):
            vpn, asn, pte = _list(e, f"{where}[{i}]", 3)
            _int(vpn, f"{where}[{i}] VPN", U64)
            if asn is not None:
                _int(asn, f"{where}[{i}] ASN", (0, 255))
            _int(pte, f"{where}[{i}] PTE", U64)
    mach = _obj(h["machine"], "machine", ("ticks", "halt_reason"))
    ticks = _int(mach["ticks"], "machine.ticks", COUNT)
    # a machine raises the clock ticks it owes before its next instruction:
    # more than a second of them owed means a clock no run could have left
    if h["cpu"]["cycles"] - ticks * CLOCK_HZ // TIMER_HZ > CLOCK_HZ:
        raise _Misfit(f"machine.ticks {ticks} is far behind the clock at cycle {h['cpu']['cycles']}")
    if mach["halt_reason"] is not None:
        _str(mach["halt_reason"], "machine.halt_reason")
    con = _obj(h["console"], "console", ("output", "input"))
    _hex(con["output"], "console.output")
    _hex(con["input"], "console.input")
    if h["disk"] is not None:
        d = _obj(h["disk"], "disk", ("regs", "cylinder", "completed", "data"))
        _ints(d["regs"], "disk.regs", 8, U64)
        _int(d["cylinder"], "disk.cylinder", COUNT)
        _int(d["completed"], "disk.completed", COUNT)
        _str(d["data"], "disk.data", 2 * STATE_MAX)
    if h["nic"] is not None:
        n = _obj(h["nic"], "nic", ("mac", "regs", "sent", "received"))
        _int(n["mac"], "nic.mac", (0, (1 << 48) - 1))
        _ints(n["regs"], "nic.regs", 12, U64)
        _int(n["sent"], "nic.sent", COUNT)
        _int(n["received"], "nic.received", COUNT)
    _int(h["event_order"], "event_order", COUNT)
    for i, ev in enumerate(_list(h["events"], "events")):
        cycle, order, name, args = _list(ev, f"events[{i}]", 4)
        _int(cycle, f"events[{i}] cycle", COUNT)
        _int(order, f"events[{i}] order", COUNT)
        args = _ints(args, f"events[{i}] arguments", None, U64, most=4)
        _check_event(h, i, name, args)
    return h


def _check_event(h: dict[str, Any], i: int, name: object, args: list[int]) -> None:
    """A device event in flight must be one the machine can finish."""
    where = f"events[{i}]"
    if name == "disk_done":
        if h["disk"] is None or len(args) != 4:
            raise _Misfit(f"{where}: a disk transfer needs a disk and 4 arguments")
        cmd, block, count, pa = args
        if cmd not in (1, 2) or not 0 < count <= 256 or pa % 8 or pa + count * 512 > h["memory_size"]:
            raise _Misfit(f"{where}: disk transfer {args} is not one the disk could have started")
    elif name == "nic_tx_done":
        if h["nic"] is None or args:
            raise _Misfit(f"{where}: a transmission needs a network card and no arguments")
    elif name == "nic_rx":
        if h["nic"] is None or len(args) != 1:
            raise _Misfit(f"{where}: a frame arriving needs a network card and 1 argument")
    else:
        raise _Misfit(f"{where}: unknown device event {str(name)[:20]!r}")


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
    elif isinstance(e, _Misfit):
        why = f"{e}"
    else:
        why = f"{type(e).__name__}: {e}"
    err = StateFileError(f"{name}: {what} does not fit this workbench: {why}")
    err.unforeseen = not isinstance(e, (KeyError, BusError, _Misfit))
    return err


def restore(data: bytes, name: str = "<state>") -> Machine:
    """A new machine in the saved state."""
    kind, body = _open(data, name)
    if kind == b"world":
        try:
            count = _int(_json(body.partition(b"\n")[0], "the header")["machines"], "machines", COUNT)
        except (ValueError, KeyError, TypeError):
            count = "?"
        raise StateFileError(f"{name}: holds a world of {count} machines, not one machine; load it with "
                             f"load_world")  # fmt: skip
    m = _restore_machine(body, name, "the machine")
    _check_frames_in_flight([m], name)
    return m


def _check_wire(saved: object, i: int, machines: int) -> dict[str, Any]:
    where = f"wires[{i}]"
    w = _obj(saved, where, ("latency", "bandwidth", "loss", "rng", "next_id", "carried", "lost", "in_flight",
                            "nics"))  # fmt: skip
    _int(w["latency"], f"{where}.latency", COUNT)
    _int(w["bandwidth"], f"{where}.bandwidth", (1, 1 << 40))
    loss = w["loss"]
    if type(loss) not in (int, float) or not 0 <= loss <= 1:  # also refuses NaN
        raise _Misfit(f"{where}.loss should be a number from 0 to 1, not {str(loss)[:20]}")
    version, internal, gauss = _list(w["rng"], f"{where}.rng", 3)
    _int(version, f"{where}.rng version", (3, 3))
    state = _ints(internal, f"{where}.rng state", 625, (0, (1 << 32) - 1))
    if state[-1] > 624:
        raise _Misfit(f"{where}.rng state: position {state[-1]} is past 624")
    if gauss is not None and type(gauss) is not float:
        raise _Misfit(f"{where}.rng: the saved gauss value should be a number or null")
    for k in ("next_id", "carried", "lost"):
        _int(w[k], f"{where}.{k}", COUNT)
    for j, f in enumerate(_list(w["in_flight"], f"{where}.in_flight")):
        fid, frame = _list(f, f"{where}.in_flight[{j}]", 2)
        _int(fid, f"{where}.in_flight[{j}] id", COUNT)
        _hex(frame, f"{where}.in_flight[{j}] frame")
    nics = _ints(w["nics"], f"{where}.nics", None, (0, machines - 1), most=machines)
    if len(set(nics)) != len(nics):
        raise _Misfit(f"{where}.nics joins one machine twice")
    return w


def restore_world(data: bytes, name: str = "<state>") -> World:
    """A new world in the saved state (a one-machine file gives a world of one)."""
    from machine.nic import Wire
    from machine.world import World

    kind, body = _open(data, name)
    world = World()
    if kind == b"machine":
        world.add(_restore_machine(body, name, "the machine"))
        world.now = world.machines[0].cpu.cycles
        _check_frames_in_flight(world.machines, name)
        return world
    try:
        head, _, rest = body.partition(b"\n")
        h = _obj(_json(head, "the world's header"), "the world's header", ("now", "wires", "machines"))
        count = _int(h["machines"], "machines", (1, MAX_MACHINES))
        wires = [_check_wire(w, i, count) for i, w in enumerate(_list(h["wires"], "wires", most=MAX_MACHINES))]
        world.now = _int(h["now"], "now", COUNT)
        for i in range(count):
            size, _, rest = rest.partition(b"\n")
            if not size.isdigit() or len(size) > 12 or int(size) > len(rest):
                raise _Misfit(f"machine {i}'s length {size[:20].decode(errors='replace')!r} does not fit the file")
            n = int(size)
            world.machines.append(_restore_machine(rest[:n], name, f"machine {i}"))
            rest = rest[n:]
        if rest:
            raise _Misfit(f"{len(rest)} bytes follow the last machine")
        joined: set[int] = set()
        for i, saved in enumerate(wires):
            w = Wire(saved["latency"], saved["bandwidth"], saved["loss"])
            version, internal, gauss = saved["rng"]
            w.rng.setstate((version, tuple(internal), gauss))
            w.next_id, w.carried, w.lost = saved["next_id"], saved["carried"], saved["lost"]
            w.in_flight = {k: bytes.fromhex(v) for k, v in saved["in_flight"]}
            for k in saved["nics"]:
                nic = world.machines[k].nic
                if nic is None:
                    raise _Misfit(f"wire {i} joins machine {k}, which has no NIC")
                if k in joined:
                    raise _Misfit(f"machine {k} is joined to two wires; it has one card")
                joined.add(k)
                w.attach(nic)
            world.wires.append(w)
        behind = [i for i, m in enumerate(world.machines) if m.halt_reason is None and m.cpu.cycles < world.now]
        if behind:  # every running machine has reached the world's clock (World.run)
            raise _Misfit(f"the world's clock {world.now} is past machine {behind[0]}'s "
                          f"{world.machines[behind[0]].cpu.cycles}")  # fmt: skip
    except StateFileError:
        raise
    except Exception as e:
        raise _fits(name, "the world", e) from None
    _check_frames_in_flight(world.machines, name)
    return world


def _restore_machine(body: bytes, name: str, what: str) -> Machine:
    from machine.machine import Machine

    try:
        head, _, packed = body.partition(b"\n")
        h = _check_machine(_json(head, "the header"))
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
            *entries, (tb.hits, tb.misses, tb.fills) = saved
            for vpn, asn, pte in entries:
                tb.entries[(vpn, asn)] = pte
        m.ticks = h["machine"]["ticks"]
        m.halt_reason = h["machine"]["halt_reason"]
        m.console.output = bytearray.fromhex(h["console"]["output"])
        m.console.feed(bytes.fromhex(h["console"]["input"]))
        m.events = [(c, o, e, tuple(a)) for c, o, e, a in h["events"]]
        heapq.heapify(m.events)
        m._event_order = h["event_order"]
        if h["disk"] is not None:
            disk = _inflate(_hex(h["disk"]["data"], "disk.data"), DISK_MAX, "the disk image")
            d = m.attach_disk(disk)
            d.regs, d.cylinder, d.completed = h["disk"]["regs"], h["disk"]["cylinder"], h["disk"]["completed"]
            for _, _, e, a in m.events:
                if e == "disk_done" and a[1] + a[2] > d.nblocks:
                    raise _Misfit(f"a disk transfer in flight reaches block {a[1] + a[2]}, past the disk's "
                                  f"{d.nblocks}")  # fmt: skip
        if h["nic"] is not None:
            nic = m.attach_nic(h["nic"]["mac"])
            nic.regs, nic.sent, nic.received = h["nic"]["regs"], h["nic"]["sent"], h["nic"]["received"]
        _restore_frames(m, packed)
        cpu.flush_tlb()
    except Exception as e:  # a well-formed checksum over a malformed body: say so, never a traceback
        raise _fits(name, what, e) from None
    return m


def _restore_frames(m: Machine, packed: bytes) -> None:
    """Inflate the memory image a frame at a time, each checked to be in
    this machine's memory before the next is inflated (no zip bombs)."""
    d = zlib.decompressobj()
    pending, buf, count = packed, b"", 0
    while True:
        before = len(pending)
        try:
            got = d.decompress(pending, _FRAME.size - len(buf))
        except zlib.error as e:
            raise _Misfit(f"the memory image is not zlib data ({e})") from None
        pending, buf = d.unconsumed_tail, buf + got
        if len(buf) == _FRAME.size:
            count += 1
            if count > m.memory.nframes:
                raise _Misfit(f"the memory image holds more frames than the machine's {m.memory.nframes}")
            pfn, *words = _FRAME.unpack(buf)
            buf = b""
            if not 0 <= pfn < m.memory.nframes:
                raise BusError(pfn << PAGE_SHIFT)
            m.memory.frame(pfn)[:] = words
        elif d.eof:
            if buf:
                raise _Misfit("memory image is not whole frames")
            return
        elif not pending or (not got and len(pending) == before):
            raise _Misfit("the memory image is cut short")


def _check_frames_in_flight(machines: list[Machine], name: str) -> None:
    """Each frame a machine expects off a wire must be on that wire."""
    for i, m in enumerate(machines):
        for _, _, e, a in m.events:
            if e == "nic_rx" and (m.nic is None or m.nic.wire is None or a[0] not in m.nic.wire.in_flight):
                where = "the machine" if len(machines) == 1 else f"machine {i}"
                raise StateFileError(f"{name}: {where} does not fit this workbench: it waits for frame {a[0]}, "
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
