"""The containment wrapper (kernel/sys/contain.py): a plain top-level handler
is compiled into its wrapper, one Python frame per raise, and keeps every
promise the separate wrapper kept -- its bound, its faults, its fuel shared
with nested calls, the closure it was installed with."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest

from kernel.sys.linker import ExtensionRejected
from kernel.sys.system import ExtensionSystem


class _Clock:
    __slots__ = ("cycles",)

    def __init__(self) -> None:
        self.cycles = 0


def _system(result: bool = False) -> tuple[ExtensionSystem, Any]:
    s = ExtensionSystem()
    iface = SimpleNamespace(__name__="Lab")
    ev = s.dispatcher.define(iface, "Raise", lambda p: None, iface, result=result)
    s.dispatcher.uninstall(ev.original)
    s.dispatcher.clock, s.dispatcher.cost = _Clock(), (20, 12)
    s.public.exports["Lab"] = iface
    return s, iface


def _load(s: ExtensionSystem, body: str, install: str = "Dispatcher.InstallHandler(Lab.Raise, h)") -> Any:
    src = f"from spin import Lab, Dispatcher\n{body}\ndef init():\n    {install}\n"
    return s.load(src, "lab_ext.py", importer="root")


def _frames(fn: Any, *args: Any) -> list[str]:
    """The Python functions entered while ``fn(*args)`` runs."""
    seen: list[str] = []

    def prof(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            seen.append(frame.f_code.co_name)

    sys.setprofile(prof)
    try:
        fn(*args)
    finally:
        sys.setprofile(None)
    return seen[1:]  # the first is fn itself


def _binding(s: ExtensionSystem) -> Any:
    (b,) = [b for ev in s.dispatcher.events.values() for b in ev.bindings if not b.trusted]
    return b


def test_a_top_level_handler_is_its_own_wrapper_one_frame_per_raise() -> None:
    s, iface = _system()
    _load(s, "def h(p):\n    return p")
    assert _frames(lambda: iface.Raise(7)) == ["h"]  # the slot's function is h itself: one frame
    assert iface.Raise.__name__ == "h" and iface.Raise.__code__.co_filename == "lab_ext.py"
    b = _binding(s)
    iface.Raise(1)
    assert b.calls == 2 and b.faulted is None


@pytest.mark.parametrize("body, install", [
    ("h = lambda p: p", "Dispatcher.InstallHandler(Lab.Raise, h)"),
    ("def h(p, q=1):\n    return p", "Dispatcher.InstallHandler(Lab.Raise, h)"),
    ("def make():\n    def h(p):\n        return p\n    return h",
     "Dispatcher.InstallHandler(Lab.Raise, make())"),
])  # fmt: skip
def test_anything_else_is_called_from_a_separate_wrapper(body: str, install: str) -> None:
    s, iface = _system()
    _load(s, body, install)
    assert _frames(lambda: iface.Raise(7)) == ["contained", "<lambda>" if "lambda" in body else "h"]
    assert iface.Raise.__name__.startswith("contained(")


LOOP = "def h(p):\n    n = 0\n    while True:\n        n += 1"


@pytest.mark.parametrize("body", [LOOP, "def f(p):\n    return p\nh = lambda p: [f(p) for _ in range(10**6)]"])
def test_the_bound_holds_inlined_or_not_and_the_kernel_goes_on(body: str) -> None:
    s, iface = _system()
    _load(s, body, "Dispatcher.InstallHandler(Lab.Raise, h, bound=300)")
    b = _binding(s)
    assert iface.Raise(1) is None
    assert b.faulted == "exceeded its bound of 300 fuel"
    assert b.fuel_used == 300  # every check of the grant, not one more
    cycles = s.dispatcher.clock.cycles
    assert cycles == 20 + 12 * 300  # charged for what it used
    assert any("exceeded its bound of 300 fuel" in r for r in s.dispatcher.reports)


@pytest.mark.parametrize("handler", ["h", "lambda p: h(p) and None or p"])
def test_fuel_used_and_virtual_time_are_the_same_inlined_or_not(handler: str) -> None:
    s, iface = _system()
    _load(
        s,
        "def h(p):\n    for i in range(p):\n        pass\n    return p",
        f"Dispatcher.InstallHandler(Lab.Raise, {handler})",
    )
    b = _binding(s)
    iface.Raise(10)
    if handler != "h":  # the lambda's own entry, then h's
        b.fuel_used -= 1
        s.dispatcher.clock.cycles -= 12
    # The grant comes with the entry's check drawn, then one check a pass round the loop:
    # the same fuel and virtual time as the handler called through a separate wrapper.
    assert b.fuel_used == 11
    assert s.dispatcher.clock.cycles == 20 + 12 * 11


def test_an_inlined_handler_keeps_docstring_globals_closures_and_results() -> None:
    s, iface = _system(result=True)
    ext = _load(
        s,
        '''
seen = []
last = 0
def h(p):
    """Doubles p, remembering it."""
    global last
    last = p
    seen.append(p)
    def twice(x):
        return x + p
    try:
        q = twice(p)
    except ValueError:
        q = -1
    return q
''',
    )
    assert iface.Raise(4) == 8 and iface.Raise(5) == 10
    assert ext.namespace["seen"] == [4, 5] and ext.namespace["last"] == 5


def test_an_inlined_handler_gets_its_closure_first() -> None:
    s, iface = _system()
    ext = _load(
        s, "got = []\ndef h(c, p):\n    got.append(c * 100 + p)", "Dispatcher.InstallHandler(Lab.Raise, h, closure=3)"
    )
    frames = _frames(lambda: iface.Raise(4))
    assert frames[0] == "h" and "contained" not in frames
    assert ext.namespace["got"] == [304]


def test_a_fault_is_contained_and_the_event_goes_on() -> None:
    s, iface = _system()
    _load(s, "def h(p):\n    return 1 // p")
    b = _binding(s)
    assert iface.Raise(0) is None
    assert b.faulted == "raised ZeroDivisionError: integer division or modulo by zero"
    assert not b.installed and "binding #2 uninstalled" in s.dispatcher.reports[-1]  # the event's policy
    assert iface.Raise(1) is None  # the event goes on without it


def test_a_nested_raise_spends_the_outer_calls_fuel() -> None:
    s, iface = _system()
    _load(s, "def h(p):\n    if p > 0:\n        Lab.Raise(p - 1)\n    while True:\n        pass",
          "Dispatcher.InstallHandler(Lab.Raise, h, bound=500)")  # fmt: skip
    b = _binding(s)
    iface.Raise(3)
    # Four calls (3, 2, 1, 0), one grant of 500 between them: nesting buys nothing.
    assert b.calls == 4 and b.fuel_used == 500


def test_no_fuel_outside_a_call_even_for_a_handler_kept_by_the_extension() -> None:
    s, iface = _system()
    ext = _load(s, "def h(p):\n    return p")
    with pytest.raises(BaseException) as e:  # the extension's own h, run by nobody's grant
        ext.namespace["h"](1)
    assert type(e.value).__name__ == "FuelExhausted"
    assert iface.Raise(2) == 2 and _binding(s).faulted is None  # and the next raise is a call as usual


def test_the_wrappers_names_are_out_of_an_extensions_reach() -> None:
    s, _ = _system()
    with pytest.raises(ExtensionRejected, match="_spin__M"):
        _load(s, "def h(p):\n    return _spin__M")


# --- holes a review of the inlining found --------------------------------------------------------


def test_inside_the_body_the_handlers_own_name_is_the_plain_function_not_its_wrapper() -> None:
    """A wrapper reachable from the body would contain its own stops (its nested path catches
    every exception) and grant fuel when called by nobody: the name must stay the global."""
    s, iface = _system()
    ext = _load(s, "kept = []\ndef h(p):\n    kept.append(h)")
    iface.Raise(1)
    assert ext.namespace["kept"][0] is ext.namespace["h"]
    assert ext.namespace["kept"][0] is not iface.Raise


def test_a_body_too_deep_to_inline_is_called_from_a_wrapper_and_the_event_stays_usable() -> None:
    """19 nested loops compile alone, not two blocks deeper inside the wrapper."""
    s, iface = _system()
    depth = 19
    body = "def h(p):\n" + "".join(f"{'    ' * (i + 1)}for i{i} in range(1):\n" for i in range(depth))
    body += "    " * (depth + 1) + "pass"
    _load(s, body)
    assert iface.Raise.__name__ == "contained(h)"  # not inlined, and installed
    assert iface.Raise(1) is None and _binding(s).faulted is None
    s2 = s.load("from spin import Lab, Dispatcher\ndef g(p):\n    return p\ndef init():\n"
                "    Dispatcher.InstallHandler(Lab.Raise, g)\n", "other.py", importer="root")  # fmt: skip
    assert len(s2.bindings) == 1 and s2.bindings[0].installed  # the event still takes installs


def test_a_binding_whose_publication_fails_leaves_the_event_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    s, iface = _system()
    _load(s, "def h(p):\n    return p")
    ev = s.dispatcher.events["Lab.Raise"]
    before = ev.bindings
    real = s.dispatcher._publish

    def broken(e: Any) -> None:
        if len(e.bindings) > len(before):
            raise SyntaxError("too many statically nested blocks")
        real(e)

    monkeypatch.setattr(s.dispatcher, "_publish", broken)
    with pytest.raises(SyntaxError):
        s.dispatcher.install_handler(ev, lambda p: p)
    assert ev.bindings == before and iface.Raise(3) == 3


def test_a_stop_spends_the_grant_so_a_caught_stop_cannot_go_on() -> None:
    from kernel.params import CALL_MEMORY
    from kernel.sys import fuel

    ns: dict[str, Any] = {}
    m = fuel.Meter(ns)
    ns[fuel.FUEL_NAME] = iter(fuel.grant_of(5000))
    sizes = iter([1000, 1000 + (CALL_MEMORY >> 10) + 1024])
    m.probe = lambda: next(sizes)  # type: ignore[method-assign]
    m.checkpoint()  # the call's baseline
    with pytest.raises(fuel.QuotaExceeded):
        m.checkpoint()
    assert ns[fuel.FUEL_NAME] is fuel.SPENT


def test_an_unloaded_extension_installs_nothing() -> None:
    from kernel.sys.errors import SpinError
    from kernel.sys.system import ExtensionDispatcher

    s, iface = _system()
    ext = _load(s, "def h(p):\n    return p")
    s.unload(ext)
    with pytest.raises(SpinError, match="unloaded"):
        ExtensionDispatcher(s, ext).InstallHandler(iface.Raise, ext.namespace.get("h", len))


def test_fault_reports_are_bounded() -> None:
    from kernel.params import REPORTS_MAX

    s, _ = _system()
    for i in range(REPORTS_MAX + 50):
        s.dispatcher.report(f"line {i}")
    assert len(s.dispatcher.reports) == REPORTS_MAX and s.dispatcher.reports[-1] == f"line {REPORTS_MAX + 49}"


def test_a_body_that_rebinds_its_own_name_runs_the_new_code_inside_this_calls_grant() -> None:
    """``global h; h = <a loop>; return h(p)``: the new h is plain extension code, bounded by
    the call that runs it; the wrapper keeps the function it was made for; outside a call
    the rebound name has no fuel."""
    s, iface = _system()
    ext = _load(s, "def h(p):\n    global h\n    h = lambda q: [0 for _ in range(10**6) for _ in range(10**6)]\n    return h(p)",
                "Dispatcher.InstallHandler(Lab.Raise, h, bound=2000)")  # fmt: skip
    b = ext.bindings[0]
    assert iface.Raise(1) is None
    assert b.faulted == "exceeded its bound of 2000 fuel" and b.fuel_used == 2000
    with pytest.raises(BaseException) as e:
        ext.namespace["h"](1)
    assert type(e.value).__name__ == "FuelExhausted"
