"""The video server's second extension (SOSP'95 §5.4): send the frames,
30 a second.

A virtual-time timer (``Timer.After``) paces the stream against absolute
time -- each frame is due 1/FPS after the last was due, so the sender's
own work does not make it drift. Each frame taken from the reader's
``Reel`` is cut into chunks of at most CHUNK bytes, each one UDP datagram
with issue 20's 16-byte header (``b"SV"``, version 1, flags bit 0 = RLE,
u32 stream, u32 frame, u16 chunk, u16 count; big-endian), and each is
sent with ONE ``UDP.Send`` -- to the group GROUP, a port on this host's
own address. The multicast extension's handler on UDP.PacketSend turns
that one send into one copy per client (extensions/video_multicast.py);
without it the datagrams go nowhere (this host's port unreachable).
Loaded as the machine's owner: it sends from a port it does not listen on.
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

due = 0  # the cycle the next frame is due
frames_sent = 0
packets_sent = 0
starved = 0  # frames due with none read yet
errors = 0


def header(flags, frame, chunk, count):
    return (b"SV" + bytes((1, flags)) + STREAM.to_bytes(4, "big") + (frame & 0xFFFFFFFF).to_bytes(4, "big")
            + chunk.to_bytes(2, "big") + count.to_bytes(2, "big"))  # fmt: skip


def send_frame():
    global frames_sent, packets_sent, starved, errors
    item = Reel.Take(STREAM)
    if item is None:
        starved += 1
        return
    number = item[0]
    data = item[1]
    count = (len(data) + CHUNK - 1) // CHUNK
    flags = 0 if len(data) == FRAME_BYTES else 1
    me = IP.Address()
    for i in range(count):
        if UDP.Send(SRC_PORT, me, GROUP, header(flags, number, i, count) + data[i * CHUNK : (i + 1) * CHUNK]) < 0:
            errors += 1
        packets_sent += 1
    frames_sent += 1


def tick(t):
    global due
    send_frame()
    due += CLOCK_MHZ * 1000000 // FPS
    Timer.After(max(0, (due - Clock.Now()) // CLOCK_MHZ), tick)


def init():
    global due
    due = Clock.Now() + START_US * CLOCK_MHZ
    Timer.After(START_US, tick)
