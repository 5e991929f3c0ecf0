"""Guarded packet dispatch with 50 guards (SOSP'95 §5.5)."""

from kernel import inspect
from kernel.net import endpoints as E
from scenarios.engine import Lesson

lesson = Lesson(
    "guarded_dispatch",
    "Guarded packet dispatch with 50 guards",
    "What 50 extra guards cost on a UDP round trip, when they fail and when they pass.",
)
TRIPS = 20


def rtt(run, mode):
    net = run.network(2)
    a, b = net.hosts
    run.load(b, "udp_echo")
    if mode:
        match, indexed = mode
        for k, port in ((a, 4000), (b, 7)):
            run.load(k, "guard_load", MATCH=match, INDEXED=indexed, PORT=port)
    out = {}
    a.sched.fork(E.udp_rtt_client, a, "10.0.0.2", 7, TRIPS + 1, 16, out, name="client")
    net.run_until(lambda: "done" in out, 5_000_000)
    rtts = out["rtts"][1:]
    return run.us(sum(rtts) / len(rtts)), out["ok"], b


@lesson.step(
    "The bare round trip",
    narration="""
Host 10.0.0.2 runs the **udp_echo** extension: its handler is the only endpoint on
`UDP.PacketArrived` for port 7. Host 10.0.0.1 sends 16-byte datagrams and times each
answer. The paper measured 565 µs on its Ethernet.
""",
)
def bare(run):
    us, ok, _ = rtt(run, None)
    run.state["none"] = us
    run.check("every answer matched what was sent", ok)
    run.ask("What is the modeled round trip, in µs?", f"{us:.1f}")


@lesson.step(
    "Fifty guards that fail",
    narration="""
Now **guard_load** adds 50 handlers on each host, each with a guard asking for a port
nobody uses. Every datagram must be shown to all 50 guards; none says yes. SPIN
measured 585 µs.
""",
)
def false_guards(run):
    us, ok, b = rtt(run, (0, 0))
    run.state["false"] = us
    run.check("answers still match", ok)
    run.check("failing guards cost time", us > run.state["none"], f"{us:.1f} vs {run.state['none']:.1f} µs")
    n = len(inspect.bindings(b, "UDP.PacketArrived"))
    run.check("the event now has more than 50 bindings", n > 50, str(n))
    run.ask("What does one failing guard cost, in µs per host per datagram?", f"{(us - run.state['none']) / 100:.2f}")


@lesson.step(
    "Fifty guards that pass",
    narration="""
With every guard asking for the port the datagrams really use, all 50 handlers run
too. SPIN measured 637 µs.
""",
)
def true_guards(run):
    us, ok, _ = rtt(run, (1, 0))
    run.check("answers still match", ok)
    run.check(
        "passing guards and their handlers cost more than failing guards",
        us > run.state["false"],
        f"{us:.1f} vs {run.state['false']:.1f} µs",
    )


@lesson.step(
    "Indexed guards",
    narration="""
SPIN planned, but never built, guard optimizations. Here a guard made with
`Dispatcher.FieldEquals("dst_port", port)` is declarative, so the dispatcher answers
a run of them with one table lookup: fifty failing indexed guards cost nothing.
""",
)
def indexed(run):
    us, ok, _ = rtt(run, (0, 1))
    run.check("answers still match", ok)
    run.check(
        "fifty failing indexed guards cost about what no guards cost",
        abs(us - run.state["none"]) < 1.0,
        f"{us:.1f} vs {run.state['none']:.1f} µs",
    )
