"""`spinwb bench video`: SOSP'95 §5.4's Figure 6 -- server processor
utilization against the number of ~3 Mb/s video streams, the SPIN server
(three extensions, multicast on UDP.PacketSend) against the DEC OSF/1-way
server (scenarios/programs/kernel/vserver.c: sendto once per client per
packet).

The world: two hosts on one wire at 45 Mb/s (the paper's T3). Host 1
(10.0.0.1) is the server; its extent disk holds a movie of raw 128x96
frames (12,288 bytes: 2.95 Mb/s at 30 frames/s; test patterns from
kernel/video/format.py). Host 2 (10.0.0.2) is the clients: one SPIN host
whose kernel counts, on port 5004+i for client i, every datagram that
really crossed the wire (it checks each header; a sink, not a frame
buffer -- extensions/video_client.py is the viewer, not needed to load the
server). ``--device dma`` (default) drives the card the DMA way, the T3's
(costs.T3_TX per frame, nothing per byte); ``--device pio`` the Lance's
programmed-I/O way (LANCE_TX + LANCE_BYTE), on the same 45 Mb/s wire,
like the paper's FORE card. The same driver cost model serves both servers.

Utilization is measured the paper's way: the idle probe's progress on
the server (kernel/core/idleprobe.py) over a virtual interval after a
warm-up, against its progress on the same machine with no server
running: ``1 - loops / loops_idle``. Beside it, per virtual second on the
server: datagrams down the protocol graph (UDP output), the driver's
sends, copies of packet data, and user/kernel crossings. All figures are
modeled virtual time (kernel/core/costs.py), not host time.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kernel.core.costs import CLOCK_MHZ
from kernel.core.idleprobe import IdleProbe
from kernel.core.probe import install_probe
from kernel.core.reel import install_reel
from kernel.core.timers import install_timers
from kernel.fs.format import build_image
from kernel.kernel import Kernel
from kernel.net import packet as P
from kernel.net.multicast import install_multicast
from kernel.net.topology import Network
from kernel.video import format as V
from machine.elf import read_elf
from workbench.bench.chart import chart

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "extensions"
VSERVER = ROOT / "scenarios" / "programs" / "bin" / "vserver.elf"
MOVIE = "video/test.svf"
MOVIE_FRAMES = 30
CLIENT_PORT = V.PORT  # client i listens on CLIENT_PORT + i
STREAM = 1
BANDWIDTH = 45_000_000  # the T3's
DEFAULT_STREAMS = (1, 3, 5, 7, 9, 11, 13, 15)
WARMUP_US = 150_000
INTERVAL_US = 500_000
PAPER = (
    "SOSP'95 Figure 6 (T3, DMA): SPIN's utilization grows more slowly; at 15 streams both saturate the "
    "network and SPIN uses about half the processor of DEC OSF/1. With programmed I/O (FORE): about the same."
)


def movie() -> bytes:
    """The stored movie: raw frames (no RLE), so each stream is the spec's 2.95 Mb/s."""
    return V.build_movie(V.test_pattern("box", MOVIE_FRAMES), rle=False)


class Sink:
    """The clients: kernel endpoints on the client host, one port each,
    counting datagrams whose header is issue 20's and frames completed."""

    def __init__(self, k: Kernel, n: int) -> None:
        assert k.net is not None
        self.packets = [0] * n
        self.frames = [0] * n
        self.bad = 0
        for i in range(n):
            ep = k.net.udp.bind(CLIENT_PORT + i, "video sink", self._counter(i))
            assert not isinstance(ep, int), f"sink port {CLIENT_PORT + i}: {ep}"

    def _counter(self, i: int) -> Any:
        def got(d: P.UdpDatagram) -> None:
            try:
                h, _ = V.parse_packet(bytes(d.payload))
            except V.VideoFormatError:
                self.bad += 1
                return
            self.packets[i] += 1
            if h.chunk == h.nchunks - 1:
                self.frames[i] += 1

        return got


@dataclass
class Point:
    streams: int
    way: str  # "spin" | "osf1"
    utilization: float  # percent
    packets_down_graph: float  # per virtual second: UDP datagrams the server's stack built
    driver_sends: float  # frames the driver sent
    copies: float  # copies of packet data (copyin on the OSF/1 way)
    crossings: float  # user/kernel boundary crossings
    frames_per_stream: float  # frames per second each client received (all chunks)
    wire_mbps: float  # the server's output on the wire
    tx_drops: int  # frames the driver's queue refused (the wire saturated)
    host_seconds: float


class VideoWorld:
    """The server and client hosts with ``streams`` clients, the SPIN way or the OSF/1 way (or idle)."""

    def __init__(self, streams: int, way: str, device: str = "dma", pcap: str | None = None) -> None:
        if way not in ("spin", "osf1", "idle"):
            raise ValueError(f"VideoWorld: way {way!r} is not spin, osf1 or idle")
        self.streams, self.way = streams, way
        programs = {}
        if way == "osf1":
            argv = ["vserver", MOVIE, "0", str(STREAM), "10.0.0.2", str(CLIENT_PORT), str(streams)]
            programs[0] = (read_elf(VSERVER), argv)
        self.net = Network(2, programs=programs, bandwidth=BANDWIDTH, device=device, pcap=pcap,
                           disks={0: build_image({MOVIE: movie()})})  # fmt: skip
        self.server, self.client = self.net.hosts
        for k in self.net.hosts:
            install_probe(k)  # vclock for vserver's pacing; measuring programs only
            assert k.net is not None
            for other in self.net.hosts:
                if other is not k and other.net is not None:
                    k.net.arp_cache[other.net.address] = other.net.mac
        self.probe = IdleProbe(self.server)
        self.sink = Sink(self.client, streams)
        self.exts: dict[str, Any] = {}
        if way == "spin":
            self.load_spin()

    def load_spin(self, clients: str | None = None) -> None:
        k = self.server
        install_timers(k)
        install_reel(k)
        self.multicast = install_multicast(k)
        if clients is None:
            clients = ",".join(f"10.0.0.2:{CLIENT_PORT + i}" for i in range(self.streams))
        for name, settings in (("video_multicast", {"CLIENTS": clients}), ("video_reader", {"MOVIE": MOVIE}),
                               ("video_sender", {})):  # fmt: skip
            self.exts[name] = k.system.load_file(EXT / f"{name}.py", importer="root", settings=settings)

    def globals(self, name: str) -> dict[str, Any]:
        return self.exts[name].namespace

    def counters(self) -> dict[str, int]:
        k = self.server
        assert k.net is not None
        c = k.net.counters
        return {"udp_out": c["udp out"], "driver_sends": k.net.driver.sent, "copies": c["copies"],
                "crossings": k.sal.crossings, "tx_drops": k.net.driver.tx_dropped,
                "sink_frames": sum(self.sink.frames), "bytes_out": self._bytes_out()}  # fmt: skip

    def _bytes_out(self) -> int:
        return self.net.wire.carried  # frames; bytes are counted by the sink below

    def measure(self, warmup_us: int = WARMUP_US, interval_us: int = INTERVAL_US) -> tuple[int, dict[str, int], float]:
        """(probe loops, counter deltas, virtual seconds) over ``interval_us`` after ``warmup_us``."""
        self.net.run_us(warmup_us)
        c0, l0 = self.probe.sample()
        before = self.counters()
        pk0 = sum(self.sink.packets)
        self.net.run_us(interval_us)
        c1, l1 = self.probe.sample()
        after = self.counters()
        delta = {key: after[key] - before[key] for key in after}
        delta["sink_packets"] = sum(self.sink.packets) - pk0
        return l1 - l0, delta, (c1 - c0) / (CLOCK_MHZ * 1e6)

    def close(self) -> None:
        self.net.close()


def point(streams: int, way: str, device: str, idle_loops: int, interval_us: int = INTERVAL_US) -> Point:
    t0 = time.perf_counter()  # host-time ok: a benchmark
    w = VideoWorld(streams, way, device)
    loops, d, secs = w.measure(interval_us=interval_us)
    w.close()
    host = time.perf_counter() - t0  # host-time ok: a benchmark
    per = 1 / secs
    frame_bits = (P.ETH_HLEN + P.IP_HLEN + P.UDP_HLEN + 16 + V.CHUNK) * 8  # a full chunk's frame, for the Mb/s
    return Point(streams, way, round(100 * (1 - loops / idle_loops), 1), round(d["udp_out"] * per),
                 round(d["driver_sends"] * per), round(d["copies"] * per), round(d["crossings"] * per),
                 round(d["sink_frames"] * per / streams, 1), round(d["driver_sends"] * per * frame_bits / 1e6, 1),
                 d["tx_drops"], round(host, 2))  # fmt: skip


def idle_loops(device: str, interval_us: int = INTERVAL_US) -> int:
    """The probe's progress on the server with nothing to serve: the 0% mark."""
    w = VideoWorld(1, "idle", device)
    loops, _, _ = w.measure(interval_us=interval_us)
    w.close()
    return loops


def bench_video(streams: tuple[int, ...] = DEFAULT_STREAMS, device: str = "dma",
                interval_us: int = INTERVAL_US) -> dict[str, Any]:  # fmt: skip
    base = idle_loops(device, interval_us)
    points = [point(n, way, device, base, interval_us) for n in streams for way in ("spin", "osf1")]
    return {"device": device, "bandwidth_mbps": BANDWIDTH / 1e6, "interval_us": interval_us,
            "warmup_us": WARMUP_US, "idle_loops": base, "points": [asdict(p) for p in points],
            "paper": PAPER}  # fmt: skip


def main(as_json: bool, streams: tuple[int, ...] = DEFAULT_STREAMS, device: str = "dma", bars: bool = True) -> int:
    res = bench_video(streams, device)
    if as_json:
        print(json.dumps(res, indent=2))
        return 0
    dev = (
        "DMA (T3-like: per-frame driver cost)" if device == "dma" else "PIO (Lance-like: the CPU copies into the card)"
    )
    print(
        f"spinwb bench video — SOSP'95 Figure 6: server utilization vs 2.95 Mb/s streams; {dev}, "
        f"{res['bandwidth_mbps']:.0f} Mb/s wire"
    )
    print(
        f"  modeled virtual time: {res['interval_us'] / 1e6:.1f} s measured per point after "
        f"{res['warmup_us'] / 1e3:.0f} ms warm-up; utilization = 1 - idle-probe progress / an idle server's"
    )
    print("  per virtual second on the server: datagrams down the graph, driver sends, copies, crossings")
    print(f"  {'streams':>7}  {'way':<5} {'util %':>6}  {'down graph':>10} {'driver':>7} {'copies':>7} "
          f"{'crossings':>9}  {'fps/client':>10} {'Mb/s':>5} {'drops':>5}")  # fmt: skip
    by: dict[int, dict[str, dict[str, Any]]] = {}
    for p in res["points"]:
        by.setdefault(p["streams"], {})[p["way"]] = p
        print(f"  {p['streams']:>7}  {p['way']:<5} {p['utilization']:>6.1f}  {p['packets_down_graph']:>10,} "
              f"{p['driver_sends']:>7,} {p['copies']:>7,} {p['crossings']:>9,}  {p['frames_per_stream']:>10.1f} "
              f"{p['wire_mbps']:>5.1f} {p['tx_drops']:>5}")  # fmt: skip
    last = by[max(by)]
    if "spin" in last and "osf1" in last and last["osf1"]["utilization"] > 0:
        ratio = last["spin"]["utilization"] / last["osf1"]["utilization"]
        print(f"  at {max(by)} streams SPIN uses {ratio:.2f} of the OSF/1-way server's processor")
    print(f"  paper: {PAPER}")
    if bars:
        print()
        groups = [(f"{n} stream{'s' if n != 1 else ''}", [("SPIN", ways["spin"]["utilization"]),
                                                            ("OSF/1 way", ways["osf1"]["utilization"])])
                  for n, ways in sorted(by.items()) if "spin" in ways and "osf1" in ways]  # fmt: skip
        for line in chart("Figure 6: server CPU utilization (modeled), SPIN vs the OSF/1 way", groups, "%"):
            print(line)
    return 0
