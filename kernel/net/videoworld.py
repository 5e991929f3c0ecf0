"""The video world of SOSP'95 §5.4 (Figure 5/6): a video server host and
its clients on one wire (kernel/net/topology.py).

    10.0.0.1  the server: its extent disk holds a movie of raw 128x96 frames
              (12,288 bytes: 2.95 Mb/s at 30 frames/s; test patterns from
              kernel/video/format.py); it runs the SPIN way (the three
              extensions video_multicast, video_reader, video_sender over the
              Timer, Reel and Multicast interfaces, loaded as root) or the DEC
              OSF/1 way (scenarios/programs/bin/vserver.elf as init: sendto
              once per client per packet); the idle probe
              (kernel/core/idleprobe.py) measures its processor the paper's way
    10.0.0.2  the sink clients: one SPIN host whose kernel counts, on port
              5004+i for client i, every datagram that really crossed the wire
              (each header checked; a sink, not a frame buffer)
    10.0.0.3  with ``viewer=True`` only: a client with a frame buffer running
              extensions/video_client.py, so the Video pane shows the stream;
              it takes the place of one sink (client 0)

The facts the extensions share with the rest of the workbench -- the frame
and packet formats (kernel/video/format.py), the clock (costs.CLOCK_MHZ),
the group, control port and client bound (here) -- have one source each:
``EXTENSION_FACTS`` hands them to each extension as load settings, and the
extensions' own defaults are equal to them (tests/video_server checks), so
an extension loaded on its own behaves the same.

``device="dma"`` (default) drives the server's card the T3's way (a cost
per frame), ``"pio"`` the Lance's programmed-I/O way (per frame and per
byte), both on a 45 Mb/s wire (the paper's T3). All figures are modeled
virtual time (kernel/core/costs.py). `spinwb bench video` and the
video_server lesson build on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kernel.core import framebuffer as fbdrv
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

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "extensions"
VSERVER = ROOT / "scenarios" / "programs" / "bin" / "vserver.elf"
MOVIE = "video/test.svf"
MOVIE_FRAMES = 30
CLIENT_PORT = V.PORT  # client i listens on CLIENT_PORT + i
STREAM = 1
GROUP = 5000  # the SPIN way's group port on the server's own address: one UDP.Send, then Multicast.Send
CONTROL = 5005  # where clients JOIN and LEAVE (extensions/video_multicast.py)
SRC_PORT = 5006  # the sender's source port
MAX_CLIENTS = 32  # the video server's client bound (the kernel's Multicast takes up to 64)
SATURATED_FPS = 27  # a client getting fewer whole frames a second than this is not being served (30 is due)
BANDWIDTH = 45_000_000  # the T3's
WARMUP_US = 400_000
INTERVAL_US = 500_000
WAYS = ("spin", "osf1", "idle")
SERVER, SINKS, VIEWER = 0, 1, 2  # the hosts' indices
SPIN_EXTENSIONS = ("video_multicast", "video_reader", "video_sender")  # load order: the handler before the sends


# Per extension: the load settings that carry the shared facts. Each extension's own
# default for each of these is the same value (tests/video_server/test_video_server.py).
EXTENSION_FACTS: dict[str, dict[str, Any]] = {
    "video_sender": dict(
        STREAM=STREAM,
        GROUP=GROUP,
        SRC_PORT=SRC_PORT,
        FPS=V.FPS,
        CHUNK=V.CHUNK,
        FRAME_BYTES=V.FRAME_BYTES,
        CLOCK_MHZ=CLOCK_MHZ,  # kernel/core/costs.py
    ),
    "video_multicast": {"GROUP": GROUP, "CONTROL": CONTROL, "MAX_CLIENTS": MAX_CLIENTS},
    "video_reader": {"MOVIE": MOVIE, "STREAM": STREAM},
    "video_client": {"PORT": V.PORT, "CHUNK": V.CHUNK, "HEADER": V.HEADER.size},
}


class VideoWorldError(ValueError):
    """The world cannot be built as asked; says what and why."""


def movie() -> bytes:
    """The stored movie: raw frames (no RLE), so each stream is the spec's 2.95 Mb/s."""
    return V.build_movie(V.test_pattern("box", MOVIE_FRAMES), rle=False)


class Sink:
    """The clients: kernel endpoints on the client host, one port each,
    counting datagrams whose header is issue 20's and the frames that came
    whole -- every one of a frame's chunks, as a client needs to show it
    (extensions/video_client.py shows no frame with a chunk missing).

    Like the client, each port puts one frame together at a time: a chunk
    of another frame starts that one, and the frame under way is lost."""

    def __init__(self, k: Kernel, n: int) -> None:
        assert k.net is not None
        self.packets = [0] * n
        self.frames = [0] * n  # frames with every chunk received
        self.broken = [0] * n  # frames abandoned with a chunk missing
        self.bad = 0
        self._current: list[tuple[int, int] | None] = [None] * n  # (stream, frame) under way per client
        self._have: list[set[int]] = [set() for _ in range(n)]
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
            key = (h.stream, h.frame)
            if self._current[i] != key:
                if self._current[i] is not None:
                    self.broken[i] += 1
                self._current[i] = key
                self._have[i] = set()
            have = self._have[i]
            have.add(h.chunk)
            if len(have) == h.nchunks:
                self.frames[i] += 1
                self._current[i] = None

        return got


class VideoWorld:
    """The server and client hosts with ``streams`` clients, the SPIN way or the OSF/1 way (or idle).

    With ``viewer`` a third host (10.0.0.3) with a frame buffer runs the
    video client as client 0 (port 5004); the other ``streams - 1`` are sinks
    on 10.0.0.2. ``trace`` turns on the per-dispatch records the workbench's
    panes read (virtual time is the same either way)."""

    def __init__(self, streams: int, way: str, device: str = "dma", pcap: str | None = None, *,
                 viewer: bool = False, trace: bool = False) -> None:  # fmt: skip
        if way not in WAYS:
            raise VideoWorldError(f"VideoWorld: way {way!r} is not spin, osf1 or idle")
        if not isinstance(streams, int) or isinstance(streams, bool) or not 1 <= streams <= MAX_CLIENTS:
            raise VideoWorldError(
                f"VideoWorld: streams is a number of clients from 1 to {MAX_CLIENTS}, not {streams!r}"
            )
        self.streams, self.way, self.viewer = streams, way, viewer
        sinks = streams - 1 if viewer else streams
        self.clients = [("10.0.0.3", CLIENT_PORT)] if viewer else []
        self.clients += [("10.0.0.2", CLIENT_PORT + i) for i in range(sinks)]
        programs = {}
        if way == "osf1":
            if not VSERVER.exists():
                raise VideoWorldError(f"VideoWorld: {VSERVER} is missing (make -C scenarios/programs)")
            argv = ["vserver", MOVIE, "0", str(STREAM)]
            if viewer:
                argv += ["10.0.0.3", str(CLIENT_PORT), "1"]
            if sinks:
                argv += ["10.0.0.2", str(CLIENT_PORT), str(sinks)]
            programs[SERVER] = (read_elf(VSERVER), argv)
        self.net = Network(3 if viewer else 2, programs=programs, bandwidth=BANDWIDTH, device=device, pcap=pcap,
                           disks={SERVER: build_image({MOVIE: movie()})}, trace=trace)  # fmt: skip
        self.server, self.client = self.net.hosts[SERVER], self.net.hosts[SINKS]
        self.display: Kernel | None = self.net.hosts[VIEWER] if viewer else None
        for k in self.net.hosts:
            install_probe(k)  # vclock for vserver's pacing; measuring programs only
            assert k.net is not None
            for other in self.net.hosts:
                if other is not k and other.net is not None:
                    k.net.arp_cache[other.net.address] = other.net.mac
        self.probe = IdleProbe(self.server)
        self.sink = Sink(self.client, sinks)
        self.exts: dict[str, Any] = {}
        if self.display is not None:
            self.display.machine.attach_framebuffer()
            fbdrv.attach(self.display)
            self.exts["video_client"] = self.display.system.load_file(
                EXT / "video_client.py", importer="root", settings=EXTENSION_FACTS["video_client"]
            )
        if way == "spin":
            self.load_spin()

    def load_spin(self, clients: str | None = None) -> None:
        """The SPIN way: Timer, Reel and Multicast in the server's kernel, then the three extensions."""
        k = self.server
        install_timers(k)
        install_reel(k)
        self.multicast = install_multicast(k)
        if clients is None:
            clients = ",".join(f"{a}:{p}" for a, p in self.clients)
        for name in SPIN_EXTENSIONS:
            settings = dict(EXTENSION_FACTS[name], **({"CLIENTS": clients} if name == "video_multicast" else {}))
            self.exts[name] = k.system.load_file(EXT / f"{name}.py", importer="root", settings=settings)

    def globals(self, name: str) -> dict[str, Any]:
        return self.exts[name].namespace

    def counters(self) -> dict[str, int]:
        k = self.server
        assert k.net is not None
        c = k.net.counters
        return {"udp_out": c["udp out"], "driver_sends": k.net.driver.sent, "copies": c["copies"],
                "crossings": k.sal.crossings, "tx_drops": k.net.driver.tx_dropped,
                "sink_frames": sum(self.sink.frames), "bytes_out": self.net.wire.carried,
                "tx_queue": len(k.net.driver.txq)}  # fmt: skip

    def measure(self, warmup_us: int = WARMUP_US, interval_us: int = INTERVAL_US) -> tuple[int, dict[str, int], float]:
        """(probe loops, counter deltas, virtual seconds) over ``interval_us`` after ``warmup_us``;
        ``sink_frames`` counts whole frames over all sinks, ``sink_frames_min`` the worst-served sink's;
        ``tx_queue`` is how much the driver's transmit queue grew (the default window is 15 frame periods, so
        a server keeping up ends it with the queue it began with)."""
        self.net.run_us(warmup_us)
        c0, l0 = self.probe.sample()
        before = self.counters()
        pk0, fr0 = sum(self.sink.packets), list(self.sink.frames)
        self.net.run_us(interval_us)
        c1, l1 = self.probe.sample()
        after = self.counters()
        delta = {key: after[key] - before[key] for key in after}
        delta["sink_packets"] = sum(self.sink.packets) - pk0
        delta["sink_frames_min"] = min((b - a for a, b in zip(fr0, self.sink.frames, strict=True)), default=0)
        return l1 - l0, delta, (c1 - c0) / (CLOCK_MHZ * 1e6)

    def close(self) -> None:
        self.net.close()
