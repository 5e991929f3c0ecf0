"""Copy-on-write fork: the Translation fault events at work."""

from kernel import inspect
from kernel.sys.trace import MemFault
from scenarios.engine import Lesson

lesson = Lesson("cow_fork", "Copy-on-write fork", "Fork shares pages read-only; the first write copies one.")


@lesson.step(
    "Fork and write",
    narration="""
`forkcow` fills a buffer, forks, and then parent and child each write to it. After
`fork` both address spaces map the same frames *read-only*; the first write by either
raises **Translation.ProtectionFault**, and the UNIX personality's handler (installed
First) copies the page and maps the copy writable.
""",
)
def fork_and_write(run):
    k = run.boot(init="forkcow")
    run.run_until_exit(k)
    out = run.console(k)
    faults = [r for r in k.trace.of(MemFault) if r.event == "Translation.ProtectionFault"]
    run.check(
        "the child saw its own write (101), the parent its own (102)",
        "child: page[0]=101" in out and "parent: page[0]=102" in out,
        out.strip(),
    )
    run.check("the parent reaped the child and saw its exit status 7", "child=reaped status=7" in out, out.strip())
    run.check(
        "writes after fork raised ProtectionFault and a handler fixed each",
        faults and all(f.done for f in faults),
        f"{len(faults)} faults",
    )
    run.state["faults"] = len(faults)
    run.ask("How many copy-on-write faults did the run take?", len(faults))


@lesson.step(
    "Who fixed them",
    narration="""
The fault event's binding list shows who may fix a fault: the personality's
address-space handler first, the signal handler after it, the intrinsic last.
""",
)
def who(run):
    k = run.kernel
    rows = inspect.bindings(k, "Translation.ProtectionFault")
    owners = [b.owner for b in rows]
    run.check("the UNIX personality's handler is first on the event", owners[0] == "UnixPersonality", str(owners))
    run.check("it ran once per fault", rows[0].calls >= run.state["faults"], str(rows[0].calls))
    run.ask("How many bindings does Translation.ProtectionFault have?", len(owners))
