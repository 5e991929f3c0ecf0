"""The video server of SOSP'95 §5.4 (issue 20): the SPIN way's multicast
on UDP.PacketSend against the OSF/1 way's sendto per client, paced at 30
frames/s, measured by the idle probe (workbench/bench/video.py)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kernel.net import packet as P
from kernel.net import videoworld as VW
from workbench.bench import video as BV

ROOT = Path(__file__).resolve().parents[2]
SHORT = 200_000  # virtual µs measured per run: enough for six frames a stream


@pytest.fixture(scope="module")
def spin3() -> tuple[BV.VideoWorld, dict[str, int], float]:
    w = BV.VideoWorld(3, "spin", "dma")
    _, d, secs = w.measure(warmup_us=100_000, interval_us=SHORT)
    return w, d, secs


@pytest.fixture(scope="module")
def osf3() -> tuple[BV.VideoWorld, dict[str, int], float]:
    w = BV.VideoWorld(3, "osf1", "dma")
    _, d, secs = w.measure(warmup_us=100_000, interval_us=SHORT)
    return w, d, secs


def test_multicast_one_trip_down_the_graph_one_copy_per_client(spin3) -> None:
    w, d, _ = spin3
    sender, mc = w.globals("video_sender"), w.globals("video_multicast")
    assert sender["packets_sent"] > 0 and sender["errors"] == 0
    # every datagram the sender sent went down UDP/IP once; the driver sent it once per client
    assert w.multicast.sends == sender["packets_sent"] == w.server.net.counters["udp out"]
    assert w.multicast.copies == 3 * w.multicast.sends == mc["copies"]
    assert abs(d["driver_sends"] - 3 * d["udp_out"]) <= 3  # copies still queued at the window's edges
    assert d["crossings"] == 0 and d["copies"] == 0  # in the kernel: no trap, no copyin
    # and the copies really crossed the wire, one per client port, each a well-formed video packet
    assert w.sink.bad == 0
    assert min(w.sink.packets) > 0 and max(w.sink.packets) - min(w.sink.packets) <= 1  # one in flight


def test_osf1_way_sends_once_per_client_per_packet(osf3) -> None:
    w, d, _ = osf3
    assert d["udp_out"] == d["copies"] > 0  # each sendto: a copyin and a trip down the stack
    assert abs(d["udp_out"] - d["sink_packets"]) <= 3 * 12  # as many trips down the stack as client packets
    assert max(w.sink.packets) - min(w.sink.packets) <= 12
    assert d["crossings"] >= 2 * d["udp_out"]  # a trap in and a return out per sendto at least
    assert w.sink.bad == 0


@pytest.mark.parametrize("which", ["spin3", "osf3"])
def test_thirty_frames_a_second_per_stream(which: str, request: pytest.FixtureRequest) -> None:
    w, d, secs = request.getfixturevalue(which)
    fps = d["sink_frames"] / 3 / secs
    assert 27 <= fps <= 33, f"{which}: {fps:.1f} frames/s per stream"


def test_utilization_rises_and_spin_grows_more_slowly_on_dma() -> None:
    res = BV.bench_video((1, 5), "dma", interval_us=SHORT)
    u = {(p["streams"], p["way"]): p["utilization"] for p in res["points"]}
    assert u[5, "spin"] > u[1, "spin"] > 0
    assert u[5, "osf1"] > u[1, "osf1"] > 0
    assert u[5, "spin"] - u[1, "spin"] < (u[5, "osf1"] - u[1, "osf1"]) / 2
    assert u[5, "spin"] < u[5, "osf1"]


def test_a_control_storm_does_not_break_the_server() -> None:
    w = BV.VideoWorld(2, "spin", "dma")
    client = w.client
    assert client.net is not None
    junk = [b"", b"JOIN", b"JOIN\x00\x00", b"LEAVE\x27\x0f", b"JOIN\xff\xff" * 40, bytes(range(256)) * 5]
    for i in range(200):  # joins from many ports, malformed datagrams, leaves of nobody
        client.net.udp.send(6000 + i % 50, "10.0.0.1", 5005, b"JOIN" + (7000 + i).to_bytes(2, "big"))
        client.net.udp.send(6000, "10.0.0.1", 5005, junk[i % len(junk)][: P.ETH_MAX - 100])
        if i % 20 == 0:
            w.net.run_us(2000)
    sent0 = w.globals("video_sender")["packets_sent"]
    _, d, _ = w.measure(warmup_us=100_000, interval_us=SHORT)
    mc = w.globals("video_multicast")
    assert len(mc["clients"]) == 2  # the two listed: a JOIN alone only gets an OFFER
    assert len(mc["offers"]) == mc["MAX_OFFERS"]  # bounded: the oldest offers were forgotten
    assert mc["refused"] > 100
    assert w.server.sched.failures == []
    assert w.globals("video_sender")["packets_sent"] - sent0 >= 60  # still 30 frames/s of 12 chunks
    assert d["udp_out"] > 0 and d["driver_sends"] > d["udp_out"]  # still one trip, many copies
    assert min(w.sink.packets) > 0


def test_joining_takes_the_offered_cookie_and_a_forged_source_gets_no_stream() -> None:
    """A JOIN is answered with an OFFER to the address it names; only the
    cookie echoed from there adds the client, and only it can LEAVE. A JOIN
    with a forged source (another host's address) gets its victim one small
    OFFER, never the 3 Mb/s stream."""
    w = BV.VideoWorld(1, "spin", "dma")
    client = w.client
    assert client.net is not None
    got: list[bytes] = []
    client.net.udp.bind(7100, "joiner", lambda d: got.append(bytes(d.payload)))
    client.net.udp.send(7100, "10.0.0.1", 5005, b"JOIN" + (7100).to_bytes(2, "big"))
    w.net.run_us(20_000)
    assert len(got) == 1 and got[0][:5] == b"OFFER" and len(got[0]) == 9
    cookie = got[0][5:]
    client.net.udp.send(7100, "10.0.0.1", 5005, b"JOIN" + (7100).to_bytes(2, "big") + bytes(4))  # a guess
    client.net.udp.send(7100, "10.0.0.1", 5005, b"LEAVE" + (7100).to_bytes(2, "big") + cookie)  # not joined yet
    w.net.run_us(20_000)
    assert ("10.0.0.2", 7100) not in [tuple(c) for c in w.globals("video_multicast")["clients"]]
    client.net.udp.send(7100, "10.0.0.1", 5005, b"JOIN" + (7100).to_bytes(2, "big") + cookie)
    w.net.run_us(100_000)
    assert ("10.0.0.2", 7100) in [tuple(c) for c in w.globals("video_multicast")["clients"]]
    assert sum(1 for p in got if p[:2] == b"SV") > 12  # frames arrive
    forged = client.net.udp.send(7100, "10.0.0.1", 5005, b"LEAVE" + (7100).to_bytes(2, "big") + bytes(4))
    assert forged == 0
    w.net.run_us(20_000)
    assert ("10.0.0.2", 7100) in [tuple(c) for c in w.globals("video_multicast")["clients"]]
    client.net.udp.send(7100, "10.0.0.1", 5005, b"LEAVE" + (7100).to_bytes(2, "big") + cookie)
    w.net.run_us(20_000)
    mc = w.globals("video_multicast")
    assert ("10.0.0.2", 7100) not in [tuple(c) for c in mc["clients"]] and mc["leaves"] == 1


def test_bench_json_parses() -> None:
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "bench", "video", "--streams", "1", "--json"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert [p["way"] for p in res["points"]] == ["spin", "osf1"]
    assert all(0 <= p["utilization"] <= 100 for p in res["points"])


def test_bad_stream_list_is_a_clear_error() -> None:
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "bench", "video", "--streams", "x"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode != 0 and "Traceback" not in r.stderr and "stream counts" in r.stderr


def _defaults(name: str) -> dict[str, object]:
    """An extension's top-level constants as written in its source (what it uses loaded on its own)."""
    tree = ast.parse((ROOT / "extensions" / f"{name}.py").read_text())
    out: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


@pytest.mark.parametrize("name", sorted(VW.EXTENSION_FACTS))
def test_each_extensions_defaults_are_the_one_sources(name: str) -> None:
    """The world hands each extension its shared facts (kernel/video/format.py, costs.CLOCK_MHZ,
    videoworld's group and bounds) as load settings; the extension's own defaults must be the
    same, or it loaded by hand would pace, cut or listen differently."""
    facts = VW.EXTENSION_FACTS[name]
    assert _defaults(name).items() >= facts.items(), {k: (_defaults(name).get(k), v) for k, v in facts.items()}


def test_the_sources_the_facts_come_from() -> None:
    from kernel.core.costs import CLOCK_MHZ
    from kernel.video import format as V

    s = VW.EXTENSION_FACTS["video_sender"]
    assert (s["FPS"], s["CHUNK"], s["FRAME_BYTES"], s["CLOCK_MHZ"]) == (V.FPS, V.CHUNK, V.FRAME_BYTES, CLOCK_MHZ)
    c = VW.EXTENSION_FACTS["video_client"]
    assert (c["PORT"], c["CHUNK"], c["HEADER"]) == (V.PORT, V.CHUNK, V.HEADER.size)
    assert VW.EXTENSION_FACTS["video_multicast"]["MAX_CLIENTS"] == VW.MAX_CLIENTS
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "bench", "video", "--streams", str(VW.MAX_CLIENTS + 1)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode != 0 and f"each from 1 to {VW.MAX_CLIENTS}" in r.stderr


def test_the_sink_counts_a_frame_only_when_every_chunk_came() -> None:
    """Counting a frame at its last chunk counted frames a client could never show (a chunk lost
    before it); the sink must count only whole frames, and count the broken one."""
    from kernel.video import format as V

    w = BV.VideoWorld(1, "idle", "dma")
    srv = w.server
    assert srv.net is not None
    raw = V.test_pattern("box", 1)[0]
    whole, holed = V.frame_packets(raw, 1, 7, rle=False), V.frame_packets(raw, 1, 8, rle=False)
    assert len(holed) == 12
    for pkt in whole + holed[:5] + holed[6:] + V.frame_packets(raw, 1, 9, rle=False):
        srv.net.udp.send(VW.SRC_PORT, "10.0.0.2", VW.CLIENT_PORT, pkt)
        w.net.run_us(400)
    w.net.run_us(10_000)
    assert w.sink.packets == [35] and w.sink.bad == 0
    assert w.sink.frames == [2] and w.sink.broken == [1]  # frames 7 and 9; 8 lacked chunk 5
    w.close()


def test_saturated_points_are_marked_and_left_out_of_the_headline() -> None:
    """At 15 streams the 45 Mb/s wire cannot carry what is offered (46.7 Mb/s of frames): both ways
    must be marked saturated, and the comparison made at 13, where every client gets its frames."""
    res = BV.bench_video((13, 15), "dma", interval_us=300_000)
    sat = {(p["streams"], p["way"]): p["saturated"] for p in res["points"]}
    assert sat == {(13, "spin"): False, (13, "osf1"): False, (15, "spin"): True, (15, "osf1"): True}
    assert all(p["frames_worst_client"] >= 26 for p in res["points"] if p["streams"] == 13)
    h = res["headline"]
    assert h is not None and h["streams"] == 13 and 0 < h["ratio"] < 1
    # paced per chunk, the SPIN way's losses fall on a few clients, not on every client's last chunk
    spin15 = next(p for p in res["points"] if p["streams"] == 15 and p["way"] == "spin")
    assert spin15["frames_per_stream"] > 20
