"""The O_TRUNC surprise (Poking Holes, seed 004 §4.2, Tables 1-3).

Squid rewrote each cache object with open(O_TRUNC)-write-close. The paper
first found mmap far cheaper, then that most of the difference was O_TRUNC:
truncating releases the file's blocks, and the write allocates them again.
Here fs_tables.elf runs each variant on a fresh disk; the checks read the
file system's own counts of block-map changes and what the file holds.
"""

import re

from kernel import inspect
from kernel.fs.format import build_image
from kernel.sys.trace import Syscall
from scenarios.engine import Lesson

lesson = Lesson(
    "o_trunc",
    "The O_TRUNC surprise",
    "Squid's open(O_TRUNC)-write-close against the paper's mmap, a correct mmap and a write that does not "
    "truncate: where the time goes, and what the file holds (Poking Holes §4.2).",
)
ITER = 40
SIZE = 6000  # bytes of the cache object
LINE = re.compile(r"(\d+) cycles each; the file holds the object: (\w+)")


def variant(run, name):
    """fs_tables NAME on a fresh disk: cycles per iteration, whether the file holds the object, the fs counts."""
    k = run.boot(init="fs_tables", argv=["fs_tables", name, str(ITER), str(SIZE)],
                 disk_image=build_image({}, spare_blocks=2048))  # fmt: skip
    why = run.run_until_exit(k)
    m = LINE.search(run.console(k))
    fs = inspect.fs_counters(k)
    out = {"cycles": int(m.group(1)) if m else 0, "holds": bool(m) and m.group(2) == "yes", "why": why,
           "allocs": fs.get("block_allocs", 0), "frees": fs.get("block_frees", 0), "text": run.console(k).strip()}  # fmt: skip
    run.state[name] = out
    return out


def row(name, v):
    return [
        name,
        f"{v['cycles']:,}",
        f"{run_us(v['cycles']):.1f}",
        v["allocs"],
        v["frees"],
        "yes" if v["holds"] else "NO",
    ]


def run_us(cycles):
    return cycles / 133


COLUMNS = [
    "variant",
    "cycles/iter",
    "µs",
    "allocs",
    "frees",
    "holds it",
]  # allocs, frees: block-map changes over the run


@lesson.step(
    "Squid's way: open(O_TRUNC), write, close",
    pane="Console",
    narration=f"""
Squid keeps each cached web object in a file of its own and rewrites it with
`open(path, O_TRUNC|O_WRONLY|O_NONBLOCK)`, `write`, `close`. Poking Holes (seed 004 §4.2)
timed 10,000 of these: **542.86 s**.

`fs_tables t1-write {ITER} {SIZE}` does the same {ITER} times on this workbench's disk, after a
warm-up, and prints the cycles per iteration (`rpcc`: virtual time). The table counts the
file system's block-map changes over the whole run (kernel/fs/extentfs.py: each file is one
extent; truncating gives its blocks back, and a write to an empty file allocates an extent).
""",
)
def squid(run):
    v = variant(run, "t1-write")
    run.exhibit("Table 1's write", COLUMNS, [row("t1-write", v)])
    run.check("the program ran to its end", v["why"] == "all processes exited" and v["cycles"] > 0, v["text"])
    run.check("every iteration freed the file's blocks and allocated them again",
              v["frees"] >= ITER and v["allocs"] >= ITER, f"{v['allocs']} allocations, {v['frees']} frees")  # fmt: skip
    run.ask("How many cycles does one iteration take (the Console's line)?", v["cycles"])


@lesson.step(
    "The paper's mmap, and what the file holds",
    pane="Console",
    narration="""
The paper's replacement: `open`, `mmap`, `memcpy`, `munmap`, `close` -- **186.60 s**, about a
third. But look at the code it measured: the mapping is `MAP_PRIVATE`. A private mapping is
copy-on-write: the process's stores go to its own copy of the page, never to the file.

`fs_tables t1-mmap` runs that sequence and then reads the file back.
""",
)
def paper_mmap(run):
    v = variant(run, "t1-mmap")
    run.exhibit("Table 1", COLUMNS, [row("t1-write", run.state["t1-write"]), row("t1-mmap", v)])
    run.check("after the MAP_PRIVATE variant the file does not hold the object", not v["holds"], v["text"])
    run.ask("Does the file hold the object after the paper's mmap variant (yes/no)?", "yes" if v["holds"] else "no")


@lesson.step(
    "A correct mmap, and a write without O_TRUNC",
    pane="Console",
    narration="""
Table 2 fixes the mapping: `fstat`, `mmap(MAP_SHARED)` of what fits, `memcpy`, `munmap`,
`write` the rest, `ftruncate` to the new size: **343.15 s** against the write's 802.44 s.

Table 3 asks what the write costs *without* `O_TRUNC`: `open`, `write`, `ftruncate`,
`close` -- **396.32 s**, and mmap (364.06 s) is then only 8-10% cheaper. Most of what mmap
seemed to save was `O_TRUNC`'s release of the file's blocks, allocated again by every write.
""",
)
def fixed(run):
    m = variant(run, "t2-mmap")
    w = variant(run, "t3-write")
    t1 = run.state["t1-write"]
    run.exhibit("Tables 1-3 on the workbench", COLUMNS,
                [row("t1-write", t1), row("t1-mmap", run.state["t1-mmap"]), row("t2-mmap", m), row("t3-write", w)])  # fmt: skip
    run.check("the shared mapping's stores reach the file", m["holds"], m["text"])
    run.check("the write without O_TRUNC allocates no blocks once the file has them",
              w["allocs"] <= 2 and w["frees"] == 0, f"{w['allocs']} allocations, {w['frees']} frees")  # fmt: skip
    run.check("without O_TRUNC the write is cheaper by more than a fifth",
              w["cycles"] * 1.2 < t1["cycles"], f"{t1['cycles']:,} cycles with O_TRUNC, {w['cycles']:,} without: {t1['cycles'] / max(1, w['cycles']):.1f} times")  # fmt: skip
    run.ask("How many cycles does an iteration without O_TRUNC take (the Console's line)?", w["cycles"])


def one_iteration(run, name):
    """The system calls of the timed iteration of ``name``, each with the cycles
    since the call before it ended (a Syscall record's cycle is the call's end:
    the call's own time, and the few user instructions before it)."""
    k = run.boot(
        init="fs_tables", argv=["fs_tables", name, "1", str(SIZE)], disk_image=build_image({}, spare_blocks=256)
    )
    k.trace.enabled = True
    run.run_until_exit(k)
    calls = [r for r in k.trace.of(Syscall) if r.pid == 1]
    opens = [i for i, r in enumerate(calls) if r.name == "open"]
    if len(opens) < 3:
        return []
    hi = opens[-2]  # opens: the first write, the warm-up, the timed iteration, the read-back
    return [(calls[i].name, calls[i].cycle - calls[i - 1].cycle) for i in range(hi, opens[-1])]


@lesson.step(
    "Inside one iteration: which call pays",
    pane="Trace",
    watch=True,
    narration="""
Where does `O_TRUNC`'s cost land? Not in a call of its own: in `open`, which truncates
(the file's chunks leave the cache, its extent goes back to the free map), and in `write`,
which finds an empty file and allocates an extent and a fresh zeroed chunk for it. The
table lists the timed iteration's system calls, each with the cycles since the call before
it returned (its own time and the few instructions before it), with and without `O_TRUNC`.
""",
)
def inside(run):
    t1, t3 = one_iteration(run, "t1-write"), one_iteration(run, "t3-write")
    rows = [[f"t1-write {n}", c] for n, c in t1] + [[f"t3-write {n}", c] for n, c in t3]
    run.exhibit("one iteration's calls", ["call", "cycles"], rows)
    o1 = next((c for n, c in t1 if n == "open"), 0)
    o3 = next((c for n, c in t3 if n == "open"), 0)
    w1 = next((c for n, c in t1 if n == "write"), 0)
    w3 = next((c for n, c in t3 if n == "write"), 0)
    run.check("the truncating open costs more than the plain one", o1 > o3, f"{o1} against {o3} cycles")
    run.check("and the write after it costs more than the write over the file's blocks", w1 > w3,
              f"{w1} against {w3} cycles")  # fmt: skip
    run.ask("Which system call does the truncation itself happen in?", "open")


@lesson.step(
    "What to take away",
    pane="Scenario",
    narration="""
Poking Holes' point (§4.2): before pushing code into the kernel, look at what the
sequence asks the kernel for. The `O_TRUNC` write was not slow because of the system-call
boundary but because of a semantics it did not need -- release the blocks, then allocate
them again. A rewrite that keeps the semantics the application needs (write over the old
bytes, then `ftruncate` to the new size) gets most of the gain, with no new kernel code.

And measure what a variant *does*, not only how fast it is: the paper's fastest variant
left the file as it was.
""",
)
def takeaway(run):
    t1, t3, pm = run.state["t1-write"], run.state["t3-write"], run.state["t1-mmap"]
    run.check("the plain write keeps the file right", t3["holds"], t3["text"])
    run.check("the truncating write's extra cost is the block-map work",
              t1["allocs"] - t3["allocs"] >= ITER and t1["frees"] - t3["frees"] >= ITER,
              f"allocations {t1['allocs']} vs {t3['allocs']}, frees {t1['frees']} vs {t3['frees']}")  # fmt: skip
    run.ask("Which variant was fastest but wrong?", "t1-mmap" if not pm["holds"] else "-")
