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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kernel.sys import fuel
from kernel.sys.domain import Domain, resolve
from kernel.sys.errors import LinkError, SpinError
from kernel.sys.verifier import Diagnostic, Verified, check, instrument

INIT_FUEL = 1_000_000
RANGE_LIMIT = 10_000_000
SAFE_BUILTINS = (
    "abs all any bool bytes bytearray chr dict divmod enumerate filter float frozenset int isinstance iter "
    "len list map max min next ord pow repr reversed round set slice sorted str sum tuple zip "
    "Exception ValueError KeyError IndexError TypeError RuntimeError ZeroDivisionError ArithmeticError "
    "LookupError AssertionError StopIteration NotImplementedError OverflowError True False None"
).split()


class ExtensionRejected(SpinError):
    """The verifier refused the extension; ``diagnostics`` says where and why."""

    def __init__(self, name: str, diagnostics: list[Diagnostic]) -> None:
        n = len(diagnostics)
        lines = "\n".join(f"  {d}" for d in diagnostics)
        super().__init__(f"extension {name} rejected by the verifier ({n} problem{'s' if n != 1 else ''}):\n{lines}")
        self.diagnostics = diagnostics


def _capped_range(*args: int) -> range:
    r = range(*args)
    if len(r) > RANGE_LIMIT:
        raise ValueError(f"range of {len(r)} items: extensions may iterate at most {RANGE_LIMIT:,} at once")
    return r


@dataclass
class Extension:
    name: str
    filename: str
    domain: Domain
    namespace: dict[str, Any]
    bindings: list[Any] = field(default_factory=list)  # dispatcher bindings it installed
    loaded: bool = True


def safe_builtins(log: Callable[[str], None]) -> dict[str, Any]:
    table = {name: getattr(builtins, name) for name in SAFE_BUILTINS}
    table["range"] = _capped_range
    table["__build_class__"] = builtins.__build_class__  # what a `class` statement calls; not nameable by extensions

    def print_(*args: Any, sep: str = " ", end: str = "") -> None:
        log(sep.join(str(a) for a in args) + end)

    table["print"] = print_
    return table


def verify_or_raise(source: str, filename: str, name: str) -> Verified:
    v = check(source, filename)
    if isinstance(v, list):
        raise ExtensionRejected(name, v)
    return v


def link(v: Verified, name: str, domains: list[Domain], bind: Callable[[str, Any, Extension], Any],
         log: Callable[[str], None]) -> Extension:  # fmt: skip
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
    ns: dict[str, Any] = {"__builtins__": safe_builtins(log), "__name__": name, "_spin_next": next,
                          fuel.OUT_NAME: fuel.out}  # fmt: skip
    ext = Extension(name, v.filename, target, ns)
    for iname, (export, _) in target.bound.items():
        ns[iname] = bind(iname, export, ext)
    code = compile(instrument(v), v.filename, "exec")
    run_bounded(ext, lambda: exec(code, ns), "its top level")  # noqa: S102 - verified, instrumented code
    return ext


def run_bounded(ext: Extension, fn: Callable[[], Any], what: str) -> Any:
    """Run extension code under INIT_FUEL; any failure becomes a LinkError."""
    old = fuel.grant(ext.namespace, INIT_FUEL)
    try:
        return fn()
    except fuel.FuelExhausted:
        raise LinkError(f"{ext.filename}: {ext.name}: {what} ran out of fuel ({INIT_FUEL:,} checks)") from None
    except SpinError as e:
        raise LinkError(f"{ext.filename}: {ext.name}: {what} failed: {e}") from None
    except Exception as e:  # noqa: BLE001 - the extension's own failure, reported
        raise LinkError(f"{ext.filename}: {ext.name}: {what} raised {type(e).__name__}: {e}") from None
    finally:
        fuel.restore(ext.namespace, old)
