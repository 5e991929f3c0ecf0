"""The restartable slot (kernel/sys/replug_restart.py) under any interleaving
of callers blocking for the disk, repluggers that wait and restart, guards
that cannot wait, and callers that die: no strand is lost inside, each call
ends in the function it entered with, and the tank and the waiters drain."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.core.sched import BLOCKED, DONE
from kernel.sys.replug_restart import RestartableSlot
from kernel.sys.trace import Replug, Trace


class FakeStrand:
    def __init__(self, name: str) -> None:
        self.name = name
        self.state = "ready"
        self.blocked_on = ""

    def __repr__(self) -> str:
        return f"<{self.name} {self.state}>"


class FakeSched:
    def block_strand(self, s: FakeStrand, why: str) -> None:
        s.state, s.blocked_on = BLOCKED, why

    def wake(self, s: FakeStrand) -> None:
        s.state, s.blocked_on = "ready", ""


def version(v: int, plan: dict[FakeStrand, int], sched: FakeSched) -> Any:
    """Function version v: a caller whose plan says so blocks for the disk first (returns None)."""

    def fn(s: FakeStrand) -> tuple[int, FakeStrand] | None:
        if plan.get(s, 0) > 0:
            plan[s] -= 1
            sched.block_strand(s, "disk")
            return None
        return (v, s)

    fn.__name__ = f"v{v}"
    return fn


ops = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.integers(0, 3), st.integers(0, 2)),  # caller i, blocking this many times
        st.tuples(st.just("disk"), st.integers(0, 3), st.just(0)),  # the disk wakes caller i
        st.tuples(st.just("replug"), st.integers(0, 1), st.just(0)),  # replugger j (waits, restarts)
        st.tuples(st.just("request"), st.booleans(), st.just(0)),  # a guard after the fact (rejoin or not)
        st.tuples(st.just("kill"), st.integers(0, 3), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(script=ops)
def test_no_strand_is_lost_inside_and_each_call_ends_where_it_entered(script: list) -> None:
    sched, trace = FakeSched(), Trace()
    plan: dict[FakeStrand, int] = {}
    versions = [version(0, plan, sched)]
    slot = RestartableSlot("read", versions[0], sched, trace)
    callers = [FakeStrand(f"c{i}") for i in range(4)]
    repluggers = [FakeStrand(f"r{j}") for j in range(2)]
    calling: dict[FakeStrand, bool] = {}  # a call in progress (it will restart when woken)
    entered: dict[FakeStrand, int] = {}  # the version a call entered with, while inside
    done: list[tuple[FakeStrand, int]] = []
    replugging: dict[FakeStrand, Any] = {}  # a replugger's system call in progress: the function it plugs

    def new_version() -> Any:
        versions.append(version(len(versions), plan, sched))
        return versions[-1]

    def attempt(s: FakeStrand) -> None:
        """Run (or run again) caller s's system call."""
        r = slot.call(s, s)
        if s in slot.inside:
            entered[s] = int(slot.inside[s].__name__[1:])
        if r is not None:
            v, who = r
            assert who is s
            assert entered.pop(s, v) == v  # it ended in the function it entered with (or rejoined afresh)
            calling.pop(s)
            done.append((s, v))

    def restart_replug(r: FakeStrand) -> None:
        fn = replugging[r]
        if slot.fn is fn or slot.replug(fn, f"{r.name}", r):
            replugging.pop(r)

    for op, a, b in script:
        if op == "call":
            s = callers[a]
            if s.state == "ready" and s not in calling:
                calling[s] = True
                plan[s] = b
                attempt(s)
        elif op == "disk":
            s = callers[a]
            if s.state == BLOCKED and s.blocked_on == "disk":
                sched.wake(s)
                attempt(s)
        elif op == "replug":
            r = repluggers[a]
            if r not in replugging:
                replugging[r] = new_version()
                restart_replug(r)
            elif r.state == "ready":
                restart_replug(r)
        elif op == "request":
            if a:
                for s in slot.blocked:
                    entered.pop(s, None)  # it rejoins: its restart enters afresh
            slot.request(new_version(), "guard", rejoin=a)
        elif op == "kill":
            s = callers[a]
            if s.state != DONE:
                s.state = DONE  # its process was killed: the kernel tells the slot (or drops it with the file)
                calling.pop(s, None)
                entered.pop(s, None)
                slot.gone(s)
        # The inside record is exactly the live calls that entered and have not left.
        assert {s for s in slot.inside if s.state != DONE} == {s for s in entered if s.state != DONE}
        assert slot.blocked <= set(slot.inside)
        assert not (set(slot.tank) & set(slot.inside))  # a caller in the tank never entered
        assert slot.pending is None or slot.inside  # a swap still pending waits for someone inside

    # Drain: the disk answers everyone, parked callers and repluggers run again, until nothing is left.
    for _ in range(200):
        progressed = False
        for s in callers:
            if s.state == BLOCKED and s.blocked_on == "disk":
                sched.wake(s)
            if s.state == "ready" and s in calling:
                attempt(s)
                progressed = True
        for r in repluggers:
            if r in replugging and r.state == "ready":
                restart_replug(r)
                progressed = True
        if not progressed:
            break
    slot.purge()
    live = [s for s in callers if s.state != DONE]
    assert not calling.keys() & set(live), f"calls never finished: {calling}"
    assert not replugging, f"repluggers never finished: {replugging}"
    assert slot.inside == {} and slot.pending is None and slot.tank == [] and slot.waiters == []
    assert slot.replugs == len(trace.of(Replug))


def test_a_replugger_waits_for_a_blocked_strand_and_the_last_one_out_swaps() -> None:
    sched, trace = FakeSched(), Trace()
    plan: dict[FakeStrand, int] = {}
    old, new = version(0, plan, sched), version(1, plan, sched)
    slot = RestartableSlot("read", old, sched, trace)
    reader, opener, late = FakeStrand("reader"), FakeStrand("opener"), FakeStrand("late")
    plan[reader] = 1
    assert slot.call(reader, reader) is None and reader in slot.blocked  # inside, waiting for the disk
    assert slot.replug(new, "opened by another", opener) is False and opener.state == BLOCKED
    assert slot.call(late, late) is None and slot.tank == [late]  # arrived mid-replug: the tank
    sched.wake(reader)  # the disk
    assert slot.call(reader, reader) == (0, reader)  # continued in the version it entered with
    assert slot.fn is new and opener.state == "ready" and late.state == "ready"  # the last one out swapped
    assert slot.call(late, late) == (1, late)
    rec = trace.of(Replug)[-1]
    assert (rec.old, rec.new, rec.parked, rec.reason) == ("v0", "v1", 1, "opened by another")


def test_a_guard_after_the_fact_lets_the_blocked_strands_rejoin() -> None:
    sched, trace = FakeSched(), Trace()
    plan: dict[FakeStrand, int] = {}
    old, new = version(0, plan, sched), version(1, plan, sched)
    slot = RestartableSlot("read", old, sched, trace)
    reader = FakeStrand("reader")
    plan[reader] = 1
    assert slot.call(reader, reader) is None
    assert slot.request(new, "the file was written", rejoin=True) is True  # nobody is left inside: swapped now
    sched.wake(reader)
    assert slot.call(reader, reader) == (1, reader) and slot.rejoined == 1  # its restart entered the new one


def test_a_strand_that_dies_inside_does_not_hold_the_replug_forever() -> None:
    sched, trace = FakeSched(), Trace()
    plan: dict[FakeStrand, int] = {}
    slot = RestartableSlot("read", version(0, plan, sched), sched, trace)
    reader, opener = FakeStrand("reader"), FakeStrand("opener")
    plan[reader] = 1
    slot.call(reader, reader)
    assert slot.replug(version(1, plan, sched), "guard", opener) is False
    reader.state = DONE  # killed while blocked inside
    sched.wake(opener)
    assert slot.replug(slot.pending[0], "guard", opener) is True and slot.purged == 1
