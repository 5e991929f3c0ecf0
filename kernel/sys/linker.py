"""The linker: binds a verified extension's imports to interfaces its
domains resolve, then runs it (spin-reference.md §2: a build-generated
binder imports the needed domains, resolves, and initializes).

An extension runs in a namespace the linker builds from nothing: the
interfaces it imported (read-only facades), a whitelist of builtins, and the
fuel machinery the instrumentation calls. Its top level and its ``init()``
run under a fuel bound, so even a runaway ``init`` is stopped.
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kernel.params import INIT_FUEL, QUOTA_BYTES, QUOTA_FUEL
from kernel.sys import contain, fuel, sandbox
from kernel.sys.domain import Domain, resolve
from kernel.sys.errors import LinkError, SpinError

if TYPE_CHECKING:  # the verifier (ast, its rules, SPIN Python's tables) loads with the first extension
    from kernel.sys.verifier import Diagnostic, Verified

#: What the instrumentation calls, by the reserved names it uses; those that charge the
#: extension's own fuel come from sandbox.helpers_for.
HELPERS = {
    "_spin_next": next, "_spin_pow": sandbox.pow_, "_spin_lshift": sandbox.lshift, "_spin_fmt": sandbox.fmt,
    "_spin_setslice": sandbox.setslice, "_spin_slice": builtins.slice,
}  # fmt: skip


class ExtensionRejected(SpinError):
    """The verifier refused the extension; ``diagnostics`` says where and why."""

    def __init__(self, name: str, diagnostics: list[Diagnostic]) -> None:
        n = len(diagnostics)
        lines = "\n".join(f"  {d}" for d in diagnostics)
        super().__init__(f"extension {name} rejected by the verifier ({n} problem{'s' if n != 1 else ''}):\n{lines}")
        self.diagnostics = diagnostics


@dataclass
class Extension:
    name: str
    filename: str
    domain: Domain
    namespace: dict[str, Any]
    bindings: list[Any] = field(default_factory=list)  # dispatcher bindings it installed
    loaded: bool = True
    rights: frozenset[str] = frozenset()  # what its installer may do (kernel/sys/authority.py RIGHTS)
    clients: tuple[int, ...] = ()  # the processes it was loaded for (UNIX pids)
    releases: list[Callable[[], None]] = field(default_factory=list)  # kernel resources to give back on unload
    evict: Callable[[str], None] | None = None  # set by the loader: unload for going past a quota
    meter: fuel.Meter = field(init=False, repr=False)
    footprint: tuple[int, int] = (0, 0)  # (bytes, objects) at the last measure
    clock: Any = None  # the kernel's CPU, when the dispatcher charges its cycles (see Dispatcher.clock)
    measure_every: int = 0  # cycles: QUOTA_FUEL checks at the cheapest a check is charged
    entries: dict[int, Any] = field(default_factory=dict, repr=False)  # its top-level functions (contain.entries_of)

    def __post_init__(self) -> None:
        self.meter = fuel.Meter(self.namespace)

    def measure(self) -> None:
        """Raise QuotaExceeded if the extension keeps too much. The dispatcher
        calls it once QUOTA_FUEL has been spent since the last measure."""
        self.meter.since = 0
        if self.clock is not None:
            self.meter.due = self.clock.cycles + self.measure_every
        ns = self.namespace
        roots = [v for k, v in ns.items() if not k.startswith("_spin") and k != "__builtins__"]
        for b in self.bindings:  # what it handed the kernel to keep for it: closures
            roots += [b.handler_closure, b.guard_closure, b.handler, b.guard]
        size, count, problem = sandbox.footprint(roots, QUOTA_BYTES)
        self.footprint = (size, count)
        if problem:
            raise fuel.QuotaExceeded(f"{self.name} {problem} (quota {QUOTA_BYTES >> 20} MiB)")


def verify_or_raise(source: str, filename: str, name: str) -> Verified:
    from kernel.sys.verifier import check

    v = check(source, filename)
    if isinstance(v, list):
        raise ExtensionRejected(name, v)
    return v


def link(v: Verified, name: str, domains: list[Domain], bind: Callable[[str, Any, Extension], Any],
         log: Callable[[str], None], rights: frozenset[str] = frozenset(), clock: Any = None,
         per_fuel: int = 0, clients: tuple[int, ...] = ()) -> Extension:  # fmt: skip
    """Resolve ``v``'s imports against ``domains`` in order, build its
    namespace (``bind(name, export, ext)`` turns an export into what the
    extension sees) and run its top level. Raises LinkError naming every
    unresolved import."""
    target = Domain.create(name, v.imports)
    for d in domains:
        resolve(target, d)
    missing = target.unresolved
    if missing:
        offered = sorted({n for d in domains for n in d.all_exports()})
        what = ", ".join(f"`{n}` (line {target.imports[n]})" for n in missing)
        raise LinkError(f"{v.filename}: cannot link extension {name}: no domain it may use "
                        f"({', '.join(d.name for d in domains)}) exports {what}; they export: {', '.join(offered)}")  # fmt: skip
    from kernel.sys import verifier

    ns: dict[str, Any] = {"__name__": name, **HELPERS}
    ext = Extension(name, v.filename, target, ns, rights=rights, clients=tuple(clients), clock=clock,
                    measure_every=QUOTA_FUEL * max(per_fuel, 1))  # fmt: skip
    ns["__builtins__"] = sandbox.builtins_for(ext.meter, log)
    ns.update(sandbox.helpers_for(ext.meter))
    for iname, (export, _) in target.bound.items():
        ns[iname] = bind(iname, export, ext)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the verifier compiled it with warnings as errors already
            tree = verifier.instrument(v)
            code = compile(tree, v.filename, "exec", dont_inherit=True)
        ext.entries = contain.entries_of(tree, code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise LinkError(f"{v.filename}: cannot link extension {name}: {type(e).__name__}: {e}") from None
    run_bounded(ext, lambda: exec(code, ns), "its top level")  # noqa: S102 - verified, instrumented code
    return ext


def run_bounded(ext: Extension, fn: Callable[[], Any], what: str) -> Any:
    """Run extension code under INIT_FUEL, then measure what it keeps; any
    failure becomes a LinkError."""
    m = ext.meter
    outer = m.start(INIT_FUEL)
    try:
        r = fn()
        if outer:
            ext.measure()
        return r
    except fuel.FuelExhausted:
        raise LinkError(f"{ext.filename}: {ext.name}: {what} ran out of fuel ({INIT_FUEL:,} checks)") from None
    except fuel.QuotaExceeded as e:
        raise LinkError(f"{ext.filename}: {ext.name}: {what} stopped: {e}") from None
    except SpinError as e:
        raise LinkError(f"{ext.filename}: {ext.name}: {what} failed: {e}") from None
    except RecursionError:
        raise LinkError(f"{ext.filename}: {ext.name}: {what} recursed too deeply") from None
    except Exception as e:  # noqa: BLE001 - the extension's own failure, reported
        raise LinkError(f"{ext.filename}: {ext.name}: {what} raised {type(e).__name__}: {e}") from None
    finally:
        if outer:
            m.stop()
