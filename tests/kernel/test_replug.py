"""Replugging under concurrency (Synthetix §4), and the dispatch bench's shape."""

from __future__ import annotations

import json

import pytest

from kernel.core.sched import Scheduler
from kernel.sys.errors import ReplugError
from kernel.sys.replug import QuasiInvariant, Slot, specialize
from kernel.sys.trace import Replug


def versioned(k: int, sched: Scheduler, log: list):  # noqa: ANN201
    """Function version k: yields halfway, so callers are often inside it."""

    def fn(caller: int) -> int:
        log.append(("in", k, caller))
        sched.yield_()
        log.append(("out", k, caller))
        return k

    fn.__name__ = f"v{k}"
    return fn


def test_many_callers_and_a_replugger_never_see_a_half_replaced_slot() -> None:
    sched = Scheduler()
    log: list = []
    slot = Slot("read", versioned(0, sched, log), sched)
    results: dict[int, list[int]] = {}

    def caller(c: int) -> None:
        for _ in range(c % 3):  # out of step with each other: some inside, some arriving, at any moment
            sched.yield_()
        for _ in range(20):
            results.setdefault(c, []).append(slot(c))
            sched.yield_()

    def replugger() -> None:
        for k in range(1, 16):
            assert slot.replug(versioned(k, sched, log), reason=f"round {k}")
            sched.yield_()

    for c in range(8):
        sched.fork(caller, c, name=f"caller{c}")
    sched.fork(replugger, name="replugger")
    sched.run()
    assert not sched.failures, sched.failures
    assert all(len(r) == 20 for r in results.values()) and len(results) == 8  # no caller lost
    # Each call ran one version from entry to exit, and the version never went backwards for a caller.
    inside: dict[int, int] = {}
    for what, k, c in log:
        if what == "in":
            inside[c] = k
        else:
            assert inside.pop(c) == k
    assert all(r == sorted(r) for r in results.values())
    # While a replug waited, no caller was inside an old version after the swap: versions run in order.
    starts = [k for what, k, _ in log if what == "in"]
    assert starts == sorted(starts)
    assert slot.inside == 0 and not slot.tank and not slot.replugging  # the tank drained
    reps = [r for r in slot.trace.of(Replug)]
    assert [r.new for r in reps] == [f"v{k}" for k in range(1, 16)] and slot.replugs == 15
    assert slot.parked_total > 0 and sum(r.parked for r in reps) == slot.parked_total


def test_concurrent_repluggers_find_the_work_done() -> None:
    sched = Scheduler()
    log: list = []
    slot = Slot("read", versioned(0, sched, log), sched)
    new = versioned(1, sched, log)
    outcomes = []
    sched.fork(lambda: slot(99), name="caller")  # inside when the repluggers arrive
    for i in range(3):
        sched.fork(lambda: outcomes.append(slot.replug(new, "guard fired")), name=f"replugger{i}")
    sched.run()
    assert outcomes == [True, False, False] and slot.replugs == 1 and slot.fn is new


def test_a_blocked_caller_makes_the_replugger_sleep_not_spin() -> None:
    sched = Scheduler()
    waiting: list = []

    def reads(_: int) -> str:
        with slot.blocking():
            waiting.append(sched.current)
            sched.block()  # waiting for the disk
        return "old"

    slot = Slot("read", reads, sched)
    sched.fork(lambda: slot(1), name="reader")
    sched.fork(lambda: slot.replug(lambda _: "new", "invalidated"), name="replugger")
    sched.run()
    assert slot.spins == 0 and slot.replugging  # asleep until the reader leaves
    sched.unblock(waiting[0])  # the disk interrupt
    sched.run()
    assert not slot.replugging and slot(2) == "new"


def test_a_quasi_invariant_replugs_its_specializations() -> None:
    slot = Slot("lseek", lambda: None)
    shared = QuasiInvariant("file is not shared", False)
    specialize(slot, shared, lambda s: (lambda: "locked path") if s else (lambda: "lock-free path"))
    assert slot() == "lock-free path"
    shared.set(True)  # a second process opened the file: the guard replugs
    assert slot() == "locked path"
    assert [r.reason for r in slot.trace.of(Replug)][-1] == "file is not shared changed from False to True"


def test_replugging_from_inside_without_strands_is_refused() -> None:
    slot = Slot("f", lambda: slot.replug(lambda: 2))
    with pytest.raises(ReplugError, match="1 callers are inside and there are no strands"):
        slot()
    assert slot.inside == 0


def test_bench_dispatch_json_has_the_documented_keys(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from workbench.bench import dispatch as bench_dispatch

    calls = []

    def fake(fn, arg, n=0, repeat=0):  # noqa: ANN001, ANN202
        calls.append(fn(arg))  # each measured raise still runs once, through the real dispatcher
        return 1.0

    def together(fns, arg, n=0, repeat=0):  # noqa: ANN001, ANN202
        return {k: fake(fn, arg) for k, fn in fns.items()}

    monkeypatch.setattr(bench_dispatch, "_per_call", fake)
    monkeypatch.setattr(bench_dispatch, "_together", together)
    assert bench_dispatch.main(True) == 0
    res = json.loads(capsys.readouterr().out)
    for key in ("guards_false_ns", "guards_true_ns", "interpreted_ns"):
        assert set(res[key]) == {"1", "5", "10", "50"}
    assert {"direct_ns", "raise_1_ns", "raise_1_counted_ns", "extension_alone_ns", "indexed_ns"} <= set(res)
    assert calls[:4] == [1, 1, 1, 1]  # the call and the raises return the handler's result
