"""Replugging a function while strands are inside it (Synthetix, seed 003 §4)."""

from kernel.core.sched import Scheduler
from kernel.sys.replug import QuasiInvariant, Slot, specialize
from kernel.sys.trace import Replug
from scenarios.engine import Lesson

lesson = Lesson("replugging", "Replugging a function while strands are inside it",
                "Synthetix's replugging algorithm: an inside counter, a holding tank, and no caller ever "
                "sees half a swap.")  # fmt: skip
CALLERS, CALLS, VERSIONS = 6, 12, 8


def versioned(k, sched, log):
    """Version k of `read`: it yields halfway, so callers are often inside it."""

    def read(caller):
        log.append(("in", k, caller))
        sched.yield_()
        log.append(("out", k, caller))
        return k

    read.__name__ = f"read_v{k}"
    return read


def in_progress(sched, slot, log):
    """Who is where, at a moment when a replug waits for callers inside."""
    inside = {}
    for what, k, c in log:
        if what == "in":
            inside[c] = k
        else:
            inside.pop(c, None)
    rows = []
    for s in sched.strands.values():
        if s.name == "replugger":
            where = f"replugging: the slot points at the tank; waits for {slot.inside} inside to leave"
        elif s in slot.tank:
            where = "parked in the holding tank"
        elif int(s.name[6:]) in inside:
            where = f"inside read_v{inside[int(s.name[6:])]}"
        else:
            where = "between calls"
        rows.append([s.name, s.state, where])
    return (
        f"a replug in progress, after {sched.switches} switches: inside counter {slot.inside}, "
        f"{len(slot.tank)} in the tank",
        ["strand", "state", "where"],
        rows,
    )


@lesson.step(
    "Callers inside, a replugger waiting",
    narration="""
Six strands call `read` through a **slot** over and over; each call yields halfway, so at
almost every moment some strand is *inside* the function. A seventh strand replugs the
slot with a new version eight times. Each replug points the slot at the **holding tank**
(new callers park there), waits for the **inside counter** to reach zero, stores the new
function, and releases the tank (seed 003 §4).
""",
)
def concurrent(run):
    sched = Scheduler()
    log = []
    slot = Slot("read", versioned(0, sched, log), sched)
    results = {}
    offsets = [run.rng.randrange(4) for _ in range(CALLERS)]  # the seed decides who is out of step

    def caller(c):
        for _ in range(offsets[c]):
            sched.yield_()
        for _ in range(CALLS):
            results.setdefault(c, []).append(slot(c))
            sched.yield_()

    def replugger():
        for k in range(1, VERSIONS + 1):
            slot.replug(versioned(k, sched, log), reason=f"round {k}")
            sched.yield_()

    for c in range(CALLERS):
        sched.fork(caller, c, name=f"caller{c}")
    sched.fork(replugger, name="replugger")
    moment = None
    while sched.ready_count():  # one switch at a time, to catch a replug in progress
        sched.run(max_switches=1)
        if moment is None and slot.replugging and slot.inside and slot.tank:
            moment = in_progress(sched, slot, log)
    if moment is not None:
        run.exhibit(*moment)
    run.check("no strand failed", not sched.failures, "; ".join(sched.failures))
    run.check("every caller made every call", all(len(results.get(c, [])) == CALLS for c in range(CALLERS)))
    inside, torn = {}, 0
    for what, k, c in log:
        if what == "in":
            inside[c] = k
        elif inside.pop(c) != k:
            torn += 1
    run.check("each call ran one version from entry to exit", torn == 0, f"{torn} torn calls")
    run.check("versions never went backwards for any caller", all(r == sorted(r) for r in results.values()))
    starts = [k for what, k, _ in log if what == "in"]
    run.check("no call entered an old version after a swap", starts == sorted(starts))
    run.check("the tank drained", slot.inside == 0 and not slot.tank and not slot.replugging)
    reps = slot.trace.of(Replug)
    run.ask("How many callers waited in the holding tank, over all replugs?", slot.parked_total)
    run.ask("How many times did the replugger yield while strands were inside?", slot.spins)
    run.check("all eight replugs happened", len(reps) == VERSIONS, str(len(reps)))


@lesson.step(
    "A quasi-invariant falsified",
    narration="""
A specialization is only right while its **quasi-invariant** holds. Here `read` is
specialized for a file that is not shared; when a second process opens the file, the
guard on the invariant replugs the slot back to the general version.
""",
)
def quasi(run):
    shared = QuasiInvariant("file shared", False)
    slot = Slot("read", lambda n: "general")
    specialize(slot, shared, lambda is_shared: (lambda n: "general") if is_shared else (lambda n: "fast path"))
    before = slot(1)
    shared.set(True)
    after = slot(1)
    run.check("while the file is private, the specialized version runs", before == "fast path", before)
    run.check("once it is shared, the guard replugged the general version", after == "general", after)
