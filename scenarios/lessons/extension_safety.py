"""Extension safety: the verifier, fuel bounds and capabilities."""

from kernel import inspect
from kernel.sys.trace import Abort
from scenarios.engine import Lesson

lesson = Lesson(
    "extension_safety",
    "Extension safety",
    "A rejected extension, a runaway handler aborted, a forged capability refused.",
)

NOSY = """
import os

def init():
    os.system("reboot")
"""

RUNAWAY = """
from spin import UDP, Dispatcher

def spin_forever(dgram):
    while True:
        pass

def init():
    Dispatcher.InstallHandler(UDP.PacketArrived, spin_forever)
"""

FORGER = """
from spin import Dispatcher

def init():
    Dispatcher.Uninstall(12345)
"""


@lesson.step(
    "The verifier says no",
    narration="""
An extension is a Python file that may only `from spin import ...` the interfaces its
domain can resolve. One that imports `os` never runs: the verifier rejects it at load
time, naming the file, the line and the rule.
""",
)
def rejected(run):
    k = run.boot()
    why = run.try_load(k, NOSY, "nosy.py")
    run.check("loading is refused with the file and line", "nosy.py:2:" in why, why)
    run.check("nothing of it stays loaded", "nosy" not in k.system.extensions)
    line = next((x for x in why.splitlines() if "nosy.py:2:" in x), "")
    run.ask("Which rule refused it?", line.split(": ")[1] if ": " in line else "?")


@lesson.step(
    "A runaway handler",
    narration="""
A handler that loops forever on `UDP.PacketArrived` is stopped by its fuel bound:
the dispatcher aborts it, uninstalls the binding, and the network goes on.
""",
)
def runaway(run):
    net = run.network(2)
    a, b = net.hosts
    k = b
    k.system.load(RUNAWAY, "runaway.py", importer="root")
    a.net.udp.send(4000, "10.0.0.2", 9, b"poke")
    net.run_us(20_000)
    aborts = k.trace.of(Abort)
    run.check("the handler was aborted", len(aborts) == 1, "; ".join(f"{a.owner} on {a.event}" for a in aborts))
    rows = inspect.bindings(k, "UDP.PacketArrived")
    run.check("its binding was uninstalled", all(bd.owner != "runaway" for bd in rows))
    a.net.ping("10.0.0.2", 1)
    net.run_us(20_000)
    run.check("the host still answers ping", len(a.net.ping_replies) == 1)
    run.ask("How much fuel did the handler burn before it was stopped?", aborts[0].fuel if aborts else 0)


@lesson.step(
    "A forged capability",
    narration="""
Capabilities are typed references the kernel hands out. An extension that passes a
number where a binding handle belongs is refused: it cannot name what it was not given.
""",
)
def forged(run):
    k = run.boot()
    why = run.try_load(k, FORGER, "forger.py")
    run.check("the forged handle is refused", "handle" in why or "capability" in why, why)
