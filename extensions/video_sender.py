"""The video server's second extension (SOSP'95 §5.4): send the frames,
30 a second.

A virtual-time timer (``Timer.After``) paces the stream against absolute
time: each frame is due 1/FPS after the last was due, and within it each
chunk is due its share of the frame's interval after the one before, so
the sender's own work does not make it drift and a frame leaves as a
steady stream of chunks, not a burst -- as a real server paces its
output, so that a full transmit queue costs the clients late in the list
some chunks instead of costing every client the end of every frame. Each
frame taken from the reader's ``Reel`` is cut into chunks of at most
CHUNK bytes, each one UDP datagram with issue 20's 16-byte header
(``b"SV"``, version 1, flags bit 0 = RLE, u32 stream, u32 frame, u16
chunk, u16 count; big-endian), and each is sent with ONE ``UDP.Send`` --
to the group GROUP, a port on this host's own address. The multicast
extension's handler on UDP.PacketSend turns that one send into one copy
per client (extensions/video_multicast.py); without it the datagrams go
nowhere (this host's port unreachable). Loaded as the machine's owner: it
sends from a port it does not listen on.

The constants below are kernel/video/format.py's and costs.CLOCK_MHZ
(extensions import only ``spin``): kernel/net/videoworld.py passes them as
load settings from there, and tests/video_server checks these defaults
are the same.
"""

from spin import IP, UDP, Clock, Reel, Timer

STREAM = 1
GROUP = 5000
SRC_PORT = 5006
FPS = 30
CHUNK = 1024
FRAME_BYTES = 12288  # a raw frame (128 x 96): any other length is RLE
CLOCK_MHZ = 133
START_US = 20000  # give the reader this long before the first frame

frame_due = 0  # the cycle the frame under way (or the next) was due
due = 0  # the cycle the next chunk is due
number = 0  # the frame under way
data = b""
flags = 0
count = 0  # its chunks; 0: no frame under way
chunk = 0  # the next chunk to send
frames_sent = 0
packets_sent = 0
starved = 0  # frames due with none read yet
errors = 0


def header(fl, frame, i, n):
    return (b"SV" + bytes((1, fl)) + STREAM.to_bytes(4, "big") + (frame & 0xFFFFFFFF).to_bytes(4, "big")
            + i.to_bytes(2, "big") + n.to_bytes(2, "big"))  # fmt: skip


def next_frame():
    """Take the next frame from the reel; False if the reader has none yet."""
    global number, data, flags, count, chunk, starved
    item = Reel.Take(STREAM)
    if item is None:
        starved += 1
        return False
    number = item[0]
    data = item[1]
    count = max(1, (len(data) + CHUNK - 1) // CHUNK)
    flags = 0 if len(data) == FRAME_BYTES else 1
    chunk = 0
    return True


def tick(t):
    global due, frame_due, count, chunk, packets_sent, frames_sent, errors
    period = CLOCK_MHZ * 1000000 // FPS
    if count == 0 and not next_frame():
        frame_due += period  # none read yet: this frame's slot passes unsent
        due = frame_due
    else:
        body = header(flags, number, chunk, count) + data[chunk * CHUNK : (chunk + 1) * CHUNK]
        if UDP.Send(SRC_PORT, IP.Address(), GROUP, body) < 0:
            errors += 1
        packets_sent += 1
        chunk += 1
        if chunk == count:
            frames_sent += 1
            count = 0
            frame_due += period
            due = frame_due
        else:
            due = frame_due + chunk * period // count
    Timer.After(max(0, (due - Clock.Now()) // CLOCK_MHZ), tick)


def init():
    global due, frame_due
    frame_due = Clock.Now() + START_US * CLOCK_MHZ
    due = frame_due
    Timer.After(START_US, tick)
