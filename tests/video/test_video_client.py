"""The video client extension (extensions/video_client.py) on a two-host wire: host 0 sends a
movie's packets with the kernel's own UDP (a tiny in-test sender), host 1 runs the client with
a frame buffer. Frames arrive exactly; loss costs frames, never a shown frame's pixels; a fuzz
of malformed datagrams is counted and survived."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kernel.core import framebuffer as fbdrv
from kernel.inspect import extension_globals
from kernel.kernel import Kernel
from kernel.net.topology import Network
from kernel.sys.errors import SpinError
from kernel.video import format as V
from kernel.video.format import test_pattern

CLIENT = Path(__file__).resolve().parents[2] / "extensions" / "video_client.py"
FRAME_US = 1_000_000 / V.FPS


def world(loss: float = 0.0, seed: int = 0) -> tuple[Network, Kernel, Kernel]:
    net = Network(2, loss=loss, seed=seed)
    a, b = net.hosts
    b.machine.attach_framebuffer()
    fbdrv.attach(b)
    b.system.load_file(CLIENT, importer="root")
    assert a.net is not None and a.net.ping("10.0.0.2", 0) == 0  # ARP first: a burst would overflow its queue
    assert net.run_until(lambda: bool(a.net and a.net.ping_replies), 50_000)
    return net, a, b


def send_frames(net: Network, a: Kernel, packets: list[list[bytes]], order: list[int] | None = None) -> None:
    """Frame by frame at 30 frames a second, each frame's datagrams back to back."""
    for i in order if order is not None else range(len(packets)):
        for p in packets[i]:
            assert a.net is not None and a.net.udp.send(5004, "10.0.0.2", V.PORT, p) == 0
        net.run_us(FRAME_US)
    net.run_us(50_000)


def shown(b: Kernel) -> bytes:
    fb = b.machine.framebuffer
    assert fb is not None
    return fb.shown


def counters(b: Kernel) -> dict[str, int]:
    return extension_globals(b, "video_client")


@pytest.mark.parametrize("rle", [True, False])
def test_every_frame_arrives_and_the_last_is_on_the_screen_exactly(rle: bool) -> None:
    net, a, b = world()
    frames = test_pattern("box", 6) + test_pattern("bars", 4)
    movie = V.parse_movie(V.build_movie(frames, rle=rle))
    packets = V.movie_packets(movie, stream=3)
    send_frames(net, a, packets)
    c = counters(b)
    assert shown(b) == frames[-1]
    assert c["frames_shown"] == 10 and c["frames_dropped"] == 0 and c["malformed"] == 0
    assert b.sal.fb_frames() == 10 and c["last_frame"] == 9
    assert c["packets"] == sum(len(p) for p in packets)
    assert c["bytes_received"] == sum(len(x) for p in packets for x in p)
    assert b.sal.crossings == 0, "no process on the client: the frames never cross to user space"


def test_a_stopped_stream_leaves_the_frame_shown_at_each_moment() -> None:
    net, a, b = world()
    frames = test_pattern("gradient", 3)
    packets = [V.packetize(f, 0, i) for i, f in enumerate(frames)]
    for i, ps in enumerate(packets):
        send_frames(net, a, [ps])
        assert shown(b) == frames[i]


def test_packet_loss_drops_frames_but_never_corrupts_a_shown_one() -> None:
    net, a, b = world(loss=0.03, seed=11)
    frames = test_pattern("box", 40)
    movie = V.parse_movie(V.build_movie([random.Random(i).randbytes(V.FRAME_BYTES) if i % 3 == 0 else f
                                         for i, f in enumerate(frames)]))  # fmt: skip
    expected = [movie.frame(i) for i in range(len(movie.payloads))]
    packets = V.movie_packets(movie)
    seen: list[bytes] = []
    for i in range(len(packets)):
        send_frames(net, a, [packets[i]])
        now = shown(b)
        assert now in expected, f"after frame {i}: the screen shows no frame of the movie"
        seen.append(now)
    c = counters(b)
    assert 0 < c["frames_dropped"] and c["frames_shown"] < 40
    assert c["frames_shown"] + c["frames_dropped"] <= 40
    assert c["malformed"] == 0
    assert b.sal.fb_frames() == c["frames_shown"]


def test_frames_out_of_order_show_only_newer_ones() -> None:
    net, a, b = world()
    frames = test_pattern("bars", 5)
    packets = [V.packetize(f, 0, i) for i, f in enumerate(frames)]
    send_frames(net, a, packets, order=[0, 2, 1, 4, 3])
    c = counters(b)
    assert c["frames_shown"] == 3 and c["last_frame"] == 4 and shown(b) == frames[4]
    assert c["stale"] == 2 * len(packets[1])  # frames 1 and 3 came after a newer one was shown
    # interleaved chunks: frame 6 starts while frame 5 is under way -- 5 is abandoned, 6 shows
    p5, p6 = V.packetize(frames[0], 0, 5), V.packetize(frames[1], 0, 6)
    send_frames(net, a, [p5[:4] + p6 + p5[4:]])
    c = counters(b)
    assert c["frames_dropped"] == 1 and c["last_frame"] == 6 and shown(b) == frames[1]


def _malformed(rng: random.Random, good: list[bytes]) -> bytes:
    kind = rng.randrange(8)
    p = bytearray(rng.choice(good))
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 40))
    if kind == 1:
        return bytes(p[: rng.randrange(16)])  # a header cut short
    if kind == 2:
        p[rng.randrange(4)] ^= 1 << rng.randrange(8)  # magic, version, flags
        return bytes(p)
    if kind == 3:  # chunk index or count out of range
        p[12:16] = rng.choice([bytes((0, 9, 0, 9)), bytes((0, 0, 0, 0)), bytes((1, 0, 1, 1)), bytes((0, 1, 0, 200))])
        return bytes(p)
    if kind == 4:  # a chunk cut or grown
        return bytes(p[: rng.randrange(17, len(p))]) if len(p) > 17 else bytes(p) + b"x"
    if kind == 5:  # an RLE frame in one chunk with garbage pairs
        body = b"SVR1" + bytes(rng.choice((0, 1, 255)) for _ in range(rng.randrange(0, 300)))
        return V.pack_header(0, rng.randrange(1 << 32), 0, 1, V.FLAG_RLE) + body
    if kind == 6:  # raw claimed, wrong length
        return V.pack_header(0, rng.randrange(1 << 32), 0, 1, 0) + rng.randbytes(rng.randrange(1024))
    return bytes(p) + rng.randbytes(rng.randrange(1, 64))


def test_a_fuzz_of_malformed_datagrams_is_counted_and_the_next_good_frame_shows() -> None:
    net, a, b = world()
    frames = test_pattern("box", 2)
    good = [p for i, f in enumerate(frames) for p in V.frame_packets(f, 0, i)]
    rng = random.Random(20)
    sent = 0
    for _burst in range(50):
        for _ in range(100):
            assert a.net is not None and a.net.udp.send(5004, "10.0.0.2", V.PORT, _malformed(rng, good)) == 0
            sent += 1
        net.run_us(60_000)  # 100 datagrams drain at 10 Mb/s, well under the ring's burst
    assert sent == 5000
    c = counters(b)
    assert c["packets"] == 5000, "every datagram reached the handler (none lost to the ring)"
    assert c["malformed"] == 5000 and c["frames_shown"] == 0, "every one of them is malformed (seeded): none shows"
    assert b.sal.fb_frames() == 0
    ext = b.system.extensions["video_client"]
    assert ext.loaded and all(x.installed for x in ext.bindings), "the client still listens"
    last = test_pattern("gradient", 1)[0]
    send_frames(net, a, [V.frame_packets(last, 0, 0xFFFF_FFF0)])
    assert shown(b) == last and counters(b)["last_frame"] == 0xFFFF_FFF0


def test_framebuffer_write_is_bounds_checked_for_extensions() -> None:
    net, a, b = world()
    src = "from spin import FrameBuffer\ndef init():\n    FrameBuffer.Write(12287, b'ab')\n"
    with pytest.raises(SpinError, match="do not fit the 128x96 frame buffer"):
        b.system.load(src, "bad_writer.py")
    with pytest.raises(SpinError, match="takes a pixel offset"):
        b.system.load(src.replace("12287, b'ab'", "'0', b'ab'"), "bad_writer2.py")
    ok = b.system.load("from spin import FrameBuffer\nn = 0\ndef init():\n    global n\n"
                       "    n = FrameBuffer.Write(12286, b'ab')\n    FrameBuffer.Present()\n", "writer.py")  # fmt: skip
    assert ok.namespace["n"] == 2 and shown(b)[-2:] == b"ab" and b.sal.fb_frames() == 1


def test_without_a_frame_buffer_the_client_does_not_load() -> None:
    net = Network(2)
    with pytest.raises(SpinError):
        net.hosts[1].system.load_file(CLIENT, importer="root")
    with pytest.raises(ValueError, match="needs a frame buffer"):
        fbdrv.attach(net.hosts[1])
