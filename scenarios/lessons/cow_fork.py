"""Copy-on-write fork: the Translation fault events at work (SOSP'95 §4.1)."""

from kernel import inspect
from kernel.sys.trace import Exit, MemFault, Syscall
from scenarios.engine import Lesson

lesson = Lesson("cow_fork", "Copy-on-write fork", "Fork shares pages read-only; the first write copies one.")
PAGE = 8192


def space_of(k, pid):
    """The address space of a process (the personality names them "pid N" after fork, init's after its program)."""
    rows = inspect.spaces(k)
    named = [s for s in rows if s.name == f"pid {pid}"]
    return named[0] if named else (rows[0] if pid == 1 and rows else None)


def frame_at(k, space, va):
    """(pfn, PTE bits) of the page at va in a space, as the Page tables pane shows it; None if unmapped."""
    for m in inspect.mappings(k, space.id):
        if m.va == va & ~(PAGE - 1):
            return m.pfn, m.bits
    return None


def writable(bits):
    """A user store succeeds: user write enabled and no fault-on-write (the OSF/1 PTE's FOW)."""
    return "UWE" in bits.split() and "FOW" not in bits.split()


def cow_faults(k):
    return [r for r in k.trace.of(MemFault) if r.event == "Translation.ProtectionFault"]


@lesson.step(
    "Before fork: page[] is the parent's, writable",
    pane="Page tables",
    narration="""
`forkcow` has a page-aligned array `page[]` in its bss. Its first statement,
`page[0] = 100`, touches a page nobody has mapped: **Translation.PageNotPresent**, and the
UNIX personality's address-space handler maps a zeroed frame there. The step stops right
after that fault.

On the **Page tables** pane (the running space, `forkcow`) find `page[]`'s virtual
address in the `va` column: its `pfn` is the frame, and its PTE bits have **UWE** (user
write enable) and no **FOW** (fault on write).
""",
)
def before_fork(run):
    k = run.boot(init="forkcow")
    k.dispatcher.set_tracing(True)  # each event keeps its last dispatch (the Events pane's last guards), headless too
    page = next(s.value for s in run.program("forkcow").symbols if s.name == "page")
    run.state["page"] = page
    ok = run.run_to(k, lambda: bool(k.trace.of(MemFault)))
    first = k.trace.of(MemFault)[0] if ok else None
    run.check("the first fault was PageNotPresent on page[]",
              first is not None and first.event == "Translation.PageNotPresent" and first.address == page,
              f"{first.event} at {first.address:#x}; page[] is at {page:#x}" if first else "no fault")  # fmt: skip
    sp = space_of(k, 1)
    got = frame_at(k, sp, page) if sp else None
    run.check("page[] is mapped writable (UWE, no FOW)", got is not None and writable(got[1]),
              f"{page:#x}: {got[1] if got else 'not mapped'}")  # fmt: skip
    run.state["pfn"] = got[0] if got else None
    run.ask("How many pages does forkcow map so far?", sp.pages if sp else 0)
    run.ask("What is page[]'s virtual address (va column)?", f"{page:#x}")
    run.ask("Which frame holds it (pfn column)?", f"{got[0]:#x}" if got else "none")


@lesson.step(
    "fork: both spaces map the same frame, read-only",
    pane="Page tables",
    narration="""
`fork` copies no page. The personality's address-space extension (`AddressSpace.fork`,
kernel/unix/addrspace.py) maps every frame of the parent into the child as well, and in
*both* it takes write away -- the PTE gains **FOW**, fault on write, so a store traps --
and sets a software bit, **soft 0x1**: copy-on-write (SPIN's Protection has "others" bits
for extensions, spin-reference.md §4). The step stops just after the `fork` system call
returns in the parent.

On the **Page tables** pane, `page[]`'s row now shows **FOW** and `soft 0x1`; press `]`
to see the child's space (`pid 2`): the same pfn.
""",
)
def fork(run):
    k = run.kernel
    page = run.state["page"]
    ok = run.run_to(k, lambda: any(r.name == "fork" for r in k.trace.of(Syscall)))
    parent, child = space_of(k, 1), space_of(k, 2)
    p = frame_at(k, parent, page) if ok and parent else None
    c = frame_at(k, child, page) if ok and child else None
    run.check("parent and child map page[] to the same frame",
              p is not None and c is not None and p[0] == c[0] == run.state["pfn"],
              f"parent {p}, child {c}, before fork pfn {run.state['pfn']:#x}")  # fmt: skip
    run.check("in both, without write and marked copy-on-write",
              p is not None and c is not None and all(not writable(x[1]) and "soft 0x1" in x[1] for x in (p, c)),
              f"parent: {p[1] if p else '-'}; child: {c[1] if c else '-'}")  # fmt: skip
    shared = [m for m in inspect.mappings(k, parent.id)] if parent else []
    run.state["free_after_fork"] = inspect.counters(k).free_frames
    run.ask("Which frame backs page[] in the parent now?", f"{p[0]:#x}" if p else "none")
    run.ask("Which software bits mark the PTE copy-on-write?", "0x1")
    run.ask("How many pages does the parent map (and the child shares)?", len(shared))


@lesson.step(
    "The first write faults",
    pane="Trace",
    narration="""
The first store either process makes to a shared page raises
**Translation.ProtectionFault** (the PTE is valid but not writable). The step stops at
the first one. On the **Trace** pane, the last `MemFault` record says where: it is *not*
`page[]` but the parent's **stack** (just below `0x120000000`): returning from `fork`,
the parent writes its stack frame before it ever reaches `page[]`. `done=True`: a
handler fixed it.
""",
)
def first_write(run):
    k = run.kernel
    before = inspect.counters(k).free_frames
    ok = run.run_to(k, lambda: bool(cow_faults(k)))
    f = cow_faults(k)[0] if ok else None
    after = inspect.counters(k).free_frames
    run.check("a write after fork raised ProtectionFault and a handler fixed it", f is not None and f.done,
              f"{f.event} {f.access} at {f.address:#x} by strand {f.strand}, done={f.done}" if f else "none")  # fmt: skip
    run.state["first"] = (f.address if f else 0, before, after)
    run.ask("At which address was the first copy-on-write fault?", f"{f.address:#x}" if f else "none")


@lesson.step(
    "One frame copied",
    pane="CPU",
    narration="""
The personality's handler found the frame shared (two spaces map it), so it took a new
frame, copied the 8 KiB page into it and mapped the copy writable in the parent alone.
On the **CPU** pane, **free frames** is one less than just before the fault (the check's
detail gives both). The child still maps the old frame, read-only.
""",
)
def one_copy(run):
    k = run.kernel
    va, before, after = run.state["first"]
    parent, child = space_of(k, 1), space_of(k, 2)
    p = frame_at(k, parent, va) if parent else None
    c = frame_at(k, child, va) if child else None
    run.check("the fault took exactly one frame", before - after == 1, f"free frames {before} -> {after}")
    run.check("the parent maps a new writable frame there; the child keeps the old one",
              p is not None and c is not None and p[0] != c[0] and writable(p[1]) and not writable(c[1]),
              f"parent {p}, child {c}")  # fmt: skip
    run.ask("How many frames are free after the copy?", after)


@lesson.step(
    "Every write after fork, and what it cost",
    pane="Scenario",
    watch=True,
    narration="""
The rest of the run, a fault at a time. Each row is a ProtectionFault: which process,
where, and how many frames it took. Only the *first* writer of a shared page copies it;
when the other process writes that page later, the frame is no longer shared (one space
maps it), so the handler just gives write back: no copy. Four faults, two copies.
""",
)
def every_write(run):
    k = run.kernel
    rows = []
    seen = len(cow_faults(k))
    va, before, after = run.state["first"]
    pids = {s.id: s.pid for s in inspect.strands(k)}
    rows.append([1, pids.get(cow_faults(k)[0].strand, "?"), f"{va:#x}", before - after])
    k.halt_when_done = True
    for _ in range(2_000_000):  # an instruction at a time: the free frames just before each fault, and just after
        if k.machine.halt_reason is not None:
            break
        free = inspect.counters(k).free_frames
        k.run(1)
        if len(cow_faults(k)) > seen:
            f = cow_faults(k)[seen]
            seen += 1
            pids = {s.id: s.pid for s in inspect.strands(k)}
            rows.append([seen, pids.get(f.strand, "?"), f"{f.address:#x}", free - inspect.counters(k).free_frames])
    run.run_until_exit(k)
    run.exhibit("ProtectionFault after fork", ["#", "pid", "address", "frames taken"], rows)
    copies = sum(1 for r in rows if r[3] == 1)
    run.check("every fault was fixed", all(f.done for f in cow_faults(k)), f"{len(rows)} faults")
    run.check("each shared page was copied once, by its first writer; the second writer copied nothing",
              copies == 2 and len(rows) == 4 and all(r[3] in (0, 1) for r in rows),
              "; ".join(f"pid {r[1]} {r[2]}: {r[3]}" for r in rows))  # fmt: skip
    run.state["faults"] = len(rows)
    run.ask("How many ProtectionFaults did the run take?", len(rows))
    run.ask("How many of them copied a frame?", copies)


@lesson.step(
    "Each side reads its own page[]",
    pane="Console",
    narration="""
The parent set `page[0] = 100` before forking. The child adds 1 and prints; the parent
waits for it, adds 2 and prints. Had fork shared the page *writable*, the parent would
read the child's 101 and print 103; copy-on-write gave each its own page, so the
**Console** shows 101 and 102.
""",
)
def own_page(run):
    k = run.kernel
    out = run.console(k)
    run.check("the child saw its own write (101), the parent its own (102)",
              "child: page[0]=101" in out and "parent: page[0]=102" in out, out.strip())  # fmt: skip
    run.check("the parent reaped the child and saw its exit status 7", "child=reaped status=7" in out, out.strip())
    run.ask("What does the parent print for page[0]?", 102)


@lesson.step(
    "Who fixed the faults",
    pane="Events",
    narration="""
A fault event's bindings run in list order. Move the **Events** pane's cursor (↓) to
`Translation.ProtectionFault` to see them, or read the table's **last guards** column,
which lists the bindings in the order the last dispatch tried them. The run shows:

1. the UNIX personality's address-space handler (`Unix._vm_fault`), installed **First**:
   it fixes copy-on-write and demand-zero faults and sets `done`;
2. the event's **intrinsic** handler (owner `Translation`), which fixes nothing -- it is in
   the *middle*, because the personality installed its first handler First and its second
   one after the intrinsic;
3. the personality's signal handler (`Unix._fault_signal`), guarded to user faults: it turns
   a fault nobody fixed into SIGSEGV for a process with a handler.

All three guards pass (`+`), but the first handler set `done`, and once `done` is set the
dispatcher calls no further handler: the binding list shows **calls 0** for the other two.
An unfixed fault ends the process: the kernel checks `done` after the dispatch. Both rules
are the workbench's: in 33.1 each handler itself returns at once when `done` is set, and the
intrinsic handler is reinstalled **Last** and kills the thread (spin-reference.md §4).
""",
)
def who(run):
    k = run.kernel
    rows = inspect.bindings(k, "Translation.ProtectionFault")
    order = [(b.owner, b.handler) for b in rows]
    run.check("dispatch order: the address-space handler, the intrinsic, the signal handler",
              order == [("UnixPersonality", "Unix._vm_fault"), ("Translation", "_ignore"),
                        ("UnixPersonality", "Unix._fault_signal")],
              "; ".join(f"#{b.id} {b.owner} {b.handler} ({b.options}) calls {b.calls}" for b in rows))  # fmt: skip
    run.check("the address-space handler ran once per fault, and no handler after it",
              bool(rows) and rows[0].calls == run.state["faults"] and all(b.calls == 0 for b in rows[1:]),
              f"{rows[0].calls if rows else 0} calls, {run.state['faults']} faults; after it: "
              + ", ".join(f"#{b.id} {b.calls}" for b in rows[1:]))  # fmt: skip
    ev = next((e for e in inspect.events(k) if e.name == "Translation.ProtectionFault"), None)
    run.ask("In what order did the last ProtectionFault try its bindings (last guards)?", ev.last_guards if ev else "")
    run.ask("How many handler calls has Translation.ProtectionFault made?", ev.calls if ev else 0)


@lesson.step(
    "Exit gives the frames back",
    pane="CPU",
    narration="""
When a process exits the personality destroys its address space: each frame's share
count drops, and a frame nobody maps goes back to PhysAddr, as do the page-table pages
and the kernel stack. With both processes gone, **free frames** on the **CPU** pane is
what it was before `init` was loaded: PhysAddr's 8,128 less the idle strand's kernel
stack and page-table root.
""",
)
def exit_frees(run):
    k = run.kernel
    exits = {r.pid: r.status for r in k.trace.of(Exit)}
    c = inspect.counters(k)
    run.check("both processes exited, the child with 7 and the parent with 0", exits == {1: 0, 2: 7}, str(exits))
    run.check("every frame the processes held is free again (all but the idle strand's 2)",
              c.free_frames == c.frames - 2, f"free frames {c.free_frames} of {c.frames}")  # fmt: skip
    run.ask("How many frames are free after both exit?", c.free_frames)
