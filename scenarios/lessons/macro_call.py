"""A macro system call found by a profile and then installed (Poking Holes §4-5)."""

from kernel import inspect
from kernel import profile as P
from kernel.fs.format import build_image
from kernel.sys.trace import Exit, Syscall
from scenarios.engine import CLOCK_MHZ, Lesson

lesson = Lesson(
    "macro_call",
    "A macro system call, found by profiling",
    "Profile a program, find its open-read-close, push it into the kernel as one call, and measure.",
)
FILES = {f"f{i}.txt": bytes((i * 29 + j * 3) & 0xFF for j in range(90 * i + 30)) for i in range(1, 5)}
PATHS = [f"/{n}" for n in sorted(FILES)]
ROUNDS = 5
USES = ROUNDS * len(FILES)


def exit_status(k):
    return next((r.status for r in reversed(k.trace.of(Exit)) if r.pid == 1), None)


def run_program(run, program, extension=False):
    """Boot ``program ROUNDS FILE...`` on a disk holding the four files (with the macro-call extension if asked)."""
    k = run.boot(init=program, argv=[program, str(ROUNDS), *PATHS], disk_image=build_image(FILES))
    if extension:
        run.load(k, "macro_calls")
    return k


def calls_of(k):
    return P.calls(r for r in k.trace.of(Syscall) if r.pid == 1)


@lesson.step(
    "A program that reads small files",
    pane="Console",
    watch=True,
    pace_us=300,
    narration=f"""
Poking Holes (2002) began with `strace` on Squid, a web proxy, and saw the same few calls
over and over: each cached object was one `open`, one `write`, one `close` (§4.2). Our
program is the reading half of that: `smallfiles {ROUNDS} {" ".join(PATHS)}` opens each of
four small files, reads it and closes it, {ROUNDS} times over, then prints each file's size
and byte sum on the **Console**. Three system calls a file: six user/kernel crossings.
""",
)
def user_way(run):
    k = run_program(run, "smallfiles")
    run.run_until_exit(k)
    out = run.console(k)
    run.check("smallfiles read every file and exited 0", exit_status(k) == 0 and f"{USES} files read" in out,
              out.strip())  # fmt: skip
    run.state.update(user_out=out, user=k, user_crossings=k.sal.crossings)
    run.ask("How many files did smallfiles read in all?", USES)


@lesson.step(
    "Its system calls, one record each",
    pane="Trace",
    narration="""
The kernel keeps a **Syscall** record for every call that returns (kernel/sys/trace.py): the
call's number and name, its result, and -- for `spinwb profile` -- when it was first entered,
its argument registers, how many kernel entries it took and the path it named. The
**Trace** pane lists the last ones: the last round's `open`/`read`/`close` for each file,
then the `write`s of the report. `spinwb profile` turns the same records into strace's
lines, with modeled time:

    open("/f1.txt", O_RDONLY) = 3              [4.0 µs]
    read(3, 0x120010020, 4096) = 120           [1.8 µs]
    close(3) = 0                               [1.7 µs]
""",
)
def records(run):
    k = run.state["user"]
    cs = calls_of(k)
    lines = [P.strace_line(c) for c in cs]
    run.check("the records name the path each open read", [c.text for c in cs if c.name == "open"][:4] == PATHS,
              "\n".join(lines[:6]))  # fmt: skip
    first_read = next((c for c in cs if c.name == "read"), None)
    run.check("the first read of a file waited for the disk: 2 kernel entries, one call",
              first_read is not None and first_read.entries == 2, lines[1] if len(lines) > 1 else "")  # fmt: skip
    run.exhibit("the first calls, as spinwb profile prints them", ["call"], [[line] for line in lines[:6]])
    opens = [c for c in cs if c.name == "open"]
    run.ask("What descriptor did each open return (the result of the open records)?", opens[-1].result if opens else -1)


@lesson.step(
    "The profile: a sequence worth one call",
    pane="Scenario",
    narration="""
A *sequence* is a run of 2 to 4 contiguous calls of one process. Made into one **macro
call** it would enter and leave the kernel once instead of n times: 2n - 2 crossings fewer
per use, and the modeled cost of those entries and returns (the PAL entry and return, the
trap's bookkeeping, the dispatch) -- at most, since the macro call's own work stays.

Ranked by count × crossings saved, the loop's rotations (`read → close → open`) score
nearly as well as `open → read → close`, but they are not *self-contained*: they close a
descriptor opened before them or leave one open after. Only a self-contained sequence can
be one call that leaves nothing behind, so the candidate is `open_read_close`.
""",
)
def profile(run):
    prof = P.Profile(calls_of(run.state["user"]))
    seqs = prof.seqs[:5]
    run.exhibit("most frequent sequences (pid 1)", ["sequence", "count", "crossings saved", "µs saved (at most)",
                "self-contained"],
                [[" → ".join(s.calls), s.count, s.count * s.crossings_saved, f"{s.micros_saved:.1f}",
                  "yes" if s.self_contained else "no"] for s in seqs])  # fmt: skip
    cands = P.candidates(prof.seqs)
    top = cands[0] if cands else None
    run.check("the top candidate is open → read → close, once per file read",
              top is not None and top.calls == ("open", "read", "close") and top.count == USES,
              f"{top.name} x {top.count}" if top else "no candidate")  # fmt: skip
    run.check("the loop's rotations are ranked but not candidates",
              any(not s.self_contained for s in seqs) and all(c.self_contained for c in cands),
              ", ".join(f"{s.name}: {'yes' if s.self_contained else 'no'}" for s in seqs))  # fmt: skip
    run.state["predicted"] = top.count * top.crossings_saved if top else 0
    run.state["bound_us"] = top.micros_saved if top else 0.0
    run.ask("How many crossings would the open → read → close macro call save in this run?",
            run.state["predicted"])  # fmt: skip


@lesson.step(
    "The macro call as an extension",
    pane="Events",
    narration="""
`extensions/macro_calls.py` adds **open_read_close(path, buf, n)** as system call 0x7600: a
handler on **Trap.SystemCall** guarded on its number, so the UNIX personality never sees
it. Inside, it calls the personality's own open, read and close on the calling process
through the **Unix** interface (kernel/unix/calls_ext.py) -- the same read path a `read`
takes. Each of those calls is checked (the state must be the call being handled, from a
process the extension serves) and charged as a call into the kernel.

A read that waits for the disk blocks the strand and the call *restarts* when the disk is
done; the extension keeps what it has done in the call's `Progress` list, so the restarted
call never opens the file twice. On the **Events** pane, `Trap.SystemCall` now has the
extension's binding beside the personality's.
""",
)
def install(run):
    k = run_program(run, "smallfiles_macro", extension=True)
    run.show_event("Trap.SystemCall")
    rows = inspect.bindings(k, "Trap.SystemCall")
    mine = [b for b in rows if b.owner == "macro_calls"]
    run.check("Trap.SystemCall has the extension's guarded handler", len(mine) == 1 and mine[0].guard == "ours",
              "; ".join(f"#{b.id} {b.owner} {b.handler} guard {b.guard}" for b in rows))  # fmt: skip
    run.state["macro"] = k
    run.ask("Which extension owns the binding guarded by `ours`?", mine[0].owner if mine else "none")


@lesson.step(
    "The same output, a third of the crossings",
    pane="Console",
    watch=True,
    pace_us=300,
    narration=f"""
`smallfiles_macro` does the same work with one `open_read_close` per file. The **Console**
should say exactly what `smallfiles` said. Each file is now one entry and one return: two
crossings instead of six, {USES} times.
""",
)
def macro_way(run):
    k = run.state["macro"]
    run.run_until_exit(k)
    out = run.console(k)
    run.check("the same output as smallfiles", exit_status(k) == 0 and out == run.state.get("user_out"), out.strip())
    cs = calls_of(k)
    uses = [c for c in cs if c.name == "open_read_close"]
    run.check("one open_read_close per file read, and no open, read or close",
              len(uses) == USES and not any(c.name in ("open", "read", "close") for c in cs),
              ", ".join(sorted({c.name for c in cs})))  # fmt: skip
    saved = run.state.get("user_crossings", 0) - k.sal.crossings
    run.check("it saved exactly the crossings the profile predicted", saved == run.state.get("predicted"),
              f"{run.state.get('user_crossings')} -> {k.sal.crossings} crossings: {saved} saved")  # fmt: skip
    run.state["saved_crossings"] = saved
    run.ask("How many files did smallfiles_macro read?", USES)


@lesson.step(
    "What it saved, and what safety cost",
    pane="Scenario",
    narration=f"""
The table compares a use -- one file read -- each way, in modeled µs at {CLOCK_MHZ} MHz,
from the calls' records after the first round (whose reads waited for the disk). The macro
call saves the entries and returns, but less than the profile's bound: as an extension it
pays for its own safety -- the imposed guard, each Unix call's checks (EXT_CALL), and the
fuel checks the verifier put in its code (EXT_FUEL). `spinwb bench macro` runs the same
call as trusted kernel code too, and prints the three ways of Poking Holes §3.2 side by side.
""",
)
def compare(run):
    files = len(FILES)
    user = [c for c in calls_of(run.state["user"]) if c.name in ("open", "read", "close")][3 * files :]
    macro = [c for c in calls_of(run.state["macro"]) if c.name == "open_read_close"][files:]
    warm = USES - files
    ut = sum(c.cycles for c in user) / warm
    mt = sum(c.cycles for c in macro) / warm
    run.exhibit("a use, open + read + close vs open_read_close (after the first round)",
                ["way", "calls", "crossings", "modeled µs"],
                [["smallfiles", 3, 6, f"{ut / CLOCK_MHZ:.2f}"],
                 ["smallfiles_macro", 1, 2, f"{mt / CLOCK_MHZ:.2f}"]])  # fmt: skip
    bound = 2 * P.ENTRY_CYCLES
    run.check("a use took less modeled time, but no more was saved than two entries and returns",
              len(user) == 3 * warm and len(macro) == warm and 0 < ut - mt <= bound,
              f"saved {(ut - mt) / CLOCK_MHZ:.2f} µs a use of at most {bound / CLOCK_MHZ:.2f}")  # fmt: skip
    run.ask("How many crossings did the macro call save in all?", run.state.get("saved_crossings"))
