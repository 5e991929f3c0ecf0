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

if TYPE_CHECKING:
    from machine.machine import Machine

MAGIC = b"SPINWB-STATE"
VERSION = 1
_FRAME = struct.Struct("<Q1024Q")


class StateFileError(Exception):
    """The file is not a usable machine state; the message says why."""


def snapshot(m: Machine) -> bytes:
    cpu, pal, mmu = m.cpu, m.pal, m.mmu
    header: dict[str, Any] = {
        "model": cpu.model,
        "memory_size": m.memory.size,
        "cpu": {"pc": cpu.pc, "r": cpu.r, "f": cpu.f, "fpcr": cpu.fpcr, "unique": cpu.unique,
                "intr_flag": cpu.intr_flag, "lock_addr": cpu.lock_addr, "lock_value": cpu.lock_value,
                "icount": cpu.icount, "cycles": cpu.cycles, "pcc_offset": cpu.pcc_offset},
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
    }  # fmt: skip
    frames = b"".join(_FRAME.pack(pfn, *f) for pfn, f in sorted(m.memory.frames.items()) if any(f))
    body = json.dumps(header, separators=(",", ":")).encode() + b"\n" + zlib.compress(frames, 6)
    return MAGIC + b" %d\n" % VERSION + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def save(m: Machine, path: str | Path) -> None:
    Path(path).write_bytes(snapshot(m))


def restore(data: bytes, name: str = "<state>") -> Machine:
    """A new machine in the saved state."""
    from machine.alpha.mmu import TLB
    from machine.machine import Machine

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
    try:
        head, _, packed = body.partition(b"\n")
        h = json.loads(head)
        frames = zlib.decompress(packed)
        m = Machine(h["memory_size"], h["model"])
        cpu, pal, mmu = m.cpu, m.pal, m.mmu
        for k, v in h["cpu"].items():
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
        if len(frames) % _FRAME.size:
            raise ValueError("memory image is not whole frames")
        for off in range(0, len(frames), _FRAME.size):
            pfn, *words = _FRAME.unpack_from(frames, off)
            m.memory.frame(pfn)[:] = words
        cpu.flush_tlb()
    except StateFileError:
        raise
    except Exception as e:  # a well-formed checksum over a malformed body: say so, never a traceback
        raise StateFileError(f"{name}: the state does not fit this machine: {type(e).__name__}: {e}") from None
    return m


def load(path: str | Path) -> Machine:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise StateFileError(f"{path}: cannot read: {e.strerror}") from None
    return restore(data, str(path))
