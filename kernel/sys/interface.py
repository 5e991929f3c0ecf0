"""Interfaces: what a kernel module exports, and the read-only views of
them that extensions get.

Kernel code holds the ``Interface`` itself and raises an event by calling
its attribute (the slot the dispatcher patches). An extension holds a
``Facade``: attribute reads only, events come back as ``EventRef`` (callable
to raise, and the identity ``Dispatcher.InstallHandler`` wants), and the
facade's one slot is out of the verifier's reach.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.sys.authority import PRIVILEGED, may_raise
from kernel.sys.errors import AuthError
from kernel.sys.sandbox import key


class Interface:
    """A named set of procedures and events (a Modula-3 interface)."""

    def __init__(self, name: str, doc: str = "", **members: Any) -> None:
        self.__name__ = name
        self.__doc__ = doc
        for k, v in members.items():
            setattr(self, k, v)

    def names(self) -> list[str]:
        return sorted(k for k in vars(self) if not k.startswith("_"))

    if TYPE_CHECKING:
        # Members are set per instance from **members (procedures, events
        # the dispatcher patches), so the checker takes any name as Any.
        def __getattr__(self, name: str) -> Any: ...

    def __repr__(self) -> str:
        return f"<interface {self.__name__}>"


class EventRef:
    """An event as an extension sees it: raise it by calling it -- if the
    event is raisable or the extension holds the raise right
    (kernel/sys/authority.py): raising ``Trap.SystemCall`` with a state of
    one's own making would act for another process."""

    __slots__ = ("_event", "_may_raise")
    _event: Any
    _may_raise: bool

    def __init__(self, event: Any, may_raise: bool = True) -> None:
        object.__setattr__(self, "_event", event)
        object.__setattr__(self, "_may_raise", may_raise)

    def __call__(self, *args: Any) -> Any:
        ev = self._event
        if not self._may_raise:
            raise AuthError(f"{ev.name} is the kernel's to raise: extensions loaded by a user may install "
                            f"handlers on it but not raise it")  # fmt: skip
        return getattr(ev.interface, ev.attr)(*args)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("events are read-only")

    def __repr__(self) -> str:
        return f"<event {self._event.name}>"


class Facade:
    """A read-only view of an interface, for one importer."""

    __slots__ = ("_iface", "_events", "_rights")

    def __init__(self, iface: object, events: dict[str, Any], rights: frozenset[str] = PRIVILEGED) -> None:
        object.__setattr__(self, "_iface", iface)
        object.__setattr__(self, "_events", events)
        object.__setattr__(self, "_rights", rights)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        iface = object.__getattribute__(self, "_iface")
        iname = getattr(iface, "__name__", type(iface).__name__)
        ev = object.__getattribute__(self, "_events").get(f"{iname}.{name}")
        if ev is not None:
            return EventRef(ev, may_raise(ev, object.__getattribute__(self, "_rights")))
        try:
            member = getattr(iface, name)
        except AttributeError:
            raise AttributeError(f"interface {iname} has no {name!r}") from None
        return _checked(member) if callable(member) else member

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("interfaces are read-only")

    def __repr__(self) -> str:
        iface = object.__getattribute__(self, "_iface")
        return f"<interface {getattr(iface, '__name__', type(iface).__name__)}>"


def _checked(proc: Callable[..., Any]) -> Callable[..., Any]:
    """An interface procedure as an extension calls it: tuple arguments
    are checked for depth first, since the kernel may hash them (a port, a
    key), and a deep tuple's hash overflows the C stack (sandbox.key)."""

    def call(*args: Any, **kw: Any) -> Any:
        for a in args:
            if type(a) is tuple or type(a) is frozenset:
                key(a)
        for a in kw.values():
            if type(a) is tuple or type(a) is frozenset:
                key(a)
        return proc(*args, **kw)

    call.__name__ = getattr(proc, "__name__", "procedure")
    return call
