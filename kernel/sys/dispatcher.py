"""The SPIN dispatcher: events, bindings, guards, and generated dispatch code.

An event is a procedure exported by an interface (SOSP'95 §3.3; OSDI'96;
spin-reference.md §1). Raising it is calling the interface's attribute, the
event's *slot*. The dispatcher keeps each event's binding list and publishes
into the slot, with one reference store, the cheapest callable that has the
list's semantics -- as SPIN patched the procedure's jump-table entry:

- only the intrinsic (original) handler: the intrinsic itself, a plain call;
- one unguarded trusted handler: that handler (with ``functools.partial`` for
  a closure), a plain call;
- anything else: a Python function generated for the current list, its
  guards, handlers and closures bound as constants. A change regenerates and
  republishes; a dispatch in flight keeps the function it started with.

Dispatch semantics follow spin-reference.md §1 "Dispatch semantics": all
guards are evaluated first (imposed guards, then the binding's own), a
passing Cancel binding stops the guard pass, then the selected handlers run
in list order with their closures first; results are folded by the result
handler or the last one wins; if none ran, the default handler runs, or an
event with a result raises NoHandlerInvoked. Where the issue differs from
33.1, the issue wins: a handler's exception does not reach the raiser -- it
is contained, traced, the binding marked faulted and, by the event's policy,
uninstalled. Untrusted code (extensions) runs under a fuel bound.

Declarative guards (``FieldEquals``: an argument's field equals a constant)
on consecutive bindings are indexed: 50 port guards cost one dict lookup,
which SPIN planned and never built.
"""

from __future__ import annotations

import enum
import functools
import inspect
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kernel.params import BOUND_MAX, REPORTS_MAX
from kernel.sys import contain, fuel
from kernel.sys.errors import AuthError, BindingTypeError, IllegalAsynchEvent, InvalidProcedure, NoHandlerInvoked
from kernel.sys.sandbox import shown
from kernel.sys.trace import Abort, Dispatch, Fault, Install, Trace, Uninstall


class Option(enum.Flag):
    NONE = 0
    FIRST = enum.auto()
    LAST = enum.auto()
    CANCEL = enum.auto()


FIRST, LAST, CANCEL = Option.FIRST, Option.LAST, Option.CANCEL
_NO_DEFAULT = object()
INDEX_MIN = 4  # consecutive FieldEquals guards on one field worth a dict lookup


@dataclass(frozen=True)
class FieldEquals:
    """A declarative guard: ``args[arg].field == value`` (``field`` None: the
    argument itself). Pure, so the dispatcher may index it."""

    arg: int
    field: str | None
    value: Any

    def __call__(self, *args: Any) -> bool:
        a = args[self.arg]
        return (a if self.field is None else getattr(a, self.field)) == self.value

    def describe(self) -> str:
        return f"arg{self.arg}{'' if self.field is None else '.' + self.field} == {self.value!r}"


def _free(used: int) -> None:
    """Untrusted code costs nothing without a kernel's clock."""


def _bind(fn: Callable[..., Any], closure: Any) -> Callable[..., Any]:
    """A guard or handler as the dispatcher calls it: the closure, if any, first."""
    return fn if closure is None else functools.partial(fn, closure)


@dataclass
class ImposedGuard:
    """A guard imposed on a binding; with a post-guard it is tested just
    before the handler, and the post-guard runs after it (spin-reference.md §1, item 9)."""

    guard: Callable[..., bool]
    closure: Any = None
    post_guard: Callable[..., Any] | None = None
    post_closure: Any = None
    imposer: str = ""
    check: Callable[..., bool] = field(init=False, repr=False)
    after: Callable[..., Any] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.check = _bind(self.guard, self.closure)
        self.after = None if self.post_guard is None else _bind(self.post_guard, self.post_closure)


class Binding:
    """Event, guard, handler, closures and options (spin-reference.md §1)."""

    __slots__ = ("id", "event", "handler", "guard", "guard_closure", "handler_closure", "options", "owner", "creator",
                 "trusted", "namespace", "bound", "asynchronous", "intrinsic", "imposed", "installed", "faulted",
                 "calls", "fuel_used", "call_guard", "call_handler", "wrappers")  # fmt: skip

    def __init__(self, ident: int, event: Event, handler: Callable[..., Any], guard: Callable[..., bool] | None,
                 guard_closure: Any, handler_closure: Any, options: Option, owner: str, creator: object,
                 trusted: bool, namespace: dict[str, Any] | None, bound: int | None, asynchronous: bool,
                 intrinsic: bool = False) -> None:  # fmt: skip
        self.id = ident  # numbered by its dispatcher, so a replayed kernel numbers them alike
        self.event = event
        self.handler = handler
        self.guard = guard
        self.guard_closure = guard_closure
        self.handler_closure = handler_closure
        self.options = options
        self.owner = owner  # for people: the extension or kernel module
        self.creator = creator  # identity token: may impose guards on it
        self.trusted = trusted  # kernel code: called directly, never bounded
        self.namespace = namespace  # the extension's globals (its fuel lives there)
        self.bound = bound
        self.asynchronous = asynchronous
        self.intrinsic = intrinsic
        self.imposed: list[ImposedGuard] = []
        self.installed = False
        self.faulted: str | None = None
        self.calls = 0
        self.fuel_used = 0
        self.wrappers: dict[tuple[bool, bool, int], Callable[..., Any]] = {}  # containment, made once per shape
        self.call_guard: Callable[..., Any] | None = None  # the guard and handler as dispatch calls them,
        self.call_handler: Callable[..., Any] | None = None  # set at publication (contained if untrusted)

    @property
    def option_names(self) -> str:
        return self.options.name or "-"

    def describe(self) -> str:
        opts = self.option_names
        g = (
            "-"
            if self.guard is None
            else (self.guard.describe() if isinstance(self.guard, FieldEquals) else _name(self.guard))
        )
        return f"#{self.id} {self.owner}: guard {g}, handler {_name(self.handler)}, options {opts}"

    def __repr__(self) -> str:
        return f"<Binding {self.describe()} on {self.event.name}>"


def _name(fn: object) -> str:
    n = getattr(fn, "__name__", None)
    return n if isinstance(n, str) else type(fn).__name__


def _text(e: BaseException) -> str:
    """An exception's message, bounded: an extension's exception can carry
    anything (a list whose str() is gigabytes), so only short text is quoted."""
    args = e.args
    if len(args) == 1 and isinstance(args[0], str):
        t = args[0]
    elif not args:
        t = ""
    else:
        t = ", ".join(shown(a, 60) for a in args[:4])
    return t if len(t) <= 200 else t[:197] + "..."


def _args(n: int) -> str:
    return f"{n} argument{'' if n == 1 else 's'}"


def _arity(fn: Callable[..., Any]) -> tuple[int, int | None] | None:
    """(least, most) positional arguments fn accepts; None if unknown."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    least, most = 0, 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return least, None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            most += 1
            if p.default is p.empty:
                least += 1
    return least, most


def _takes(fn: Callable[..., Any], n: int) -> bool:
    a = _arity(fn)
    return a is None or (a[0] <= n and (a[1] is None or n <= a[1]))


class Event:
    """One event: its slot, intrinsic handler, authority and binding list."""

    def __init__(self, dispatcher: Dispatcher, interface: object, name: str, intrinsic: Callable[..., Any],
                 authority: object, result: bool, policy: str, bound: int | None, done_arg: int | None) -> None:  # fmt: skip
        self.dispatcher = dispatcher
        self.interface = interface
        self.name = f"{getattr(interface, '__name__', type(interface).__name__)}.{name}"
        self.attr = name
        self.authority = authority
        self.result = result
        self.policy = policy  # on a handler's fault: "uninstall" the binding, or "keep" it
        self.bound = bound  # fuel for each untrusted handler, unless the binding asks for less
        self.done_arg = done_arg  # the argument whose .done ends the dispatch (fault events)
        a = _arity(intrinsic)
        self.nargs = a[1] if a is not None and a[1] is not None else 0
        self.authorizer: Callable[[Binding, Any], bool] | None = None
        self.raisable = False  # extensions without the raise right may raise it
        self.result_handler: Callable[..., Any] | None = None
        self.result_closure: Any = None
        self.default_handler: Callable[..., Any] | None = None
        self.default_result: Any = _NO_DEFAULT
        self.last_dispatch: Dispatch | None = None
        self.original = Binding(next(dispatcher.ids), self, intrinsic, None, None, None, Option.NONE, _name(authority), authority,
                                True, None, None, False, intrinsic=True)  # fmt: skip
        self.original.installed = True
        self.bindings: tuple[Binding, ...] = (self.original,)
        self.fn: Callable[..., Any] = intrinsic
        self.source = ""  # the generated dispatch function, for the Events pane and for teaching
        self.path = "intrinsic: a plain call"

    def __call__(self, *args: Any) -> Any:
        return getattr(self.interface, self.attr)(*args)

    def __repr__(self) -> str:
        return f"<Event {self.name}: {len(self.bindings)} bindings, {self.path}>"


class Dispatcher:
    """All events of one kernel. ``spawn(fn, *args, name=...)`` runs an
    asynchronous handler in its own strand (the kernel provides it)."""

    def __init__(self, trace: Trace | None = None, spawn: Callable[..., Any] | None = None,
                 default_bound: int = BOUND_MAX) -> None:  # fmt: skip
        self.trace = trace if trace is not None else Trace()
        self.spawn = spawn
        self.default_bound = default_bound
        self.events: dict[str, Event] = {}
        self.ids = itertools.count(1)  # binding numbers
        self.lock = threading.RLock()
        self.interpret = False  # True: publish the table-walking interpreter instead of generated code
        # True: a raise that is one plain call (the intrinsic alone, one unguarded kernel handler)
        # goes through a one-line counting function, so every binding's calls are true (the Events
        # pane, kernel/inspect.py). A booted kernel counts; a bare dispatcher (the bench) does not.
        self.counting = False
        self.reports: list[str] = []  # one line per contained fault or abort, for the console
        # what running untrusted code costs in virtual time, given the fuel it used (the kernel sets
        # it before any binding exists: each contained handler binds it once)
        self.charge: Callable[[int], None] = _free
        # or, faster: an object whose ``cycles`` the wrapper adds base + per * fuel to (the kernel's CPU)
        self.clock: Any = None
        self.cost: tuple[int, int] = (0, 0)
        # the authorizer each newly defined event starts with (the kernel sets kernel/sys/authority.py's)
        self.default_authorizer: Callable[[Binding, Any], bool] | None = None

    # --- events ------------------------------------------------------------------------

    def define(self, interface: object, name: str, intrinsic: Callable[..., Any], authority: object, *,
               result: bool = False, policy: str = "uninstall", bound: int | None = None,
               done_arg: int | None = None, raisable: bool = False) -> Event:  # fmt: skip
        """Make ``interface.name`` an event whose intrinsic handler is
        ``intrinsic``, implemented (and so authorized) by ``authority``.
        ``raisable``: extensions without the raise right may raise it too."""
        if not callable(intrinsic):
            raise InvalidProcedure(f"{name}: the intrinsic handler {intrinsic!r} is not a procedure")
        ev = Event(self, interface, name, intrinsic, authority, result, policy, bound, done_arg)
        ev.raisable = raisable
        ev.authorizer = self.default_authorizer
        self.events[ev.name] = ev
        if self.counting:
            self._publish(ev)
        else:
            setattr(interface, name, intrinsic)
        return ev

    def event(self, name: str) -> Event:
        return self.events[name]

    # --- bindings ----------------------------------------------------------------------

    def create(self, event: Event, handler: Callable[..., Any], guard: Callable[..., bool] | None = None, *,
               guard_closure: Any = None, handler_closure: Any = None, options: Option = Option.NONE,
               key: Any = None, owner: str = "kernel", creator: object = None, trusted: bool = True,
               namespace: dict[str, Any] | None = None, bound: int | None = None,
               asynchronous: bool = False) -> Binding:  # fmt: skip
        """Type-check a binding and ask the event's authorizer; the result is
        inactive until ``install``."""
        if not callable(handler):
            raise InvalidProcedure(f"{event.name}: the handler {shown(handler)} is not a procedure")
        n = event.nargs
        if not _takes(handler, n + (handler_closure is not None)):
            want = n + (handler_closure is not None)
            raise BindingTypeError(f"{event.name}: handler {_name(handler)} must take {_args(want)} "
                                   f"({'the closure, then ' if handler_closure is not None else ''}the event's {n})")  # fmt: skip
        if guard is not None:
            if not callable(guard):
                raise InvalidProcedure(f"{event.name}: the guard {shown(guard)} is not a procedure")
            if not _takes(guard, n + (guard_closure is not None)):
                raise BindingTypeError(f"{event.name}: guard {_name(guard)} must take "
                                       f"{_args(n + (guard_closure is not None))} and return a bool")  # fmt: skip
        if asynchronous and event.result:
            raise IllegalAsynchEvent(f"{event.name} returns a result: its handlers cannot be asynchronous")
        if asynchronous and self.spawn is None:
            raise IllegalAsynchEvent(
                f"{event.name}: an asynchronous handler needs strands, and this dispatcher has no scheduler"
            )
        if FIRST in options and LAST in options:
            raise BindingTypeError(f"{event.name}: a binding cannot be both First and Last")
        if bound is not None and (type(bound) is not int or bound <= 0):
            raise BindingTypeError(f"{event.name}: bound={shown(bound)}: a bound is a positive number of fuel checks")
        b = Binding(next(self.ids), event, handler, guard, guard_closure, handler_closure, options, owner, creator, trusted,
                    namespace, bound, asynchronous)  # fmt: skip
        auth = event.authorizer
        if auth is not None:
            try:
                ok = auth(b, key)
            except AuthError as e:  # a refusal that says why
                self.trace.add(Uninstall(event=event.name, binding=b.id, owner=owner, reason="denied"))
                raise AuthError(str(e)) from None
            except Exception as e:  # an authorizer's failure refuses, it does not crash the installer
                ok, why = False, f"its authorizer failed: {type(e).__name__}: {e}"
            else:
                why = "its authorizer refused"
            if not ok:
                self.trace.add(Uninstall(event=event.name, binding=b.id, owner=owner, reason="denied"))
                raise AuthError(f"{owner}: cannot install a handler on {event.name}: {why}")
        return b

    def install(self, b: Binding | None) -> None:
        if b is None or b.installed:
            return
        with self.lock:
            ev = b.event
            before = ev.bindings
            ev.bindings = _insert(before, b)
            b.installed = True
            self.trace.add(Install(event=ev.name, binding=b.id, owner=b.owner, options=b.option_names))
            try:
                self._publish(ev)
            except BaseException:
                # Whatever stopped the publication (a wrapper that would not compile), the event
                # keeps the list it had and a dispatch that works: one binding never poisons an event.
                ev.bindings = before
                b.installed = False
                self.trace.add(Uninstall(event=ev.name, binding=b.id, owner=b.owner, reason="could not be published"))
                self._publish(ev)
                raise

    def uninstall(self, b: Binding | None, reason: str = "uninstalled") -> None:
        if b is None or not b.installed:
            return
        with self.lock:
            ev = b.event
            ev.bindings = tuple(x for x in ev.bindings if x is not b)
            b.installed = False
            self.trace.add(Uninstall(event=ev.name, binding=b.id, owner=b.owner, reason=reason))
            self._publish(ev)

    def install_handler(self, event: Event, handler: Callable[..., Any], guard: Callable[..., bool] | None = None,
                        **kw: Any) -> Binding:  # fmt: skip
        b = self.create(event, handler, guard, **kw)
        self.install(b)
        return b

    def atomic_swap(self, remove: Binding, add: Binding) -> None:
        """Uninstall one binding and install another in one step (one event)."""
        if remove.event is not add.event:
            raise InvalidProcedure(f"AtomicSwap across events ({remove.event.name}, {add.event.name})")
        with self.lock:
            ev = remove.event
            ev.bindings = _insert(tuple(x for x in ev.bindings if x is not remove), add)
            remove.installed, add.installed = False, True
            self.trace.add(Uninstall(event=ev.name, binding=remove.id, owner=remove.owner, reason="swapped"))
            self.trace.add(Install(event=ev.name, binding=add.id, owner=add.owner, options=add.option_names))
            self._publish(ev)

    def get_handlers(self, event: Event) -> tuple[Binding, ...] | None:
        """The bindings in dispatch order, or None in the default state."""
        return None if event.bindings == (event.original,) else event.bindings

    def get_original_handler(self, event: Event) -> Binding:
        return event.original

    def reinstall_original(self, event: Event, options: Option) -> None:
        """Uninstall the intrinsic handler and install it again with new
        options (the kernel reinstalls fault events' intrinsics with Last)."""
        with self.lock:
            self.uninstall(event.original, "reinstalled")
            event.original.options = options
            self.install(event.original)

    # --- authority -----------------------------------------------------------------------

    def _authority(self, event: Event, module: object, what: str) -> None:
        if module is not event.authority:
            raise AuthError(f"{_name(module)} cannot {what} for {event.name}: only its primary module "
                            f"{_name(event.authority)} can")  # fmt: skip

    def install_authorizer(self, event: Event, auth: Callable[[Binding, Any], bool] | None, module: object) -> None:
        """``auth(binding, key) -> bool`` decides every later installation and
        may impose a guard on the binding it is shown."""
        self._authority(event, module, "install an authorizer")
        event.authorizer = auth

    def install_result_handler(self, event: Event, rh: Callable[..., Any] | None, module: object,
                               closure: Any = None) -> None:  # fmt: skip
        """``rh([closure,] accumulated, result, last)`` returns the new
        accumulator, which starts at the default result."""
        self._authority(event, module, "install a result handler")
        event.result_handler, event.result_closure = rh, closure
        self._publish(event)

    def install_default_handler(self, event: Event, dh: Callable[..., Any] | None, module: object) -> None:
        self._authority(event, module, "install a default handler")
        event.default_handler = dh
        self._publish(event)

    def set_default_result(self, event: Event, value: Any, module: object) -> None:
        self._authority(event, module, "set the default result")
        event.default_result = value
        self._publish(event)

    def impose_guard(self, b: Binding, guard: Callable[..., bool], by: object, closure: Any = None,
                     post_guard: Callable[..., Any] | None = None, post_closure: Any = None) -> ImposedGuard:  # fmt: skip
        """Only the binding's creator or the event's authority may impose."""
        ev = b.event
        if by is not b.creator and by is not ev.authority:
            raise AuthError(f"{_name(by)} cannot impose a guard on binding #{b.id} of {ev.name}: only its "
                            f"creator {b.owner} or the event's authority may")  # fmt: skip
        if not _takes(guard, ev.nargs + (closure is not None)):
            raise BindingTypeError(f"{ev.name}: imposed guard {_name(guard)} must take the event's arguments")
        g = ImposedGuard(guard, closure, post_guard, post_closure, _name(by))
        with self.lock:
            b.imposed.append(g)
            self._publish(ev)
        return g

    def remove_guard(self, b: Binding, g: ImposedGuard) -> None:
        with self.lock:
            b.imposed.remove(g)
            self._publish(b.event)

    def set_tracing(self, on: bool) -> None:
        """Per-dispatch trace records cost time on every raise: regenerate
        every event's dispatch code with or without them."""
        self.trace.enabled = on
        for ev in self.events.values():
            self._publish(ev)

    # --- faults -------------------------------------------------------------------------

    def report(self, line: str) -> None:
        """One line for the console; the last REPORTS_MAX are kept (an extension can fault often)."""
        self.reports.append(line)
        if len(self.reports) > REPORTS_MAX:
            del self.reports[: len(self.reports) - REPORTS_MAX]

    def _fault(self, b: Binding, e: BaseException, used: int) -> None:
        ev = b.event
        if isinstance(e, fuel.FuelExhausted):
            what = f"exceeded its bound of {self.bound_of(b)} fuel"
            self.trace.add(Abort(event=ev.name, binding=b.id, owner=b.owner, fuel=used))
        elif isinstance(e, fuel.QuotaExceeded):
            what = f"was stopped: {e}"
            self.trace.add(Abort(event=ev.name, binding=b.id, owner=b.owner, fuel=used))
        elif isinstance(e, RecursionError):
            what = "recursed too deeply"
            self.trace.add(Fault(event=ev.name, binding=b.id, owner=b.owner, error="RecursionError"))
        else:
            what = f"raised {type(e).__name__}: {_text(e)}"
            self.trace.add(Fault(event=ev.name, binding=b.id, owner=b.owner, error=f"{type(e).__name__}: {_text(e)}"))
        b.faulted = what
        action = "uninstalled" if ev.policy == "uninstall" else "kept"
        self.report(f"{b.owner}: handler {_name(b.handler)} on {ev.name} {what}; binding #{b.id} {action}")
        if ev.policy == "uninstall":
            self.uninstall(b, "faulted")
        if isinstance(e, fuel.QuotaExceeded):
            evict = getattr(b.creator, "evict", None)
            if evict is not None:
                evict(str(e))

    def _contain(self, b: Binding, fn: Callable[..., Any], closure: Any, guard: bool,
                 count: bool = False) -> Callable[..., Any]:  # fmt: skip
        """The containment wrapper (kernel/sys/contain.py) for untrusted code:
        it runs under its fuel bound, and any exception becomes a contained
        fault (a faulting guard is false). ``count``: the wrapper is the
        event's whole dispatch, so it counts calls and a faulted call returns None."""
        ns = b.namespace if b.namespace is not None else {}
        m = ns[fuel.OUT_NAME].__self__ if fuel.OUT_NAME in ns else fuel.Meter(ns)
        return contain.wrapper(fn=fn, closure=closure, nargs=b.event.nargs, ns=ns, binding=b, meter=m,
                               bound=self.bound_of(b), failed=False if guard else (None if count else _FAULTED),
                               fault=self._fault, count=count, creator=b.creator, clock=self.clock, cost=self.cost,
                               charge=self.charge)  # fmt: skip

    def contained_guard(self, b: Binding, guard: Callable[..., Any], closure: Any = None) -> Callable[..., Any]:
        """An extension's guard to impose on its binding, contained like its own."""
        return self._contain(b, guard, closure, True)

    def call_outside(self, b: Binding, *args: Any) -> Any:
        """Call ``b``'s handler now, outside any raise of its event, wrapped
        exactly as a dispatch wraps it (an untrusted one under its fuel
        bound, its faults reported and kept from the caller). For a kernel
        service that calls an extension back later -- kernel/fs/files_ext.py's
        Callbacks, whose bindings are never installed -- so it needs no
        private path into the containment machinery."""
        fn = self._callable(b)
        assert fn is not None  # a binding always has a handler
        return fn(*args)

    def bound_of(self, b: Binding) -> int:
        """The fuel one dispatch grants an untrusted binding: its own bound,
        the event's, the dispatcher's default, whichever is least."""
        limit = min(b.event.bound or self.default_bound, self.default_bound, BOUND_MAX)
        return limit if b.bound is None else min(b.bound, limit)

    def _callable(self, b: Binding, guard: bool = False, count: bool = False) -> Callable[..., Any] | None:
        fn = b.guard if guard else b.handler
        closure = b.guard_closure if guard else b.handler_closure
        if fn is None:
            return None
        if not b.trusted:
            shape = (guard, count, len(b.imposed) if guard else 0)
            w = b.wrappers.get(shape)
            if w is None:  # generated once: republishing an event does not regenerate every binding's wrapper
                w = b.wrappers[shape] = self._contain(b, fn, closure, guard, count)
            return w
        return _bind(fn, closure)

    # --- publication -----------------------------------------------------------------------

    def _publish(self, ev: Event) -> None:
        """Choose the fast path or generate code for the current list, then
        store it in the slot: the one reference swap a raise sees."""
        bs = ev.bindings
        for b in bs:
            b.call_guard = self._callable(b, guard=True)
            b.call_handler = self._callable(b)
        plain = (ev.result_handler is None and ev.default_handler is None and ev.default_result is _NO_DEFAULT
                 and not self.trace.enabled and not self.interpret and ev.done_arg is None)  # fmt: skip
        single = plain and len(bs) == 1 and bs[0].guard is None and not bs[0].imposed and not bs[0].asynchronous
        if single and bs[0].trusted:
            b = bs[0]
            fn = b.call_handler
            assert fn is not None  # set above: a binding always has a handler
            ev.path = "intrinsic: a plain call" if b.intrinsic else "one handler: called directly"
            ev.source = ""
            if self.counting:
                fn = _counted(b, fn)
                ev.path += ", counted"
        elif single and not ev.result:
            # One extension's handler and nothing else: its containment wrapper is the whole
            # dispatch (a faulted call returns None, as an event without a result does).
            b = bs[0]
            fn = b.call_handler = self._callable(b, count=True)
            assert fn is not None
            ev.path = "one extension handler: its containment wrapper"
            ev.source = ""
        elif self.interpret:
            fn = functools.partial(self._interpret, ev, bs)
            ev.path, ev.source = "interpreted", ""
        else:
            fn, ev.source = _generate(self, ev, bs)
            ev.path = f"generated for {len(bs)} binding{'' if len(bs) == 1 else 's'}"
        ev.fn = fn
        setattr(ev.interface, ev.attr, fn)

    # --- the reference interpreter ---------------------------------------------------------

    def _interpret(self, ev: Event, bs: tuple[Binding, ...], *args: Any) -> Any:
        """Dispatch by walking the binding table (SPIN's optimization level
        0): the semantics the generated code must match, and the baseline
        the benchmark compares code generation with."""
        selected = []
        guards: list[tuple[int, bool | None]] = []
        for b in bs:
            ok = all(g.check(*args) for g in b.imposed if g.after is None)
            g = b.call_guard
            ok = ok and (g is None or bool(g(*args)))
            guards.append((b.id, ok))
            if ok:
                selected.append(b)
                if CANCEL in b.options:
                    guards += [(x.id, None) for x in bs[len(guards) :]]  # not evaluated after a Cancel
                    break
        return _run_handlers(self, ev, selected, args, tuple(guards))


_FAULTED = object()


def _counted(b: Binding, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` that counts its binding's calls: one frame, one slot store."""
    params = ", ".join(f"a{i}" for i in range(b.event.nargs))
    env: dict[str, Any] = {"B": b, "FN": fn}
    exec(f"def counted({params}):\n    B.calls += 1\n    return FN({params})\n", env)  # noqa: S102 - our own code
    counted = env["counted"]
    counted.__qualname__ = counted.__name__ = f"counted({_name(b.handler)})"
    return counted


def _run_handlers(d: Dispatcher, ev: Event, selected: list[Binding], args: tuple[Any, ...],
                  guards: tuple[tuple[int, bool | None], ...]) -> Any:  # fmt: skip
    ran = 0
    ran_ids = []
    acc = ev.default_result if ev.default_result is not _NO_DEFAULT else None
    last = None
    for i, b in enumerate(selected):
        if ev.done_arg is not None and args[ev.done_arg].done:
            break
        posts = [g for g in b.imposed if g.after is not None]
        if not all(g.check(*args) for g in posts):
            continue
        b.calls += 1
        ran_ids.append(b.id)
        if b.asynchronous:
            _spawn(d, b, args)
            ran += 1
            continue
        h = b.call_handler
        assert h is not None
        r = h(*args)
        for g in posts:
            g.after(*args)  # type: ignore[misc]
        if r is _FAULTED:
            continue
        ran += 1
        if ev.result_handler is not None:
            rc = (ev.result_closure,) if ev.result_closure is not None else ()
            acc = ev.result_handler(*rc, acc, r, i == len(selected) - 1)  # last: no later binding was selected
        else:
            last = r
    if d.trace.enabled:
        ev.last_dispatch = d.trace.add(Dispatch(event=ev.name, guards=guards, handlers=tuple(ran_ids),
                                                default=ran == 0, subject=getattr(args[0], "id", 0) if args else 0))  # fmt: skip
    if ran == 0:
        if ev.default_handler is not None:
            return ev.default_handler(*args)
        if ev.result and ev.default_result is _NO_DEFAULT:
            raise NoHandlerInvoked(f"{ev.name}: no handler ran and the event has no default result")
        return acc
    return acc if ev.result_handler is not None else last


def _spawn(d: Dispatcher, b: Binding, args: tuple[Any, ...]) -> None:
    h = b.call_handler
    if d.spawn is None:
        raise IllegalAsynchEvent(f"{b.event.name}: asynchronous handler #{b.id} needs strands (no scheduler)")
    d.spawn(h, *args, name=f"{b.event.name}#{b.id}")


def _insert(bs: tuple[Binding, ...], b: Binding) -> tuple[Binding, ...]:
    """spin-reference.md §1 item 8: First at the head (newest first), Last at
    the tail, plain after the last non-Last binding (FIFO)."""
    items = list(bs)
    if FIRST in b.options:
        items.insert(0, b)
    elif LAST in b.options:
        items.append(b)
    else:
        k = len(items)
        while k > 0 and LAST in items[k - 1].options:
            k -= 1
        items.insert(k, b)
    return tuple(items)


# --- code generation ------------------------------------------------------------------------


def _groups(bs: tuple[Binding, ...]) -> list[tuple[int, int]]:
    """Runs [start, end) of consecutive bindings with an indexable guard on
    the same (argument, field): plain FieldEquals, no closure, no imposed
    guards, not Cancel, not asynchronous."""
    out = []
    i = 0
    while i < len(bs):
        j = i
        key = _index_key(bs[i])
        if key is not None:
            while j < len(bs) and _index_key(bs[j]) == key:
                j += 1
        if j - i >= INDEX_MIN:
            out.append((i, j))
            i = j
        else:
            i += 1
    return out


def _index_key(b: Binding) -> tuple[int, str | None] | None:
    g = b.guard
    if isinstance(g, FieldEquals) and b.guard_closure is None and not b.imposed and CANCEL not in b.options \
            and not b.asynchronous:  # fmt: skip
        return (g.arg, g.field)
    return None


@functools.lru_cache(maxsize=4096)
def _compiled(src: str, filename: str) -> Any:
    """The code for a dispatch source: the same text recurs at every boot of a lesson that
    boots many machines (page_faults boots 18), and compiling it was most of publishing.
    A code object is immutable, so functions made from one share it safely."""
    return compile(src, filename, "exec")


def _generate(d: Dispatcher, ev: Event, bs: tuple[Binding, ...]) -> tuple[Callable[..., Any], str]:
    """Python source for this binding list: straight-line guard tests, then
    straight-line handler calls; constants bound through the namespace."""
    n = ev.nargs
    params = ", ".join(f"a{i}" for i in range(n))
    args = params
    ns: dict[str, Any] = {"_FAULTED": _FAULTED, "NoHandlerInvoked": NoHandlerInvoked, "_spawn": _spawn, "d": d,
                          "ev": ev, "Dispatch": Dispatch}  # fmt: skip
    tracing = d.trace.enabled
    lines = [f"def dispatch({params}):"]
    emit = lines.append
    groups = {i: j for i, j in _groups(bs)}
    ind = "    "
    # guard pass
    if any(CANCEL in b.options for b in bs):  # guards after a Cancel may never be evaluated
        for k in range(len(bs)):
            emit(f"{ind}s{k} = None")  # not evaluated
        for k in groups:
            emit(f"{ind}sel{k} = ()")
    selected_vars: list[tuple[int, str]] = []  # (binding index or -group start, variable)
    depth = ind
    k = 0
    while k < len(bs):
        if k in groups:
            j = groups[k]
            g0 = bs[k].guard
            assert isinstance(g0, FieldEquals)
            table: dict[Any, list[int]] = {}
            for m in range(k, j):
                table.setdefault(bs[m].guard.value, []).append(m)  # type: ignore[union-attr]
            ns[f"IX{k}"] = {v: tuple(ms) for v, ms in table.items()}
            field = f"a{g0.arg}" if g0.field is None else f"a{g0.arg}.{g0.field}"
            # the argument may lack the field, or hold an unhashable value: no binding of the group is selected
            emit(f"{depth}try:")
            emit(f"{depth}{ind}sel{k} = IX{k}.get({field}, ())")
            emit(f"{depth}except (AttributeError, TypeError):")
            emit(f"{depth}{ind}sel{k} = ()")
            selected_vars.append((-k - 1, f"sel{k}"))
            k = j
            continue
        b = bs[k]
        tests = []
        for gi, g in enumerate(b.imposed):
            if g.after is None:
                ns[f"ig{k}_{gi}"] = g.check
                tests.append(f"ig{k}_{gi}({args})")
        gfn = b.call_guard
        if gfn is not None:
            ns[f"g{k}"] = gfn
            tests.append(f"g{k}({args})")
        if tests or depth != ind:
            emit(f"{depth}s{k} = {' and '.join(tests) if tests else 'True'}")
            selected_vars.append((k, f"s{k}"))
        else:
            selected_vars.append((k, "True"))  # unguarded and not after a Cancel: always selected
        if CANCEL in b.options:
            emit(f"{depth}if not s{k}:")
            depth += ind
            emit(f"{depth}pass")
        k += 1
    # handler pass
    emit(f"{ind}ran = 0")
    fold = ev.result_handler is not None
    if fold:
        ns["RH"] = _bind(ev.result_handler, ev.result_closure)  # type: ignore[arg-type]
    emit(f"{ind}res = acc = {'DEFAULT' if ev.default_result is not _NO_DEFAULT else 'None'}")
    ns["DEFAULT"] = ev.default_result
    if tracing:
        emit(f"{ind}ran_ids = []")

    def call(k: int, b: Binding, pad: str) -> None:
        ns[f"B{k}"] = b
        if ev.done_arg is not None:
            emit(f"{pad}if not a{ev.done_arg}.done:")
            pad += ind
        posts = [(gi, g) for gi, g in enumerate(b.imposed) if g.after is not None]
        if posts:
            for gi, g in posts:
                ns[f"pg{k}_{gi}"], ns[f"post{k}_{gi}"] = g.check, g.after
            emit(f"{pad}if {' and '.join(f'pg{k}_{gi}({args})' for gi, _ in posts)}:")
            pad += ind
        emit(f"{pad}B{k}.calls += 1")
        if tracing:
            emit(f"{pad}ran_ids.append(B{k}.id)")
        if b.asynchronous:
            emit(f"{pad}_spawn(d, B{k}, ({args}{',' if n == 1 else ''}))")
            emit(f"{pad}ran += 1")
        else:
            ns[f"h{k}"] = b.call_handler
            emit(f"{pad}r = h{k}({args})")
            for gi, _ in posts:
                emit(f"{pad}post{k}_{gi}({args})")
            if not b.trusted:
                emit(f"{pad}if r is not _FAULTED:")
                pad += ind
            emit(f"{pad}ran += 1")
            emit(f"{pad}res = r")
            if fold:
                emit(f"{pad}acc = RH(acc, r, {last_flag(k)})")

    def last_flag(k: int) -> str:
        """No later binding was selected by the guard pass."""
        later = [v for m, v in selected_vars if (m if m >= 0 else -m - 1) > k]
        return f"not ({' or '.join(later)})" if later else "True"

    for k, var in selected_vars:
        if k < 0:
            start = -k - 1
            emit(f"{ind}for m in {var}:")
            ns[f"BS{start}"] = bs
            ns[f"H{start}"] = {m: bs[m].call_handler for m in range(start, groups[start])}
            emit(f"{ind}{ind}b = BS{start}[m]")
            emit(f"{ind}{ind}b.calls += 1")
            if tracing:
                emit(f"{ind}{ind}ran_ids.append(b.id)")
            emit(f"{ind}{ind}r = H{start}[m]({args})")
            if not all(bs[m].trusted for m in range(start, groups[start])):
                emit(f"{ind}{ind}if r is _FAULTED:")
                emit(f"{ind}{ind}{ind}continue")
            emit(f"{ind}{ind}res = r")
            emit(f"{ind}{ind}ran += 1")
            if fold:
                later = [v for m2, v in selected_vars if (m2 if m2 >= 0 else -m2 - 1) > start]
                rest = f" and not ({' or '.join(later)})" if later else ""
                emit(f"{ind}{ind}acc = RH(acc, r, m == {var}[-1]{rest})")
            continue
        if var == "True":
            call(k, bs[k], ind)
        else:
            emit(f"{ind}if {var}:")
            call(k, bs[k], ind + ind)
    if tracing:
        guards = ", ".join(f"({bs[k].id}, {v})" for k, v in selected_vars if k >= 0)
        subject = "getattr(a0, 'id', 0)" if n else "0"
        emit(f"{ind}ev.last_dispatch = d.trace.add(Dispatch(event={ev.name!r}, guards=({guards}{',' if guards else ''}), "
             f"handlers=tuple(ran_ids), default=ran == 0, subject={subject}))")  # fmt: skip
    emit(f"{ind}if ran == 0:")
    if ev.default_handler is not None:
        ns["DH"] = ev.default_handler
        emit(f"{ind}{ind}return DH({args})")
    elif ev.result and ev.default_result is _NO_DEFAULT:
        emit(f"{ind}{ind}raise NoHandlerInvoked({ev.name + ': no handler ran and the event has no default result'!r})")
    else:
        emit(f"{ind}{ind}return acc")
    emit(f"{ind}return {'acc' if fold else 'res'}")
    src = "\n".join(lines) + "\n"
    exec(_compiled(src, f"<dispatch {ev.name}>"), ns)  # noqa: S102 - our own generated code
    fn = ns["dispatch"]
    fn.__name__ = fn.__qualname__ = f"dispatch[{ev.name}]"
    return fn, src
