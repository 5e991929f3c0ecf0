"""Schedulers on strands: the global scheduler, the strand events SPIN's schedulers handle, and the
workbench's own lottery group."""

from kernel import inspect
from kernel.sys.trace import Switch
from scenarios.engine import Lesson

lesson = Lesson(
    "app_scheduler",
    "Schedulers on strands",
    "The global scheduler's round robin, the strand events (Checkpoint/Resume) SPIN's application "
    "schedulers sit on, and the workbench's lottery group measured.",
)
SPIN = str(10**9)  # each child counts this far: it never finishes within the lesson
SLICE = 4_000_000  # instructions per watched stretch


def children(k):
    """A, B and C by pid: lottery forks them in that order (pids 2, 3, 4)."""
    rows = {r.pid: r for r in inspect.strands(k) if r.kind == "user"}
    return rows.get(2), rows.get(3), rows.get(4)


@lesson.step(
    "The global scheduler's round robin",
    pane="Strands",
    watch=True,
    pace_us=30_000,
    narration="""
`lottery` forks three CPU-bound children, **A** (pid 2), **B** (pid 3) and **C** (pid 4),
each a strand on the **Strands** pane (owner `pid N`). No scheduler extension is loaded,
so A's and B's `lottery_join` calls fail (ENOSYS, on the Console) and all three stay
with the **global scheduler**: round-robin, preemptive, by priority (SOSP'95 §4.2; the
quantum of 5 ticks of the 1024 Hz clock follows 33.1's `Sched.m3`). Equal priorities, so equal shares: read each
child's **cpu µs** column. The switches line below the table gives the reason for each
switch: `clock` is a quantum running out.
""",
)
def round_robin(run):
    k = run.boot(init="lottery", argv=["lottery", SPIN])
    k.run(3 * SLICE)
    a, b, c = children(k)
    us = [r.us for r in (a, b, c)]
    run.check("A, B and C each got a third of the processor, within 15%", max(us) / min(us) < 1.15,
              "cpu µs: " + ", ".join(f"{n} {u:,.0f}" for n, u in zip("ABC", us, strict=True)))  # fmt: skip
    clock = sum(1 for r in k.trace if isinstance(r, Switch) and r.reason == "clock")
    run.check("the quantum preempted them (switches for the reason 'clock')", clock >= 6,
              f"{clock} clock switches, {k.sched.switches} switches in all")  # fmt: skip
    run.ask("How many cpu µs has C (pid 4) run?", f"{c.us:,.0f}")
    run.state["k"] = k


@lesson.step(
    "What SPIN's schedulers handle: Checkpoint and Resume",
    pane="Events",
    watch=True,
    pace_us=20_000,
    narration="""
In SPIN an application-specific scheduler sits **on top of** the global one "using
Checkpoint and Resume events": it presents itself to the global scheduler as a thread
package; **Resume** tells it that it may now run its own strands, **Checkpoint** that the
processor is being reclaimed; **Block**/**Unblock** on its strands are routed to it by
the dispatcher (SOSP'95 §4.2, Fig. 4; spin-reference.md §3).

The kernel here raises those four events on every switch and wake-up
(kernel/core/sched.py). **extensions/strand_events.py** handles all four for user
strands and counts them per strand. On the **Events** pane, find `Strand.Checkpoint` and
`Strand.Resume`: their call counts rise with every switch. The pane's **calls** counts every
handler call on the event since boot, for every strand and every handler bound to it, so it
is larger than the extension's own per-strand count in the checks. (The names are SOSP'95
Fig. 4's; 33.1 calls them Stop and Run.) (The workbench's handlers can
only observe: one cannot take the processor from its handler, so the lottery below uses
another way, named as the workbench's own.)
""",
)
def strand_events(run):
    k = run.state["k"]
    before = {s.id: s.switches for s in k.sched.strands.values()}
    ext = run.load(k, "strand_events")
    k.run(2 * SLICE)
    counts = inspect.extension_globals(k, ext.name)["counts"]
    a, b, c = children(k)
    resumed = {r.id: k.sched.strands[r.id].switches - before.get(r.id, 0) for r in (a, b, c)}
    run.check("the handler saw a Resume for every switch onto A, B and C",
              all(counts["Resume"].get(i, 0) == n and n > 0 for i, n in resumed.items()),
              "Resume counted / switches onto it: " + ", ".join(
                  f"{w} {counts['Resume'].get(r.id, 0)}/{resumed[r.id]}" for w, r in zip("ABC", (a, b, c), strict=True)))  # fmt: skip
    ck, rs = sum(counts["Checkpoint"].values()), sum(counts["Resume"].values())
    run.check(
        "each Resume is matched by a Checkpoint when the processor is reclaimed",
        abs(ck - rs) <= 1,
        f"{ck} Checkpoint, {rs} Resume (the strand on the processor now has not been checkpointed)",
    )
    ev = {e.name: e for e in inspect.events(k)}
    run.ask("How many handler calls does the Events pane show for Strand.Resume?", f"{ev['Strand.Resume'].calls:,}")


@lesson.step(
    "A group joins (the workbench's Sched.NewGroup)",
    pane="Strands",
    watch=True,
    pace_us=8_000,
    narration="""
A fresh machine, this time with **extensions/lottery.py** loaded: lottery scheduling
(Waldspurger & Weihl, OSDI'94) as an application scheduler. **This is the workbench's own
mechanism, not SPIN's**: instead of handling Checkpoint/Resume, the extension makes a
scheduler group with `Sched.NewGroup` (one entry in the global run queue) and answers the
`Sched.Choose` event when the global scheduler reaches that entry. A joins with 3
tickets, B with 1 (`lottery_join`, the extension's system call 0x7400); C stays global.
The quantum is shortened to one tick to see more decisions.

On the **Strands** pane the **sched** column says which scheduler each strand is under.
""",
)
def joins(run):
    k = run.boot(init="lottery", argv=["lottery", SPIN])
    ext = run.load(k, "lottery")
    k.sched.quantum_ticks = 1
    k.run(SLICE)
    a, b, c = children(k)
    run.check("A and B joined the lottery's group; C did not",
              a.group.endswith("lottery") and b.group == a.group and c.group == "global",
              f"A {a.group}, B {b.group}, C {c.group}")  # fmt: skip
    tickets = inspect.extension_globals(k, ext.name)["tickets"]
    run.check(
        "the extension holds A's 3 tickets and B's 1",
        (tickets.get(a.id), tickets.get(b.id)) == (3, 1),
        f"tickets by strand id: {tickets}",
    )
    run.ask("Under which scheduler does B (pid 3) run (the sched column)?", b.group)
    run.state.update(k=k, ext=ext)


@lesson.step(
    "Tickets and shares, measured",
    pane="Strands",
    watch=True,
    pace_us=30_000,
    narration="""
The machine runs on. The group is **one** entry in the global run queue beside C (pid 1
is blocked in `waitpid`), so C keeps about as much processor as A and B together;
inside the group the draw gives A about three times B's time. Read the **cpu µs** column:
A's share of the group is A ÷ (A + B), and the tickets say it should be near 3 ÷ 4.
""",
)
def shares(run):
    k = run.state["k"]
    k.run(3 * SLICE)
    a, b, c = children(k)
    run.check("A (3 tickets) ran 2 to 4.5 times as long as B (1 ticket)", 2.0 < a.us / b.us < 4.5,
              f"A {a.us:,.0f} µs ÷ B {b.us:,.0f} µs = {a.us / b.us:.2f} (tickets: 3)")  # fmt: skip
    run.check("C, outside the group, got about as much as the whole group", 0.6 < c.us / (a.us + b.us) < 1.6,
              f"C {c.us:,.0f} µs ÷ (A + B) {a.us + b.us:,.0f} µs = {c.us / (a.us + b.us):.2f}")  # fmt: skip
    run.ask("How many cpu µs has A (pid 2) run?", f"{a.us:,.0f}")
    run.ask("And B (pid 3)?", f"{b.us:,.0f}")


@lesson.step(
    "Each decision is a Sched.Choose",
    pane="Events",
    narration="""
Every time the global scheduler reaches the group it raises **Sched.Choose** with the
group's ready strands; the lottery's handler, guarded on its own group, draws a ticket
(a seeded xorshift, so a run replays). On the **Events** pane, `Sched.Choose`'s calls
count the handler calls (the kernel's default handler and the lottery's both run). The
lottery counted its own draws; the checks compare.
""",
)
def chooses(run):
    k, ext = run.state["k"], run.state["ext"]
    draws = inspect.extension_globals(k, ext.name)["draws"][0]
    ev = {e.name: e for e in inspect.events(k)}["Sched.Choose"]
    mine = [b for b in inspect.bindings(k, "Sched.Choose") if b.owner == ext.name]
    run.check("the lottery drew once per Sched.Choose its handler was called for",
              len(mine) == 1 and mine[0].calls == draws, f"{draws} draws; the handler's binding: "
              f"{mine[0].calls if mine else 'none'} calls; the event: {ev.calls} handler calls")  # fmt: skip
    run.check("the extension drew many times", draws > 40, f"{draws} draws")
    run.ask("How many handler calls does the Events pane show for Sched.Choose?", f"{ev.calls:,}")
