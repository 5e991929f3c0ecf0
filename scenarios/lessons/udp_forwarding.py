"""UDP forwarding across three machines (SOSP'95 Table 6)."""

from kernel import inspect
from kernel.net import endpoints as E
from scenarios.engine import Lesson

lesson = Lesson(
    "udp_forwarding",
    "UDP forwarding across three machines",
    "A forwarding node in the kernel's protocol graph, against a forwarding process.",
)
TRIPS = 10


def trips(run, net, client):
    out = {}
    client.sched.fork(E.udp_rtt_client, client, "10.0.0.2", 7000, TRIPS + 1, 16, out, name="client")
    net.run_until(lambda: "done" in out, 10_000_000)
    rtts = out["rtts"][1:]
    return out["ok"], run.us(sum(rtts) / len(rtts))


@lesson.step(
    "A node in the graph",
    narration="""
Three workstations: a client (10.0.0.1), a forwarder (10.0.0.2) and a server
(10.0.0.3) running the **udp_echo** extension on port 7000. The forwarder loads
**forward**: two First, Cancel bindings on `UDP.PacketArrived`, one sending
datagrams for port 7000 on to the server, one sending the answers back.
""",
)
def kernel_node(run):
    net = run.network(3)
    c, f, s = net.hosts
    run.load(f, "forward", PROTO="udp", PORT=7000, TARGET="10.0.0.3")
    run.load(s, "udp_echo", PORT=7000)
    ok, us = trips(run, net, c)
    run.state["kernel"] = us
    run.check("every answer came back through the forwarder intact", ok)
    crossings = inspect.counters(f).crossings
    run.check("the forwarder made no user/kernel crossing", crossings == 0, str(crossings))
    run.check(
        "each datagram was forwarded once",
        f.net.counters["forwarded"] == 2 * (TRIPS + 1),
        str(f.net.counters["forwarded"]),
    )
    run.ask("What is the round trip through the node, in µs?", f"{us:.1f}")


@lesson.step(
    "A process in the middle",
    narration="""
The same trip through `udp_splice`, a user program that receives each datagram into
its address space and sends it again from a second socket -- DEC OSF/1's way. Each
datagram now crosses the protocol stack twice at the forwarder, with a copy and a
trap each way.
""",
)
def splicer(run):
    net = run.network(3, programs={1: ("udp_splice", ["7000", "10.0.0.3"])})
    c, f, s = net.hosts
    run.load(s, "udp_echo", PORT=7000)
    net.run_us(2000)
    ok, us = trips(run, net, c)
    run.check("answers came back intact", ok)
    run.check(
        "the splicer is slower than the node", us > run.state["kernel"], f"{us:.1f} vs {run.state['kernel']:.1f} µs"
    )
    per = inspect.counters(f).crossings / (TRIPS + 1)
    run.check("the splicer crossed the user/kernel boundary on every datagram", per >= 8, f"{per:.1f} per trip")
    run.ask(
        "How many copies of packet data did the forwarder make per round trip?",
        f"{f.net.counters['copies'] / (TRIPS + 1):.0f}",
    )
