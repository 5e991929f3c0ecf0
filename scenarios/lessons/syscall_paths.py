"""Null system call, protected in-kernel call, cross-address-space call (SOSP'95 Table 2)."""

import re

from kernel import inspect
from kernel.core.probe import install_probe
from kernel.sys.interface import Interface
from scenarios.engine import Lesson

lesson = Lesson("syscall_paths", "Three ways to call a service",
                "A system call, a protected in-kernel call into an extension, and a call to another "
                "address space, on one machine.")  # fmt: skip
TALLY = re.compile(r"(\w+) ops=(\d+) cycles=(\d+) crossings=(-?\d+)")
N = 50
CALLEE = """
from spin import Lesson, Dispatcher

calls = 0


def service(x):
    global calls
    calls += 1


def init():
    Dispatcher.InstallHandler(Lesson.Call, service)
"""


def tally(run, k):
    m = TALLY.search(run.console(k))
    return None if m is None else (int(m[3]) / int(m[2]), int(m[4]) / int(m[2]))


@lesson.step(
    "A null system call",
    narration="""
`calls null` makes 50 `getpid` calls, timing each with `rpcc`. Each enters the kernel
through `entSys`, is raised as **Trap.SystemCall**, and returns through `rti`: two
user/kernel crossings. SPIN measured 4 µs, DEC OSF/1 5 and Mach 7.
""",
)
def null(run):
    k = run.boot(init="calls", argv=["calls", "null", str(N)])
    install_probe(k)
    run.run_until_exit(k)
    fig = tally(run, k)
    run.check("the program printed its tally", fig is not None, run.console(k).strip())
    if fig:
        run.state["null"] = fig[0]
        run.check("each call crossed the boundary twice", fig[1] == 2, str(fig[1]))
        run.ask("What does a null system call cost, in modeled µs?", f"{run.us(fig[0]):.2f}")


@lesson.step(
    "A protected in-kernel call",
    narration="""
Kernel code raises an event whose only handler belongs to an extension. The call stays
in the kernel and in one address space; what protects the kernel from the extension is
the language and the verifier, not the MMU. SPIN measured 0.13 µs.
""",
)
def in_kernel(run):
    k = run.boot()
    iface = Interface("Lesson", "a service an extension provides")
    k.dispatcher.define(iface, "Call", lambda x: None, iface)
    k.system.export(iface)
    ext = k.system.load(CALLEE, "callee.py", importer="root")
    t0 = inspect.counters(k).cycles
    for i in range(N):
        iface.Call(i)
    per = (inspect.counters(k).cycles - t0) / N
    calls = inspect.extension_globals(k, ext.name)["calls"]
    crossings = inspect.counters(k).crossings
    run.check("the extension's handler ran once per call", calls == N, str(calls))
    run.check("no user/kernel crossing was made", crossings == 0, str(crossings))
    if "null" in run.state:
        run.check(
            "it is at least five times cheaper than a system call",
            run.state["null"] / per >= 5,
            f"{run.state['null'] / per:.1f}x",
        )
    run.ask("What does a protected in-kernel call cost, in modeled µs?", f"{run.us(per):.2f}")


@lesson.step(
    "A cross-address-space call",
    narration="""
`calls xas` forks a server and sends it 16-byte requests over UDP through the kernel,
waiting for each answer: the request and the reply each cost a trap, a copy in, a copy
out and a context switch. SPIN measured 89 µs (DEC OSF/1 845, Mach 104).
""",
)
def cross(run):
    net = run.network(1, programs={0: ("calls", ["xas", str(N)])})
    k = net.hosts[0]
    install_probe(k)
    net.run_until(lambda: not k.user_strands(), 10_000_000)
    fig = tally(run, k)
    run.check("the program printed its tally", fig is not None, run.console(k).strip())
    if fig and "null" in run.state:
        run.check(
            "it costs far more than a system call", fig[0] > 5 * run.state["null"], f"{fig[0] / run.state['null']:.1f}x"
        )
        run.ask("What does a cross-address-space call cost, in modeled µs?", f"{run.us(fig[0]):.1f}")
        run.ask("How many user/kernel crossings did the caller make per call?", f"{fig[1]:.0f}")
