"""The video formats (kernel/video/format.py): RLE, movies and packets round-trip, and malformed
bytes are refused with VideoFormatError and a message -- never another exception."""

from __future__ import annotations

import random

import pytest

from kernel.video import format as V
from kernel.video.format import VideoFormatError, test_pattern


def test_the_palette_is_a_cube_and_greys() -> None:
    assert len(V.PALETTE) == 256 and len(set(V.PALETTE)) >= 250
    assert V.PALETTE[V.color(255, 0, 0)] == (255, 0, 0) and V.PALETTE[V.BLACK] == (0, 0, 0)
    assert V.PALETTE[V.WHITE] == (255, 255, 255) and V.PALETTE[V.grey(39)] == (255, 255, 255)
    assert V.FRAME_BYTES * 8 * V.FPS == 2_949_120  # the paper's ~3 Mb/s a stream


@pytest.mark.parametrize("name", V.PATTERNS)
def test_patterns_round_trip_through_rle_and_compress(name: str) -> None:
    frames = test_pattern(name, 12)
    assert len(frames) == 12 and all(len(f) == V.FRAME_BYTES for f in frames)
    assert len(set(frames)) == 12, "a moving pattern: every frame differs"
    for f in frames:
        packed = V.rle_encode(f)
        assert packed.startswith(b"SVR1") and V.rle_decode(packed) == f
    if name != "gradient":
        assert len(V.rle_encode(frames[0])) < V.FRAME_BYTES // 4


def test_random_data_round_trips_and_is_stored_raw_when_rle_does_not_pay() -> None:
    rng = random.Random(7)
    for n in (0, 1, 2, 255, 256, 257, 1000):
        data = bytes(rng.choice((0, 0, 0, 5, 9)) for _ in range(n))
        assert V.rle_decode(V.rle_encode(data), n) == data
    noisy = rng.randbytes(V.FRAME_BYTES)
    assert V.rle_decode(V.rle_encode(noisy)) == noisy
    flags, payload = V.encode_frame(noisy)
    assert flags == 0 and payload == noisy
    assert V.decode_frame(payload, flags) == noisy
    long_run = bytes(1000)
    assert V.rle_encode(long_run) == b"SVR1" + bytes((255, 0)) * 3 + bytes((235, 0))


@pytest.mark.parametrize(
    "data, why",
    [
        (b"", "does not start"),
        (b"SVR0\x01\x00", "does not start"),
        (b"SVR1\x05", "half a"),
        (b"SVR1\x00\x07", "count of 0"),
        (b"SVR1" + bytes((255, 1)) * 49, "past the frame"),
        (b"SVR1\x05\x01", "gives 5 pixels"),
        (b"SVR1" + bytes((1, 1)) * (V.FRAME_BYTES + 1), "more than"),
    ],
)
def test_malformed_rle_is_refused_with_a_reason(data: bytes, why: str) -> None:
    with pytest.raises(VideoFormatError, match=why):
        V.rle_decode(data)


def test_a_movie_round_trips_and_mixes_raw_and_rle() -> None:
    frames = test_pattern("box", 5) + [random.Random(1).randbytes(V.FRAME_BYTES)]
    data = V.build_movie(frames)
    assert data[:4] == b"SVF1" and data[4:12] == bytes.fromhex("0080 0060 001e 0006".replace(" ", ""))
    m = V.parse_movie(data)
    assert (m.width, m.height, m.fps, len(m.payloads)) == (128, 96, 30, 6)
    assert [m.frame(i) for i in range(6)] == frames
    assert [m.flags(i) for i in range(6)] == [1, 1, 1, 1, 1, 0]
    for i, off in enumerate(m.offsets):
        n = int.from_bytes(data[off : off + 4], "big")
        assert data[off + 4 : off + 4 + n] == m.payloads[i]


def test_malformed_movies_are_refused_never_raising_anything_else() -> None:
    good = V.build_movie(test_pattern("bars", 3))
    cases = [good[:5], b"XVF1" + good[4:], good[:-1], good + b"x", good[:4] + bytes(8),
             good[:12] + (1 << 31).to_bytes(4, "big") + good[16:]]  # fmt: skip
    for bad in cases:
        with pytest.raises(VideoFormatError):
            V.parse_movie(bad)
    rng = random.Random(3)
    for _ in range(2000):
        b = bytearray(good[: rng.randrange(len(good))])
        for _ in range(rng.randrange(4)):
            if b:
                b[rng.randrange(len(b))] = rng.randrange(256)
        try:
            m = V.parse_movie(bytes(b))
            for i in range(len(m.payloads)):
                m.frame(i)
        except VideoFormatError:
            pass


def test_packets_carry_a_frame_and_parse_back() -> None:
    frame = random.Random(2).randbytes(V.FRAME_BYTES)
    packets = V.packetize(frame, stream=7, frame=41)
    assert len(packets) == 12 and all(len(p) <= 16 + 1024 for p in packets)
    assert packets[0][:16] == b"SV\x01\x00" + (7).to_bytes(4, "big") + (41).to_bytes(4, "big") + bytes((0, 0, 0, 12))
    got = b""
    for i, p in enumerate(packets):
        head, body = V.parse_packet(p)
        assert head == V.PacketHeader(1, 0, 7, 41, i, 12)
        got += body
    assert got == frame
    flags, payload = V.encode_frame(test_pattern("box", 1)[0])
    (one,) = V.packetize(payload, 1, 2, flags)
    assert V.parse_header(one).flags == V.FLAG_RLE


@pytest.mark.parametrize(
    "data, why",
    [
        (b"SV\x01", "shorter"),
        (b"XX" + bytes(14), "does not start"),
        (V.pack_header(0, 0, 0, 1)[:2] + b"\x02" + V.pack_header(0, 0, 0, 1)[3:], "version 2"),
        (V.pack_header(0, 0, 0, 1)[:3] + b"\x80" + V.pack_header(0, 0, 0, 1)[4:], "flags"),
        (V.pack_header(0, 0, 0, 1)[:12] + bytes((0, 3, 0, 3)), "chunk 3 of 3"),
        (V.pack_header(0, 0, 0, 1)[:12] + bytes(4), "chunk 0 of 0"),
        (V.pack_header(0, 0, 0, 1) + bytes(1025), "at most 1024"),
        (V.pack_header(0, 0, 0, 2) + bytes(10), "every chunk but the last"),
    ],
)
def test_malformed_packets_are_refused_with_a_reason(data: bytes, why: str) -> None:
    with pytest.raises(VideoFormatError, match=why):
        V.parse_packet(data)


def test_bad_arguments_are_refused_too() -> None:
    for call in (lambda: test_pattern("plaid", 1), lambda: test_pattern("box", 1, 0, 5),
                 lambda: V.build_movie([b"short"]), lambda: V.pack_header(0, 0, 1, 1),
                 lambda: V.pack_header(0, 0, 0, 1, flags=2), lambda: V.decode_frame(b"abc", 0)):  # fmt: skip
        with pytest.raises(VideoFormatError):
            call()
