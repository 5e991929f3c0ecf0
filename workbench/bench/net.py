"""`spinwb bench net`: SOSP'95's networking measurements on emulated
workstations joined by a 10 Mb/s wire.

- §5.5's dispatch experiment: the UDP round trip with 50 extra guards
  that all fail, and 50 that all pass (plus the same with declarative
  guards the dispatcher indexes);
- Table 5: round-trip latency (16-byte datagrams) and receive bandwidth
  (1472-byte payloads: 1514-byte frames), in-kernel endpoint vs user-level
  socket on the same machines;
- Table 6: the round trip through a forwarding host, the in-kernel
  forwarding node (extensions/forward.py) vs a
  user-level splicer (udp_splice, tcp_splice).

Modeled figures are virtual time at 133 MHz: the wire's, the emulated
user code's, and the kernel's modeled costs (kernel/core/costs.py; the
Lance driver's are calibrated to the paper's 565 µs). Host time is the
wall time of the whole run per round trip. Crossings and copies are
counted per round trip on the hosts named. ARP caches are warmed first.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kernel import inspect
from kernel.core.costs import CLOCK_MHZ
from kernel.core.probe import install_probe
from kernel.kernel import Kernel
from kernel.net import endpoints as E
from kernel.net.topology import Network
from machine.elf import read_elf
from workbench.bench.chart import chart
from workbench.bench.measured import PROGRAMS, parse_tally

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "extensions"
PAPER_GUARDS = {"none": 565, "false": 585, "true": 637}
PAPER_T5 = {"latency": (565, 789), "bandwidth": (8.9, 8.9)}  # (SPIN, DEC OSF/1)
PAPER_T6 = {"tcp": (1420, 2080), "udp": (1344, 1607)}
_SINK = re.compile(rb"sink ops=(\d+) bytes=(\d+) cycles=(\d+)")


@dataclass
class Figure:
    value: float  # µs, or Mb/s for bandwidth
    host_micros: float  # wall time per operation
    crossings: float  # per operation, on the hosts named
    copies: float


def _network(n: int, programs: dict[int, tuple[str, list[str]]] | None = None) -> Network:
    images = {i: (read_elf(PROGRAMS / f"{p}.elf"), [p, *args]) for i, (p, args) in (programs or {}).items()}
    net = Network(n, programs=images)
    for k in net.hosts:
        install_probe(k)
        for other in net.hosts:
            if other is not k:
                k.net.arp_cache[other.net.address] = other.net.mac
    return net


def _counts(hosts: list[Kernel]) -> tuple[int, int]:
    cs = [inspect.counters(k) for k in hosts]
    return sum(c.crossings for c in cs), sum(c.copies for c in cs)


def _run(net: Network, done: Callable[[], bool], what: str) -> float:
    t0 = time.perf_counter()  # host-time ok: a benchmark
    if not net.run_until(done, limit_us=600_000_000, step_us=2000):
        raise RuntimeError(f"bench net: {what} did not finish")
    return time.perf_counter() - t0  # host-time ok: a benchmark


def _kernel_rtt(net: Network, client: Kernel, dst: str, port: int, n: int, what: str, tcp: bool = False) -> Figure:
    out: dict[str, Any] = {}
    c0 = _counts(net.hosts)
    body = E.tcp_rtt_client if tcp else E.udp_rtt_client
    client.sched.fork(body, client, dst, port, n, 16, out, name="rtt client")
    host = _run(net, lambda: "done" in out, what)
    if not out.get("ok") or len(out["rtts"]) != n:
        raise RuntimeError(f"bench net: {what}: {out.get('error', 'answers differ')}")
    c1 = _counts(net.hosts)
    rtts = out["rtts"][1:] if n > 1 else out["rtts"]  # the first pays for the connection or cold paths
    return Figure(sum(rtts) / len(rtts) / CLOCK_MHZ, host / n * 1e6, (c1[0] - c0[0]) / n, (c1[1] - c0[1]) / n)


# --- §5.5: guards ------------------------------------------------------------------------------


def guard_rtt(mode: str, n: int) -> Figure:
    """mode: none, false, true, false-indexed, true-indexed."""
    net = _network(2)
    a, b = net.hosts
    b.system.load_file(EXT / "udp_echo.py", importer="root")
    if mode != "none":
        match, _, indexed = mode.partition("-")
        for k, port in ((a, 4000), (b, 7)):
            k.system.load_file(EXT / "guard_load.py", importer="root", settings={"MATCH": int(match == "true"),
                               "INDEXED": int(bool(indexed)), "PORT": port})  # fmt: skip
    return _kernel_rtt(net, a, b.net.address, 7, n, f"guards {mode}")


# --- Table 5 ----------------------------------------------------------------------------------


def latency_kernel(n: int) -> Figure:
    net = _network(2)
    net.hosts[1].system.load_file(EXT / "udp_echo.py", importer="root")
    return _kernel_rtt(net, net.hosts[0], "10.0.0.2", 7, n, "in-kernel round trip")


def latency_socket(n: int) -> Figure:
    net = _network(2, {1: ("udp_echo", ["7"]), 0: ("udp_rtt", ["10.0.0.2", "7", str(n)])})
    a, b = net.hosts
    out = a.machine.console.output
    host = _run(net, lambda: not a.user_strands(), "socket round trip")
    t = parse_tally(bytes(out))
    if t is None:
        raise RuntimeError(f"bench net: udp_rtt printed {bytes(out)!r}")
    copies = sum(inspect.counters(k).copies for k in net.hosts)
    crossings = inspect.counters(b).crossings
    return Figure(t.cycles / t.ops / CLOCK_MHZ, host / n * 1e6, t.crossings / t.ops + crossings / n, copies / n)


def bandwidth(user: bool, n: int) -> Figure:
    size = 1472
    net = _network(2, {1: ("udp_sink", ["9", str(n)])} if user else None)
    a, b = net.hosts
    sink: dict[str, Any] = {}
    if not user:
        b.sched.fork(E.udp_sink, b, 9, n, sink, name="sink")
    blast: dict[str, Any] = {}
    a.sched.fork(E.udp_blast, a, "10.0.0.2", 9, n, size, blast, name="blaster")
    if user:
        host = _run(net, lambda: not b.user_strands(), "socket bandwidth")
        m = _SINK.search(bytes(b.machine.console.output))
        if m is None:
            raise RuntimeError(f"bench net: udp_sink printed {bytes(b.machine.console.output)!r}")
        got, cycles = int(m[2]), int(m[3])
    else:
        host = _run(net, lambda: "done" in sink, "in-kernel bandwidth")
        got, cycles = sink["bytes"], sink["cycles"]
    mbps = got * 8 / (cycles / (CLOCK_MHZ * 1e6)) / 1e6
    c = inspect.counters(b)
    return Figure(mbps, host / n * 1e6, c.crossings / n, c.copies / n)


# --- Table 6 ------------------------------------------------------------------------------------


def forward(proto: str, user: bool, n: int) -> Figure:
    port = 8000 if proto == "tcp" else 7000
    progs = {1: (f"{proto}_splice", [str(port), "10.0.0.3"])} if user else None
    net = _network(3, progs)
    c, f, s = net.hosts
    if not user:
        f.system.load_file(
            EXT / "forward.py", importer="root", settings={"PROTO": proto, "PORT": port, "TARGET": "10.0.0.3"}
        )
    if proto == "udp":
        s.system.load_file(EXT / "udp_echo.py", importer="root", settings={"PORT": port})
    else:
        s.sched.fork(E.tcp_echo_server, s, port, {}, name="echo server")
    if user:
        net.run_us(2000)  # let the splicer reach its accept or recvfrom
    fig = _kernel_rtt(net, c, "10.0.0.2", port, n, f"{proto} forwarding", tcp=proto == "tcp")
    fig.crossings = f.sal.crossings / n
    return fig


# --- the report ----------------------------------------------------------------------------------


def bench_net(n: int = 200) -> dict[str, Any]:
    return {
        "guards": {m: guard_rtt(m, n) for m in ("none", "false", "true", "false-indexed", "true-indexed")},
        "table5": {"latency": {"kernel": latency_kernel(n), "socket": latency_socket(n)},
                   "bandwidth": {"kernel": bandwidth(False, n), "socket": bandwidth(True, n)}},
        "table6": {p: {"kernel": forward(p, False, n), "splicer": forward(p, True, n)} for p in ("tcp", "udp")},
    }  # fmt: skip


def main(as_json: bool, n: int = 200, bars: bool = True) -> int:
    res = bench_net(n)
    if as_json:
        print(json.dumps(res, default=asdict, indent=2))
        return 0
    print(f"SOSP'95 §5.5: UDP round trip, 16 bytes, in-kernel endpoints, {n} trips; modeled µs at 133 MHz")
    print(f"  {'':<30}{'modeled':>9}{'host µs':>10}{'paper':>7}")
    labels = {"none": "no extra handlers", "false": "50 guards, all false", "true": "50 guards, all true",
              "false-indexed": "50 indexed guards, all false", "true-indexed": "50 indexed guards, all true"}  # fmt: skip
    for m, fig in res["guards"].items():
        paper = PAPER_GUARDS.get(m)
        print(f"  {labels[m]:<30}{fig.value:>9.1f}{fig.host_micros:>10.0f}{paper if paper else 'n/a':>7}")
    print()
    print("SOSP'95 Table 5: UDP over Ethernet, in-kernel endpoint vs user-level socket (DEC OSF/1's way)")
    print(f"  {'':<26}{'in-kernel':>10}{'socket':>9}{'paper SPIN':>12}{'paper OSF/1':>13}"
          f"{'crossings k/s':>15}{'copies k/s':>12}")  # fmt: skip
    for what, label, unit in (("latency", "round trip, 16 B", "µs"), ("bandwidth", "receive, 1472 B", "Mb/s")):
        k, s = res["table5"][what]["kernel"], res["table5"][what]["socket"]
        ps, po = PAPER_T5[what]
        print(f"  {label + f' ({unit})':<26}{k.value:>10.1f}{s.value:>9.1f}{ps:>12}{po:>13}"
              f"{f'{k.crossings:.0f}/{s.crossings:.0f}':>15}{f'{k.copies:.0f}/{s.copies:.0f}':>12}")  # fmt: skip
    print("  crossings: user/kernel boundary crossings per round trip on both hosts (per datagram at the")
    print("  receiver for bandwidth); copies: copies of packet data (copyin, copyout, handlers' copies).")
    print("  A call that had to wait runs again when woken (kernel/core/trap.py, RESTART): its trap counts twice.")
    print()
    print("SOSP'95 Table 6: round trip through a forwarder, 16 bytes; modeled µs")
    print(f"  {'':<6}{'in-kernel node':>15}{'user splicer':>14}{'paper SPIN':>12}{'paper OSF/1':>13}"
          f"{'forwarder crossings':>21}{'copies':>9}")  # fmt: skip
    for p in ("tcp", "udp"):
        k, s = res["table6"][p]["kernel"], res["table6"][p]["splicer"]
        ps, po = PAPER_T6[p]
        print(f"  {p.upper():<6}{k.value:>15.1f}{s.value:>14.1f}{ps:>12}{po:>13}"
              f"{f'{k.crossings:.0f}/{s.crossings:.0f}':>21}{f'{k.copies:.0f}/{s.copies:.0f}':>9}")  # fmt: skip
    print("  The node forwards each packet once, in the kernel; the splicer receives it into a process and")
    print("  sends it again, so each packet crosses the stack twice and the boundary four times at the forwarder.")
    if bars:
        print()
        print("\n".join(_charts(res, labels)))
    return 0


def _charts(res: dict[str, Any], labels: dict[str, str]) -> list[str]:
    """The three comparisons as bars, below the numbers."""
    g = [(labels[m], [("ours", f.value), ("paper SPIN", PAPER_GUARDS.get(m))]) for m, f in res["guards"].items()]
    out = chart("§5.5 as bars (modeled µs a round trip; shorter is faster)", g, "µs")
    for what, title, unit in (("latency", "Table 5, round trip, as bars (shorter is faster)", "µs"),
                              ("bandwidth", "Table 5, receive bandwidth, as bars (longer is faster)", "Mb/s")):  # fmt: skip
        k, s = res["table5"][what]["kernel"], res["table5"][what]["socket"]
        ps, po = PAPER_T5[what]
        bars = [("ours, in-kernel", k.value), ("ours, socket", s.value), ("paper SPIN", ps), ("paper OSF/1", po)]
        out += ["", *chart(title, [(what, bars)], unit)]
    g = []
    for p in ("tcp", "udp"):
        k, s = res["table6"][p]["kernel"], res["table6"][p]["splicer"]
        ps, po = PAPER_T6[p]
        g.append((p.upper(), [("ours, in-kernel node", k.value), ("ours, user splicer", s.value), ("paper SPIN", ps),
                              ("paper OSF/1", po)]))  # fmt: skip
    return [*out, "", *chart("Table 6 as bars (modeled µs through a forwarder; shorter is faster)", g, "µs")]
