"""The video client of SOSP'95 §5.4 (Figure 5): packets off the wire, straight to the frame buffer.

"On the client, an extension awaits incoming video packets, decompresses
and writes them directly to the frame buffer." Each datagram to PORT is
one chunk of one frame (kernel/video/format.py: a 16-byte header, then at
most 1,024 bytes). The handler runs in the network thread, in the kernel,
with the datagram by reference: no process, no crossing, no copy to user
space. A raw frame's chunks are written into pixel memory as they come; an
RLE frame's chunks are kept until the last, then decoded into the frame
buffer. Present shows the frame only once every chunk is in, so a lost
packet costs its frame and never shows half of one.

Reassembly is bounded: one frame at a time. A chunk of a newer frame
abandons the frame under way (counted in ``frames_dropped``); a chunk of
an older frame than the one under way or the last one shown arrives too
late and is counted in ``stale``. A datagram that is not a well-formed
video packet is counted in ``malformed`` and ignored. The first stream
heard is the one shown, unless STREAM names one.

PORT, CHUNK and HEADER are kernel/video/format.py's (extensions import
only ``spin``): kernel/net/videoworld.py passes them as load settings from
there, and tests/video_server checks these defaults are the same.

Counters (read them with kernel.inspect.extension_globals(k, "video_client")):
frames_shown, frames_dropped, packets, bytes_received, malformed, stale,
other_stream, last_frame.
"""

from spin import UDP, FrameBuffer

PORT = 5004
STREAM = -1  # the stream to show; -1: the first one heard
CHUNK = 1024
HEADER = 16
MAX_CHUNKS = 32  # a 128x96 frame's longest payload (RLE of one-pixel runs) is 24,580 bytes: 25 chunks

frames_shown = 0
frames_dropped = 0
packets = 0
bytes_received = 0
malformed = 0
stale = 0
other_stream = 0
last_frame = -1  # the newest frame shown

SIZE = 0  # pixels in the frame buffer (init)
stream = -1
current = -1  # the frame being put together, -1: none
nchunks = 0
flags = 0
parts = []  # the current frame's chunks so far: bytes (RLE) or True (raw, written); None where missing
have = 0  # chunks of the current frame in hand
RUN = []  # RUN[v] = bytes((v,)), made once


def newer(a, b):
    """Frame number a comes after b (u32 serial numbers, RFC 1982 style); b = -1 is before all."""
    return b < 0 or 0 < ((a - b) & 0xFFFFFFFF) < 0x80000000


def decode(data):
    """An RLE payload's pixels (b"SVR1" then (count, value) pairs), or None if malformed."""
    n = len(data)
    if n < 4 or n % 2 or data[0:4] != b"SVR1":
        return None
    out = bytearray()
    filled = 0
    i = 4
    while i < n:
        c = data[i]
        filled += c
        if c == 0 or filled > SIZE:
            return None
        out += RUN[data[i + 1]] * c
        i += 2
    if filled != SIZE:
        return None
    return out


def show(f):
    global frames_shown, last_frame, current
    FrameBuffer.Present()
    frames_shown += 1
    last_frame = f
    current = -1


def on_packet(d):
    global packets, bytes_received, malformed, stale, other_stream, frames_dropped
    global stream, current, nchunks, flags, parts, have
    p = d.payload
    n = len(p)
    packets += 1
    bytes_received += n
    if n < HEADER or p[0] != 83 or p[1] != 86 or p[2] != 1 or p[3] > 1:  # b"SV", version 1, flags bit 0 only
        malformed += 1
        return
    s = int.from_bytes(p[4:8], "big")
    f = int.from_bytes(p[8:12], "big")
    chunk = (p[12] << 8) | p[13]
    count = (p[14] << 8) | p[15]
    size = n - HEADER
    fl = p[3]
    if count == 0 or count > MAX_CHUNKS or chunk >= count or (chunk < count - 1 and size != CHUNK):
        malformed += 1
        return
    if fl == 0 and (chunk * CHUNK + size > SIZE or (chunk == count - 1 and chunk * CHUNK + size != SIZE)):
        malformed += 1  # a raw frame fills the frame buffer exactly
        return
    if stream < 0:
        stream = STREAM if STREAM >= 0 else s
    if s != stream:
        other_stream += 1
        return
    if not newer(f, last_frame) or (current >= 0 and f != current and not newer(f, current)):
        stale += 1  # shown already, or older than the frame under way
        return
    if f != current:
        if current >= 0:
            frames_dropped += 1  # the frame under way will never be whole
        current = f
        nchunks = count
        flags = fl
        parts = [None] * count  # per chunk: its bytes (RLE) or True (raw, written); None: not yet
        have = 0
    elif count != nchunks or fl != flags:
        malformed += 1
        return
    if parts[chunk] is not None:
        return  # a duplicate: counting it would show a frame with a chunk never received
    if fl:
        parts[chunk] = bytes(p[HEADER:])
    else:
        FrameBuffer.Write(chunk * CHUNK, p[HEADER:])  # raw: straight into pixel memory
        parts[chunk] = True
    have += 1
    if have < nchunks:
        return
    if fl:
        pixels = decode(b"".join(parts))
        parts = []
        if pixels is None:
            malformed += 1
            frames_dropped += 1
            current = -1
            return
        FrameBuffer.Write(0, pixels)
    show(f)


def init():
    global SIZE, RUN
    w, h = FrameBuffer.Size()
    SIZE = w * h
    RUN = [bytes((v,)) for v in range(256)]
    UDP.Listen(PORT, on_packet)
