"""The extension machinery assembled: one trace, one dispatcher, the name
server with SpinPublic and SpinTrusted, and loading and unloading of
extensions. The kernel (kernel/boot.py) registers its interfaces here; the
workbench and the scenarios load extensions through ``load``.
"""

from __future__ import annotations

import keyword
from pathlib import Path
from typing import Any

from kernel.params import BINDINGS_PER_EXTENSION, CONSOLE_LINES, REPR_MAX
from kernel.sys import authority, capability
from kernel.sys.dispatcher import CANCEL, FIRST, LAST, Dispatcher, FieldEquals, Option
from kernel.sys.domain import Domain
from kernel.sys.errors import SpinError
from kernel.sys.interface import EventRef, Facade, Interface
from kernel.sys.linker import Extension, link, run_bounded, verify_or_raise
from kernel.sys.nameserver import NameServer
from kernel.sys.sandbox import shown
from kernel.sys.trace import Denied, Link, Trace
from machine.hostfile import HOST_TEXT_MAX, HostFileError, read_text

# What the full kernel exports to every extension (spin-reference.md §2),
# and the privileged set only trusted installers may use.
SPIN_PUBLIC = ("Dispatcher", "Console", "Clock", "Domain", "NameServer", "Strand", "Sched", "Thread", "PhysAddr",
               "VirtAddr", "Translation", "Trap", "Ether", "IP", "ICMP", "UDP", "TCP", "Replug", "Files", "NFS",
               "Inspect", "FrameBuffer", "Timer", "Reel", "Multicast", "Unix")  # fmt: skip
SPIN_TRUSTED = ("DispatcherPrivate", "Sal", "SpinLock", "Stitcher")
TRUSTED_IMPORTERS = ("kernel", "root")


class ExtensionDispatcher:
    """The Dispatcher interface as one extension sees it: every binding it
    creates is untrusted (fuel-bounded, contained) and owned by it, and the
    binding comes back as a handle it cannot open."""

    __name__ = "Dispatcher"

    def __init__(self, system: ExtensionSystem, ext: Extension) -> None:
        self._system = system
        self._ext = ext

    def _event(self, event: Any) -> Any:
        if not isinstance(event, EventRef):
            raise SpinError(f"{self._ext.name}: {shown(event)} is not an event (pass e.g. UDP.PacketArrived)")
        return object.__getattribute__(event, "_event")

    def InstallHandler(self, event: Any, handler: Any, guard: Any = None, *, closure: Any = None,  # noqa: N802
                       guard_closure: Any = None, first: bool = False, last: bool = False, cancel: bool = False,
                       asynchronous: bool = False, bound: int | None = None, key: Any = None) -> capability.Handle:  # fmt: skip
        if not self._ext.loaded:  # evicted or unloaded while running: it installs nothing more
            raise SpinError(f"{self._ext.name}: unloaded; it can install no handler")
        ev = self._event(event)
        if sum(1 for b in self._ext.bindings if b.installed) >= BINDINGS_PER_EXTENSION:
            raise SpinError(f"{self._ext.name}: at most {BINDINGS_PER_EXTENSION} handlers an extension; uninstall "
                            f"some first (or index ports with Dispatcher.FieldEquals on one handler)")  # fmt: skip
        opts = (FIRST if first else Option.NONE) | (LAST if last else Option.NONE) | (CANCEL if cancel else Option.NONE)
        ext = self._ext
        try:
            b = self._system.dispatcher.install_handler(
                ev, handler, guard, handler_closure=closure, guard_closure=guard_closure, options=opts, key=key,
                owner=ext.name, creator=ext, trusted=False, namespace=ext.namespace, bound=bound,
                asynchronous=asynchronous)  # fmt: skip
        except SpinError as e:
            self._system.trace.add(Denied(what=f"install on {ev.name}", who=ext.name, reason=str(e)))
            raise
        ext.bindings.append(b)
        return capability.wrap(b, "binding")

    def FieldEquals(self, field: Any, value: Any) -> FieldEquals:  # noqa: N802
        """A declarative guard: the event's first argument's ``field`` equals
        ``value``. Pure by construction, so the dispatcher may index a run of
        them: fifty such guards cost one lookup (SOSP'95 §5.5's plan)."""
        if not isinstance(field, str) or not field.isidentifier() or field.startswith("_") or keyword.iskeyword(field):
            raise SpinError(f"{self._ext.name}: Dispatcher.FieldEquals wants a field name, not {shown(field)}")
        if not isinstance(value, (int, str, float, bytes, type(None))):
            raise SpinError(f"{self._ext.name}: Dispatcher.FieldEquals compares with a number, string or bytes")
        return FieldEquals(0, field, value)

    def Uninstall(self, handle: Any) -> None:  # noqa: N802
        b = capability.unwrap(handle, "binding", "Dispatcher.Uninstall")
        self._system.dispatcher.uninstall(b)

    def ImposeGuard(self, handle: Any, guard: Any, closure: Any = None) -> None:  # noqa: N802
        b = capability.unwrap(handle, "binding", "Dispatcher.ImposeGuard")
        d = self._system.dispatcher
        if not callable(guard):
            raise SpinError(f"{self._ext.name}: Dispatcher.ImposeGuard: the guard is not a procedure")
        # the guard is the extension's code: it runs contained and fuel-bounded, as its own guards do
        d.impose_guard(b, d.contained_guard(b, guard, closure), by=self._ext)


class ExtensionSystem:
    """The extension machinery of one kernel. ``sched`` runs asynchronous
    handlers (its ``fork`` makes a strand): the kernel's scheduler on a booted
    kernel; without one, an asynchronous handler is refused at raise time."""

    def __init__(self, sched: Any = None, trace: Trace | None = None) -> None:
        self.trace = trace if trace is not None else Trace()
        self.sched = sched
        self.dispatcher = Dispatcher(self.trace, spawn=sched.fork if sched is not None else None)
        self.names = NameServer()
        self.console: list[str] = []
        self.extensions: dict[str, Extension] = {}
        self.public = Domain.create_from_module("SpinPublic", {})
        self.trusted = Domain.create_from_module("SpinTrusted", {})
        self.public.exports["Dispatcher"] = lambda ext: ExtensionDispatcher(self, ext)
        self.public.exports["Console"] = Interface("Console", "the kernel console", Print=self._print)
        self.names.export("/svc/domains/SpinPublic", self.public)
        self.names.export("/svc/domains/SpinTrusted", self.trusted,
                          authorizer=lambda importer, path: importer in TRUSTED_IMPORTERS)  # fmt: skip

    def _print(self, *args: Any) -> None:
        """Console.Print: one bounded line; the console keeps the last CONSOLE_LINES."""
        line = " ".join(a if isinstance(a, str) else shown(a, REPR_MAX) for a in args[:64])
        self.console.append(line if len(line) <= REPR_MAX else line[: REPR_MAX - 3] + "...")
        if len(self.console) > CONSOLE_LINES:
            del self.console[: len(self.console) - CONSOLE_LINES]

    def export(self, iface: Interface, trusted: bool = False) -> None:
        """A kernel module offers an interface to extensions."""
        (self.trusted if trusted else self.public).exports[iface.__name__] = iface

    def _bind(self, name: str, export: Any, ext: Extension) -> Any:
        obj = export(ext) if callable(export) else export  # a factory makes a per-extension view
        return Facade(obj, self.dispatcher.events, ext.rights)

    def protect_kernel_events(self) -> None:
        """Every event defined from now on starts with the kernel's
        authorizer (kernel/sys/authority.py): a booted kernel calls this
        before it defines its services."""
        self.dispatcher.default_authorizer = authority.kernel_event

    def load(self, source: str, filename: str, name: str | None = None, domains: tuple[str, ...] = ("SpinPublic",),
             importer: str = "user", settings: dict[str, Any] | None = None,
             clients: tuple[int, ...] = ()) -> Extension:  # fmt: skip
        """Verify, link and initialize an extension. ``settings`` replace the
        values of the extension's own top-level constants before ``init``
        runs (a forwarder's target, an echo's port), each with a value of
        the constant's type. The importer decides its rights
        (kernel/sys/authority.py: ``root`` and ``kernel`` hold them all,
        anyone else none); ``clients`` are the processes (UNIX pids) it is
        loaded for, whose system calls and faults a user's extension may
        see, with their descendants. Any refusal raises a SpinError whose
        message names the extension and the reason; then nothing of the
        extension stays installed."""
        name = name or Path(filename).stem
        try:
            if name in self.extensions:
                raise SpinError(f"an extension named {name} is already loaded; unload it first")
            v = verify_or_raise(source, filename, name)
            doms = [self.names.lookup(f"/svc/domains/{d}", importer) for d in domains]
            d = self.dispatcher
            ext = link(v, name, doms, self._bind, self.console.append, rights=authority.rights_of(importer),
                       clock=d.clock, per_fuel=d.cost[1], clients=clients)  # fmt: skip
            for key, value in (settings or {}).items():
                old = ext.namespace.get(key)
                if key.startswith("_") or not isinstance(old, (int, str, float)) or type(old) is not type(value):
                    raise SpinError(f"{filename}: cannot set {key}={value!r}: the extension has no top-level "
                                    f"{type(value).__name__} constant named {key}")  # fmt: skip
                ext.namespace[key] = value
            init = ext.namespace.get("init")
            if v.has_init and callable(init):
                try:
                    run_bounded(ext, init, "init()")
                except SpinError:
                    self.unload(ext)
                    raise
        except SpinError as e:
            self.trace.add(Denied(what=f"load {name}", who=importer, reason=str(e).splitlines()[0]))
            raise
        ext.evict = lambda reason, ext=ext: self.evict(ext, reason)
        self.extensions[name] = ext
        self.trace.add(Link(extension=name, domain=", ".join(domains), imports=tuple(n for n, _ in v.imports)))
        return ext

    def load_file(self, path: str | Path, **kw: Any) -> Extension:
        p = Path(path)
        try:
            source = read_text(p, HOST_TEXT_MAX, "an extension (Python source)")  # bounded: not a FIFO's forever
        except HostFileError as e:
            raise SpinError(f"cannot read the extension: {e}") from None
        return self.load(source, str(p), **kw)

    def unload(self, ext: Extension) -> None:
        for b in ext.bindings:
            self.dispatcher.uninstall(b, "extension unloaded")
        ext.bindings.clear()
        for release in ext.releases:
            release()
        ext.releases.clear()
        ext.loaded = False
        self.extensions.pop(ext.name, None)

    def evict(self, ext: Extension, reason: str) -> None:
        """An extension went past its quota: unload it and drop what it kept,
        so its memory is the host's again."""
        if not ext.loaded:
            return
        self.unload(ext)
        keep = {k: v for k, v in ext.namespace.items() if k.startswith("_spin") or k.startswith("__")}
        ext.namespace.clear()
        ext.namespace.update(keep)
        self.dispatcher.report(f"{ext.name}: unloaded: {reason}")
        self.trace.add(Denied(what=f"keep running {ext.name}", who="kernel", reason=reason))
