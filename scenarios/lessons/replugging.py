"""Replugging a function while strands are inside it (Synthetix, seed 003 §4), on the kernel's strands."""

from kernel.core.sched import BLOCKED
from kernel.sys.replug import QuasiInvariant, Slot, specialize
from kernel.sys.trace import Replug
from scenarios.engine import Lesson

lesson = Lesson("replugging", "Replugging a function while strands are inside it",
                "Synthetix's replugging algorithm on the kernel's strands: an inside counter, a holding tank, "
                "the offset handed on at the swap, and a guard that replugs when a quasi-invariant fails.")  # fmt: skip
READERS, CALLS, VERSIONS, CHUNK = 5, 10, 6, 512
TICK = 133_000_000 // 1024  # cycles per clock tick: sleeps are woken by the clock


def version(v, sched, log, slot, trace):
    """Version v of `read`. It keeps the file offset in a place of its own
    (the specialized read in the descriptor, the general one in the file
    table) and advances it when the copy is done -- after the strand has
    yielded, and for reader 0 after a disk wait (the blocked flag)."""
    state = {"offset": 0, "calls": 0}

    def read(c, n):
        log.append(("in", v, c))
        sched.yield_()  # copying: other strands run while this one is inside
        if c == 0:
            with slot.blocking():  # waiting for the disk: a replugger sleeps instead of spinning
                sched.sleep(2 * TICK)
        state["offset"] += n  # the write a replug must not lose
        state["calls"] += 1
        log.append(("out", v, c))
        return v

    read.__name__ = f"read_v{v}" if v else "read_v0"
    read.state = state
    return read


def world(run):
    """A workstation, five reader strands and a replugger on its scheduler."""
    k = run.boot()
    sched = k.sched
    log, results, begun = [], {}, {}
    slot = Slot("read", None, sched, trace=k.trace)
    slot.fn = version(0, sched, log, slot, k.trace)
    versions = [slot.fn]
    offsets = [run.rng.randrange(1, 4) for _ in range(READERS)]  # the seed decides who is out of step

    def reader(c):
        sched.sleep(offsets[c] * TICK // 2)
        for _ in range(CALLS):
            results.setdefault(c, []).append(slot(c, CHUNK))
            sched.sleep(TICK * (1 + c % 2))  # think time: the clock wakes the reader

    def replugger():
        for v in range(1, VERSIONS + 1):
            sched.sleep(3 * TICK)
            new = version(v, sched, log, slot, k.trace)
            log.append(("begin", v, -1))  # no strand runs between this and the tank going up
            begun[v] = len(log)
            slot.replug(new, reason=f"round {v}")
            # steps 5-6: hand the offset on. Kernel strands switch only where they yield or
            # block, so nothing runs between the swap and this store.
            new.state["offset"] = versions[-1].state["offset"]
            versions.append(new)

    strands = [sched.fork(reader, c, name=f"reader{c}") for c in range(READERS)]
    strands.append(sched.fork(replugger, name="replugger"))
    run.state.update(k=k, slot=slot, log=log, results=results, versions=versions, strands=strands, begun=begun)
    return k


def run_until(k, cond, instructions=5_000_000):
    """Run the machine one instruction at a time (the idle loop's wtint waits
    for the next tick) until cond() holds, or the budget is spent."""
    for _ in range(instructions):
        if cond():
            return True
        k.run(1)
    return bool(cond())


def moment(run):
    """Who is where, now: the inside counter, the blocked flag, the tank."""
    slot, log = run.state["slot"], run.state["log"]
    inside = {}
    for what, v, c in log:
        if what == "in":
            inside[c] = v
        elif what == "out":
            inside.pop(c, None)
    rows = []
    for s in run.state["strands"]:
        if s.name == "replugger":
            where = f"replugging: slot at the tank, waits for inside = 0 ({'sleeping: blocked flag set' if slot.blocked else 'spinning'})"  # fmt: skip
        elif s in slot.tank:
            where = "parked in the holding tank"
        elif int(s.name[6:]) in inside:
            where = f"inside read_v{inside[int(s.name[6:])]}" + (" (disk wait)" if s.blocked_on == "sleep" else "")
        else:
            where = "between calls"
        rows.append([s.id, s.name, s.state, where])
    return inside, rows


@lesson.step(
    "Callers inside, a replugger waiting",
    pane="Strands",
    watch=True,
    pace_us=800,
    narration="""
Five **reader** strands call `read` through a **slot** (an indirect call), sleeping between
calls; a **replugger** strand swaps in a new version every few ticks. Each replug takes
the seed's steps (Synthetix §4.1): point the slot at the **holding tank** so new callers
park there, wait for the **inside counter** to reach 0, store the new function, release
the tank. Reader 0 waits for the disk inside `read` and sets the **blocked** flag, so the
replugger sleeps rather than spin.

The lesson stops the machine at the first moment a replug waits with a reader inside and
another in the tank. On the **Strands** pane every row is a kernel strand of this
workstation: read each one's state (their cpu µs stay 0: a kernel strand's Python work
costs no modeled time here); the Scenario pane's table says where each is.
""",
)
def waiting(run):
    k = world(run)
    slot = run.state["slot"]

    strands = run.state["strands"]
    run_until(k, lambda: (slot.replugging and slot.inside and slot.tank) or all(s.state == "done" for s in strands))
    inside, rows = moment(run)
    run.exhibit(f"a replug in progress: inside counter {slot.inside}, blocked flag {slot.blocked}, "
                f"{len(slot.tank)} in the holding tank", ["id", "strand", "state", "where"], rows)  # fmt: skip
    rep = next(s for s in run.state["strands"] if s.name == "replugger")
    run.check("a replug was caught waiting, with a reader inside and another in the tank",
              slot.replugging and slot.inside > 0 and slot.tank,
              f"inside counter {slot.inside}, tank {[s.name for s in slot.tank]}")  # fmt: skip
    run.check("the inside counter counts exactly the readers inside the old version", slot.inside == len(inside),
              f"counter {slot.inside}; inside by the log: {sorted(f'reader{c}' for c in inside)}")  # fmt: skip
    run.check(
        "every strand in the tank is blocked (parked, not spinning)",
        all(s.state == BLOCKED for s in slot.tank),
        ", ".join(f"{s.name} {s.state}" for s in slot.tank),
    )
    run.state["tank_ids"] = [s.id for s in slot.tank]
    run.ask("What state is the replugger in while reader 0 waits for the disk?", rep.state)
    run.ask("What is the id of a strand parked in the holding tank?", slot.tank[0].id if slot.tank else "-")


@lesson.step(
    "The replugs complete",
    pane="Trace",
    watch=True,
    pace_us=4_000,
    narration="""
The machine runs on until the replugger has made its six replugs (the lesson stops it
there). Each replug leaves a **replug** record on the **Trace** pane (press `f` to show
only replug records): the old and new function, and how many callers it **parked** in the
holding tank. Checks read the call log: no call ran two versions, and — what the tank is
for — no call entered a version once its replug had begun. Without the tank new callers
keep entering the old version and the replugger can wait for ever (it starves).
""",
)
def complete(run):
    k, slot, log = run.state["k"], run.state["slot"], run.state["log"]
    strands = run.state["strands"]
    run_until(k, lambda: slot.replugs == VERSIONS or all(s.state == "done" for s in strands))
    inside, torn = {}, 0
    for what, v, c in log:
        if what == "in":
            inside[c] = v
        elif what == "out" and inside.pop(c) != v:
            torn += 1
    run.check("each call ran one version from entry to exit", torn == 0, f"{torn} torn calls")
    late, current = [], 0
    for what, v, c in log:
        if what == "begin":
            current = v
        elif what == "in" and v < current:
            late.append(f"reader{c} entered read_v{v} after replug {current} began")
    run.check("no call entered a version after its replug began (the holding tank)", not late,
              "; ".join(late[:4]) + (f" (+{len(late) - 4} more)" if len(late) > 4 else "") or
              f"{slot.parked_total} callers parked in the tank instead")  # fmt: skip
    reps = [r for r in k.trace if isinstance(r, Replug)]
    run.check("all six replugs happened", len(reps) == VERSIONS,
              ", ".join(f"{r.old}→{r.new} parked {r.parked}" for r in reps))  # fmt: skip
    last = reps[-1] if reps else None
    run.ask("Which function did the newest replug record plug in?", last.new if last else "-")


@lesson.step(
    "State handed on at the swap",
    pane="Scenario",
    narration="""
Each version keeps the file offset in its own place and advances it when a read's copy is
done. At the seed's steps 5–6 the replugger stores the old version's offset where the new
version keeps it. That store is right only because of the **inside counter**: the swap
waits until no reader is inside the old version, so no reader can advance the old offset
after it was handed on. A replug that swaps while a reader is inside loses that reader's
advance (a lost update), and a later read re-reads the same bytes.

The machine runs on until every reader has made its ten calls. The table below is per version: the calls that finished in it and the offset it handed on.
""",
)
def handed_on(run):
    k, slot, strands = run.state["k"], run.state["slot"], run.state["strands"]
    run_until(k, lambda: all(s.state == "done" for s in strands))
    versions, results = run.state["versions"], run.state["results"]
    run.check("no strand failed", not k.sched.failures, "; ".join(k.sched.failures) or "none")
    run.check("every reader made every call", all(len(results.get(c, [])) == CALLS for c in range(READERS)),
              ", ".join(f"reader{c}: {len(results.get(c, []))}" for c in range(READERS)))  # fmt: skip
    run.check("the tank drained", slot.inside == 0 and not slot.tank and not slot.replugging,
              f"inside {slot.inside}, tank {len(slot.tank)}, {slot.parked_total} parked over all replugs")  # fmt: skip
    rows = [[v.__name__, v.state["calls"], f"{v.state['offset']:,}"] for v in versions]
    done = sum(len(r) for r in results.values())
    final = versions[-1].state["offset"]
    run.exhibit(f"the file offset, version by version: {done} reads of {CHUNK} bytes; final offset {final:,}",
                ["version", "reads finished in it", "offset when replaced (last: now)"], rows)  # fmt: skip
    calls = sum(v.state["calls"] for v in versions)
    run.check("every read finished in exactly one version", calls == done, f"{calls} finished, {done} returned")
    run.check("no read's advance of the offset was lost (final offset = reads × 512)", final == done * CHUNK,
              f"final offset {final:,}; {done} reads × {CHUNK} = {done * CHUNK:,}; "
              f"{(done * CHUNK - final) // CHUNK} advances lost")  # fmt: skip
    run.ask("What is the file offset after all the reads?", f"{final:,}")


@lesson.step(
    "A quasi-invariant falsified",
    pane="Trace",
    narration="""
A specialization is only right while its **quasi-invariant** holds (Synthetix §2). Here
`read` is specialized for a file nobody else has open. A second process opens the file:
the **guard** at `open` sets the invariant false, and the guard replugs the slot back to
the general version — through the same algorithm, while a reader is inside the
specialized one. The **Trace** pane's newest replug record says which function came back
and why.
""",
)
def quasi(run):
    k = run.state["k"]
    sched = k.sched
    shared = QuasiInvariant("file shared", False)

    def general(c):
        sched.yield_()
        return "general"

    def fast(c):
        sched.yield_()  # inside when the guard fires
        return "fast path"

    general.__name__, fast.__name__ = "read_general", "read_private_fast"
    slot = Slot("read(shared file)", general, sched, trace=k.trace)
    seen = []

    def reader():
        seen.append(slot(0))
        seen.append(slot(0))

    def opener():
        shared.set(True)  # the second open(): the guard on the invariant replugs

    specialize(slot, shared, lambda is_shared: general if is_shared else fast)
    sched.fork(reader, name="reader-q")
    sched.fork(opener, name="opener")
    run_until(k, lambda: len(seen) == 2 and not slot.replugging)
    last = [r for r in k.trace if isinstance(r, Replug)][-1]
    run.check("while the file is private, the specialized version runs", seen[:1] == ["fast path"], str(seen))
    run.check("once it is shared, the guard replugged the general version", seen[1:] == ["general"]
              and slot.fn is general, f"calls returned {seen}; the slot holds {slot.fn.__name__}")  # fmt: skip
    run.check("the guard's replug waited for the reader inside", last.new == "read_general" and slot.spins > 0,
              f"{last.old} → {last.new} ({last.reason}); the replugger yielded {slot.spins} times")  # fmt: skip
    run.ask("Which function did the guard plug back in?", last.new)
    run.state.update(general=general, fast=fast)


@lesson.step(
    "Two guards at once: the replug lock",
    pane="Trace",
    narration="""
The seed's third hard case: two guards fire together for the same function. Its step 1
takes a **replug lock**; a replugger that had to wait for the lock finds the work done and
returns. Here two guard strands replug the slot back to the general version at once,
while a reader is inside. The **Trace** pane's newest replug record is the only one the
pair left: its reason names the guard that won.
""",
)
def two_guards(run):
    k = run.state["k"]
    sched = k.sched
    general, fast = run.state["general"], run.state["fast"]
    slot = Slot("read(two guards)", fast, sched, trace=k.trace)
    before = sum(1 for r in k.trace if isinstance(r, Replug))
    done, seen = {}, []

    def reader():
        seen.append(slot(0))

    def guard(name):
        done[name] = slot.replug(general, reason=f"{name} fired")

    sched.fork(reader, name="reader-g")
    sched.fork(guard, "guard-1", name="guard-1")
    sched.fork(guard, "guard-2", name="guard-2")
    run_until(k, lambda: len(done) == 2 and seen)
    reps = [r for r in k.trace if isinstance(r, Replug)][before:]
    run.check("the reader inside finished in the version it entered", seen == ["fast path"], str(seen))
    run.check("exactly one of the two guards replugged; the other found the work done",
              sorted(done.values()) == [False, True] and len(reps) == 1,
              f"replug returned {done}; {len(reps)} replug records: "
              + "; ".join(f"{r.old} → {r.new} ({r.reason})" for r in reps))  # fmt: skip
    run.check("the slot holds the general version", slot.fn is general, slot.fn.__name__)
    run.ask("Which guard's replug does the newest replug record name?", reps[-1].reason if reps else "-")
