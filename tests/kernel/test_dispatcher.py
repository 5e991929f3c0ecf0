"""The dispatcher's rules (spin-reference.md §1), each checked on the
generated code and on the table-walking interpreter."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.core.sched import Scheduler
from kernel.sys import fuel
from kernel.sys.dispatcher import CANCEL, FIRST, LAST, Dispatcher, Event, FieldEquals, Option
from kernel.sys.errors import AuthError, BindingTypeError, IllegalAsynchEvent, NoHandlerInvoked
from kernel.sys.trace import Abort, Dispatch, Fault

AUTHORITY = SimpleNamespace(__name__="NetModule")


def setup(interpret: bool, result: bool = False, nargs: int = 1, **kw: Any) -> tuple[Dispatcher, Event, list]:
    d = Dispatcher()
    d.interpret = interpret
    log: list = []
    iface = SimpleNamespace(__name__="Net")

    def intrinsic(*args: Any) -> str:
        log.append(("intrinsic", *args))
        return "intrinsic"

    intrinsic.__signature__ = _sig(nargs)  # type: ignore[attr-defined]
    ev = d.define(iface, "Packet", intrinsic, AUTHORITY, result=result, **kw)
    return d, ev, log


def _sig(n: int) -> Any:
    import inspect

    return inspect.Signature([inspect.Parameter(f"a{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in range(n)])


def rec(log: list, tag: str, value: Any = None):  # noqa: ANN201
    def h(*args: Any) -> Any:
        log.append((tag, *args))
        return tag if value is None else value

    h.__name__ = h.__qualname__ = tag
    return h


engines = pytest.mark.parametrize("interpret", [False, True], ids=["generated", "interpreted"])


@engines
def test_order_first_last_and_fifo(interpret: bool) -> None:
    d, ev, log = setup(interpret)
    d.install_handler(ev, rec(log, "plain1"))
    d.install_handler(ev, rec(log, "last1"), options=LAST)
    d.install_handler(ev, rec(log, "first1"), options=FIRST)
    d.install_handler(ev, rec(log, "plain2"))
    d.install_handler(ev, rec(log, "first2"), options=FIRST)
    d.install_handler(ev, rec(log, "last2"), options=LAST)
    ev(7)
    assert [t for t, *_ in log] == ["first2", "first1", "intrinsic", "plain1", "plain2", "last1", "last2"]


@engines
def test_guard_false_skips_and_cancel_stops_later_bindings(interpret: bool) -> None:
    d, ev, log = setup(interpret)
    d.uninstall(d.get_original_handler(ev))
    d.install_handler(ev, rec(log, "odd"), lambda p: p % 2 == 1)
    d.install_handler(ev, rec(log, "cancel-big"), lambda p: p > 10, options=CANCEL)
    d.install_handler(ev, rec(log, "after"))
    for p in (3, 4, 13):
        ev(p)
    assert log == [("odd", 3), ("after", 3), ("after", 4), ("odd", 13), ("cancel-big", 13)]


@engines
def test_closures_come_first(interpret: bool) -> None:
    d, ev, log = setup(interpret)
    d.install_handler(ev, lambda c, p: log.append((c, p)), lambda c, p: c == "port-7" and p == 7,
                      guard_closure="port-7", handler_closure="h-closure")  # fmt: skip
    ev(7)
    ev(8)
    assert ("h-closure", 7) in log and ("h-closure", 8) not in log


@engines
def test_imposed_guards_and_who_may_impose_them(interpret: bool) -> None:
    d, ev, log = setup(interpret)
    creator, stranger = SimpleNamespace(__name__="Ext"), SimpleNamespace(__name__="Other")
    b = d.install_handler(ev, rec(log, "h"), owner="Ext", creator=creator)
    d.impose_guard(b, lambda p: p != 13, by=creator)
    d.impose_guard(b, lambda c, p: p < c, by=AUTHORITY, closure=100)
    with pytest.raises(AuthError, match="only its creator Ext or the event's authority"):
        d.impose_guard(b, lambda p: False, by=stranger)
    for p in (5, 13, 500):
        ev(p)
    assert [x for x in log if x[0] == "h"] == [("h", 5)]


@engines
def test_post_guards_run_after_their_handler(interpret: bool) -> None:
    d, ev, log = setup(interpret)
    b = d.install_handler(ev, rec(log, "h"), creator=AUTHORITY)
    d.impose_guard(b, lambda p: log.append(("pre", p)) or p > 0, by=AUTHORITY,
                   post_guard=lambda p: log.append(("post", p)))  # fmt: skip
    ev(1)
    ev(-1)
    assert [x for x in log if x[0] != "intrinsic"] == [("pre", 1), ("h", 1), ("post", 1), ("pre", -1)]


@engines
def test_result_folding_default_result_and_default_handler(interpret: bool) -> None:
    d, ev, log = setup(interpret, result=True)
    d.uninstall(d.get_original_handler(ev))
    with pytest.raises(NoHandlerInvoked, match="Net.Packet: no handler ran"):
        ev(1)
    d.install_handler(ev, rec(log, "a", 2), lambda p: p > 0)
    d.install_handler(ev, rec(log, "b", 3), lambda p: p > 1)
    assert ev(5) == 3  # no result handler: the last one wins
    d.install_result_handler(ev, lambda acc, r, last: acc + [(r, last)], AUTHORITY)
    d.set_default_result(ev, [], AUTHORITY)
    assert ev(5) == [(2, False), (3, True)]
    assert ev(1) == [(2, True)]  # b's guard failed: a's result was the last
    assert ev(0) == []  # nobody ran: the default result
    d.install_default_handler(ev, lambda p: ("default", p), AUTHORITY)
    assert ev(0) == ("default", 0)
    with pytest.raises(AuthError, match="only its primary module NetModule can"):
        d.install_default_handler(ev, None, SimpleNamespace(__name__="Intruder"))


@engines
def test_authorizer_denies_or_attaches_a_guard(interpret: bool) -> None:
    d, ev, log = setup(interpret)

    def authorize(b: Any, key: Any) -> bool:
        if key == "no":
            return False
        d.impose_guard(b, lambda p: p == key, by=AUTHORITY)  # only packets for the key's port
        return True

    d.install_authorizer(ev, authorize, AUTHORITY)
    with pytest.raises(AuthError, match="Ext: cannot install a handler on Net.Packet: its authorizer refused"):
        d.install_handler(ev, rec(log, "h"), key="no", owner="Ext")
    d.install_handler(ev, rec(log, "h"), key=53, owner="Ext")
    ev(53)
    ev(80)
    assert [x for x in log if x[0] == "h"] == [("h", 53)]
    with pytest.raises(AuthError):
        d.install_authorizer(ev, None, SimpleNamespace(__name__="Intruder"))


def test_asynchronous_handlers_never_block_the_raiser() -> None:
    sched = Scheduler()
    d, ev, log = setup(False)
    d.spawn = sched.fork
    gate: list = []

    def slow(p: int) -> None:
        while not gate:  # waits for something the raiser does after the raise
            sched.yield_()
        log.append(("async", p))

    d.install_handler(ev, slow, asynchronous=True)
    ev(1)
    log.append(("raiser returned",))
    gate.append(1)
    sched.run()
    assert [x[0] for x in log] == ["intrinsic", "raiser returned", "async"]
    d2, ev2, _ = setup(False, result=True)
    with pytest.raises(IllegalAsynchEvent, match="returns a result"):
        d2.create(ev2, slow, asynchronous=True)


def _ext_namespace() -> dict[str, Any]:
    ns: dict[str, Any] = {}
    fuel.Meter(ns)  # installs _spin_fuel (empty between calls) and _spin_out
    return ns


@engines
def test_a_runaway_handler_is_aborted_within_its_bound(interpret: bool) -> None:
    d, ev, log = setup(interpret, bound=500)
    ns = _ext_namespace()
    exec("def spin(p):\n    while True:\n        next(_spin_fuel, 0) or _spin_out()\n", ns)  # what the verifier emits
    b = d.install_handler(ev, ns["spin"], trusted=False, namespace=ns, owner="Runaway")
    d.install_handler(ev, rec(log, "after"))
    assert ev(1) is None or True  # the raise returns
    assert ("after", 1) in log and ("intrinsic", 1) in log
    (abort,) = d.trace.of(Abort)
    assert abort.binding == b.id and abort.fuel == 500
    assert not b.installed and b.faulted == "exceeded its bound of 500 fuel"
    assert d.reports == [
        f"Runaway: handler spin on Net.Packet exceeded its bound of 500 fuel; binding #{b.id} uninstalled"
    ]


@engines
def test_an_exception_in_a_handler_is_contained(interpret: bool) -> None:
    d, ev, log = setup(interpret, result=True, policy="keep")
    ns = _ext_namespace()
    exec("def bad(p):\n    return 1 // 0\n", ns)
    b = d.install_handler(ev, ns["bad"], trusted=False, namespace=ns, owner="Crashy")
    assert ev(1) == "intrinsic"  # the faulting handler's result does not count
    (fault,) = d.trace.of(Fault)
    assert fault.error == "ZeroDivisionError: integer division or modulo by zero"
    assert b.installed and b.faulted  # policy "keep"
    assert ev(2) == "intrinsic"


@engines
def test_install_during_a_dispatch_does_not_disturb_it(interpret: bool) -> None:
    d, ev, log = setup(interpret)

    def installer(p: int) -> None:
        log.append(("installer", p))
        if p == 1:
            d.install_handler(ev, rec(log, "new"))

    d.install_handler(ev, installer)
    ev(1)
    assert [x[0] for x in log] == ["intrinsic", "installer"]  # "new" did not run in the dispatch that added it
    ev(2)
    assert [x[0] for x in log][2:] == ["intrinsic", "installer", "new"]


@engines
def test_the_done_protocol_stops_fault_handlers(interpret: bool) -> None:
    d, ev, log = setup(interpret, nargs=2, done_arg=1)
    d.reinstall_original(ev, LAST)
    state = SimpleNamespace(done=False)

    def fixer(addr: int, st: Any) -> None:
        log.append(("fixer", addr))
        st.done = addr < 100

    d.install_handler(ev, fixer)
    ev(5, state)
    assert [x[0] for x in log] == ["fixer"]  # fixed: the intrinsic (kill the thread) did not run
    state.done = False
    ev(500, state)
    assert [x[0] for x in log] == ["fixer", "fixer", "intrinsic"]


def test_fast_paths_and_code_generation() -> None:
    d, ev, log = setup(False)
    assert ev.path == "intrinsic: a plain call" and ev.interface.Packet is ev.original.handler
    d.uninstall(d.get_original_handler(ev))
    h = rec(log, "only")
    d.install_handler(ev, h)
    assert ev.path == "one handler: called directly" and ev.interface.Packet is h
    d.install_handler(ev, rec(log, "guarded"), lambda p: p > 0)
    assert ev.path == "generated for 2 bindings" and "def dispatch(a0):" in ev.source


def test_indexed_port_guards_are_one_lookup_and_keep_order() -> None:
    d, ev, log = setup(False)
    d.uninstall(d.get_original_handler(ev))
    for port in range(50):
        d.install_handler(ev, rec(log, f"port{port}"), FieldEquals(0, "port", port))
    d.install_handler(ev, rec(log, "port7-again"), FieldEquals(0, "port", 7))
    assert ev.source.count("IX0.get(a0.port, ())") == 1 and "g3(" not in ev.source
    pkt = SimpleNamespace(port=7)
    ev(pkt)
    assert [x[0] for x in log] == ["port7", "port7-again"]


def test_binding_types_are_checked() -> None:
    d, ev, _ = setup(False)
    with pytest.raises(BindingTypeError, match="handler two must take 1 argument "):

        def two(a: int, b: int) -> None: ...

        d.create(ev, two)
    with pytest.raises(BindingTypeError, match="must take 2 arguments \\(the closure, then the event's 1\\)"):
        d.create(ev, lambda p: None, handler_closure=1)


@engines
def test_tracing_records_guards_and_handlers(interpret: bool) -> None:
    d, ev, log = setup(interpret)
    b = d.install_handler(ev, rec(log, "h"), lambda p: p > 0)
    d.set_tracing(True)
    ev(-1)
    ev(1)
    recs = d.trace.of(Dispatch)
    assert [r.guards for r in recs] == [((ev.original.id, True), (b.id, False)), ((ev.original.id, True), (b.id, True))]
    assert recs[1].handlers == (ev.original.id, b.id)


OPTS = st.sampled_from([Option.NONE, FIRST, LAST, CANCEL, FIRST | CANCEL])


@given(st.lists(st.tuples(OPTS, st.integers(0, 3)), max_size=12), st.integers(0, 3))
def test_generated_code_matches_the_interpreter(spec: list[tuple[Option, int]], arg: int) -> None:
    """Any mix of options and guards: the same handlers run in the same order."""
    logs = []
    for interpret in (False, True):
        d, ev, log = setup(interpret)
        for i, (opts, threshold) in enumerate(spec):
            d.install_handler(ev, rec(log, f"h{i}"), (lambda t: lambda p: p >= t)(threshold), options=opts)
        ev(arg)
        logs.append(log)
    assert logs[0] == logs[1]


def test_one_guarded_binding_is_generated_code_and_says_so_in_the_singular() -> None:
    """A lone guarded handler still needs generated code (the guard runs
    first); the path the Events pane shows counts it right: "1 binding"."""
    d, ev, log = setup(False)
    d.uninstall(d.get_original_handler(ev))
    d.install_handler(ev, rec(log, "guarded"), lambda p: p > 0)
    assert ev.path == "generated for 1 binding", ev.path


def test_two_dispatchers_with_one_shape_each_call_their_own_handlers() -> None:
    """Generated dispatch code is compiled once per source text and shared (dispatcher._compiled):
    the code may be shared, the handlers and guards it calls may not."""
    (d1, ev1, log1), (d2, ev2, log2) = setup(False), setup(False)
    for d, ev, log, tag in ((d1, ev1, log1, "one"), (d2, ev2, log2, "two")):
        d.install_handler(ev, rec(log, tag), lambda p, t=tag: p == (1 if t == "one" else 2))
    for p in (1, 2):
        ev1(p)
        ev2(p)
    assert ev1.fn.__code__ is ev2.fn.__code__  # one compile for the two
    assert [t for t, *_ in log1] == ["intrinsic", "one", "intrinsic"]
    assert [t for t, *_ in log2] == ["intrinsic", "intrinsic", "two"]
