"""Synthetix's specialized read on the kernel's read path, and its guard at open (seed 003 §3.1, §4)."""

from types import SimpleNamespace

from kernel import inspect
from kernel.fs.format import build_image
from kernel.sys.trace import Replug, Syscall
from scenarios.engine import Lesson

lesson = Lesson("specialized_read", "A read specialized at open, replugged when a second process opens the file",
                "Synthetix's optimistic and incremental specialization of read on the kernel's own read path: the "
                "invariants found at open, the guard that falsifies them, and a replug with a strand inside.")  # fmt: skip
DATA = bytes((i * 13 + (i >> 10)) & 0xFF for i in range(256 * 1024))  # 32 chunks: most reads wait for the disk
DELAY_MS = 40  # when the child opens the file: by then the parent reads at the sequential level


def stop_at(k, what):
    """Stop the machine right after the read path's next ``what`` ("replug" or "wait")."""
    k.personality.reads.observer = lambda ev: ev == what and k.machine.request_stop(f"the read path: {ev}")


def replugs(k):
    return [r for r in k.trace.of(Replug) if r.slot.startswith("read big (pid 1")]


def strand_of(k, pid):
    """The process's strand, or a stand-in row if it is gone."""
    s = next((s for s in k.sched.strands.values() if s.pid == pid and s.kind == "user"), None)
    return s if s is not None else SimpleNamespace(id="-", state="gone", blocked_on="", name="-")


def parent_file(k):
    """The parent's open file of `big` (its slot and read state), while it is open."""
    p = k.personality.procs.get(1)
    return next((f for f in (p.fds.values() if p else ()) if f.kind == "file"), None)


@lesson.step(
    "One opener: the read is specialized at open",
    pane="Trace",
    watch=True,
    pace_us=2_000,
    narration="""
The disk holds one file, `big` (256 KiB). `specread` forks; the **parent** opens `big`
and reads it through in 4 KiB reads, while the **child** waits 40 ms before opening it too.

Every `read` of a regular file goes through a **slot** of its open file
(`kernel/unix/fileread.py`). The generic read walks an HP-UX-like kernel's layers on
every call: the file table, the vnode layer (what kind of object is this?), the file
system (which disk block?), the buffer cache. At `open` the kernel checks Synthetix's
**quasi-invariants** -- one opener, no writer, a regular file on the local disk -- and,
as they hold, builds a read for this file alone, with what those layers would find fixed
in it, and **replugs** the slot with it. The lesson stops the machine right after that
replug: the **Trace** pane's newest record (`f` shows only replugs) says which function
came in and why.
""",
)
def specialized(run):
    k = run.boot(init="specread", argv=["specread", "/big", str(DELAY_MS)], disk_image=build_image({"big": DATA}))
    stop_at(k, "replug")
    run.run_to(k, lambda: bool(replugs(k)), chunk=1_000_000, budget=20_000_000)
    reps = replugs(k)
    first = reps[0] if reps else None
    run.check("the open replugged the file's read slot with the specialized read",
              first is not None and (first.old, first.new) == ("read_generic", "read_specialized"),
              f"{first.old} → {first.new}: {first.reason}" if first else "no replug of the parent's slot")  # fmt: skip
    run.check("it did so because the invariants held", first is not None and "one opener" in first.reason,
              first.reason if first else "-")  # fmt: skip
    run.ask("Which function did the parent's open plug into its read slot?", first.new if first else "-")


@lesson.step(
    "Incremental specialization: the read size becomes fixed too",
    pane="Trace",
    watch=True,
    pace_us=2_000,
    narration="""
More becomes fixed as the program runs (Synthetix §2, *incremental specialization*):
after two reads of the same size, each starting where the last one ended, the kernel
specializes the read again, on that size and on reading on sequentially -- the range
arithmetic is fixed, and the chunk read last is held so a read inside it needs no cache
lookup. The read itself is the guard of this level: a read of another size, or an
`lseek`, drops back to the level below.

The newest replug record on the **Trace** pane names the new function, with the size in
its name.
""",
)
def incremental(run):
    k = run.kernel
    run.run_to(k, lambda: len(replugs(k)) >= 2, chunk=1_000_000, budget=20_000_000)
    reps = replugs(k)
    second = reps[1] if len(reps) > 1 else None
    run.check("after two 4 KiB reads the read was specialized on its size",
              second is not None and second.new == "read_sequential(4096)",
              f"{second.old} → {second.new}: {second.reason}" if second else "no second replug")  # fmt: skip
    run.ask("On how many bytes a read was the parent's read specialized further?",
            4096 if second and second.new == "read_sequential(4096)" else "-")  # fmt: skip


@lesson.step(
    "A second opener while the first is inside",
    pane="Strands",
    watch=True,
    pace_us=2_000,
    narration="""
At 40 ms the child opens `big`. That falsifies the invariant "one opener", so the **guard
at open** must replug the parent's read back to the generic one. But the parent is
*inside* the specialized read: its read missed the buffer cache and its strand is
blocked for the disk. A user strand waits by returning -- its system call runs again
when the disk's interrupt wakes it -- so "inside" is a record the slot keeps: the strand,
the function it entered with, and the **blocked** flag (Synthetix §4.1).

So the replugger -- the child's `open` -- points the slot at the **holding tank** and
parks until the strand inside has left; its `open` will run again from the start (the
guard runs before the open does anything, so running it again is the same open). The
lesson stops the machine at that moment. On the **Strands** pane both processes' strands
are `blocked`: the parent for the disk, the child waiting for the replug. The table
below says where each is.
""",
)
def second_opener(run):
    k = run.kernel
    reads = k.personality.reads
    stop_at(k, "wait")
    run.run_to(k, lambda: reads.waits >= 1, chunk=1_000_000, budget=40_000_000)
    f = parent_file(k)
    slot = f.spec.slot if f is not None else None
    parent, child = strand_of(k, 1), strand_of(k, 2)
    inside = {s.pid: fn.__name__ for s, fn in slot.inside.items()} if slot else {}
    run.exhibit("the parent's read slot, mid-replug", ["strand", "process", "state", "where"], [
        [parent.id, "parent (pid 1)", parent.state, f"inside {inside.get(1, '-')}, blocked flag set: {parent.blocked_on}"],
        [child.id, "child (pid 2)", child.state, f"the replugger: {child.blocked_on}"],
    ])  # fmt: skip
    run.check("the child's open parked: a strand is inside the parent's specialized read",
              reads.waits == 1 and slot is not None and any(w is child for w in slot.waiters),
              f"guards that waited: {reads.waits}; the slot's waiters: {[s.name for s in slot.waiters] if slot else []}")  # fmt: skip
    run.check("the strand inside is the parent's, blocked for the disk, in the function it entered",
              slot is not None and any(b is parent for b in slot.blocked)
              and inside.get(1, "").startswith("read_sequential"),
              f"inside: {inside}; blocked flag: {[s.name for s in slot.blocked] if slot else []}")  # fmt: skip
    run.check("the tank is up: the slot has a replug pending", slot is not None and slot.pending is not None,
              f"pending: {slot.pending[1] if slot and slot.pending else 'none'}")  # fmt: skip
    run.state.update(parent=parent.id, child=child.id)
    run.ask("What state is the child's strand in while its open waits?", child.state)
    run.ask("What is the id of the parent's strand (inside the read)?", parent.id)


@lesson.step(
    "The guard's replug: the generic read comes back",
    pane="Trace",
    watch=True,
    pace_us=2_000,
    narration="""
The disk's interrupt wakes the parent; its `read` runs again, continues in the function
it entered with, and leaves the slot. It was the last one inside, so it completes the
replug that was waiting (§4.1 steps 4-5): the generic read goes into the slot, the tank
comes down, and the child is woken. The child's `open` runs again, finds the parent's read
already generic, and returns.

The **Trace** pane's newest replug record is that swap; the child's `open` system call
record comes after it (with `f` the pane shows replug records only).
""",
)
def replugged(run):
    k = run.kernel
    stop_at(k, "replug")
    run.run_to(k, lambda: any(r.new == "read_generic" for r in replugs(k)), chunk=1_000_000, budget=40_000_000)
    k.personality.reads.observer = None
    recs = list(k.trace)
    swap = next((i for i, r in enumerate(recs) if isinstance(r, Replug) and r.new == "read_generic"
                 and r.slot.startswith("read big (pid 1")), None)  # fmt: skip
    run.run_to(k, lambda: any(isinstance(r, Syscall) and r.pid == 2 and r.name == "open" for r in k.trace),
               chunk=100, budget=5_000_000)  # fmt: skip
    recs = list(k.trace)
    opened = next((i for i, r in enumerate(recs) if isinstance(r, Syscall) and r.pid == 2 and r.name == "open"), None)
    rec = recs[swap] if swap is not None else None
    run.check("the guard replugged the parent's read back to the generic one",
              rec is not None and rec.old.startswith("read_sequential") and rec.reason.startswith("opened by pid 2"),
              f"{rec.old} → {rec.new}: {rec.reason}" if rec else "no replug to read_generic")  # fmt: skip
    run.check("the child's open returned only after the swap (it waited for the strand inside)",
              swap is not None and opened is not None and swap < opened,
              f"trace positions: replug {swap}, the child's open {opened}")  # fmt: skip
    run.ask("Which function did the guard plug back into the parent's slot?", rec.new if rec else "-")


@lesson.step(
    "Both processes read every byte",
    pane="Console",
    watch=True,
    pace_us=4_000,
    narration="""
The machine runs on until both processes exit. Each prints how many bytes it read and
their sum: the parent read through three functions (generic for no call at all, then
specialized, sequential and generic again), the child through the generic one alone,
and both must have read the same file. The **Console** pane has their lines.
""",
)
def both_read(run):
    k = run.kernel
    why = run.run_until_exit(k)
    want = f"{len(DATA)} bytes, sum {sum(DATA)}"
    out = run.console(k)
    lines = sorted(line for line in out.splitlines() if ":" in line)
    run.check("the run ended with both processes done", why == "all processes exited", why)
    run.check("parent and child each read the whole file, the same bytes",
              lines == [f"child: {want}", f"parent: {want}"], "; ".join(lines))  # fmt: skip
    run.ask("How many bytes did the child read?", f"{len(DATA)}")


@lesson.step(
    "What the specialization saved",
    pane="CPU",
    narration="""
The kernel's read path counts its work (`kernel/unix/fileread.py`). The table below
says how many of the parent's and child's reads went through the generic read and how
many through a specialized one, the replugs the guards made, and the one guard that
had to wait. `spinwb bench specialize` measures the two paths per read, across read
sizes: more than three times less for small reads, as the paper found on HP-UX.
The **CPU** pane shows the machine's counters: the system calls both processes made.
""",
)
def saved(run):
    k = run.kernel
    r = k.personality.reads
    c = inspect.counters(k)
    run.exhibit("the read path's counters", ["generic calls", "specialized calls", "replugs", "guards that waited"],
                [[r.generic_calls, r.specialized_calls, r.replugs, r.waits]])  # fmt: skip
    run.check("the parent's reads before the second open were specialized, the rest generic",
              r.specialized_calls >= 4 and r.generic_calls >= 64, f"{r.specialized_calls} specialized, "
              f"{r.generic_calls} generic calls (restarts after a disk wait count again)")  # fmt: skip
    run.ask("How many system calls did the machine take?", c.syscalls)
