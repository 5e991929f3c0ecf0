"""A boot tour: what SPIN builds, one step a line, and the first process's first events."""

from kernel import inspect
from kernel.sys.trace import Boot, Exit, Install, MemFault, Switch, Syscall
from scenarios.engine import Lesson

lesson = Lesson("boot_tour", "A boot tour", "From the firmware's hand-off to init's exit, one kernel record at a time.")
ORDER = ["machine", "PhysAddr", "PAL", "dispatcher", "services", "console", "unix", "init", "clock"]


def boot_line(k, step):
    return next((r.detail for r in k.trace.of(Boot) if r.step == step), "")


@lesson.step(
    "Firmware hands over; PhysAddr takes the frames",
    pane="Trace",
    narration="""
The console firmware leaves the Alpha in kernel mode at IPL 7. `kernel/boot.py` then builds
SPIN one piece at a time and writes a `Boot` record for each: read them top to bottom on
the **Trace** pane. First the machine (a DEC 3000/400, 64 MiB), then **PhysAddr** (SOSP'95
§4.1): every frame above the 64 the boot stack and idle loop keep becomes a kernel object
PhysAddr hands out. Its line says how many were free *at that moment*.
""",
)
def physaddr(run):
    k = run.boot(init="forkcow")
    k.dispatcher.set_tracing(True)  # each event keeps its last dispatch, headless too (the workbench does the same)
    steps = [r.step for r in k.trace.of(Boot)]
    run.check("the boot records come in order: machine, PhysAddr, PAL, dispatcher, services, console, unix, init, "
              "clock", steps == ORDER, " ".join(steps))  # fmt: skip
    line = boot_line(k, "PhysAddr")
    free = line.split("(")[1].split()[0] if "(" in line else "?"
    c = inspect.counters(k)
    run.check("PhysAddr's line counts every frame it manages as free", free == str(c.frames), line)
    run.state["boot_free"] = int(free) if free.isdigit() else 0
    run.ask("How many frames were free when PhysAddr came up (its boot record)?", free)
    run.ask("How many frames are kept below PhysAddr?", line.split("; ")[1].split()[0] if "; " in line else "?")


@lesson.step(
    "PAL entry points, the dispatcher and its domains",
    pane="Domains",
    narration="""
The `PAL` record: the six OSF/1 PALcode entry points (`entInt`, `entArith`, `entMM`, `entIF`,
`entUna`, `entSys`) now lead to the kernel's Python handlers: every trap, fault and
interrupt enters the kernel through one of them. The `dispatcher` record: the event
dispatcher and the name server, and the two aggregate domains through which extensions link
against the kernel: **SpinPublic** (what any extension may import; SOSP'95 §3.1) and
**SpinTrusted** (the kernel's own; the name is from SPIN's 33.1 source, SOSP'95 names only
SpinPublic). The **Domains** pane shows both and what each exports.
""",
)
def domains(run):
    k = run.kernel
    pal = boot_line(k, "PAL")
    run.check("PAL wires the six entry points", all(e in pal.split() for e in
              ("entInt", "entArith", "entMM", "entIF", "entUna", "entSys")), pal)  # fmt: skip
    rows = {d.name: d for d in inspect.domains(k)}
    pub = rows.get("SpinPublic")
    run.check("SpinPublic and SpinTrusted exist and no extension is linked yet",
              set(rows) == {"SpinPublic", "SpinTrusted"}, ", ".join(rows))  # fmt: skip
    run.check("SpinPublic exports the core services", pub is not None and {"PhysAddr", "Translation", "Trap"} <= set(pub.exports),
              ", ".join(pub.exports) if pub else "no SpinPublic")  # fmt: skip
    run.ask("Which domain exports Translation to extensions?", "SpinPublic")


@lesson.step(
    "Services, their events, and the UNIX personality",
    pane="Events",
    narration="""
The `services` record: Strand, Sched, PhysAddr, VirtAddr, Translation and Trap, each with its
events (PhysAddr, VirtAddr and Translation are SOSP'95 Fig. 3, Strand Fig. 4, Trap.SystemCall
§5.2; Sched is from the 33.1 source): a trap or fault is *raised* as an event, and whoever has
a handler bound to it answers. The **Events** pane lists them with their bindings.

The `unix` record: the UNIX personality is built like an extension: it binds a handler
to **Trap.SystemCall** for Linux/Alpha's system calls and the address-space handlers to the
fault events. `Trap.SystemCall` has three bindings: the personality's and two for the Mach
thread calls and C-Threads (kernel/unix/machthreads.py, cthreads.py), each guarded on its
own call numbers. Its intrinsic handler was uninstalled at boot (as 33.1 does): a call nobody
claims gets the default handler's ENOSYS (the workbench's Linux answer).
""",
)
def services(run):
    k = run.kernel
    events = {e.name: e for e in inspect.events(k)}
    run.check("the services record counts the events the kernel defines",
              f"{len(events)} events" in boot_line(k, "services"), boot_line(k, "services"))  # fmt: skip
    sc = inspect.bindings(k, "Trap.SystemCall")
    run.check("Trap.SystemCall's bindings are the personality's, the Mach threads' and C-Threads'",
              [b.owner for b in sc] == ["UnixPersonality", "MachThreads", "CThreads"],
              "; ".join(f"#{b.id} {b.owner} guard {b.guard}" for b in sc))  # fmt: skip
    mine = [r for r in k.trace.of(Install) if r.owner == "UnixPersonality"]
    run.check("the personality installed its handlers through the dispatcher, as an extension does", len(mine) >= 3,
              f"{len(mine)} Install records owned by UnixPersonality")  # fmt: skip
    run.ask("How many bindings does Trap.SystemCall have?", events["Trap.SystemCall"].bindings)
    run.ask("How many bindings does Translation.ProtectionFault have?", events["Translation.ProtectionFault"].bindings)


@lesson.step(
    "init, the clock and the first switch",
    pane="Strands",
    narration="""
The `init` record: pid 1 runs `forkcow` (it forks; parent and child share pages
copy-on-write, the `cow_fork` lesson). The `clock` record: 1024 Hz, a quantum of 5 ticks
(as in 33.1's `Sched.m3`);
the idle strand waits in `wtint` when nothing is ready. Then boot makes the *first switch*,
from the idle strand to init. The **Strands** pane lists both strands and, below them, the
switches so far with their reasons.
""",
)
def first_switch(run):
    k = run.kernel
    sw = k.trace.of(Switch)
    rows = inspect.strands(k)
    init = next((r for r in rows if r.pid == 1), None)
    run.check("boot switched once, from idle to init", len(sw) == 1 and sw[0].new_name == "forkcow",
              "; ".join(f"{s.old_name}->{s.new_name} {s.reason}" for s in sw))  # fmt: skip
    run.check("init is the running strand", init is not None and init.current,
              f"strand {init.id} {init.name} (pid {init.pid}) {init.state}" if init else "no strand for pid 1")  # fmt: skip
    run.ask("Why did the first switch happen?", sw[0].reason if sw else "none")
    run.ask("Which strand id runs init?", init.id if init else "none")


@lesson.step(
    "The first page fault",
    pane="Trace",
    narration="""
init's first instruction that touches memory nobody has mapped yet -- `page[0] = 100`, a
store to its bss -- takes a translation fault through `entMM`. The kernel raises
**Translation.PageNotPresent** (SOSP'95 Fig. 3's name); the personality's address-space
handler maps a zeroed frame and sets `done` (the fault protocol of 33.1's `Trap` events). The step runs init an instruction at a time up to that fault: the
**Trace** pane's last record is the `MemFault`, `done=True`.
""",
)
def first_fault(run):
    k = run.kernel
    ok = run.run_to(k, lambda: bool(k.trace.of(MemFault)))
    f = k.trace.of(MemFault)[0] if ok else None
    run.check("the first fault was PageNotPresent and a handler fixed it",
              f is not None and f.event == "Translation.PageNotPresent" and f.done,
              f"{f.event} {f.access} at {f.address:#x}, done={f.done}" if f else "no fault")  # fmt: skip
    run.ask("Which event did the first fault raise?", f.event if f else "none")
    run.ask("Was it a read or a write?", f.access if f else "none")


@lesson.step(
    "The first system call",
    pane="Events",
    narration="""
Then init calls `fork`: `callsys` enters through `entSys`, and the kernel raises
**Trap.SystemCall**. Its guards are all evaluated: the personality's ("v0 is one of mine")
passes, the Mach threads' and C-Threads' reject; only the personality's handler runs. Read
the **Events** pane's `Trap.SystemCall` row: **last guards** shows each binding's verdict
(`+` passed, `-` rejected), **calls** how many handler calls the event has made.
""",
)
def first_syscall(run):
    k = run.kernel
    ok = run.run_to(k, lambda: bool(k.trace.of(Syscall)))
    s = k.trace.of(Syscall)[0] if ok else None
    ev = next((e for e in inspect.events(k) if e.name == "Trap.SystemCall"), None)
    run.check("the first system call was fork, and it returned the child's pid",
              s is not None and s.name == "fork" and s.result > 0, f"{s.name} -> {s.result}" if s else "none")  # fmt: skip
    run.check("only the personality's guard passed", ev is not None and ev.last_guards.count("+") == 1,
              ev.last_guards if ev else "no event")  # fmt: skip
    run.state["counts_at_fork"] = inspect.counters(k)
    run.ask("What were the last guards of Trap.SystemCall?", ev.last_guards if ev else "")


@lesson.step(
    "To the end: switches, system calls and exit",
    pane="CPU",
    watch=True,
    narration="""
The rest of the run: the parent blocks in `wait4`, the child runs, writes and exits, the
parent wakes, writes and exits. The **CPU** pane's counters are the run's totals since
boot: system calls, user/kernel crossings (each entry and each return), faults, context
switches, and **free frames**. Every frame the processes held is back: free frames is
the PhysAddr record's figure less the idle strand's two (its kernel stack and page-table
root), which boot took after PhysAddr wrote its line.
""",
)
def to_the_end(run):
    k = run.kernel
    why = run.run_until_exit(k)
    exits = {r.pid: r.status for r in k.trace.of(Exit)}
    run.check("every process exited, init with status 0", why == "all processes exited" and exits.get(1) == 0,
              f"{why}; exits {exits}")  # fmt: skip
    c = inspect.counters(k)
    run.check("the frames came back: the boot record's figure less the idle strand's 2",
              c.free_frames == run.state["boot_free"] - 2, f"free frames {c.free_frames}, boot record {run.state['boot_free']}")  # fmt: skip
    sw = k.trace.of(Switch)
    run.check("the scheduler switched strands for block and exit", {"block", "exit"} <= {s.reason for s in sw},
              ", ".join(f"{s.old_name}->{s.new_name} {s.reason}" for s in sw))  # fmt: skip
    run.ask("How many system calls did the run make?", c.syscalls)
    run.ask("How many context switches?", c.switches)
    run.ask("How many frames are free now?", c.free_frames)
