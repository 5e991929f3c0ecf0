"""Replug as extensions use it (kernel/sys/replug_ext.py): a slot, calls
through it, replugs, a quasi-invariant and a specialization on it -- and a
hostile extension's tries: a function that raises or loops inside a slot,
a replug from inside, a forged or foreign handle, the kernel's own slots."""

from __future__ import annotations

import pytest

from kernel.boot import boot
from kernel.kernel import Kernel
from kernel.sys.errors import SpinError
from kernel.sys.linker import run_bounded
from kernel.sys.trace import Replug

USER = """
from spin import Replug
out = {}
slot = None
inv = None

def generic(x):
    return ("generic", x)

def fast(x):
    return ("fast", x)

def make(shared):
    if shared:
        return generic
    return fast

def init():
    global slot, inv
    slot = Replug.Slot("lookup", generic)
    out["first"] = Replug.Call(slot, 1)
    inv = Replug.Invariant("table shared", False)
    Replug.Specialize(slot, inv, make)
    out["private"] = Replug.Call(slot, 2)
    Replug.Set(inv, True)
    out["shared"] = Replug.Call(slot, 3)
    out["stats"] = Replug.Stats(slot)
    out["value"] = Replug.Value(inv)
"""


def _kernel() -> Kernel:
    return boot(unix=False)


def test_an_extension_makes_calls_replugs_and_specializes_a_slot() -> None:
    k = _kernel()
    ext = k.system.load(USER, "user.py")
    out = ext.namespace["out"]
    assert out["first"] == ("generic", 1) and out["private"] == ("fast", 2) and out["shared"] == ("generic", 3)
    assert out["stats"][:3] == (3, 2, 0) and out["value"] is True
    reps = [r for r in k.trace.of(Replug) if r.slot == "user/lookup"]
    assert [(r.old, r.new) for r in reps] == [("user.generic", "user.fast"), ("user.fast", "user.generic")]
    assert reps[-1].reason == "table shared changed from False to True"


HOSTILE = """
from spin import Replug
out = {}
a = None
b = None

def boom(x):
    return 1 // 0

def forever(x):
    while True:
        pass

def init():
    global a, b
    a = Replug.Slot("boom", boom)
    b = Replug.Slot("loop", forever)
    out["boom"] = Replug.Call(a, 0)
    out["boom inside"] = Replug.Inside(a)
    out["loop"] = Replug.Call(b, 0)
    out["loop inside"] = Replug.Inside(b)
"""


def test_a_function_that_raises_or_runs_out_of_fuel_in_a_slot_leaves_the_inside_counter_right() -> None:
    k = _kernel()
    ext = k.system.load(HOSTILE, "hostile.py")
    out = ext.namespace["out"]
    assert out == {"boom": None, "boom inside": 0, "loop": None, "loop inside": 0}
    reports = "\n".join(k.dispatcher.reports)
    assert "ZeroDivisionError" in reports and "fuel" in reports
    assert k.system.extensions["hostile"].loaded  # contained, not evicted


FROM_INSIDE = """
from spin import Replug
out = {}
slot = None

def second(x):
    return "second"

def first(x):
    out["replug from inside"] = Replug.Replug(slot, second, "from inside")
    out["inside then"] = Replug.Inside(slot)
    return "first"

def init():
    global slot
    slot = Replug.Slot("s", first)
    out["call 1"] = Replug.Call(slot, 0)
    out["call 2"] = Replug.Call(slot, 0)
"""


def test_a_replug_from_inside_waits_for_the_caller_to_leave() -> None:
    k = _kernel()
    out = k.system.load(FROM_INSIDE, "inner.py").namespace["out"]
    assert out == {"replug from inside": False, "inside then": 1, "call 1": "first", "call 2": "second"}


RECURSE = """
from spin import Replug
out = {"depth": 0}
slot = None

def deeper(x):
    out["depth"] += 1
    return Replug.Call(slot, x + 1)

def init():
    global slot
    slot = Replug.Slot("r", deeper)
    out["result"] = Replug.Call(slot, 0)
    out["inside"] = Replug.Inside(slot)
"""


def test_a_slot_function_that_calls_its_own_slot_is_stopped_and_the_counter_drains() -> None:
    k = _kernel()
    out = k.system.load(RECURSE, "recurse.py").namespace["out"]
    assert out["result"] is None and out["inside"] == 0 and 1 <= out["depth"] <= 16


@pytest.mark.parametrize("call, message", [
    ("Replug.Call(7, 0)", "expected a replug slot handle"),
    ("Replug.Replug(inv, f, '')", "got a quasi-invariant handle"),
    ("Replug.Slot('', f)", "the name is a str"),
    ("Replug.Slot('x' * 65, f)", "the name is a str"),
    ("Replug.Slot('s', 3)", "is not a procedure"),
    ("Replug.Slot('s', lambda a, b: a)", "must take 1"),
    ("Replug.Invariant('i', [1])", "an invariant's value"),
    ("Replug.Replug(slot, f, 5)", "the reason is a str"),
    ("[Replug.Slot('s', f) for i in range(40)]", "at most 32 slots"),
    ("(Replug.Specialize(slot, inv, f), Replug.Specialize(slot, inv, f))", "already specialized"),
])  # fmt: skip
def test_bad_arguments_are_one_line_refusals(call: str, message: str) -> None:
    k = _kernel()
    src = f"""
from spin import Replug
slot = None
inv = None
def f(x):
    return f
def init():
    global slot, inv
    slot = Replug.Slot("s0", f)
    inv = Replug.Invariant("i0", 0)
    {call}
"""
    with pytest.raises(SpinError, match=message) as e:
        k.system.load(src, "bad.py")
    assert "\n" not in str(e.value).strip() or "Traceback" not in str(e.value)


OWNER = """
from spin import Replug
slot = None
def mine(x):
    return "mine"
def init():
    global slot
    slot = Replug.Slot("kept", mine)
"""

THIEF = """
from spin import Replug
got = {}
def theirs(x):
    return "stolen"
def init():
    pass
def steal(h):
    Replug.Replug(h, theirs, "taken")
"""


def test_an_extension_cannot_replug_another_extensions_slot() -> None:
    k = _kernel()
    owner = k.system.load(OWNER, "owner.py")
    thief = k.system.load(THIEF, "thief.py")
    handle = owner.namespace["slot"]
    with pytest.raises(SpinError, match="another extension's"):  # the handle reached it somehow: still refused
        run_bounded(thief, lambda: thief.namespace["steal"](handle), "steal()")
    assert owner.namespace["slot"] is handle


KERNEL_SLOTS = """
from spin import Replug, Inspect
found = []
def init():
    for name in ("Slots", "slots", "Reads", "reads"):
        try:
            found.append(getattr(Inspect, name))
        except Exception:
            pass
"""


def test_the_kernels_own_read_slots_are_not_reachable() -> None:
    """No interface hands out the kernel's slots: there is nothing to replug
    them with, and the verifier refuses getattr in the first place."""
    k = boot()
    with pytest.raises(SpinError, match="getattr"):
        k.system.load(KERNEL_SLOTS, "peek.py")
    view = k.system.public.exports["Replug"](object())
    assert not any(n for n in dir(view) if not n.startswith("_") and "kernel" in n.lower())


MAKE_BAD = """
from spin import Replug
out = {}
s1 = None
s2 = None
i = None
def f(x):
    return "f"
def bad_make(v):
    if v:
        return 42
    return f
def raising_make(v):
    if v:
        raise ValueError("no")
    return f
def init():
    global s1, s2, i
    s1 = Replug.Slot("a", f)
    s2 = Replug.Slot("b", f)
    i = Replug.Invariant("v", 0)
    Replug.Specialize(s1, i, bad_make)
    Replug.Specialize(s2, i, raising_make)
    Replug.Set(i, 1)
    out["a"] = Replug.Call(s1, 0)
    out["b"] = Replug.Call(s2, 0)
"""


def test_a_specializer_that_gives_no_procedure_or_raises_leaves_the_slot_as_it_was() -> None:
    k = _kernel()
    out = k.system.load(MAKE_BAD, "makebad.py").namespace["out"]
    assert out == {"a": "f", "b": "f"}
    reports = "\n".join(k.dispatcher.reports)
    assert "not a procedure; the slot keeps" in reports and "ValueError" in reports
