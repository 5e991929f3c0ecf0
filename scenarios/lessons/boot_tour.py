"""A boot tour: what SPIN builds, one step a line, and the first processes."""

from kernel import inspect
from kernel.sys.trace import Switch
from scenarios.engine import Lesson

lesson = Lesson("boot_tour", "A boot tour", "From the firmware's hand-off to init's first system call.")


@lesson.step(
    "The kernel comes up",
    narration="""
The console firmware leaves the Alpha in kernel mode at IPL 7. `kernel/boot.py` then
builds SPIN one piece at a time: physical memory under **PhysAddr**, the six PAL entry
points, the dispatcher with the *SpinPublic* and *SpinTrusted* domains, the core
services and their events, the UNIX personality, the idle strand, and init.
""",
)
def boot(run):
    k = run.boot(init="forkcow")
    steps = [line.split()[0] for line in k.boot_log]
    run.check(
        "the boot log names PhysAddr, PAL, dispatcher, services, unix, init and clock in that order",
        steps == ["machine", "PhysAddr", "PAL", "dispatcher", "services", "console", "unix", "init", "clock"],
        " ".join(steps),
    )
    events = [e.name for e in inspect.events(k)]
    run.check("Trap.SystemCall is an event", "Trap.SystemCall" in events)
    run.ask("How many events does the booted kernel define?", len(events))
    run.ask("How many physical frames are free for PhysAddr to hand out?", k.phys.nfree)


@lesson.step(
    "init runs",
    narration="""
Pid 1 runs `forkcow`: it forks, and parent and child share pages copy-on-write. Each
system call enters through `entSys`, is raised as **Trap.SystemCall**, and the UNIX
personality's guarded handler answers it. Watch the context switches between the
two processes and the idle strand.
""",
)
def first_processes(run):
    k = run.kernel
    why = run.run_until_exit(k)
    run.check("every process exited", why == "all processes exited", why)
    run.check("init exited with status 0", k.exit_status == 0, str(k.exit_status))
    switches = k.trace.of(Switch)
    run.check("the scheduler switched strands", len(switches) >= 2, f"{len(switches)} switches")
    run.ask("How many system calls did the run make?", k.syscalls)
    run.ask("Why did the last switch happen?", switches[-1].reason if switches else "none")
