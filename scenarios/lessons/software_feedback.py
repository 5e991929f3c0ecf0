"""Software feedback on read-ahead, with and without damping (Synthetix §3.2 and §4)."""

from kernel.core.probe import install_probe
from kernel.fs import readworld
from kernel.fs.readahead import DAMPED, Window
from scenarios.engine import Lesson

lesson = Lesson(
    "software_feedback",
    "Software feedback: a read-ahead window, undamped and damped",
    "The buffer cache reads ahead by a window a feedback loop sets from what each read saw; "
    "undamped, the window swings; damped (smoothed, a band, one step, a hold after each change), it settles.",
)
CHUNKS, RANDOM = 48, 24  # reads in each sequential phase, and in the random one
IMAGE = readworld.image(CHUNKS)
ARGV = readworld.argv(CHUNKS, RANDOM)


def boot(run, policy):
    """A fresh workstation running readphases with read-ahead ``policy`` (the probe times its phases)."""
    k = run.boot(init="readphases", argv=ARGV, disk_image=IMAGE, readahead=policy)
    install_probe(k)
    return k


def finish(run, k, policy):
    """Run ``k`` to its end; what it measured, kept by policy."""
    why = run.run_until_exit(k)
    m = readworld.measure(k, policy, run.console(k).encode())
    run.state[policy] = m
    return why, m


def virtual(cycles):
    """Virtual µs as the CPU pane prints them."""
    return f"{cycles / 133:,.1f}"


def phase(m, name):
    return next((p for p in m.phases if p.name == name), None)


def by_phase(m):
    """The window's values in each phase, in order (the value it entered the phase with first)."""
    t = m.windows[0][0] if m.windows else 0
    out = []
    for p in m.phases:
        before = [w for c, w in m.windows if c <= t]
        out.append(before[-1:] + [w for c, w in m.windows if t < c <= t + p.cycles])
        t += p.cycles
    return out


def turns_in_sequential_phases(m):
    """Changes of direction of the window inside each sequential phase (not at the phase changes)."""
    out = {}
    for p, ws in zip(m.phases, by_phase(m), strict=False):
        if p.name.startswith("seq"):
            last, n = 0, 0
            for a, b in zip(ws, ws[1:], strict=False):
                move = 1 if b > a else -1
                n += last not in (0, move)
                last = move
            out[p.name] = n
    return out


def moves(k):
    return k.fs.readahead.moves


def windows(k, n):
    """The newest ``n`` Window records."""
    return k.trace.of(Window)[-n:]


@lesson.step(
    "On demand only",
    pane="Console",
    watch=True,
    pace_us=300_000,
    narration=f"""
`readphases` reads a file 8 KiB at a time -- one chunk of the buffer cache
(`kernel/fs/extentfs.py`) -- in three phases: {CHUNKS} reads in order from the start
(**seq1**), {RANDOM} at random places in the middle (**random**), {CHUNKS} in order to
the end (**seq2**), computing about 3.9 ms after each read. Here the cache reads **on
demand** only (read-ahead policy `none`): each read of a chunk not yet in blocks the
program for the disk, and because the program computed since the last one, the next
chunk has just turned past the head -- the disk waits most of a revolution (11.1 ms)
for it. When the program ends, read each phase's **cycles** (virtual time, the
machine's clock) on the **Console** pane.
""",
)
def on_demand(run):
    k = boot(run, "none")
    why, m = finish(run, k, "none")
    f = m.figures
    run.check("the program read every phase to its end", m.status == 0 and len(m.phases) == 3,
              f"{why}; exit {m.status}; phases {[p.name for p in m.phases]}")  # fmt: skip
    run.check("nearly every read waited for the disk", f["waited"] >= 0.9 * f["reads"],
              f"{f['waited']} of {f['reads']} reads waited; {f['prefetched']} chunks read ahead")  # fmt: skip
    run.ask("How many cycles did the seq1 phase take? (Console)", phase(m, "seq1").cycles)


@lesson.step(
    "A fixed window",
    pane="CPU",
    watch=True,
    pace_us=200_000,
    narration="""
Read-ahead with a **fixed** window of 8 chunks: after each read the file system queues
the next 8 chunks the cache lacks, behind the read's own, on the disk's one queue
(`kernel/fs/readahead.py`, called once from `ExtentFS.read`). In the sequential phases
the chunks are in before the program asks: it stops waiting. In the random phase every
read queues 8 chunks nobody will read -- **wasted** read-ahead -- and the next read's
chunk waits behind them. When the run ends, read the **virtual** time on the **CPU** pane.
""",
)
def fixed(run):
    k = boot(run, "fixed:8")
    _, m = finish(run, k, "fixed:8")
    none = run.state["none"]
    seq = {n: phase(m, n).cycles / phase(none, n).cycles for n in ("seq1", "seq2")}
    run.check("the sequential phases went at least twice as fast as on demand", max(seq.values()) < 0.5,
              ", ".join(f"{n}: {r:.0%} of on demand's time" for n, r in seq.items()))  # fmt: skip
    slow = phase(m, "random").cycles / phase(none, "random").cycles
    run.check("the random phase went slower than on demand: read-ahead wasted, and waited behind", slow > 1.2,
              f"random phase {slow:.0%} of on demand's time; {m.figures['wasted']} chunks read ahead and never read")  # fmt: skip
    run.ask("What virtual time does the CPU pane show? (µs)", virtual(k.sal.now))


@lesson.step(
    "Feedback: a read waited",
    pane="Trace",
    watch=True,
    pace_us=5_000,
    narration="""
Now the window is set by **software feedback** (Synthetix §3.2): each read is a sample
-- did it **wait**, how many chunks were already in ahead of it (the **lead**), was read-
ahead **wasted**, was it **sequential** -- and a controller turns samples into the window.
In Synthetix's terms it guards a quasi-invariant, "reads do not wait and read-ahead is
neither wasted nor far ahead"; a violation is the guard firing, and the feedback action
moves the window. This controller is **undamped**: a sample that waited doubles the
window, a lead of more than one chunk halves it, a random read halves it. The lesson
stops the machine at the first move: the **Trace** pane's newest `Window` record says
which stream, the old and new window, and why.
""",
)
def first_move(run):
    k = boot(run, "undamped")
    run.state["undamped_k"] = k
    run.run_to(k, lambda: moves(k) >= 1, chunk=2000, budget=50_000_000)
    last = windows(k, 1)
    run.check("the controller moved the window", bool(last), f"{moves(k)} moves")
    r = last[-1] if last else None
    run.check("its first move was a raise, after a read waited", r is not None and r.new > r.old
              and r.reason.startswith("waited"), f"{r.old} -> {r.new}: {r.reason}" if r else "none")  # fmt: skip
    run.ask("What reason does the newest Window record give? (Trace)", r.reason if r else "-")


@lesson.step(
    "Undamped, it swings",
    pane="Console",
    watch=True,
    pace_us=160_000,
    narration="""
The run goes on to its end. The loop has a **delay**: a raised window shows in the
samples only once the disk has delivered what it asked for, a lowered one only once the
program has used up the chunks already in ahead. Reacting to every sample, the undamped
controller raises while its first raise is still on the way and lowers while the old
lead drains: in the sequential phases the window swings 1, 2, 4, 2, 1, 2, 4... Each swing
down ends in reads that wait again. Read **seq2**'s cycles on the **Console**.
""",
)
def undamped(run):
    k = run.state["undamped_k"]
    _, m = finish(run, k, "undamped")
    inside = turns_in_sequential_phases(m)
    run.check("the window turned again and again inside the sequential phases", min(inside.values(), default=0) >= 3,
              f"turns inside {inside}; {m.figures['turns']} turns in all, {m.figures['moves']} moves")  # fmt: skip
    run.check("it still waited less than on demand", m.figures["waited"] < run.state["none"].figures["waited"],
              f"{m.figures['waited']} reads waited against {run.state['none'].figures['waited']}")  # fmt: skip
    run.ask("How many cycles did the seq2 phase take? (Console)", phase(m, "seq2").cycles)


@lesson.step(
    "Damped: smoothed, a band, one step, a hold",
    pane="Trace",
    watch=True,
    pace_us=15_000,
    narration=f"""
The **damped** controller takes the same samples and acts on the same rules, with
damping: each measurement is smoothed (an exponentially weighted average, about two
reads); it acts only outside a **band** (a lead of up to {DAMPED.lead_hi:.0f} chunks is
fine); it raises **one chunk** at a time; and after each change it ignores violations
for **{DAMPED.hold_us // 1000} ms**. That is Synthetix §4's prescription: ignore further
violations "for a period of time that is longer than twice the longest possible
propagation delay" -- here a chunk asked for just after it passed the head: a revolution
and a transfer, under 14 ms. The lesson stops at the damped window's third move: on the
**Trace** pane the `Window` records' reasons are averages, not single samples, and each
move is one chunk. (On this workload the hold is not what settles the window: the
smoothing, the band and the one-chunk step do it together, and none of them alone;
docs/software_feedback.md has the runs.)
""",
)
def damped_moves(run):
    k = boot(run, "damped")
    run.state["damped_k"] = k
    run.run_to(k, lambda: moves(k) >= 3, chunk=2000, budget=80_000_000)
    rs = windows(k, 3)
    run.check("three moves, each one chunk up on a smoothed wait rate", len(rs) == 3
              and all(r.new == r.old + 1 and r.reason.startswith("waited 0.") for r in rs),
              "; ".join(f"{r.old} -> {r.new} ({r.reason}) at {r.cycle / 133_000:.1f} ms" for r in rs))  # fmt: skip
    run.ask("What window did the newest Window record move to? (Trace)", f"new={rs[-1].new}" if rs else "-")


@lesson.step(
    "Damped, it settles",
    pane="CPU",
    watch=True,
    pace_us=150_000,
    narration="""
The damped run goes on to its end. In each sequential phase the window climbs to where
the lead covers the disk's delay and stays; in the random phase the jumps and the
wasted chunks bring it down to 0, and it climbs again in seq2. When the run ends, read
the **virtual** time on the **CPU** pane and compare it with the fixed window's.
""",
)
def damped(run):
    k = run.state["damped_k"]
    _, m = finish(run, k, "damped")
    inside = turns_in_sequential_phases(m)
    run.check("the damped window settles: no turn inside a sequential phase, at most two in all",
              max(inside.values(), default=0) == 0 and m.figures["turns"] <= 2,
              f"turns inside {inside}; {m.figures['turns']} in all; windows {[w for _, w in m.windows]}")  # fmt: skip
    none = run.state["none"].figures
    run.check("the damped run waited less than on demand", m.figures["waited"] < none["waited"] / 2,
              f"{m.figures['waited']} reads waited against {none['waited']} on demand")  # fmt: skip
    run.ask("What virtual time does the CPU pane show? (µs)", virtual(k.sal.now))


@lesson.step(
    "Four policies side by side",
    pane="Scenario",
    narration="""
The four runs: reads that **waited**, chunks **read ahead** and **wasted**, the window's
**moves** and **turns** (changes of direction: oscillation), and each phase's time
(**modeled**: virtual time at 133 MHz). Below, the window's values in order in each phase, undamped
and damped. `spinwb bench feedback` runs the same comparison twice as long, with a chart
of the window over virtual time. The departures: the stream is a
(strand, file) pair, not the open file (the file system does not see it), and the
figures are this workload's, not a measured trace -- Synthetix gives none for read-ahead.
""",
)
def verdict(run):
    rows = []
    for p in ("none", "fixed:8", "undamped", "damped"):
        m = run.state[p]
        f = m.figures
        rows.append([p, f["waited"], f["prefetched"], f["wasted"], f["moves"], f["turns"],
                     *(f"{phase(m, n).cycles / 133_000:.0f}" for n in ("seq1", "random", "seq2"))])  # fmt: skip
    run.exhibit("the same program under each read-ahead policy (phase times modeled, ms)",
                ["policy", "waited", "read ahead", "wasted", "moves", "turns", "seq1 ms", "random ms", "seq2 ms"],
                rows)  # fmt: skip
    und, dam = run.state["undamped"], run.state["damped"]
    run.exhibit("the window's values in order, phase by phase (chunks)", ["policy", "seq1", "random", "seq2"],
                [[name, *(" ".join(map(str, ws)) or "-" for ws in by_phase(m))] for name, m in
                 (("undamped", und), ("damped", dam))])  # fmt: skip
    run.check("damping cut the turns", dam.figures["turns"] < und.figures["turns"],
              f"damped {dam.figures['turns']}, undamped {und.figures['turns']}")  # fmt: skip
    run.ask("How many times did the undamped window turn? (the table)", und.figures["turns"])
    least = min(("none", "fixed:8", "undamped", "damped"), key=lambda p: run.state[p].figures["waited"])
    run.ask("Which policy's reads waited least? (the table)", least)
