"""A grammar fuzzer for the sandbox (issue 15): hypothesis writes 10,000
extensions from SPIN Python's accepted grammar -- loops, arithmetic on every
operator, calls of the metered builtins and of the methods that grow,
f-strings, comprehensions, lambdas, slices, try/except -- and runs each as a
handler. None may escape (an audit hook watches for files, imports,
processes, sockets and frame internals while extension code runs), run past
its bound, or break the kernel's code: whatever a handler does ends as its
own return, a contained fault or an abort.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernel.sys.system import ExtensionSystem
from kernel.sys.trace import Abort
from kernel.sys.verifier import Verified, check

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
BOUND = 2_000
WATCHING = {"on": False, "events": []}
SUSPECT = ("open", "import", "os.", "subprocess.", "socket.", "ctypes.", "shutil.", "sys._getframe",
           "object.__getattr__", "object.__setattr__", "code.__new__", "function.__new__", "builtins.input")  # fmt: skip


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Record a suspect event raised by extension code itself (its frame's
    file is the extension's); the test tooling's own frame reads are not."""
    if WATCHING["on"] and event.startswith(SUSPECT):
        caller = sys._getframe(1)
        if caller.f_code.co_filename.startswith("fuzz"):
            WATCHING["events"].append((event, repr(args)[:120]))


sys.addaudithook(_audit)

# --- the grammar ----------------------------------------------------------------------------

NAMES = ["a", "b", "c"]
ints = st.sampled_from(["0", "1", "2", "7", "-3", "255", "10**6", "2**64", "10**9", "(1 << 62)"])
strs = st.sampled_from(["'x'", "'ab'", "''", "'a b c'", "'\\t'", "'%d'", "'%s%s'", "'x' * 1000", "b'xy'"])
atoms = st.one_of(ints, strs, st.sampled_from(NAMES + ["p", "[]", "[1, 2]", "(1, 'a')", "{}", "{1: 2}", "None",
                                                      "True", "range(5)"]))  # fmt: skip
OPS = ["+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^"]
BUILTINS = ["len", "str", "repr", "list", "tuple", "sorted", "sum", "min", "max", "any", "all", "abs", "bool",
            "int", "bytes", "bytearray", "set", "frozenset", "dict", "enumerate", "reversed", "zip", "iter", "hex"]  # fmt: skip
METHODS = ["join", "replace", "ljust", "center", "zfill", "expandtabs", "split", "upper", "encode", "append",
           "extend", "pop", "get", "items", "keys", "count", "index", "strip", "hex", "copy"]  # fmt: skip


def _expr(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(OPS), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(BUILTINS), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, st.sampled_from(METHODS), children).map(lambda t: f"({t[0]}).{t[1]}({t[2]})"),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}:]"),
        st.tuples(children, children).map(lambda t: f"[{t[0]}, *{t[1]}]"),
        st.tuples(st.sampled_from(NAMES + ["p"]), children).map(lambda t: f'(f"<{{{t[0]}}}>" + str({t[1]}))'),
        st.sampled_from(NAMES + ["p", "keep"]).map(lambda n: f'f"{{{n}!r:>8}}{{{n}}}"'),
        st.tuples(children, children).map(lambda t: f"[{t[0]} for _i in {t[1]}]"),
        st.tuples(children, children).map(lambda t: f"{{{t[0]}: _i for _i in {t[1]}}}"),
        st.tuples(children, children).map(lambda t: f"any({t[0]} for _i in {t[1]})"),
        children.map(lambda e: f"(lambda q: {e})(p)"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(children, children).map(lambda t: f"({t[0]} in {t[1]})"),
        st.tuples(children, children).map(lambda t: f"pow({t[0]}, {t[1]}, 7)"),
        st.tuples(children, children).map(lambda t: f"({t[0]} % ({t[1]},))"),
    )


exprs = st.recursive(atoms, _expr, max_leaves=8)


def _stmts(children: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    def ind(block: list[str]) -> list[str]:
        return ["    " + line for line in block] or ["    pass"]

    return st.one_of(
        st.tuples(exprs, children).map(lambda t: [f"if {t[0]}:", *ind(t[1])]),
        st.tuples(exprs, children).map(lambda t: [f"while {t[0]}:", *ind(t[1])]),
        st.tuples(exprs, children).map(lambda t: [f"for _k in {t[0]}:", *ind(t[1])]),
        st.tuples(children, children).map(lambda t: ["try:", *ind(t[0]), "except Exception:", *ind(t[1])]),
        st.tuples(children, children).map(lambda t: ["try:", *ind(t[0]), "finally:", *ind(t[1])]),
        st.lists(_simple, min_size=1, max_size=3).map(lambda ls: [x for s in ls for x in s]),
    )


_simple = st.one_of(
    st.tuples(st.sampled_from(NAMES), exprs).map(lambda t: [f"{t[0]} = {t[1]}"]),
    st.tuples(st.sampled_from(NAMES), st.sampled_from(["+=", "*=", "-=", "<<=", "%="]), exprs).map(
        lambda t: [f"{t[0]} {t[1]} {t[2]}"]
    ),
    st.tuples(st.sampled_from(NAMES), exprs).map(lambda t: [f"keep[{t[0]!r}] = {t[1]}"]),
    exprs.map(lambda e: [f"keep.setdefault('l', []).append({e})"]),
    exprs.map(lambda e: [f"print({e})"]),
    exprs.map(lambda e: [f"return {e}"]),
    st.just(["break"]),
)
stmts = st.recursive(_simple, _stmts, max_leaves=6)


def extension(body: list[str]) -> str:
    lines = "\n".join("    " + line for line in body)
    return ("from spin import Bench, Dispatcher\nkeep = {}\n"
            "def handler(p):\n    a = 1\n    b = 'ab'\n    c = [1, 2]\n"
            f"    for _once in range(1):\n{chr(10).join('    ' + x for x in lines.split(chr(10)))}\n"
            f"def init():\n    Dispatcher.InstallHandler(Bench.Raise, handler, bound={BOUND})\n")  # fmt: skip


# --- the run ----------------------------------------------------------------------------------

SYSTEM = ExtensionSystem()
IFACE = SimpleNamespace(__name__="Bench")
EVENT = SYSTEM.dispatcher.define(IFACE, "Raise", lambda p: None, IFACE)
SYSTEM.dispatcher.uninstall(EVENT.original)
SYSTEM.public.exports["Bench"] = IFACE
COUNTER = iter(range(1 << 30))


@settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "10000")), deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(stmts)
def test_ten_thousand_generated_extensions_stay_inside_the_sandbox(body: list[str]) -> None:
    src = extension(body)
    v = check(src, "fuzz.py")
    if not isinstance(v, Verified):  # only where Python's compiler itself says the code cannot work
        assert {d.rule for d in v} == {"python-warning"}, ("the grammar made something the verifier refuses", src, v)
        return
    name = f"fuzz{next(COUNTER)}"
    try:
        ext = SYSTEM.load(src, f"{name}.py", name=name)
    except Exception as e:  # a refusal at load time is fine; a kernel error is not
        assert type(e).__module__.startswith("kernel."), (src, e)
        return
    aborts = len(SYSTEM.trace.of(Abort))
    WATCHING["on"] = True
    try:
        for arg in (0, "pkt"):
            IFACE.Raise(arg)  # never raises: a handler's failure is its own
    finally:
        WATCHING["on"] = False
    assert not WATCHING["events"], (src, WATCHING["events"])
    for b in ext.bindings:
        assert b.fuel_used <= 2 * BOUND + 10, (src, b.fuel_used)  # two calls, each within its bound
    for a in SYSTEM.trace.of(Abort)[aborts:]:
        assert a.fuel <= BOUND + 10, (src, a.fuel)
    SYSTEM.unload(ext)
    SYSTEM.dispatcher.reports.clear()
    SYSTEM.console.clear()
