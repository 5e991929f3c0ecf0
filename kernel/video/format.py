"""The video formats of SOSP'95 §5.4, shared by the server, the client and the workbench.

The paper's system read frames from disk, sent them at 30 frames a second
per client (about 3 Mb/s a stream) and had a client extension decompress
each frame straight into the frame buffer. Its formats are not published,
so these are small, documented stand-ins (issue 20's spec):

* A **frame** is ``WIDTH x HEIGHT`` = 128 x 96 pixels, one byte each: an
  index into ``PALETTE`` (a 6x6x6 RGB cube, then 40 greys). Raw, a frame is
  12,288 bytes; 30 of them a second are 2.95 Mb/s, the paper's ~3 Mb/s.
* **RLE** ("SVR1"): ``b"SVR1"`` then pairs (count u8 1..255, value u8); the
  runs must add up to the frame exactly.
* A **movie** file (``video/NAME.svf`` on the extent disk): ``b"SVF1"``, u16
  width, u16 height, u16 fps, u16 nframes, then per frame a u32 length and
  the payload. A payload of exactly width*height bytes is raw; any other
  length is RLE (``build_movie`` uses RLE only when it is strictly shorter,
  so the rule never misreads a frame).
* A **packet** is one UDP datagram to the client's port 5004: a 16-byte
  header ``b"SV"``, u8 version 1, u8 flags (bit 0: the payload is RLE), u32
  stream id, u32 frame number, u16 chunk index, u16 chunk count, then at
  most 1,024 bytes of the frame's payload.

Every multi-byte number is big-endian (network order, RFC 1700). Every
parser here refuses malformed input with ``VideoFormatError`` and a message
saying what and where -- never another exception -- so both ends can be fed
hostile bytes.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

WIDTH, HEIGHT, FPS = 128, 96, 30
FRAME_BYTES = WIDTH * HEIGHT  # 12,288
PORT = 5004  # the client's UDP port (RTP's customary one)
CHUNK = 1024  # payload bytes in one packet at most
VERSION = 1
FLAG_RLE = 1
FLAGS_KNOWN = FLAG_RLE

RLE_MAGIC = b"SVR1"
MOVIE_MAGIC = b"SVF1"
PACKET_MAGIC = b"SV"
MAX_SIDE = 1024  # a movie's width and height at most: a header cannot ask for a giant frame
MAX_RUN = 255

HEADER = struct.Struct(">2sBBIIHH")  # magic, version, flags, stream, frame, chunk, count
MOVIE_HEADER = struct.Struct(">4sHHHH")  # magic, width, height, fps, nframes
FRAME_LENGTH = struct.Struct(">I")
assert HEADER.size == 16 and MOVIE_HEADER.size == 12


class VideoFormatError(ValueError):
    """Bytes that are not a frame, movie or packet of these formats; the message says why."""


def _make_palette() -> tuple[tuple[int, int, int], ...]:
    cube = tuple((51 * r, 51 * g, 51 * b) for r in range(6) for g in range(6) for b in range(6))
    greys = tuple((v, v, v) for v in (i * 255 // 39 for i in range(40)))
    return cube + greys


PALETTE: tuple[tuple[int, int, int], ...] = _make_palette()  # index -> (r, g, b), 256 entries
assert len(PALETTE) == 256
BLACK, WHITE = 0, 215


def color(r: int, g: int, b: int) -> int:
    """The cube index nearest to (r, g, b), each 0..255."""
    return 36 * ((r + 25) // 51) + 6 * ((g + 25) // 51) + (b + 25) // 51


def grey(level: int) -> int:
    """The grey ramp's index for level 0..39 (black to white)."""
    return 216 + max(0, min(39, level))


# --- RLE ------------------------------------------------------------------------------------------


def rle_encode(raw: bytes) -> bytes:
    """``b"SVR1"`` and (count, value) pairs, runs of at most 255."""
    out = bytearray(RLE_MAGIC)
    i, n = 0, len(raw)
    while i < n:
        v = raw[i]
        j = i + 1
        while j < n and j - i < MAX_RUN and raw[j] == v:
            j += 1
        out += bytes((j - i, v))
        i = j
    return bytes(out)


def rle_decode(data: bytes, size: int = FRAME_BYTES) -> bytes:
    """The ``size`` bytes an RLE payload stands for; VideoFormatError if it
    is not one (no magic, half a pair, a zero count, runs past or short of ``size``)."""
    if data[:4] != RLE_MAGIC:
        raise VideoFormatError(f"RLE payload does not start with {RLE_MAGIC!r} (starts {bytes(data[:4])!r})")
    body = data[4:]
    if len(body) % 2:
        raise VideoFormatError(f"RLE payload holds {len(body)} bytes after its magic: half a (count, value) pair")
    if len(body) // 2 > size:
        raise VideoFormatError(f"RLE payload has {len(body) // 2} runs, more than the frame's {size} pixels")
    out = bytearray()
    for k in range(0, len(body), 2):
        count = body[k]
        if count == 0:
            raise VideoFormatError(f"RLE run {k // 2} (byte {4 + k}) has a count of 0")
        if len(out) + count > size:
            raise VideoFormatError(f"RLE run {k // 2} (byte {4 + k}) goes past the frame's {size} pixels")
        out += bytes((body[k + 1],)) * count
    if len(out) != size:
        raise VideoFormatError(f"RLE payload gives {len(out)} pixels; the frame has {size}")
    return bytes(out)


def encode_frame(raw: bytes, rle: bool = True) -> tuple[int, bytes]:
    """(flags, payload) for one raw frame: RLE when asked and strictly shorter, else raw."""
    if rle:
        packed = rle_encode(raw)
        if len(packed) < len(raw):
            return FLAG_RLE, packed
    return 0, bytes(raw)


def decode_frame(payload: bytes, flags: int, size: int = FRAME_BYTES) -> bytes:
    """A frame's pixels from its payload and the packet flags that came with it."""
    if flags & FLAG_RLE:
        return rle_decode(payload, size)
    if len(payload) != size:
        raise VideoFormatError(f"raw frame is {len(payload)} bytes; a frame is {size}")
    return bytes(payload)


# --- test patterns --------------------------------------------------------------------------------

BARS = (color(255, 255, 255), color(255, 255, 0), color(0, 255, 255), color(0, 255, 0), color(255, 0, 255),
        color(255, 0, 0), color(0, 0, 255), BLACK)  # fmt: skip  # SMPTE-like colour bars, left to right
PATTERNS = ("bars", "gradient", "box")
BOX = 16  # the bouncing box's side


def _bars(t: int, w: int, h: int) -> bytes:
    row = bytes(BARS[min(len(BARS) - 1, x * len(BARS) // w)] for x in range(w))
    frame = bytearray(row * h)
    y = (t * 2) % h  # a grey line scrolls down the bars, so consecutive frames differ
    frame[y * w : (y + 1) * w] = bytes((grey(20),)) * w
    return bytes(frame)


def _gradient(t: int, w: int, h: int) -> bytes:
    rows = []
    for y in range(h):
        rows.append(bytes(grey(((x + y + 2 * t) * 40 // (w + h)) % 40) for x in range(w)))
    return b"".join(rows)


def _box(t: int, w: int, h: int) -> bytes:
    frame = bytearray(bytes((color(0, 0, 102),)) * (w * h))
    side = min(BOX, w, h)

    def bounce(pos: int, span: int) -> int:
        period = 2 * span if span > 0 else 1
        p = pos % period
        return p if p <= span else period - p

    bx, by = bounce(3 * t, w - side), bounce(2 * t, h - side)
    fill = bytes((color(255, 204, 0),)) * side
    for y in range(by, by + side):
        frame[y * w + bx : y * w + bx + side] = fill
    return bytes(frame)


_MAKERS = {"bars": _bars, "gradient": _gradient, "box": _box}


def test_pattern(name: str, n: int, w: int = WIDTH, h: int = HEIGHT) -> list[bytes]:
    """``n`` raw frames of a test pattern: "bars" (colour bars, a scrolling
    line), "gradient" (a moving grey gradient) or "box" (a bouncing box)."""
    make = _MAKERS.get(name)
    if make is None:
        raise VideoFormatError(f"no test pattern {name!r} (there are: {', '.join(PATTERNS)})")
    if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE and 0 <= n <= 0xFFFF):
        raise VideoFormatError(f"test pattern of {n} frames of {w}x{h}: frames are 1..{MAX_SIDE} a side, "
                               "at most 65,535 of them")  # fmt: skip
    return [make(t, w, h) for t in range(n)]


test_pattern.__test__ = False  # type: ignore[attr-defined]  # a generator, not a test for pytest to collect


# --- movies ---------------------------------------------------------------------------------------


class Movie(NamedTuple):
    width: int
    height: int
    fps: int
    payloads: tuple[bytes, ...]  # each frame as stored: raw (width*height bytes) or RLE
    offsets: tuple[int, ...]  # where each frame's u32 length sits in the file

    def flags(self, i: int) -> int:
        """The packet flags frame i is sent with."""
        return 0 if len(self.payloads[i]) == self.width * self.height else FLAG_RLE

    def frame(self, i: int) -> bytes:
        """Frame i's pixels."""
        return decode_frame(self.payloads[i], self.flags(i), self.width * self.height)


def build_movie(frames: list[bytes], w: int = WIDTH, h: int = HEIGHT, fps: int = FPS, rle: bool = True) -> bytes:
    """A movie file of raw frames, each stored RLE when that is shorter (and ``rle``)."""
    if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE and 0 < fps <= 0xFFFF and len(frames) <= 0xFFFF):
        raise VideoFormatError(f"a movie of {len(frames)} frames of {w}x{h} at {fps} fps: 1..{MAX_SIDE} a side, "
                               "1..65535 fps, at most 65,535 frames")  # fmt: skip
    out = bytearray(MOVIE_HEADER.pack(MOVIE_MAGIC, w, h, fps, len(frames)))
    for i, raw in enumerate(frames):
        if len(raw) != w * h:
            raise VideoFormatError(f"frame {i} is {len(raw)} bytes; a {w}x{h} frame is {w * h}")
        _, payload = encode_frame(raw, rle)
        out += FRAME_LENGTH.pack(len(payload)) + payload
    return bytes(out)


def max_payload(w: int = WIDTH, h: int = HEIGHT) -> int:
    """The longest payload a w x h frame may have: RLE of runs of one pixel."""
    return len(RLE_MAGIC) + 2 * w * h


def parse_movie(data: bytes) -> Movie:
    """A movie file's frames; VideoFormatError naming what does not fit."""
    if len(data) < MOVIE_HEADER.size:
        raise VideoFormatError(f"movie is {len(data)} bytes, shorter than its {MOVIE_HEADER.size}-byte header")
    magic, w, h, fps, n = MOVIE_HEADER.unpack_from(data)
    if magic != MOVIE_MAGIC:
        raise VideoFormatError(f"movie does not start with {MOVIE_MAGIC!r} (starts {bytes(magic)!r})")
    if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
        raise VideoFormatError(f"movie frames are {w}x{h}; a side is 1..{MAX_SIDE}")
    if fps == 0:
        raise VideoFormatError("movie has 0 frames per second")
    pos, payloads, offsets = MOVIE_HEADER.size, [], []
    for i in range(n):
        if pos + 4 > len(data):
            raise VideoFormatError(f"movie ends at byte {len(data)} before frame {i}'s length (of {n} frames)")
        (length,) = FRAME_LENGTH.unpack_from(data, pos)
        if length > max_payload(w, h):
            raise VideoFormatError(f"frame {i} (byte {pos}) says {length} bytes; a {w}x{h} frame is at most "
                                   f"{max_payload(w, h)}")  # fmt: skip
        if pos + 4 + length > len(data):
            raise VideoFormatError(f"frame {i} (byte {pos}) says {length} bytes; the movie ends first")
        offsets.append(pos)
        payloads.append(bytes(data[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    if pos != len(data):
        raise VideoFormatError(f"{len(data) - pos} bytes follow the movie's last frame (byte {pos})")
    return Movie(w, h, fps, tuple(payloads), tuple(offsets))


# --- packets --------------------------------------------------------------------------------------


class PacketHeader(NamedTuple):
    version: int
    flags: int
    stream: int
    frame: int
    chunk: int
    nchunks: int  # the chunk count (``count`` is tuple's)


def pack_header(stream: int, frame: int, chunk: int, count: int, flags: int = 0) -> bytes:
    """A packet's 16-byte header."""
    if not (0 <= stream <= 0xFFFF_FFFF and 0 <= frame <= 0xFFFF_FFFF and 0 <= chunk < count <= 0xFFFF):
        raise VideoFormatError(f"packet header stream {stream} frame {frame} chunk {chunk} of {count}: "
                               "u32 ids, chunk < count <= 65535")  # fmt: skip
    if flags & ~FLAGS_KNOWN:
        raise VideoFormatError(f"packet flags {flags:#x}: only bit 0 (RLE) is defined")
    return HEADER.pack(PACKET_MAGIC, VERSION, flags, stream, frame, chunk, count)


def parse_header(data: bytes) -> PacketHeader:
    """A packet's header; VideoFormatError if the datagram is not a video packet."""
    if len(data) < HEADER.size:
        raise VideoFormatError(f"video packet is {len(data)} bytes, shorter than its {HEADER.size}-byte header")
    magic, version, flags, stream, frame, chunk, count = HEADER.unpack_from(data)
    if magic != PACKET_MAGIC:
        raise VideoFormatError(f"video packet does not start with {PACKET_MAGIC!r} (starts {bytes(magic)!r})")
    if version != VERSION:
        raise VideoFormatError(f"video packet version {version}; this is version {VERSION}")
    if flags & ~FLAGS_KNOWN:
        raise VideoFormatError(f"video packet flags {flags:#x}: only bit 0 (RLE) is defined")
    if count == 0 or chunk >= count:
        raise VideoFormatError(f"video packet is chunk {chunk} of {count}")
    return PacketHeader(version, flags, stream, frame, chunk, count)


def parse_packet(data: bytes) -> tuple[PacketHeader, bytes]:
    """A packet's header and its chunk of the frame."""
    head = parse_header(data)
    body = bytes(data[HEADER.size :])
    if len(body) > CHUNK:
        raise VideoFormatError(f"video packet carries {len(body)} bytes; a chunk is at most {CHUNK}")
    if head.chunk < head.nchunks - 1 and len(body) != CHUNK:
        raise VideoFormatError(f"video packet chunk {head.chunk} of {head.nchunks} carries {len(body)} bytes; "
                               f"every chunk but the last carries {CHUNK}")  # fmt: skip
    return head, body


def packetize(payload: bytes, stream: int, frame: int, flags: int = 0) -> list[bytes]:
    """The datagrams that carry one frame's payload (an empty payload is one empty chunk)."""
    count = max(1, -(-len(payload) // CHUNK))
    if count > 0xFFFF:
        raise VideoFormatError(f"a payload of {len(payload)} bytes needs {count} chunks; at most 65,535")
    return [pack_header(stream, frame, i, count, flags) + payload[i * CHUNK : (i + 1) * CHUNK] for i in range(count)]


def movie_packets(movie: Movie, stream: int = 0) -> list[list[bytes]]:
    """Each frame of a movie as its datagrams, frame numbers from 0."""
    return [packetize(movie.payloads[i], stream, i, movie.flags(i)) for i in range(len(movie.payloads))]
