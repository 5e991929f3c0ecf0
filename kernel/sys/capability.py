"""Capabilities: how kernel objects reach extensions and user programs.

Inside the kernel an extension holds a ``Handle``: an opaque reference it can
pass back but not open (its one slot is ``_obj``, and the verifier forbids
``_`` attributes). Kernel interfaces take handles back with ``unwrap``, which
checks the kind and that the handle was not revoked.

A user program cannot hold a Python reference, so SPIN *externalized* it:
each address space has a table, and user level sees an index (SOSP'95 §3.2).
An index here packs the table's tag, a generation and a slot, so a forged
index (no such slot), a stale one (the slot was freed and reused) and a
foreign one (another address space's table) are each told apart.
"""

from __future__ import annotations

from typing import Any

from kernel.sys.errors import BadCapability


class Handle:
    __slots__ = ("_obj", "_kind", "_live")

    def __init__(self, obj: Any, kind: str) -> None:
        self._obj = obj
        self._kind = kind
        self._live = True

    def __repr__(self) -> str:
        return f"<{self._kind} handle>" if self._live else f"<revoked {self._kind} handle>"


def wrap(obj: Any, kind: str) -> Handle:
    return Handle(obj, kind)


def unwrap(h: Any, kind: str, what: str = "") -> Any:
    """The object behind a handle of ``kind``; BadCapability otherwise."""
    where = f" ({what})" if what else ""
    if not isinstance(h, Handle):
        raise BadCapability(f"expected a {kind} handle{where}, got {type(h).__name__}: a forged reference")
    if h._kind != kind:
        raise BadCapability(f"expected a {kind} handle{where}, got a {h._kind} handle")
    if not h._live:
        raise BadCapability(f"the {kind} handle{where} was revoked")
    return h._obj


def revoke(h: Handle) -> None:
    h._live = False
    h._obj = None


SLOT_BITS, GEN_BITS = 16, 16


class ExternalRefs:
    """One address space's table of externalized references."""

    def __init__(self, tag: int) -> None:
        self.tag = tag & 0x7FFF  # which address space (15 bits keep indices positive in 32 bits)
        self.slots: list[tuple[int, Any, str] | None] = []  # (generation, object, kind)
        self.gens: list[int] = []

    def externalize(self, obj: Any, kind: str) -> int:
        free = [k for k, s in enumerate(self.slots) if s is None]
        if free:
            i = free[0]
        else:
            i = len(self.slots)
            if i >= 1 << SLOT_BITS:
                raise BadCapability("this address space has no free externalized-reference slots")
            self.slots.append(None)
            self.gens.append(0)
        self.gens[i] = (self.gens[i] + 1) & ((1 << GEN_BITS) - 1)
        self.slots[i] = (self.gens[i], obj, kind)
        return (self.tag << (SLOT_BITS + GEN_BITS)) | (self.gens[i] << SLOT_BITS) | i

    def _find(self, ref: int) -> tuple[int, tuple[int, Any, str]]:
        if not isinstance(ref, int) or ref < 0:
            raise BadCapability(f"externalized reference {ref!r} is not an index")
        tag, gen, slot = ref >> (SLOT_BITS + GEN_BITS), (ref >> SLOT_BITS) & ((1 << GEN_BITS) - 1), ref & 0xFFFF
        if tag != self.tag:
            raise BadCapability(f"reference {ref:#x} belongs to another address space")
        entry = self.slots[slot] if slot < len(self.slots) else None
        if entry is None and (slot >= len(self.slots) or self.gens[slot] < gen or gen == 0):
            raise BadCapability(f"reference {ref:#x} was never handed out: a forged index")
        if entry is None or entry[0] != gen:
            raise BadCapability(f"reference {ref:#x} is stale: what it named was released")
        return slot, entry

    def internalize(self, ref: int, kind: str) -> Any:
        _, (_, obj, k) = self._find(ref)
        if k != kind:
            raise BadCapability(f"reference {ref:#x} names a {k}, not a {kind}")
        return obj

    def release(self, ref: int) -> None:
        slot, _ = self._find(ref)
        self.slots[slot] = None
