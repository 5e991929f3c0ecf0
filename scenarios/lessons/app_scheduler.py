"""An application-specific scheduler: lottery scheduling as an extension."""

from kernel import inspect
from scenarios.engine import Lesson

lesson = Lesson(
    "app_scheduler",
    "An application-specific scheduler",
    "A lottery scheduler loaded into the kernel divides its group's share by tickets.",
)


@lesson.step(
    "Three processes, one lottery",
    narration="""
`lottery` forks three children. A and B join the lottery with 3 and 1 tickets through
the extension's system call; C stays with the global scheduler. **extensions/lottery.py**
takes one place in the run queue through `Sched.NewGroup` and answers `Sched.Choose`
for its group with a seeded draw.
""",
)
def lottery(run):
    k = run.boot(init="lottery", argv=["lottery", str(10**9)])
    ext = run.load(k, "lottery")
    k.sched.quantum_ticks = 1
    k.run(12_000_000)
    kept = inspect.extension_globals(k, ext.name)
    tickets = kept["tickets"]
    rows = {r.id: r for r in inspect.strands(k)}
    a, b = (rows[s] for s in sorted(tickets, key=lambda s: -tickets[s]))
    c = next(r for r in rows.values() if r.kind == "user" and r.state != "done" and r.pid not in (1, a.pid, b.pid))
    run.check("the extension drew many times", kept["draws"][0] > 40, str(kept["draws"][0]))
    run.check(
        "A (3 tickets) ran 2 to 4.5 times as long as B (1 ticket)",
        2.0 < a.cycles / b.cycles < 4.5,
        f"{a.cycles / b.cycles:.2f}",
    )
    run.check(
        "C, outside the group, got about as much as the whole group",
        0.6 < c.cycles / (a.cycles + b.cycles) < 1.6,
        f"{c.cycles / (a.cycles + b.cycles):.2f}",
    )
    run.ask("What was A's share of the group's processor time?", f"{a.cycles / (a.cycles + b.cycles):.2f}")
