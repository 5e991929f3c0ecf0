"""Saved state, part by part: the checks every loaded field passes, and the digest.

Each part of the machine (CPU, PAL, MMU and its TBs, timer, console, disk,
NIC, the machine itself) is a ``Part``: it names its state in one tuple,
``STATE_FIELDS``, writes exactly those fields in ``save_state``, and its
``state_digest`` is a hash of what ``save_state`` wrote. So a field is saved
if and only if it is hashed: a state hash can no longer miss what a state
file holds (it once missed the lock address, the PAL's idle flag, FEN, the
MMU mode and the console's input). Attributes that are not state (links to
other parts, host caches, debugger settings) are named in ``NOT_STATE``
with the reason, and a test checks that every attribute is one or the other.

``load_state`` checks every field's type and range before it changes
anything, so a state from another version, a hand edit or a stranger can
at worst be refused with a message that names the field (``Misfit``).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any, ClassVar

from machine.alpha.constants import M64
from machine.hostfile import STATE_MAX

MAX_EVENTS = 1 << 16  # items in a saved list
MAX_TEXT = 1 << 16  # characters in a saved string such as the halt reason
U64 = (0, M64)
WORD = (-(1 << 63), M64)  # a 64-bit value saved with either sign convention
COUNT = (0, (1 << 63) - 1)


class Misfit(ValueError):
    """A saved field of the wrong type or range, or missing; the message names the field."""


def kind(v: object) -> str:
    return {bool: "true/false", int: "an integer", float: "a number with a fraction", str: "a string",
            list: "a list", dict: "an object", type(None): "null"}.get(type(v), type(v).__name__)  # fmt: skip


def integer(v: object, where: str, rng: tuple[int, int]) -> int:
    if type(v) is not int:  # bool is an int to Python, not to a register
        raise Misfit(f"{where} should be an integer, not {kind(v)}")
    lo, hi = rng
    if not lo <= v <= hi:
        shown = str(v) if v.bit_length() < 80 else f"a {v.bit_length()}-bit number"
        raise Misfit(f"{where} is {shown}, outside {lo:#x}..{hi:#x}")
    return v


def boolean(v: object, where: str) -> bool:
    if not isinstance(v, bool):
        raise Misfit(f"{where} should be true or false, not {kind(v)}")
    return v


def obj(v: object, where: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """An object with exactly ``fields``."""
    if not isinstance(v, dict):
        raise Misfit(f"{where} should be an object, not {kind(v)}")
    for f in fields:
        if f not in v:
            raise Misfit(f"{where} has no {f!r} field (written by another version of the workbench?)")
    extra = sorted(set(v) - set(fields))
    if extra:
        raise Misfit(f"{where} has an unexpected field {extra[0][:40]!r} (written by another version of the "
                     "workbench?)")  # fmt: skip
    return v


def items(v: object, where: str, n: int | None = None, most: int = MAX_EVENTS) -> list[Any]:
    """A list (of ``n`` items, if given)."""
    if not isinstance(v, list):
        raise Misfit(f"{where} should be a list, not {kind(v)}")
    if n is not None and len(v) != n:
        raise Misfit(f"{where} should hold {n} items, not {len(v)}")
    if len(v) > most:
        raise Misfit(f"{where} holds {len(v)} items, more than {most}")
    return v


def integers(v: object, where: str, n: int | None, rng: tuple[int, int], most: int = MAX_EVENTS) -> list[int]:
    return [integer(x, f"{where}[{i}]", rng) for i, x in enumerate(items(v, where, n, most))]


def text(v: object, where: str, most: int = MAX_TEXT) -> str:
    if not isinstance(v, str):
        raise Misfit(f"{where} should be a string, not {kind(v)}")
    if len(v) > most:
        raise Misfit(f"{where} is {len(v)} characters long, more than {most}")
    return v


def hexbytes(v: object, where: str) -> bytes:
    try:
        return bytes.fromhex(text(v, where, 2 * STATE_MAX))
    except ValueError:
        raise Misfit(f"{where} should be hexadecimal digits") from None


def inflate(packed: bytes, limit: int, what: str) -> bytes:
    """zlib data that may inflate to at most ``limit`` bytes (no zip bombs)."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(packed, limit + 1)
    except zlib.error as e:
        raise Misfit(f"{what} is not zlib data ({e})") from None
    if len(out) > limit or d.unconsumed_tail:
        raise Misfit(f"{what} inflates to more than {limit} bytes")
    if not d.eof:
        raise Misfit(f"{what} is cut short")
    return out


def events(v: object, where: str, kinds: dict[str, int]) -> list[tuple[int, int, str, tuple[int, ...]]]:
    """A device's scheduled events, [cycle, order, kind, args]; ``kinds``
    maps each kind the device schedules to its number of arguments."""
    out = []
    for i, ev in enumerate(items(v, where)):
        cycle, order, name, args = items(ev, f"{where}[{i}]", 4)
        integer(cycle, f"{where}[{i}] cycle", COUNT)
        integer(order, f"{where}[{i}] order", COUNT)
        if not isinstance(name, str) or name not in kinds:
            raise Misfit(f"{where}[{i}]: unknown device event {str(name)[:20]!r}")
        args = integers(args, f"{where}[{i}] arguments", kinds[name], U64)
        out.append((cycle, order, name, tuple(args)))
    return out


def digest(name: str, state: dict[str, Any]) -> bytes:
    """sha256 of a part's saved state in a canonical form (sorted keys, no
    spaces), so what is saved and what is hashed cannot disagree."""
    return hashlib.sha256(json.dumps({name: state}, sort_keys=True, separators=(",", ":")).encode()).digest()


class Part:
    """A part of the machine that saves, loads and hashes its own state.

    ``check_state`` validates a saved dict and returns what ``apply_state``
    installs; nothing changes until every field has passed."""

    STATE_NAME: ClassVar[str]  # its name in a state file and in messages
    STATE_FIELDS: ClassVar[tuple[str, ...]]  # the one list: saved, loaded and hashed
    NOT_STATE: ClassVar[dict[str, str]] = {}  # attribute -> why it is neither saved nor hashed

    def save_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def check_state(self, saved: object) -> dict[str, Any]:
        raise NotImplementedError

    def apply_state(self, checked: dict[str, Any]) -> None:
        raise NotImplementedError

    def load_state(self, saved: object) -> None:
        """Install a saved state; Misfit, naming the field, if any field does not fit."""
        self.apply_state(self.check_state(saved))

    def state_digest(self) -> bytes:
        return digest(self.STATE_NAME, self.save_state())
