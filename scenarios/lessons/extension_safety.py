"""Extension safety: the verifier, fuel bounds, contained faults, capabilities (SOSP'95 §3)."""

from kernel import inspect
from kernel.sys.errors import SpinError
from kernel.sys.linker import ExtensionRejected
from kernel.sys.trace import Abort, Fault
from scenarios.engine import Lesson

lesson = Lesson(
    "extension_safety",
    "Extension safety",
    "A rejected extension, a runaway handler stopped by its fuel bound, a faulting handler contained, "
    "a forged capability refused -- and the kernel running on after each.",
)

REFUSED = {
    "nosy.py": """
import os

def init():
    os.system("reboot")
""",
    "peek.py": """
from spin import Dispatcher, UDP

def init():
    h = Dispatcher.InstallHandler(UDP.PacketArrived, print, Dispatcher.FieldEquals("dst_port", 9))
    return h._obj
""",
    "evil_eval.py": """
def init():
    eval("__import__('os')")
""",
}

LOOPS = 3_000_000  # far more checks than any handler's bound (100,000 by default)
RUNAWAY = f"""
from spin import UDP, Dispatcher

def on_port_9(dgram):
    return dgram.dst_port == 9

def spin_forever(dgram):
    n = 0
    while n < {LOOPS}:
        n += 1

def init():
    Dispatcher.InstallHandler(UDP.PacketArrived, spin_forever, on_port_9)
"""

CRASHER = """
from spin import UDP, Dispatcher

def on_port_10(dgram):
    return dgram.dst_port == 10

def divide(dgram):
    return len(dgram.payload) // (dgram.dst_port - 10)

def init():
    Dispatcher.InstallHandler(UDP.PacketArrived, divide, on_port_10)
"""

FORGER = """
from spin import Dispatcher

def init():
    Dispatcher.Uninstall(12345)
"""


def hosts(run):
    net = run.state.get("net")
    if net is None:
        net = run.network(2)
        run.load(net.hosts[0], "udp_echo")
        run.state["net"] = net
    return net, net.hosts[0], net.hosts[1]


def answers_ping(net, a, b, seq):
    before = len(b.net.ping_replies)
    b.net.ping("10.0.0.1", seq)
    net.run_us(20_000)
    return len(b.net.ping_replies) == before + 1


def ping_detail(ok, seq):
    return f"10.0.0.2 pinged 10.0.0.1 (seq {seq}): {'answered' if ok else 'no reply within 20 ms'}"


@lesson.step(
    "An extension that links",
    pane="Domains",
    narration="""
Two hosts on one wire. Host 10.0.0.1, the one the panes show, loads **udp_echo**: the
verifier reads its source, the linker resolves its imports (`IP`, `UDP`, `Console`)
against SpinPublic, and its `init` asks UDP for port 7. SPIN trusted an extension because
the Modula-3 compiler had checked it; the workbench's extensions are Python source, so a
verifier of its own (kernel/sys/verifier.py) stands in for the compiler. The **Domains**
pane shows the extension's domain and where each import resolved.
""",
)
def links(run):
    net, a, b = hosts(run)
    d = next((x for x in inspect.domains(a) if x.name == "udp_echo"), None)
    run.check("udp_echo is linked", d is not None, ", ".join(x.name for x in inspect.domains(a)))
    run.check("all its imports resolved", d is not None and all(src for _, src in d.imports),
              str(d.imports if d else ""))  # fmt: skip
    run.ask("Against which domain did udp_echo's UDP import resolve?", dict(d.imports).get("UDP", "?") if d else "?")


@lesson.step(
    "The verifier says no",
    pane="Scenario",
    narration="""
Three extensions that would reach past their interfaces: one imports `os`, one reads a
handle's private slot `_obj` (the kernel object behind a capability), one calls `eval`.
None runs: the verifier refuses each at load time, naming the file, line, column and the
rule it broke (the table below; each refusal in full is its check's detail). Nothing of
them is linked: the Domains pane still shows udp_echo alone.
""",
)
def verifier(run):
    net, a, b = hosts(run)
    rows = []
    for filename, source in REFUSED.items():
        try:
            a.system.load(source, filename)
            why, diags = "", []
        except ExtensionRejected as e:
            why, diags = str(e), e.diagnostics
        except SpinError as e:
            why, diags = str(e), []
        run.check(f"{filename} is refused by the verifier", "rejected by the verifier" in why, why or "it loaded")
        rows += [[filename, f"{d.line}:{d.col}", d.rule] for d in diags[:2]]
    run.exhibit("what the verifier refused", ["file", "line:col", "rule"], rows)
    names = sorted(a.system.extensions)
    run.check("nothing of them stays linked", names == ["udp_echo"], ", ".join(names))
    nosy = next((r[2] for r in rows if r[0] == "nosy.py"), "?")
    run.ask("Which rule refused nosy.py?", nosy)


@lesson.step(
    "A handler that will not stop",
    pane="Trace",
    watch=True,
    pace_us=7_000,
    narration=f"""
An extension that passes the verifier can still loop. This one's handler on
`UDP.PacketArrived` (guarded to port 9) counts to {LOOPS:,}. The verifier put a fuel check
on every loop's back edge; each dispatch grants a handler its bound of checks, and when
they run out the dispatcher aborts it, uninstalls the binding, and the packet's dispatch
goes on. SOSP'95 §3.2 lets an event's authority bound a handler by a time quantum so it is
aborted if it runs too long (OSDI'96: only EPHEMERAL handlers may be killed; 33.1 only logged
the overrun); counting checks is the workbench's mechanism. The **Trace** pane's `Abort`
record gives the fuel it burned.
""",
)
def runaway(run):
    net, a, b = hosts(run)
    a.system.load(RUNAWAY, "runaway.py", importer="root")
    b.net.udp.send(4000, "10.0.0.1", 9, b"poke")
    net.run_us(20_000)
    aborts = [r for r in a.trace.of(Abort) if r.owner == "runaway"]
    run.check("the handler was aborted", len(aborts) == 1, "; ".join(f"{r.owner} on {r.event}: fuel {r.fuel:,}"
                                                                       for r in aborts) or "no abort")  # fmt: skip
    rows = inspect.bindings(a, "UDP.PacketArrived")
    run.check("its binding was uninstalled", all(r.owner != "runaway" for r in rows),
              ", ".join(f"#{r.id} {r.owner}" for r in rows))  # fmt: skip
    pong = answers_ping(net, a, b, 1)
    run.check("the host still answers ping", pong, ping_detail(pong, 1))
    run.ask("How much fuel did the handler burn before it was stopped?", aborts[0].fuel if aborts else 0)


@lesson.step(
    "A handler that faults",
    pane="Trace",
    narration="""
This handler (port 10) divides by zero. The exception does not unwind into the network
stack: the dispatcher's containment wrapper catches it, records a `Fault` (on the
**Trace** pane, with the exception), marks the binding faulted and, by the event's
policy, uninstalls it. In SPIN an extension's exception propagated to the raiser
(spin-reference.md §1); containing it is the workbench's own choice for untrusted code.
""",
)
def faulting(run):
    net, a, b = hosts(run)
    a.system.load(CRASHER, "crasher.py", importer="root")
    b.net.udp.send(4000, "10.0.0.1", 10, b"boom")
    net.run_us(20_000)
    faults = [r for r in a.trace.of(Fault) if r.owner == "crasher"]
    run.check("the fault was contained and recorded", len(faults) == 1,
              "; ".join(f"{r.owner} on {r.event}: {r.error}" for r in faults) or "no fault")  # fmt: skip
    rows = inspect.bindings(a, "UDP.PacketArrived")
    run.check("its binding was uninstalled", all(r.owner != "crasher" for r in rows), ", ".join(r.owner for r in rows))
    pong = answers_ping(net, a, b, 2)
    run.check("the host still answers ping", pong, ping_detail(pong, 2))
    run.ask("What did the handler raise?", faults[0].error.split(":")[0] if faults else "?")


@lesson.step(
    "The kernel runs on",
    pane="Events",
    watch=True,
    pace_us=10_000,
    narration="""
After a refusal, an abort and a fault, the host still serves: three datagrams to port 7
are each echoed by udp_echo. On the **Events** pane, `UDP.PacketArrived`'s bindings are
the kernel's and udp_echo's; the runaway and the crasher are gone, and udp_echo's `calls`
counts the datagrams it took.
""",
)
def runs_on(run):
    net, a, b = hosts(run)
    run.show_event("UDP.PacketArrived")
    before = inspect.extension_globals(a, "udp_echo").get("echoed", 0)
    for i in range(3):
        b.net.udp.send(4000, "10.0.0.1", 7, f"hello {i}".encode())
        net.run_us(20_000)
    echoed = inspect.extension_globals(a, "udp_echo").get("echoed", 0) - before
    run.check("all three datagrams were echoed", echoed == 3, f"{echoed} echoed")
    rows = inspect.bindings(a, "UDP.PacketArrived")
    owners = [r.owner for r in rows]
    run.check("only the kernel's and udp_echo's bindings are left", "runaway" not in owners
              and "crasher" not in owners, ", ".join(owners))  # fmt: skip
    echo = next((r for r in rows if r.owner == "udp_echo"), None)
    run.ask("How many datagrams has udp_echo's handler taken?", echo.calls if echo else "?")


@lesson.step(
    "A forged capability",
    pane="Domains",
    narration="""
Capabilities are references the kernel hands out: `InstallHandler` returns a binding
handle, and only a handle opens `Uninstall`. An extension that passes a number where a
binding handle belongs is refused (the check's detail says what it passed): it cannot name
what it was not given. Its load fails, so the **Domains** pane does not list it. The
runaway and the crasher are still linked there, but with no handler left.
""",
)
def forged(run):
    net, a, b = hosts(run)
    why = run.try_load(a, FORGER, "forger.py")
    run.check("the forged handle is refused", "a forged reference" in why, why)
    linked = ", ".join(a.system.extensions)
    run.check("nothing of it stays linked", "forger" not in a.system.extensions, f"linked: {linked}")
    run.check("udp_echo is still linked", "udp_echo" in a.system.extensions, f"linked: {linked}")
    holding = [d.name for d in inspect.domains(a) if d.kind == "extension" and d.bindings]
    run.check("the aborted and the faulted extensions hold no handler", holding == ["udp_echo"], ", ".join(holding))
    run.ask("Which extension still holds a handler?", ", ".join(holding))
