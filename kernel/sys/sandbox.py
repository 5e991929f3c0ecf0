"""The sandbox's runtime: the builtins extensions see, the checked operators
the instrumentation calls, and the measure of what an extension keeps.

Fuel (kernel/sys/fuel.py) bounds Python-level work. What it cannot see is
one C-level operation doing a great deal: ``"x" * 10**9``, ``10**10**9``,
``" ".join(huge)``, ``sum(lists, [])``, ``str()`` of a list holding a
million references to one long string, ``map`` over an endless iterator.
So the verifier's instrumentation routes the operators that can build far
more than their inputs (``*``, ``**``, ``<<``, ``%``, ``+`` of sequences,
augmented assignments, slice stores, f-string fields and the methods in
``language.GROWING_METHODS``) through the checks below, which refuse
before allocating; and the builtins that loop in C are replaced by
versions that charge fuel for each item (lazy ones) or for the size of
what they consume. The limits are ``kernel.sys.language``'s.

``footprint`` measures what an extension keeps between calls -- its globals
and everything they reach, walked without recursion -- for the memory quota
and the nesting limit (a tuple nested some 100,000 deep crashes CPython's
``hash``: the limit keeps what an extension holds far shallower).
"""

from __future__ import annotations

import builtins
import operator
import re
import reprlib
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kernel.params import (
    FORMAT_WIDTH_MAX,
    INT_BITS,
    KEY_DEPTH,
    POW_MOD_BITS,
    QUOTA_DEPTH,
    RANGE_MAX,
    REPR_ITEMS,
    REPR_MAX,
    SEQ_MAX,
    STR_MAX,
)
from kernel.sys.fuel import Meter


class LimitError(ValueError):
    """One operation would build more than the sandbox allows."""


_TEXT = (str, bytes, bytearray)
_SEQS = (list, tuple)
_PRIMITIVE = (int, float, bool, str, bytes, type(None), complex)
_NUMBERS = (int, float, bool, complex)
PER_ITEM = 64  # items a metered builtin handles per check of fuel


def _cap(obj: Any) -> int:
    return STR_MAX if isinstance(obj, _TEXT) else SEQ_MAX


def _refuse(what: str, n: int, limit: int, unit: str) -> LimitError:
    return LimitError(f"{what} would make {n:,} {unit}; extensions may build at most {limit:,}")


def _sized(r: Any) -> Any:
    if isinstance(r, (*_TEXT, *_SEQS)) and len(r) > _cap(r):
        raise _refuse("this operation", len(r), _cap(r), "items")
    return r


# --- operators -------------------------------------------------------------------------------


def add(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        return a + b
    if isinstance(a, (*_TEXT, *_SEQS)) and hasattr(b, "__len__") and len(a) + len(b) > _cap(a):
        raise _refuse("+", len(a) + len(b), _cap(a), "items")
    return a + b


def iadd(a: Any, b: Any) -> Any:
    if isinstance(a, (list, bytearray)):
        n = len(a) + operator.length_hint(b, 0)
        if n > _cap(a):
            raise _refuse("+=", n, _cap(a), "items")
        if not hasattr(b, "__len__"):
            b = _bounded_list(b, _cap(a) - len(a))
        a += b
        return _sized(a)
    return add(a, b)


def mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        if a.bit_length() + b.bit_length() > INT_BITS:
            raise _refuse("*", a.bit_length() + b.bit_length(), INT_BITS, "bits")
        return a * b
    for seq, k in ((a, b), (b, a)):
        if isinstance(seq, (*_TEXT, *_SEQS)) and isinstance(k, int):
            n = len(seq) * max(k, 0)
            if n > _cap(seq):
                raise _refuse("*", n, _cap(seq), "items")
    return a * b


def pow_(a: Any, b: Any, m: Any = None) -> Any:
    if m is not None:
        for v in (a, b, m):
            if isinstance(v, int) and v.bit_length() > POW_MOD_BITS:
                raise _refuse("pow with a modulus", v.bit_length(), POW_MOD_BITS, "bits")
        return builtins.pow(a, b, m)
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        bits = abs(a).bit_length() * b
        if bits > INT_BITS:
            raise _refuse("**", bits, INT_BITS, "bits")
    if isinstance(a, float | complex) and isinstance(b, int) and b.bit_length() > INT_BITS:
        raise _refuse("**", b.bit_length(), INT_BITS, "bits")
    return a**b


def lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a and a.bit_length() + b > INT_BITS:
        raise _refuse("<<", a.bit_length() + b, INT_BITS, "bits")
    return a << b


_PERCENT = re.compile(rb"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)


def mod(a: Any, b: Any) -> Any:
    if not isinstance(a, _TEXT):
        return a % b
    fmt = a.encode("utf-8", "surrogatepass") if isinstance(a, str) else bytes(a)
    for m in _PERCENT.finditer(fmt):
        for part in (m.group(1), m.group(2)):
            if part == b"*":
                raise LimitError("a `*` width in a % format: write the width in the format itself")
            if part is not None and int(part) > FORMAT_WIDTH_MAX:
                raise _refuse("a % format's width", int(part), FORMAT_WIDTH_MAX, "characters")
    if isinstance(b, tuple):
        b = tuple(x if isinstance(x, _PRIMITIVE) else safe_repr(x) for x in b)
    elif isinstance(b, dict):
        b = {k: (v if isinstance(v, _PRIMITIVE) else safe_repr(v)) for k, v in _bounded_items(b)}
    elif not isinstance(b, _PRIMITIVE):
        b = safe_repr(b)
    return _sized(a % b)


def fmt(value: Any) -> Any:
    """An f-string field's value: numbers and text as they are, anything else
    as a bounded repr (a container's str() can be any size)."""
    if isinstance(value, _PRIMITIVE):
        return _sized(value) if isinstance(value, _TEXT) else value
    return safe_repr(value)


def joined(s: str) -> str:
    return _sized(s)


def setslice(obj: Any, key: slice, value: Any) -> None:
    if isinstance(obj, (list, bytearray)):
        n = len(obj) + operator.length_hint(value, 0)
        if n > _cap(obj):
            raise _refuse("a slice assignment", n, _cap(obj), "items")
    obj[key] = value


def _charge_for(charge: Callable[[int], None], r: Any) -> Any:
    """Charge fuel for what an operation built: a check per PER_ITEM items
    or per 4 KiB of text, so memory a loop builds brings its checkpoints
    (and its end) nearer, as its iterations do."""
    if isinstance(r, _TEXT):
        charge(len(r) >> 12)
    elif isinstance(r, (list, tuple, dict, set, frozenset)):
        charge(len(r) // PER_ITEM)
    return r


def helpers_for(m: Meter) -> dict[str, Any]:
    """The instrumentation's helpers that charge one extension's fuel."""
    charge = m.charge

    def method(obj: Any, name: str, *args: Any, **kw: Any) -> Any:
        if name in ("count", "index", "remove", "sort") and isinstance(obj, (list, tuple, *_TEXT)):
            charge(len(obj) // PER_ITEM)  # comparisons in C, one per item
            if isinstance(obj, (list, tuple)):
                flat(obj)
            kw = flat_keys(kw)
        r = _charge_for(charge, call_method(obj, name, *args, **kw))
        return None if name == "extend" and isinstance(obj, (list, bytearray)) else r

    def getslice(obj: Any, key: slice) -> Any:
        return _charge_for(charge, obj[key])

    def star(x: Any) -> Any:
        if isinstance(x, (list, tuple, *_TEXT)) or hasattr(x, "__len__"):
            n = len(x)
            if n > SEQ_MAX:
                raise _refuse("*unpacking", n, SEQ_MAX, "items")
            charge(n // PER_ITEM)
            return x
        return _bounded_list(x, SEQ_MAX)

    def charged(op: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            return _charge_for(charge, op(*args))

        return run

    def contains_(x: Any, c: Any) -> bool:
        if isinstance(c, (list, tuple, str, bytes, bytearray)):
            charge(len(c) // PER_ITEM)
            if type(x) not in _FLAT:
                flat(x)
                flat(c)
        return key(x) in c

    return {"_spin_method": method, "_spin_getslice": getslice, "_spin_star": star, "_spin_add": charged(add),
            "_spin_key": key, "_spin_in": contains_, "_spin_flat": flat,
            "_spin_iadd": charged(iadd), "_spin_mul": charged(mul), "_spin_mod": charged(mod),
            "_spin_joined": charged(joined)}  # fmt: skip


def call_method(obj: Any, name: str, *args: Any, **kw: Any) -> Any:
    """A call to one of GROWING_METHODS: the result's size checked first.
    Called on a class (``str.ljust(s, n)``), the checks apply to the
    instance it is given."""
    if isinstance(obj, Metered) or isinstance(obj, type):
        real: Any = obj._real if isinstance(obj, Metered) else obj
        if name == "fromkeys":
            items = _bounded_list(args[0], SEQ_MAX) if args else []
            for k in items:
                key(k)
            return real.fromkeys(items, *args[1:])
        if name == "from_bytes" and args and isinstance(args[0], (*_TEXT, list, tuple)) and len(args[0]) * 8 > INT_BITS:
            raise _refuse("int.from_bytes", len(args[0]) * 8, INT_BITS, "bits")
        if args and isinstance(args[0], real) and not isinstance(args[0], type):
            return call_method(args[0], name, *args[1:], **kw)
        return getattr(real, name)(*args, **kw)
    method = getattr(obj, name)
    if name in _KEYED and isinstance(obj, (dict, set, frozenset)):
        if name in _MANY:
            args = tuple(_keys_checked(a) for a in args)
        elif args:
            key(args[0])
    if isinstance(obj, _TEXT):
        n = len(obj)
        if name == "join" and args:
            items = _bounded_list(args[0], SEQ_MAX)
            total = sum(len(x) if isinstance(x, _TEXT) else 0 for x in items) + n * max(len(items) - 1, 0)
            if total > STR_MAX:
                raise _refuse("join", total, STR_MAX, "characters")
            return method(items, **kw)
        if name == "replace" and len(args) >= 2 and isinstance(args[0], _TEXT) and isinstance(args[1], _TEXT):
            old, new = args[0], args[1]
            count = args[2] if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0 else None
            hits = (n + 1) if not old else obj.count(old)  # type: ignore[arg-type]  # str with bytes: Python's own TypeError
            hits = hits if count is None else min(hits, count)
            total = n + hits * (len(new) - len(old))
            if total > STR_MAX:
                raise _refuse("replace", total, STR_MAX, "characters")
        elif name in ("ljust", "rjust", "center", "zfill") and args and isinstance(args[0], int):
            if args[0] > STR_MAX:
                raise _refuse(name, args[0], STR_MAX, "characters")
        elif name == "expandtabs":
            tab = args[0] if args else kw.get("tabsize", 8)
            total = n * max(tab, 1) if isinstance(tab, int) else n
            if total > STR_MAX:
                raise _refuse("expandtabs", total, STR_MAX, "characters")
        if name in ("encode", "hex") and n * 4 > STR_MAX:
            raise _refuse(name, n * 4, STR_MAX, "bytes")
        if name == "translate" and args:
            table = args[0]
            values = table.values() if isinstance(table, dict) else _bounded_list(table, 1 << 17)
            longest = max((len(v) for v in values if isinstance(v, _TEXT)), default=1)
            if n * longest > STR_MAX:
                raise _refuse("translate", n * longest, STR_MAX, "characters")
    elif name == "extend" and isinstance(obj, (list, bytearray)) and args:
        items = _bounded_list(args[0], _cap(obj) - len(obj))
        method(items)
        return items  # what was added, for the charge (the caller drops it: extend returns None)
    elif name == "from_bytes" and args and isinstance(args[0], (*_TEXT, list, tuple)) and len(args[0]) * 8 > INT_BITS:
        raise _refuse("int.from_bytes", len(args[0]) * 8, INT_BITS, "bits")
    elif name == "to_bytes" and isinstance(obj, int):
        length = args[0] if args else kw.get("length", 1)
        if isinstance(length, int) and length > STR_MAX:
            raise _refuse("to_bytes", length, STR_MAX, "bytes")
    return method(*args, **kw)


_MANY = frozenset({"update", "union", "intersection", "difference", "symmetric_difference", "issubset",
                   "issuperset", "isdisjoint"})  # fmt: skip
_KEYED = frozenset({"add", "get", "setdefault", "pop", "discard", "remove"}) | _MANY


def key(k: Any) -> Any:
    """A value about to be hashed (a dict key, a set element, ``in``): a
    tuple nested some 150,000 deep overflows the C stack in CPython's hash,
    which no exception can catch, so deep ones are refused first."""
    if type(k) is tuple or type(k) is frozenset:
        stack = [(k, 1)]
        seen = 0
        while stack:
            t, d = stack.pop()
            if d > KEY_DEPTH:
                raise LimitError(f"a dict key or set element nested more than {KEY_DEPTH} deep")
            for x in t:
                if type(x) is tuple or type(x) is frozenset:
                    stack.append((x, d + 1))
            seen += len(t)
            if seen > SEQ_MAX:
                raise _refuse("a dict key or set element", seen, SEQ_MAX, "items")
    return k


_FLAT = (int, float, bool, str, bytes, type(None), complex)


def flat(x: Any) -> Any:
    """A value about to be compared in C: what the comparison may walk --
    every item, counted as often as it is reached, shared or not -- is at
    most SEQ_MAX, or the comparison is refused."""
    if type(x) in _FLAT:
        return x
    left = SEQ_MAX
    stack = [x]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is list or t is tuple or t is set or t is frozenset:
            left -= len(v)
            if left < 0:
                raise _refuse("comparing this", SEQ_MAX + 1, SEQ_MAX, "items (shared parts counted each time)")
            stack.extend(e for e in v if type(e) not in _FLAT)
        elif t is dict:
            left -= 2 * len(v)
            if left < 0:
                raise _refuse("comparing this", SEQ_MAX + 1, SEQ_MAX, "items (shared parts counted each time)")
            stack.extend(e for kv in v.items() for e in kv if type(e) not in _FLAT)
    return x


def flat_keys(kw: dict[str, Any]) -> dict[str, Any]:
    """A ``key=`` function's results are compared in C too: check each (sorted, max, min, list.sort)."""
    k = kw.get("key")
    if k is None:
        return kw
    return {**kw, "key": lambda v: flat(k(v))}


def _keys_checked(it: Any) -> Any:
    """An iterable whose items will be hashed: a dict's or set's own keys
    were hashed already; anything else is listed and checked."""
    if isinstance(it, (dict, set, frozenset)):
        return it
    items = _bounded_list(it, SEQ_MAX)
    for k in items:
        key(k)
    ints = [k for k in items if type(k) is int]
    if len(ints) > 1024 and len(ints) - len({hash(k) for k in ints}) > 1024:
        raise LimitError("more than 1,024 of these keys share a hash: inserting them would take quadratic time")
    return items


def _bounded_list(it: Any, most: int) -> list[Any]:
    n = operator.length_hint(it, 0)
    if n > most:
        raise _refuse("this operation", n, most, "items")
    out: list[Any] = []
    append = out.append
    for x in it:
        append(x)
        if len(out) > most:
            raise _refuse("this operation", len(out), most, "items")
    return out


def _bounded_items(d: dict[Any, Any]) -> list[tuple[Any, Any]]:
    if len(d) > SEQ_MAX:
        raise _refuse("this operation", len(d), SEQ_MAX, "items")
    return list(d.items())


# --- repr --------------------------------------------------------------------------------


class _Repr(reprlib.Repr):
    """reprlib with small limits, and no addresses: an object's default repr
    names where it lives in the host's memory."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 4
        self.maxstring = self.maxother = 200
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdict = self.maxdeque = 50
        self.maxlong = 400
        self.budget = 0

    def repr1(self, x: Any, level: int) -> str:
        # a total budget of items: a list shared 200 times at each of 6 levels is 200**6 items to show
        self.budget -= 1
        if self.budget < 0:
            return "..."
        return super().repr1(x, level)

    def repr_instance(self, x: Any, level: int) -> str:
        t = type(x)
        if isinstance(x, types.FunctionType | types.BuiltinFunctionType | types.MethodType):
            return f"<function {getattr(x, '__name__', '?')}>"
        if t.__module__.startswith("kernel.") or t in _PRIMITIVE:
            r = _ADDRESS.sub("", builtins.repr(x))  # the kernel's views and handles have reprs of their own
            return r if len(r) <= self.maxother else r[: self.maxother - 3] + "..."
        return f"<{t.__name__} object>"


_ADDRESS = re.compile(r" at 0x[0-9a-f]+")  # where an object lives in the host's memory: never shown


_repr = _Repr()


def shown(x: Any, most: int = 80) -> str:
    """A value as a kernel message may quote it: bounded, never failing,
    never running extension code (a refusal must not cost gigabytes)."""
    try:
        r = safe_repr(x) if not isinstance(x, (int, float, bool, type(None))) or isinstance(x, bool) else repr(x)
    except Exception:  # noqa: BLE001 - whatever it is, the message goes on
        r = f"<{type(x).__name__}>"
    if isinstance(x, int) and not isinstance(x, bool) and len(r) > most:
        r = f"<an int of {x.bit_length()} bits>"
    return r if len(r) <= most else r[: most - 3] + "..."


def safe_repr(x: Any) -> str:
    if isinstance(x, str):
        return builtins.repr(_sized(x))
    _repr.budget = REPR_ITEMS
    r = _repr.repr(x)
    return r if len(r) <= REPR_MAX else r[: REPR_MAX - 3] + "..."


# --- metered builtins ----------------------------------------------------------------------


class Metered:
    """A builtin type as an extension names it: calling it is metered, its
    public class attributes (``dict.fromkeys``) are the type's, and
    ``isinstance`` takes it for the type."""

    __slots__ = ("_real", "_call")  # private: the verifier refuses `_` attributes

    def __init__(self, real: type, call: Callable[..., Any]) -> None:
        self._real = real
        self._call = call

    def __call__(self, *args: Any, **kw: Any) -> Any:
        return self._call(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._real, name)

    def __repr__(self) -> str:
        return f"<class {self._real.__name__}>"


def builtins_for(m: Meter, log: Callable[[str], None]) -> dict[str, Any]:
    """The builtins one extension sees: SAFE ones as they are, the rest
    metered against its own fuel."""
    charge = m.charge

    def size_of(it: Any) -> int:
        return operator.length_hint(it, 0)

    def consume(real: Callable[..., Any], compares: bool = False) -> Callable[..., Any]:
        def run(*args: Any, **kw: Any) -> Any:
            if args:
                charge(size_of(args[0]) // PER_ITEM)
                if compares:  # sorted, max, min compare items in C
                    for a in args:
                        flat(a) if isinstance(a, (list, tuple, set, frozenset, dict)) else None
            if compares:
                kw = flat_keys(kw)
            return real(*args, **kw)

        run.__name__ = real.__name__
        return run

    def lazy(real: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def run(*args: Any, **kw: Any) -> Iterator[Any]:
            it = real(*args, **kw)
            for x in it:
                charge(1)
                yield x

        run.__name__ = real.__name__
        return run

    def iter_(obj: Iterable[Any], *rest: Any) -> Iterator[Any]:
        if rest:
            raise TypeError("iter(callable, sentinel) loops in C where fuel cannot see it: write a while loop")
        return lazy(builtins.iter)(obj)

    def range_(*args: int) -> range:
        r = range(*args)
        if len(r) > RANGE_MAX:
            raise _refuse("range", len(r), RANGE_MAX, "items")
        return r

    def text(real: type) -> Callable[..., Any]:
        def make(*args: Any, **kw: Any) -> Any:
            if args and isinstance(args[0], int) and not isinstance(args[0], bool):
                if args[0] > STR_MAX:
                    raise _refuse(real.__name__, args[0], STR_MAX, "bytes")
                charge(args[0] // 4096)
            elif args:
                charge(size_of(args[0]) // PER_ITEM)
            return _sized(real(*args, **kw))

        return make

    def str_(*args: Any, **kw: Any) -> str:
        if len(args) == 1 and not kw and not isinstance(args[0], _PRIMITIVE):
            return safe_repr(args[0])
        return _sized(builtins.str(*args, **kw))

    def sum_(it: Iterable[Any], start: Any = 0) -> Any:
        if not isinstance(start, _NUMBERS):
            raise TypeError("sum() adds numbers; to join lists or strings use a loop or str.join")
        charge(size_of(it) // PER_ITEM)
        total = start
        for x in it:
            if not isinstance(x, _NUMBERS):
                raise TypeError(f"sum() adds numbers, not {builtins.type(x).__name__}")
            total = add(total, x) if type(total) is not int else total + x
        return total

    def print_(*args: Any, sep: str = " ", end: str = "") -> None:
        if not isinstance(sep, str) or not isinstance(end, str) or len(sep) > 16 or len(end) > 16:
            raise TypeError("print: sep and end are short strings")
        charge(len(args) // PER_ITEM)
        log(sep.join((a if isinstance(a, str) else str_(a))[:REPR_MAX] for a in args[:64])[:REPR_MAX] + end)

    def isinstance_(obj: Any, cls: Any) -> bool:
        return builtins.isinstance(obj, _real(cls))

    table: dict[str, Any] = {name: getattr(builtins, name) for name in (
        "abs", "bool", "callable", "chr", "divmod", "float", "hex", "oct", "bin", "int", "len", "next", "ord",
        "round", "slice", "True", "False", "None", "Exception", "ArithmeticError", "AssertionError",
        "AttributeError", "IndexError", "KeyError", "LookupError", "NotImplementedError", "OverflowError",
        "RuntimeError", "StopIteration", "TypeError", "ValueError", "ZeroDivisionError")}  # fmt: skip
    for name in ("all", "any"):
        table[name] = consume(getattr(builtins, name))
    for name in ("max", "min", "sorted"):
        table[name] = consume(getattr(builtins, name), compares=True)
    for name in ("enumerate", "filter", "map", "reversed", "zip"):
        table[name] = lazy(getattr(builtins, name))
    for real in (list, tuple):
        table[real.__name__] = Metered(real, consume(real))

    def hashed(real: type) -> Callable[..., Any]:
        def make(*args: Any, **kw: Any) -> Any:
            if args:
                charge(size_of(args[0]) // PER_ITEM)
                args = (_keys_checked(args[0]), *args[1:])
            return real(*args, **kw)

        return make

    for cls in (set, frozenset, dict):
        table[cls.__name__] = Metered(cls, hashed(cls))
    table["bytes"] = Metered(bytes, text(bytes))
    table["bytearray"] = Metered(bytearray, text(bytearray))
    table["str"] = Metered(str, str_)
    table["range"] = Metered(range, range_)
    table["iter"] = iter_
    table["sum"] = sum_
    table["pow"] = pow_

    def slice_(*args: Any) -> slice:
        if not all(a is None or type(a) is int for a in args):
            raise TypeError("slice() takes numbers or None (a slice holding slices nests without bound)")
        return builtins.slice(*args)

    def round_(x: Any, ndigits: Any = None) -> Any:
        if ndigits is not None and (type(ndigits) is not int or abs(ndigits) > 400):
            raise LimitError("round(x, n): n is at most 400 either way")
        return builtins.round(x) if ndigits is None else builtins.round(x, ndigits)

    def int_(*args: Any, **kw: Any) -> int:
        if args and isinstance(args[0], (str, bytes, bytearray)) and len(args[0]) > INT_BITS // 3:
            raise _refuse("int() of text", len(args[0]), INT_BITS // 3, "digits")
        return builtins.int(*args, **kw)

    table["slice"] = Metered(slice, slice_)
    table["round"] = round_
    table["int"] = Metered(int, int_)
    table["repr"] = safe_repr
    table["print"] = print_
    table["isinstance"] = isinstance_
    table["__build_class__"] = builtins.__build_class__  # what a `class` statement calls; not nameable
    return table


def _real(cls: Any) -> Any:
    if isinstance(cls, Metered):
        return cls._real
    if isinstance(cls, tuple):
        return tuple(_real(c) for c in cls)
    return cls


# --- what an extension keeps ---------------------------------------------------------------


def footprint(roots: Iterable[Any], most: int) -> tuple[int, int, str]:
    """(bytes, objects, problem) of everything ``roots`` reach through
    containers, extension objects and functions' defaults and cells -- not
    into the kernel (handles, interfaces, events are the kernel's memory).
    Stops early, with the problem named, past ``most`` bytes or
    ``QUOTA_DEPTH`` levels of nesting."""
    seen: set[int] = set()
    total = count = 0
    stack: list[tuple[Any, int]] = [(r, 0) for r in roots]
    getsizeof = sys.getsizeof
    while stack:
        obj, depth = stack.pop()
        i = id(obj)
        if i in seen:
            continue
        seen.add(i)
        t = type(obj)
        mod = getattr(t, "__module__", "")
        if isinstance(mod, str) and mod.startswith("kernel.") and t is not Metered:
            continue  # the kernel's objects are not the extension's to pay for
        count += 1
        total += getsizeof(obj, 64)
        if total > most:
            return total, count, f"keeps more than {most >> 20} MiB"
        if depth > QUOTA_DEPTH:
            return total, count, f"keeps containers nested more than {QUOTA_DEPTH} deep"
        d = depth + 1
        if t in (list, tuple, set, frozenset):
            stack.extend((x, d) for x in obj)
        elif t is dict:
            for k, v in obj.items():
                stack.append((k, d))
                stack.append((v, d))
        elif t is types.FunctionType:
            for x in (obj.__defaults__ or ()) + tuple((obj.__kwdefaults__ or {}).values()):
                stack.append((x, d))
            for cell in obj.__closure__ or ():
                try:
                    stack.append((cell.cell_contents, d))
                except ValueError:
                    pass  # an empty cell
        elif t is types.MethodType or t is types.BuiltinMethodType:
            stack.append((getattr(obj, "__self__", None), d))
        elif t is slice:
            stack.extend((x, d) for x in (obj.start, obj.stop, obj.step))
        elif t is types.GeneratorType:
            frame = obj.gi_frame
            if frame is not None:
                stack.extend((v, d) for v in frame.f_locals.values())
        elif isinstance(obj, type):
            stack.extend((v, d) for k, v in vars(obj).items() if not k.startswith("__"))
        elif hasattr(obj, "__dict__") and mod not in ("builtins",):
            stack.extend((v, d) for v in vars(obj).values())
    return total, count, ""
