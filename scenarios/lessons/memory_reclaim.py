"""Physical memory reclaimed under pressure: PhysAddr.Reclaim and a volunteered page (SOSP'95 §4.1)."""

from kernel import inspect
from kernel.core.physaddr import Reclaimed
from kernel.fs.format import build_image
from kernel.sys.trace import Boot, Exit
from scenarios.engine import Lesson

lesson = Lesson(
    "memory_reclaim",
    "Memory reclaimed under pressure",
    "PhysAddr.Reclaim asks for a frame back; an extension volunteers one of its own instead.",
)
MEMORY = 2 << 20  # a 2 MiB machine, so memory runs out in a few hundred faults
DATA = bytes(range(256)) * 256  # a 64 KiB file: 8 chunks in the buffer cache
PAGES = 400  # more pages than the machine has: pressure touches them until it is killed
SPARES = 4


def reclaims(k):
    return k.trace.of(Reclaimed)


@lesson.step(
    "A small machine with a file on its disk",
    pane="Trace",
    narration="""
The machine has **2 MiB** (256 frames of 8 KiB): small, so memory runs out in a few
hundred page faults. Its disk holds one 64 KiB file, `data`. Read the boot records on
the **Trace** pane: the `PhysAddr` line says how many frames it manages, the `disk`
line what the file system found.

PhysAddr reclaims only frames allocated *reclaimable*; here that is the file system's
buffer cache (`kernel/fs/extentfs.py`). A process's anonymous pages are never taken
back: the workbench has no swap, so a page it cannot find ends in the out-of-memory
killer. (33.1's PhysAddr considered every active frame, FIFO with a second chance,
spin-reference.md §4; the narrower candidate set is the workbench's own.)
""",
)
def small_machine(run):
    k = run.boot(init="pressure", argv=["pressure", "data", str(PAGES)], memory=MEMORY,
                 disk_image=build_image({"data": DATA}))  # fmt: skip
    log = {r.step: r.detail for r in k.trace.of(Boot)}
    phys = log.get("PhysAddr", "")
    run.check("the boot log has a PhysAddr line and a disk line", "PhysAddr" in log and "disk" in log,
              f"PhysAddr: {phys}; disk: {log.get('disk', 'none')}")  # fmt: skip
    managed = inspect.counters(k).frames
    run.check(f"PhysAddr manages {managed} frames, as its boot line says", f"({managed} free)" in phys, phys)
    run.state["managed"] = managed
    run.ask("How many frames does PhysAddr manage on this machine (the PhysAddr boot record)?", managed)


@lesson.step(
    "An extension keeps spare frames and handles Reclaim",
    pane="Events",
    narration="""
`extensions/spare_frames.py` allocates 4 frames it can do without and installs a
handler on **PhysAddr.Reclaim** (SOSP'95 Fig. 3: `PROCEDURE Reclaim(candidate: T): T`,
"clients may handle this event to nominate alternative candidates"). The handler gets
the kernel's candidate as a read-only view and returns a frame: one of its spares,
while it has one, or the candidate.

On the **Events** pane the cursor starts on `PhysAddr.Reclaim`: below the table are its
bindings in dispatch order, the kernel's intrinsic (owner `PhysAddr`, which answers the
candidate itself) and the extension's `volunteer`. The event is a *result* event: the
last handler's answer is the one the kernel uses.
""",
)
def load_extension(run):
    k = run.kernel
    before = inspect.counters(k).free_frames
    run.load(k, "spare_frames", SPARES=SPARES)
    after = inspect.counters(k).free_frames
    rows = inspect.bindings(k, "PhysAddr.Reclaim")
    owners = [f"#{b.id} {b.owner} {b.handler}" for b in rows]
    run.check("PhysAddr.Reclaim has the intrinsic, then the extension's handler",
              [b.owner for b in rows] == ["PhysAddr", "spare_frames"], ", ".join(owners))  # fmt: skip
    kept = inspect.extension_globals(k, "spare_frames").get("kept", [])
    run.check(f"the extension took {SPARES} frames", len(kept) == SPARES and before - after == SPARES,
              f"free frames {before} -> {after}; it holds frames {', '.join(hex(p) for p in kept)}")  # fmt: skip
    run.state["kept"] = kept
    run.ask("Who owns the second binding on PhysAddr.Reclaim?", rows[-1].owner if rows else "none")
    run.ask("What is the extension's handler called?", rows[-1].handler if rows else "none")


@lesson.step(
    "The file goes into the buffer cache",
    pane="Console",
    narration="""
`pressure` reads `data` to its end. Each 8 KiB chunk comes off the disk into a frame of
the buffer cache; once the disk has filled it, the file system marks it reclaimable
(`PhysAddr.make_reclaimable`). These 8 frames are the kernel's reclaim candidates,
oldest first. The program says what it read on the **Console** pane.
""",
)
def fill_cache(run):
    k = run.kernel
    ok = run.run_to(k, lambda: "buffer cache" in run.console(k), chunk=200, budget=50_000_000)
    run.check("pressure read the whole file", ok and f"read data: {len(DATA)} bytes" in run.console(k),
              run.console(k).strip())  # fmt: skip
    run.state["free_after_read"] = inspect.counters(k).free_frames
    run.ask("How many bytes did pressure read into the cache?", len(DATA))


@lesson.step(
    "Pressure: the free frames run out",
    pane="CPU",
    watch=True,
    pace_us=400,
    narration="""
Now `pressure` touches fresh pages one by one. Each touch is a **PageNotPresent** fault;
the UNIX personality's address-space handler takes a zeroed frame from PhysAddr and maps
it. Watch **free frames** on the **CPU** pane fall with the **faults** count, one frame a
fault (and one more now and then for a page-table page). The step stops at the first
fault that finds no free frame: PhysAddr must reclaim one.
""",
)
def pressure(run):
    k = run.kernel
    start = run.state["free_after_read"]
    ok = run.run_to(k, lambda: bool(reclaims(k)), chunk=5, budget=50_000_000)
    c = inspect.counters(k)
    run.check("PhysAddr had to reclaim", ok, f"{len(reclaims(k))} reclaims; free frames {start} -> {c.free_frames}")
    run.check("no frame was free when it did", c.free_frames == 0, f"free frames {c.free_frames}, faults {c.faults}")
    run.ask("How many faults had the kernel taken when memory ran out (CPU pane)?", c.faults)
    run.ask("How many frames were free then?", c.free_frames)


@lesson.step(
    "The kernel asks for a cache frame; the extension gives a spare",
    pane="Trace",
    narration="""
The **Trace** pane's `Reclaimed` record says what happened. PhysAddr's candidate was its
oldest reclaimable frame, the cache's first chunk (`cache data#0`). It raised
`PhysAddr.Reclaim(candidate)`; `spare_frames` answered with the handle of a spare, a
page "of less importance than the candidate" (§4.1). The kernel took the spare:
`volunteered=True`. It revoked the extension's handle to it (the frame's next owner is a
user page the extension must not reach) and handed it to the faulting process. The
file's first chunk stays in the cache. (In the workbench the `Dispatch
PhysAddr.Reclaim` record just before shows both handlers ran.)
""",
)
def volunteered(run):
    k = run.kernel
    rs = reclaims(k)
    first = rs[0]
    kept = run.state["kept"]
    taken = int(first.taken.split()[0], 16)
    run.check("the candidate was a buffer-cache frame", "cache data#" in first.candidate, first.candidate)
    run.check("the kernel took the extension's volunteered frame, not its candidate",
              first.volunteered and taken in kept and first.taken != first.candidate,
              f"candidate {first.candidate}; taken {first.taken}; the extension's frames "
              f"{', '.join(hex(p) for p in kept)}")  # fmt: skip
    given = inspect.extension_globals(k, "spare_frames").get("given", [])
    run.check(f"the extension gave up one spare and holds {SPARES - 1}",
              len(rs) == 1 and len(given) == 1 and given[0][2] == taken,
              f"{len(rs)} reclaims so far; the extension's record of what it gave: {given}")  # fmt: skip
    run.ask("Which frame did PhysAddr ask for (the candidate)?", first.candidate.split()[0])
    run.ask("Which frame did it take?", first.taken.split()[0])


@lesson.step(
    "When the spares are gone, the cache gives way",
    pane="Scenario",
    watch=True,
    narration="""
`pressure` keeps touching pages. Every fault now needs a reclaim. The table lists each
one: while `spare_frames` has a spare it volunteers it; then it answers the candidate
and the kernel takes the cache's chunks in the order they were filled (FIFO). When no
reclaimable frame is left, the next fault finds nothing to take and the process is
killed (the next step).
""",
)
def spares_gone(run):
    k = run.kernel
    why = run.run_until_exit(k)
    rs = reclaims(k)
    run.exhibit("PhysAddr.Reclaim, each time", ["#", "candidate", "taken", "volunteered"],
                [[i, r.candidate, r.taken, "yes" if r.volunteered else "no"] for i, r in enumerate(rs, 1)])  # fmt: skip
    given = [r.volunteered for r in rs]
    run.check(f"the first {SPARES} reclaims took the spares, the rest the candidate",
              given == [True] * SPARES + [False] * (len(rs) - SPARES) and len(rs) > SPARES,
              f"{sum(given)} volunteered, {len(rs) - sum(given)} candidates")  # fmt: skip
    chunks = [r.taken.split()[-1] for r in rs if not r.volunteered]
    run.check("the cache's chunks went oldest first", chunks == [f"data#{i}" for i in range(len(chunks))],
              " ".join(chunks))  # fmt: skip
    run.check("every process ended", why == "all processes exited", why)
    run.ask("How many reclaims took a volunteered frame?", sum(given))
    run.ask("How many took the kernel's candidate?", len(rs) - sum(given))


@lesson.step(
    "Out of memory",
    pane="Trace",
    narration="""
With no free frame and nothing reclaimable, `PhysAddr.Allocate` raises `OutOfFrames`
(the workbench's; 33.1's Allocate blocks instead, spin-reference.md §4). The personality
kills the process that asked, as Linux's OOM killer would; the kernel runs on. The **Trace** pane's `Exit` record carries the message. Every frame the process held
comes back: the **CPU** pane's free frames are the machine's frames less the idle
strand's two (its kernel stack and page-table root) -- the spares and the cache are gone.
""",
)
def out_of_memory(run):
    k = run.kernel
    exits = [r for r in k.trace.of(Exit) if r.pid == 1]
    msg = exits[-1].message if exits else ""
    run.check("the kernel killed pressure as out of memory", "out of memory" in msg, msg or "no exit record")
    held = msg.split("it held ")[-1].split()[0] if "it held " in msg else "?"
    free = inspect.counters(k).free_frames
    run.check("its frames came back: all but the idle strand's 2 are free", free == run.state["managed"] - 2,
              f"free frames {free} of {run.state['managed']}")  # fmt: skip
    given = inspect.extension_globals(k, "spare_frames").get("given", [])
    run.check("the extension gave up every spare", len(given) == SPARES,
              f"it gave frames {', '.join(hex(g[2]) for g in given)}")  # fmt: skip
    run.ask("How many pages did pressure hold when it was killed (the Exit record)?", held)
