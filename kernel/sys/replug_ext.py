"""The ``Replug`` interface extensions import: slots, quasi-invariants and
specialization on them (Synthetix §2, §4), for an extension's own code.

    Replug.Slot(name, fn) -> slot handle: calls go through it to fn(arg)
    Replug.Call(slot, arg) -> fn(arg)'s result, or None if fn faulted or ran out of fuel
    Replug.Replug(slot, fn, reason="") -> True if done now; False if a call is inside
        (the replug happens as the last caller leaves, as a replugger waits for the inside counter)
    Replug.Inside(slot) -> callers inside now;  Replug.Stats(slot) -> (calls, replugs, inside, parked)
    Replug.Invariant(name, value) -> invariant handle;  Replug.Value(inv) -> its value
    Replug.Set(inv, value): the guard: every slot specialized on inv is replugged
    Replug.Specialize(slot, inv, make): make(value) -> the function to run while inv == value

The slot is the kernel's ``Slot`` (kernel/sys/replug.py) and each function
in it is called contained, as a Files.Read handler is (files_ext.Callbacks):
under the extension's fuel, a fault reported, never raised into the kernel.
A function that raises or loops leaves the slot's inside counter right (the
slot drops it on every path out, §4.1's "including abnormal terminations").

An extension holds its slots and invariants as handles it cannot open, and
only its own: the kernel's slots (each open file's read, kernel/unix/
fileread.py) are never handed out, and a handle of another extension's is
refused. Extension code cannot block, so a caller is inside a slot only
while its call is on the stack: a replug asked for from inside (directly or
by a guard) is deferred to the moment the last caller leaves.

Bounds (kernel/params.py): REPLUG_SLOTS_PER_EXTENSION, REPLUG_INVARIANTS_PER_EXTENSION,
REPLUG_NAME_MAX, and REPLUG_NESTED_MAX calls one inside another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.params import (
    REPLUG_INVARIANTS_PER_EXTENSION,
    REPLUG_NAME_MAX,
    REPLUG_NESTED_MAX,
    REPLUG_SLOTS_PER_EXTENSION,
)
from kernel.sys import capability
from kernel.sys.errors import SpinError
from kernel.sys.replug import QuasiInvariant, Slot
from kernel.sys.sandbox import shown

if TYPE_CHECKING:
    from kernel.kernel import Kernel


class _ExtSlot:
    """One extension's slot: the kernel Slot, and a replug deferred until nobody is inside."""

    __slots__ = ("slot", "owner", "deferred", "invariants")

    def __init__(self, slot: Slot, owner: Any) -> None:
        self.slot = slot
        self.owner = owner
        self.deferred: tuple[Any, str] | None = None  # (function, reason) to plug in when inside drops to 0
        self.invariants: list[_ExtInvariant] = []


class _ExtInvariant:
    __slots__ = ("qi", "owner", "specs")

    def __init__(self, qi: QuasiInvariant, owner: Any) -> None:
        self.qi = qi
        self.owner = owner
        self.specs: list[tuple[_ExtSlot, Any]] = []  # (slot, the binding of make)


class ExtensionReplug:
    """Replug as one extension sees it."""

    __name__ = "Replug"

    def __init__(self, k: Kernel, ext: Any) -> None:
        self._k = k
        self._ext = ext
        self._slots = 0
        self._invariants = 0

    # --- checks ------------------------------------------------------------------------

    def _name(self, name: Any, what: str) -> str:
        if not isinstance(name, str) or not name or len(name) > REPLUG_NAME_MAX:
            raise SpinError(f"{self._ext.name}: Replug.{what}: the name is a str of 1 to {REPLUG_NAME_MAX} "
                            f"characters, not {shown(name)}")  # fmt: skip
        return name

    def _slot(self, h: Any, what: str) -> _ExtSlot:
        s = capability.unwrap(h, "replug slot", f"Replug.{what}")
        if s.owner is not self._ext:
            raise SpinError(f"{self._ext.name}: Replug.{what}: that slot is another extension's; only its maker "
                            f"may call or replug it")  # fmt: skip
        return s

    def _invariant(self, h: Any, what: str) -> _ExtInvariant:
        q = capability.unwrap(h, "quasi-invariant", f"Replug.{what}")
        if q.owner is not self._ext:
            raise SpinError(f"{self._ext.name}: Replug.{what}: that invariant is another extension's")
        return q

    def _value(self, v: Any, what: str) -> Any:
        if not isinstance(v, (int, str, float, bytes, bool, type(None))):
            raise SpinError(f"{self._ext.name}: Replug.{what}: an invariant's value is a number, string, bytes, "
                            f"bool or None, not {shown(v)}")  # fmt: skip
        return v

    def _function(self, fn: Any, what: str) -> Any:
        """The extension's procedure as a function the kernel Slot calls, contained."""
        from kernel.fs.files_ext import callbacks  # the kernel's one keeper of extension procedures

        cb = callbacks(self._k)
        ext = self._ext
        b = cb.prepare(ext, "SlotFn", fn, f"Replug.{what}")

        def contained(arg: Any) -> Any:
            ok, result = cb.ask(ext, b, arg, depth_max=REPLUG_NESTED_MAX)
            return result if ok else None

        contained.__name__ = f"{ext.name}.{getattr(fn, '__name__', 'function')}"
        return contained

    # --- slots -------------------------------------------------------------------------

    def Slot(self, name: Any, fn: Any) -> capability.Handle:  # noqa: N802 - SPIN's names
        """A new slot, holding ``fn``."""
        name = self._name(name, "Slot(name, fn)")
        if self._slots >= REPLUG_SLOTS_PER_EXTENSION:
            raise SpinError(f"{self._ext.name}: Replug.Slot: at most {REPLUG_SLOTS_PER_EXTENSION} slots an extension")
        s = Slot(f"{self._ext.name}/{name}", self._function(fn, "Slot(name, fn)"), None, trace=self._k.trace)
        self._slots += 1
        return capability.wrap(_ExtSlot(s, self._ext), "replug slot")

    def Call(self, h: Any, arg: Any = None) -> Any:  # noqa: N802
        """Call through the slot: the inside counter up, the function, the counter down."""
        es = self._slot(h, "Call(slot, arg)")
        self._k.sal.charge(costs.REPLUG_CALL)
        try:
            return es.slot(arg)
        finally:
            if es.deferred is not None and es.slot.inside == 0:
                fn, reason = es.deferred
                es.deferred = None
                self._swap(es, fn, reason)

    def Replug(self, h: Any, fn: Any, reason: Any = "") -> bool:  # noqa: N802
        """Plug ``fn`` in: now if nobody is inside, else as the last caller leaves (False)."""
        es = self._slot(h, "Replug(slot, fn, reason)")
        if not isinstance(reason, str):
            raise SpinError(f"{self._ext.name}: Replug.Replug: the reason is a str, not {shown(reason)}")
        return self._replug(es, self._function(fn, "Replug(slot, fn, reason)"), reason[:REPLUG_NAME_MAX])

    def _replug(self, es: _ExtSlot, fn: Any, reason: str) -> bool:
        if es.slot.inside:
            es.deferred = (fn, reason)  # the last caller out plugs it in (Call's finally)
            return False
        self._swap(es, fn, reason)
        return True

    def _swap(self, es: _ExtSlot, fn: Any, reason: str) -> None:
        self._k.sal.charge(costs.REPLUG_SWAP)
        es.slot.replug(fn, reason=reason)

    def Inside(self, h: Any) -> int:  # noqa: N802
        return self._slot(h, "Inside(slot)").slot.inside

    def Stats(self, h: Any) -> tuple[int, int, int, int]:  # noqa: N802
        s = self._slot(h, "Stats(slot)").slot
        return s.calls, s.replugs, s.inside, s.parked_total

    # --- quasi-invariants --------------------------------------------------------------

    def Invariant(self, name: Any, value: Any) -> capability.Handle:  # noqa: N802
        name = self._name(name, "Invariant(name, value)")
        if self._invariants >= REPLUG_INVARIANTS_PER_EXTENSION:
            raise SpinError(f"{self._ext.name}: Replug.Invariant: at most {REPLUG_INVARIANTS_PER_EXTENSION} "
                            f"invariants an extension")  # fmt: skip
        self._invariants += 1
        return capability.wrap(_ExtInvariant(QuasiInvariant(name, self._value(value, "Invariant")), self._ext),
                               "quasi-invariant")  # fmt: skip

    def Value(self, h: Any) -> Any:  # noqa: N802
        return self._invariant(h, "Value(inv)").qi.value

    def Specialize(self, h: Any, inv: Any, make: Any) -> bool:  # noqa: N802
        """Run ``make(value)``'s function in the slot while the invariant has
        that value; the guard in ``Set`` replugs whenever it changes."""
        es = self._slot(h, "Specialize(slot, inv, make)")
        q = self._invariant(inv, "Specialize(slot, inv, make)")
        if any(s is es for s, _ in q.specs):
            raise SpinError(
                f"{self._ext.name}: Replug.Specialize: {es.slot.name} is already specialized on {q.qi.name}"
            )
        mk = self._function(make, "Specialize(slot, inv, make)")
        q.specs.append((es, mk))
        return self._respecialize(es, mk, q.qi.value, f"specialized on {q.qi.name} = {q.qi.value!r}")

    def Set(self, h: Any, value: Any) -> None:  # noqa: N802
        """The guard at a place that may falsify the invariant."""
        q = self._invariant(h, "Set(inv, value)")
        value = self._value(value, "Set(inv, value)")
        old = q.qi.value
        if value == old:
            return
        q.qi.set(value)
        for es, mk in list(q.specs):
            self._respecialize(es, mk, value, f"{q.qi.name} changed from {shown(old)} to {shown(value)}")

    def _respecialize(self, es: _ExtSlot, mk: Any, value: Any, reason: str) -> bool:
        """make(value) under the extension's fuel; a make that faults or gives
        no procedure leaves the slot as it was, with a report line."""
        fn = mk(value)
        if not callable(fn):
            self._k.dispatcher.report(f"{self._ext.name}: Replug.Specialize on {es.slot.name}: make gave "
                                      f"{shown(fn)}, not a procedure; the slot keeps {_fn_name(es.slot.fn)}")  # fmt: skip
            return False
        try:
            new = self._function(fn, "Specialize(slot, inv, make)")
        except SpinError as e:
            self._k.dispatcher.report(f"{e}; the slot keeps {_fn_name(es.slot.fn)}")
            return False
        return self._replug(es, new, reason)


def _fn_name(fn: Any) -> str:
    return getattr(fn, "__name__", "?")


def export(k: Kernel) -> None:
    """Offer Replug to extensions (boot calls this)."""
    k.system.public.exports["Replug"] = lambda ext: ExtensionReplug(k, ext)


__all__ = ["ExtensionReplug", "export"]
