"""Null system call, protected in-kernel call, cross-address-space call (SOSP'95 Table 2)."""

import re

from kernel import inspect
from kernel.core.probe import install_probe
from kernel.sys.interface import Interface
from scenarios.engine import Lesson

lesson = Lesson("syscall_paths", "Three ways to call a service",
                "A system call, a protected in-kernel call into an extension, and a call to another "
                "address space -- SPIN's in-kernel IPC beside DEC OSF/1's sockets (SOSP'95 Table 2).")  # fmt: skip
LINE = re.compile(r"(\w+): (\d+) calls, (\d+) cycles each = ([\d.]+) µs at 133 MHz \(modeled\), "
                  r"(-?\d+) crossings each, (\d+) wrong")  # fmt: skip
N = 50  # calls a measuring run makes (twice: one pass timed, one pass counting crossings)
WATCH_N = 500  # calls in a run long enough to watch
PAPER = {"null": (5, 7, 4), "in-kernel": (None, None, 0.13), "xcall": (845, 104, 89)}  # OSF/1, Mach, SPIN µs
XCALL_NAMES = {0x7500: "xcall_receive", 0x7501: "xcall_call", 0x7502: "xcall_reply_receive", 0x7503: "xcall_reply"}
CALLEE = """
from spin import Lesson, Dispatcher

calls = 0


def service(x):
    global calls
    calls += 1


def init():
    Dispatcher.InstallHandler(Lesson.Call, service)
"""


def figures(run, k):
    """The program's line: {op, calls, cycles, us, crossings, wrong}, or None."""
    m = LINE.search(run.console(k))
    if m is None:
        return None
    return {"op": m[1], "calls": int(m[2]), "cycles": int(m[3]), "us": m[4], "crossings": int(m[5]), "wrong": int(m[6])}


def versus(modeled_us, paper_us):
    r = paper_us / modeled_us
    return f"modeled {modeled_us:.1f} µs vs the paper's {paper_us:g} µs: {r:.1f}x below" if r >= 1 else \
        f"modeled {modeled_us:.1f} µs vs the paper's {paper_us:g} µs: {1 / r:.1f}x above"  # fmt: skip


def measure(run, op, n=N, load_xcall=False, network=False):
    if network:
        net = run.network(1, programs={0: ("protcall", [op, str(n)])})
        k = net.hosts[0]
    else:
        k = run.boot(init="protcall", argv=["protcall", op, str(n)])
    k.dispatcher.set_tracing(True)  # the Events and Trace panes' per-dispatch records (virtual time is the same)
    install_probe(k)
    k.syscall_names.update({0x7FFF: "probe"})
    ext = None
    if load_xcall:
        ext = run.load(k, "xcall")
        k.syscall_names.update(XCALL_NAMES)
    if network:
        net.run_until(lambda: not k.user_strands(), 50_000_000)
    else:
        run.run_until_exit(k)
    fig = figures(run, k)
    run.check("the program printed its figures", fig is not None, run.console(k).strip()[-300:])
    if fig is not None:
        what = "every getpid succeeded" if op == "null" else "every call got the server's answer (request + 1)"
        run.check(what, fig["wrong"] == 0, f"{fig['wrong']} wrong of {2 * n}")
    return k, fig, ext


@lesson.step(
    "A null system call",
    pane="Console",
    narration="""
`protcall null 50` makes 50 `getpid` calls and times each by the kernel's clock, then 50
more that count crossings (so the checks see 100). Each enters the kernel through
`entSys`, is raised as **Trap.SystemCall**, and returns through `rti`: two user/kernel
crossings.

Read the **Console** pane: the program prints cycles per call and the modeled µs
(cycles ÷ 133 MHz). SOSP'95 Table 2 measured 4 µs for SPIN (DEC OSF/1 5, Mach 7). The
workbench's figure is *modeled* (kernel/core/costs.py's estimates for a 21064, leaner than
SPIN's measured paths): expect about half the paper's; the check says how far.
""",
)
def null(run):
    k, fig, _ = measure(run, "null")
    if fig:
        run.state["null"] = fig["cycles"]
        run.state["null_k"] = k
        us = run.us(fig["cycles"])
        run.check("each call crossed the boundary twice", fig["crossings"] == 2, f"{fig['crossings']} crossings a call")
        run.check("the modeled call lands within 4x of the paper's 4 µs", 1 <= us * 4 and us <= 16, versus(us, 4))
        run.ask("What does a null system call cost, in modeled µs (Console pane)?", fig["us"])


@lesson.step(
    "Who answered the trap",
    pane="Events",
    narration="""
The same machine. Find **Trap.SystemCall** on the **Events** pane: its *bindings* column
counts the handlers the trap is dispatched to. The kernel uninstalled the event's
intrinsic handler at boot (its default handler answers ENOSYS); what is bound are the
UNIX personality, the Mach-thread and C-Thread call blocks, and the measuring probe this
lesson installed -- each with a guard on the call number (SOSP'95 §5.2: the trap handler
raises Trap.SystemCall, "dispatched to a Modula-3 procedure installed as a handler"). The *last guards* column is the last raise's verdicts, `+` for
the one guard that passed (the program's final `exit`, the personality's).
""",
)
def who(run):
    k = run.state.get("null_k")
    if k is None:
        run.check("the first step's machine is here", False, "step 1 did not run")
        return
    rows = inspect.bindings(k, "Trap.SystemCall")
    owners = [r.owner for r in rows]
    run.check("every binding on Trap.SystemCall has a guard", all(r.guard != "-" for r in rows),
              "; ".join(f"#{r.id} {r.owner}: {r.guard}" for r in rows))  # fmt: skip
    run.check("the intrinsic handler is not among them", not any(r.owner == "Kernel" for r in rows), ", ".join(owners))
    ev = next(e for e in inspect.events(k) if e.name == "Trap.SystemCall")
    passed = [g for g in ev.last_guards.split() if g.endswith("+")]
    run.check("on the last raise exactly one guard passed", len(passed) == 1, ev.last_guards)
    run.ask("How many bindings does Trap.SystemCall have (Events pane)?", str(len(rows)))


@lesson.step(
    "A protected in-kernel call",
    pane="Events",
    narration="""
Now kernel code defines an event **Lesson.Call** and an extension (`callee.py`, verified
and linked into the kernel) installs a handler on it; the kernel raises it 50 times. The
event has **two** bindings -- its intrinsic handler, which the defining module provides, and
the extension's -- and both run on every raise (read *bindings* and *calls* on the Events
pane: 2 bindings, 100 handler calls). The call stays in the kernel and in one address
space: what protects the kernel from the extension is the language and the verifier, not
the MMU, so no crossing is made.

Table 2's SPIN figure is 0.13 µs; the modeled cost of a raise (a generated dispatch and
the extension's fuel-bounded handler) is about twice that; the check says how far.
""",
)
def in_kernel(run):
    k = run.boot()
    k.dispatcher.set_tracing(True)
    iface = Interface("Lesson", "a service an extension provides")
    k.dispatcher.define(iface, "Call", lambda x: None, iface)
    k.system.export(iface)
    ext = k.system.load(CALLEE, "callee.py", importer="root")
    c0 = inspect.counters(k)
    for i in range(N):
        iface.Call(i)
    c1 = inspect.counters(k)
    per = (c1.cycles - c0.cycles) / N
    run.state["in_kernel"] = per
    rows = inspect.bindings(k, "Lesson.Call")
    calls = inspect.extension_globals(k, ext.name)["calls"]
    run.check("Lesson.Call has two bindings: the intrinsic and the extension's", len(rows) == 2,
              "; ".join(f"#{r.id} {r.owner}: {r.handler}, {r.calls} calls" for r in rows))  # fmt: skip
    run.check("the extension's handler ran once per raise", calls == N, f"{calls} of {N}")
    run.check("no user/kernel crossing was made", c1.crossings == c0.crossings, f"{c1.crossings - c0.crossings}")
    if "null" in run.state:
        run.check("it is at least five times cheaper than a system call", run.state["null"] / per >= 5,
                  f"{run.state['null'] / per:.1f}x; {versus(run.us(per), 0.13)}")  # fmt: skip
    run.ask("How many bindings does Lesson.Call have (Events pane)?", str(len(rows)))
    run.ask("How many handler calls did its 50 raises make (Events pane, calls)?", str(sum(r.calls for r in rows)))


@lesson.step(
    "A cross-address-space call, SPIN's way",
    pane="Console",
    watch=True,
    pace_us=4_000,
    narration=f"""
SOSP'95 §5.2: SPIN's cross-address-space call "is implemented as an extension that uses
system calls to transfer control in and out of the kernel and cross-domain procedure calls
within the kernel to transfer control between address spaces". **extensions/xcall.py** is
such an extension: `protcall xcall {WATCH_N}` forks a server that waits in `xcall_receive`;
the client traps into `xcall_call` with a one-word request; the handler hands the word to
the server strand blocked in its receive, unblocks it and blocks the client; the server's
`xcall_reply_receive` hands the reply back the same way. No socket, no buffer, no copy.

Read the **Console** pane: modeled µs per call and crossings per call. Table 2: SPIN 89 µs,
Mach 104, DEC OSF/1 845. The modeled figure is well below SPIN's (the check says how far):
the model charges a switch between address spaces 400 cycles (`CONTEXT_SWITCH` in
kernel/core/costs.py, an estimate, not fitted to Table 2), and the paper does not break
its 89 µs down. Its 8 crossings are the workbench's own: a strand woken in the kernel returns to
its `callsys` and traps again to collect its word (`Trap.Restart`), 2 more per strand.
""",
)
def xcall(run):
    k, fig, ext = measure(run, "xcall", WATCH_N, load_xcall=True)
    if fig and ext is not None:
        run.state["xcall"] = fig["cycles"]
        run.state["xcall_n"] = fig["calls"]
        stats = inspect.extension_globals(k, ext.name)["stats"]
        names = {r.name for r in k.trace if type(r).__name__ == "Syscall"}
        sockets = names & {"socket", "bind", "sendto", "recvfrom"}
        run.check("no socket was made and nothing was sent: the only calls were the program's own and xcall's",
                  not sockets and inspect.counters(k).copies == 0, f"system calls seen: {', '.join(sorted(names))}")  # fmt: skip
        run.check("almost every request went straight to a server blocked in its receive",
                  stats[1] >= 2 * WATCH_N - 1, f"{stats[1]} handoffs of {stats[0]} calls; {stats[2]} replies")  # fmt: skip
        run.check("each call crossed the boundary 8 times: 4, and 4 for the two restarts", fig["crossings"] == 8,
                  f"{fig['crossings']} crossings a call")  # fmt: skip
        run.check(
            "the modeled call is below the paper's 89 µs", run.us(fig["cycles"]) < 89, versus(run.us(fig["cycles"]), 89)
        )
        run.ask("What does SPIN's cross-address-space call cost, in modeled µs (Console pane)?", fig["us"])
        run.ask("How many user/kernel crossings does one call make (Console pane)?", str(fig["crossings"]))


@lesson.step(
    "Two switches a call",
    pane="CPU",
    narration=f"""
The same machine, on the **CPU** pane. Each call switches the processor twice: client to
server when the request is handed over, server to client with the reply (Checkpoint and
Resume, each an address-space change). The *switches* counter counts every switch since
boot: the program made {2 * WATCH_N} calls, so expect a little over {4 * WATCH_N}. The
*system calls* counter counts every trap into `entSys`, restarts too: per call the
client's `xcall_call` and its restart, the server's `xcall_reply_receive` and its
restart, and the two probe reads that time or count it -- six.
""",
)
def switches(run):
    k = run.kernel
    c = inspect.counters(k)
    n = 2 * run.state.get("xcall_n", WATCH_N)
    run.check("at least two switches a call", c.switches >= 2 * n, f"{c.switches:,} switches for {n:,} calls")
    run.check("and not many more", c.switches <= 2 * n + 20, f"{c.switches - 2 * n} besides the calls'")
    run.check("six system calls a call, and the start and end of the processes", 6 * n <= c.syscalls <= 6 * n + 40,
              f"{c.syscalls:,} system calls for {n:,} calls")  # fmt: skip
    run.ask("How many switches has the kernel made (CPU pane)?", f"{c.switches:,}")
    run.ask("How many system calls has it taken (CPU pane)?", f"{c.syscalls:,}")


@lesson.step(
    "The handoff on the Trace",
    pane="Trace",
    narration="""
Two calls, traced: `protcall xcall 1` makes one timed call and one that counts crossings,
so its Console line says 1 call, and its figures are not step 4's steady ones (the server's
first receive and its last reply fall inside so short a run). On the **Trace** pane read
one call from the bottom up: the client's
`Trap.SystemCall` dispatch goes to xcall's binding, `Strand.Unblock` wakes the server,
`Strand.Block` blocks the client, `Switch 2→3` hands the processor over; the server's
restarted receive completes (`Syscall ... name=xcall_receive`), and its
`xcall_reply_receive` wakes the client with `Switch 3→2`. The `Syscall` records show
each call's result: the client gets back its request + 1.
""",
)
def handoff(run):
    k, fig, ext = measure(run, "xcall", 1, load_xcall=True)
    recs = list(k.trace)
    sw = [r for r in recs if type(r).__name__ == "Switch" and r.reason == "block"]
    calls = [r for r in recs if type(r).__name__ == "Syscall" and r.name == "xcall_call"]
    pairs = {(r.old, r.new) for r in sw}
    run.check("the kernel switched client to server and back, on the calls",
              len(sw) >= 3 and len(pairs) == 2 and all((b, a) in pairs for a, b in pairs),
              "; ".join(f"{r.old}→{r.new}" for r in sw))  # fmt: skip
    run.check("the client's calls returned request + 1", [r.result for r in calls] == [1, 2],
              f"results {[r.result for r in calls]}")  # fmt: skip
    server = sw[0].new if sw else 0
    run.ask("Which strand is the server (Trace pane, the Switch after the client's call)?", str(server))


@lesson.step(
    "The DEC OSF/1 way: sockets",
    pane="Console",
    watch=True,
    pace_us=30_000,
    narration=f"""
For comparison, the call as DEC OSF/1 makes it (SOSP'95 §5.2: "using sockets and SUN RPC"):
`protcall udp {WATCH_N}` sends the server a 16-byte request over a UDP socket through the
kernel's loopback and waits for the answer. Each request and reply is a `sendto` and a
`recvfrom`: a trap, the socket layer, a copy in, a copy out, a switch. This is the
workbench's model of the OSF/1 path, not SPIN's: Table 2's 845 µs also paid SUN RPC's
marshalling, which this leaves out. Read the **Console** pane, and compare with SPIN's way.
""",
)
def sockets(run):
    k, fig, _ = measure(run, "udp", WATCH_N, network=True)
    if fig:
        run.state["udp"] = fig["cycles"]
        c = inspect.counters(k)
        run.check("the kernel copied data in and out of user space", c.copies > 0, f"{c.copies:,} copies")
        if "xcall" in run.state:
            r = fig["cycles"] / run.state["xcall"]
            run.check(
                "the socket call costs at least 5 times SPIN's",
                r >= 5,
                f"{r:.1f}x; {versus(run.us(fig['cycles']), 845)}",
            )
        run.ask("What does the socket call cost, in modeled µs (Console pane)?", fig["us"])


@lesson.step(
    "Table 2, modeled beside the paper",
    pane="Scenario",
    narration="""
The three mechanisms on one machine (the table below), each beside SOSP'95 Table 2. The
modeled figures keep the paper's order and its lesson -- a protected in-kernel call costs
about what a procedure call does, far below a system call, far below crossing to another
address space -- but not its magnitudes: the model is leaner than SPIN's measured paths,
and its socket call leaves out SUN RPC. The fourth column says how far each is; the last, how many in-kernel calls each costs.
""",
)
def table(run):
    rows = []
    want = [("null", "System call"), ("in_kernel", "Protected in-kernel call"), ("xcall", "Cross-address-space call (SPIN: xcall)"),
            ("udp", "Cross-address-space call (OSF/1 way: UDP sockets)")]  # fmt: skip
    paper = {"null": 4, "in_kernel": 0.13, "xcall": 89, "udp": 845}
    for key, what in want:
        if key not in run.state:
            continue
        us = run.us(run.state[key])
        times = f"{run.state[key] / run.state['in_kernel']:.0f}" if "in_kernel" in run.state else "-"
        rows.append([what, f"{us:.2f}", f"{paper[key]:g}", f"{paper[key] / us:.1f}x below" if paper[key] >= us
                     else f"{us / paper[key]:.1f}x above", times])  # fmt: skip
    run.exhibit("Table 2: protected communication, µs", ["operation", "modeled", "paper (SPIN; OSF/1 for sockets)",
                                                         "modeled vs paper", "x in-kernel call (modeled)"], rows)  # fmt: skip
    ok = all(k in run.state for k in paper)
    run.check("all four were measured", ok, ", ".join(k for k in paper if k in run.state))
    if ok:
        order = [run.state[k] for k in ("in_kernel", "null", "xcall", "udp")]
        run.check("the modeled costs keep the paper's order", order == sorted(order),
                  " < ".join(f"{run.us(c):.2f}" for c in order))  # fmt: skip
        run.ask("How many times SPIN's in-kernel call does its cross-address-space call cost, modeled?",
                f"{run.state['xcall'] / run.state['in_kernel']:.0f}")  # fmt: skip
