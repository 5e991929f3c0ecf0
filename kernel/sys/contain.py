"""The containment wrapper: how the dispatcher calls an extension's guard or handler.

The outermost call into an extension grants it fuel (``fuel.grant_of``), runs
the code, takes the fuel back, counts what was used, charges virtual time
for it and, now and then, measures what the extension keeps; an exception
becomes a contained fault (a faulting guard is false). A call made while the
extension is already running spends what the outer call has left.

The wrapper is generated once per binding, with its constants (binding,
meter, grant, clock) as closure cells, and runs in the extension's own
namespace, where its fuel lives. When the handler is a plain top-level
function of the extension, the wrapper *is* that function: its instrumented
body is compiled again inside the wrapper, without its entry check (the
grant is the entry: it comes with that check drawn, so fuel and virtual
time are the same either way), so a raise costs one Python frame, as a kernel
handler's does -- SPIN's dispatcher, too, called a handler directly, with
no stub between (OSDI'96 §3). Anything else (a closure, a lambda, a
function with defaults) is called from the wrapper. ``spinwb bench
dispatch`` prints what a contained handler costs against a kernel one.
"""

from __future__ import annotations

import ast
import copy
import types
from collections.abc import Callable
from typing import Any

from kernel.params import QUOTA_FUEL
from kernel.sys import fuel

# The wrapper's names start with ``_spin__``: the verifier refuses every name
# starting with ``_spin`` in an extension, and no sandbox helper uses the prefix.
_TEMPLATE = """
def _spin__make({consts}):
    def _spin__w({params}):
        global _spin_fuel
{count}        if _spin_fuel is not _spin__EMPTY:  # nested: the outer call's fuel
            try:
                return _spin__FN({args})
            except _spin__BaseException as _spin__e:
                if _spin__isinstance(_spin__e, _spin__STOP):
                    raise
                _spin__R.fault(_spin__B, _spin__e, 0)
                return _spin__R.failed
{closure}        _spin__x = None
        _spin_fuel = _spin__iter(_spin__T)
        try:
            try:
                _spin__BODY
            except _spin__BaseException as _spin__e:
                if _spin__isinstance(_spin__e, _spin__STOP):
                    raise
                _spin__x = _spin__e
                return _spin__R.failed
        finally:
            # The next check's number is one more than the checks used (a 0 is a checkpoint's slot;
            # an empty grant, the bound spent, gives the default).
            _spin__v = _spin__next(_spin_fuel, {bound1}) or _spin__next(_spin_fuel, {bound1})
            _spin_fuel = _spin__EMPTY
            _spin__B.fuel_used += _spin__v - 1
{charge}            if _spin__x is not None:
                _spin__R.fault(_spin__B, _spin__x, _spin__v - 1)
    return _spin__w
"""

# Virtual time: with the kernel's CPU as the clock, ``base + per * checks`` cycles
# (written ``(base - per) + per * v``, v = checks + 1), and the quota is measured once
# the clock has gone QUOTA_FUEL checks' worth past the last measure: at least that
# often in the extension's own fuel, without a counter of its own.
_CLOCK_CHARGE = """\
            _spin__c = _spin__K.cycles + {k} + {per} * _spin__v
            _spin__K.cycles = _spin__c
"""
_CLOCK_DUE = "_spin__c >= _spin__M.due"
_FREE_CHARGE = """\
            _spin__K(_spin__v - 1)
            _spin__M.since += _spin__v - 1
"""
_FREE_DUE = f"_spin__M.since >= {QUOTA_FUEL}"
_MEASURE = """\
            if {due}:
                try:
                    _spin__R.creator.measure()
                except _spin__QuotaExceeded as _spin__q:
                    _spin__R.fault(_spin__B, _spin__q, _spin__v - 1)
"""


def wrapper(*, fn: Callable[..., Any], closure: Any, nargs: int, ns: dict[str, Any], binding: Any, meter: Any,
            bound: int, failed: Any, fault: Callable[..., None], count: bool, creator: Any, clock: Any,
            cost: tuple[int, int], charge: Callable[[int], None]) -> Callable[..., Any]:  # fmt: skip
    """The containment wrapper for one binding's guard or handler ``fn``.
    ``failed``: what a faulted call returns; ``count``: the wrapper is the
    event's whole dispatch, so it counts the binding's calls."""
    kw = dict(fn=fn, closure=closure, nargs=nargs, ns=ns, binding=binding, meter=meter, bound=bound, failed=failed,
              fault=fault, count=count, creator=creator, clock=clock, cost=cost, charge=charge)  # fmt: skip
    node = _inlinable(fn, closure, nargs, ns, creator)
    if node is not None:
        try:
            return _build(node, **kw)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass  # the body does not compile two blocks deeper (19 nested loops): call it from the wrapper
    return _build(None, **kw)


def _build(node: ast.FunctionDef | None, *, fn: Callable[..., Any], closure: Any, nargs: int, ns: dict[str, Any],
           binding: Any, meter: Any, bound: int, failed: Any, fault: Callable[..., None], count: bool, creator: Any,
           clock: Any, cost: tuple[int, int], charge: Callable[[int], None]) -> Callable[..., Any]:  # fmt: skip
    if node is not None:
        names = [a.arg for a in node.args.args]
        params = names[1:] if closure is not None else names
        args = ", ".join(["_spin__C", *params] if closure is not None else params)
        name = node.name
    else:
        params = [f"_spin__a{i}" for i in range(nargs)]
        args = ", ".join(["_spin__C", *params] if closure is not None else params)
        name = "contained"
    # Cells are copied into the frame on every call, so the wrapper has few: the binding, its
    # grant, the clock (or charge), the function, what only a fault needs; the constants shared
    # by the extension's wrappers are globals of its namespace (the extension cannot name them).
    rare = types.SimpleNamespace(fault=fault, failed=failed, creator=creator)
    consts: dict[str, Any] = {"_spin__B": binding, "_spin__T": fuel.grant_of(bound) if node is None else fuel.entered_grant_of(bound), "_spin__FN": fn,
                              "_spin__K": clock if clock is not None else charge, "_spin__R": rare}  # fmt: skip
    if closure is not None:
        consts["_spin__C"] = closure
    ns.update(_shared(meter))
    if clock is not None:
        base, per = cost
        charged, due = _CLOCK_CHARGE.format(k=base - per, per=per), _CLOCK_DUE
    else:
        charged, due = _FREE_CHARGE, _FREE_DUE
    if hasattr(creator, "measure"):
        charged += _MEASURE.format(due=due)
    source = _TEMPLATE.format(
        consts=", ".join(consts), name=name, params=", ".join(params), args=args, bound1=bound + 1,
        count="        _spin__B.calls += 1\n" if count else "", charge=charged,
        closure=f"        {names[0]} = _spin__C\n" if node is not None and closure is not None else "",
    )  # fmt: skip
    tree = ast.parse(source)
    if node is not None:  # the wrapper's own lines are the def's; the body keeps its own
        for n in ast.walk(tree):
            if hasattr(n, "lineno"):
                n.lineno = n.end_lineno = node.lineno  # type: ignore[attr-defined]
                n.col_offset = n.end_col_offset = 0  # type: ignore[attr-defined]
        _splice(tree, node.body)
    else:
        _splice(tree, ast.parse(f"return _spin__FN({args})").body)
    filename = getattr(creator, "filename", None) if node is not None else None
    code = compile(ast.fix_missing_locations(tree), filename or f"<contained #{binding.id}>", "exec",
                   dont_inherit=True)  # fmt: skip
    make = types.FunctionType(next(c for c in code.co_consts if isinstance(c, types.CodeType)), ns)
    w = make(*consts.values())
    # Generated as _spin__w, not under the handler's name: inside the body that name must stay the
    # extension's global (the plain function), never the wrapper, whose nested path contains stops.
    w.__code__ = w.__code__.replace(co_name=name, co_qualname=name)
    w.__qualname__ = w.__name__ = (
        name if node is not None else f"contained({getattr(fn, '__name__', type(fn).__name__)})"
    )
    return w


def _shared(meter: Any) -> dict[str, Any]:
    """The constants every containment wrapper of one extension reads as globals."""
    return {"_spin__M": meter, "_spin__EMPTY": fuel.EMPTY, "_spin__iter": iter, "_spin__next": next,
            "_spin__isinstance": isinstance, "_spin__BaseException": BaseException,
            "_spin__STOP": (KeyboardInterrupt, SystemExit), "_spin__QuotaExceeded": fuel.QuotaExceeded}  # fmt: skip


def _inlinable(fn: Any, closure: Any, nargs: int, ns: dict[str, Any], creator: Any) -> ast.FunctionDef | None:
    """The instrumented body of ``fn`` without its entry check, when ``fn`` is
    a plain top-level function of the extension whose namespace is ``ns``:
    no defaults, no closure of its own, exactly the arguments the event
    passes. Otherwise None: the wrapper calls ``fn``."""
    entries = getattr(creator, "entries", None)
    if not entries or type(fn) is not types.FunctionType or fn.__globals__ is not ns:
        return None
    code = fn.__code__
    found = entries.get(id(code))
    if found is None or found[0] is not code:
        return None
    if fn.__closure__ or fn.__defaults__ or fn.__kwdefaults__ or code.co_kwonlyargcount:
        return None
    if code.co_flags & (0x04 | 0x08) or code.co_argcount != nargs + (closure is not None):  # *args, **kw
        return None
    node = copy.deepcopy(found[1])
    if node.decorator_list or node.args.vararg or node.args.kwarg or node.args.posonlyargs:
        return None
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if not body or not _is_entry_check(body[0]):
        return None
    node.body = body[1:] or [ast.Pass()]
    return node


def _is_entry_check(s: ast.stmt) -> bool:
    """Whether ``s`` is the instrumentation's entry check (verifier._check_expr)."""
    if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.BoolOp) and len(s.value.values) == 2):
        return False
    first, second = s.value.values
    return (isinstance(first, ast.Call) and isinstance(first.func, ast.Name) and first.func.id == "_spin_next"
            and isinstance(second, ast.Call) and isinstance(second.func, ast.Name) and second.func.id == fuel.OUT_NAME)  # fmt: skip


def _splice(tree: ast.Module, body: list[ast.stmt]) -> None:
    """Put ``body`` where the template says ``_spin__BODY``."""
    for n in ast.walk(tree):
        stmts = getattr(n, "body", None)
        for i, s in enumerate(stmts if isinstance(stmts, list) else ()):
            if isinstance(s, ast.Expr) and isinstance(s.value, ast.Name) and s.value.id == "_spin__BODY":
                stmts[i : i + 1] = body  # type: ignore[index]
                return
    raise AssertionError("the containment template has no body placeholder")


def entries_of(tree: ast.Module, code: types.CodeType) -> dict[int, tuple[types.CodeType, ast.FunctionDef]]:
    """The extension's top-level functions: their code objects (from the
    module's compiled ``code``) with their instrumented definitions, which
    ``wrapper`` compiles again inside a containment wrapper."""
    defs = {(s.name, s.lineno): s for s in tree.body if isinstance(s, ast.FunctionDef) and not s.decorator_list}
    out = {}
    for c in code.co_consts:
        if isinstance(c, types.CodeType) and (c.co_name, c.co_firstlineno) in defs:
            out[id(c)] = (c, defs[(c.co_name, c.co_firstlineno)])
    return out
