"""The video server's first extension (SOSP'95 §5.4): read a movie's
frames from the local extent disk.

``Files.Read`` goes straight to the disk (no buffer cache: the server keeps
what it needs itself). The reader stays a few frames ahead of the sender
and no more: frames go into the kernel's bounded ``Reel`` for STREAM, and
while the reel is full the reader waits (a timer looks again every
POLL_US). A movie is ``b"SVF1"``, u16 width, height, fps, nframes, then
per frame a u32 length and the payload, big-endian (kernel/video/format.py);
at the end it starts again from the first frame. One read per frame takes
the length and the frame together. MOVIE and STREAM are
kernel/net/videoworld.py's, passed as load settings (these defaults are
the same; tests/video_server checks).
"""

from spin import Console, Files, Reel, Timer

MOVIE = "video/test.svf"
STREAM = 1
SENDER = "video_sender"  # the extension that may take this stream's frames (Reel belongs to its creator)
POLL_US = 4000
FRAME_MAX = 65536  # the longest payload a frame may have

width = 0
height = 0
fps = 0
nframes = 0
offset = 0  # of the next frame's length field
index = 0  # the next frame's place in the movie
number = 0  # the next frame's number in the stream (it goes on across the movie's loops)
busy = False
state = "starting"
frames_read = 0
loops = 0
errors = 0


def u16(b, i):
    return (b[i] << 8) | b[i + 1]


def u32(b, i):
    return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]


def stop(why):
    global state, errors
    errors += 1
    state = why
    Console.Print(f"video_reader: {MOVIE}: {why}")


def got_header(name, off, data):
    global width, height, fps, nframes, offset, state
    if not isinstance(data, bytes):
        stop(f"cannot read it (errno {-data})")
        return
    if len(data) < 12 or data[0:4] != b"SVF1":
        stop("not a movie (no SVF1 header)")
        return
    width = u16(data, 4)
    height = u16(data, 6)
    fps = u16(data, 8)
    nframes = u16(data, 10)
    if nframes == 0 or width == 0 or height == 0:
        stop("an empty movie")
        return
    offset = 12
    state = "reading"
    fill()


def fill():
    global busy
    if busy or state != "reading" or Reel.Room(STREAM) == 0:
        return
    busy = True
    Files.Read(MOVIE, offset, 4 + min(FRAME_MAX, width * height), got_frame)


def got_frame(name, off, data):
    global busy, offset, index, number, frames_read, loops
    busy = False
    if not isinstance(data, bytes):
        stop(f"read failed at byte {off} (errno {-data})")
        return
    if len(data) < 4:
        stop(f"ends at byte {off}, frame {index} of {nframes}")
        return
    n = u32(data, 0)
    if n == 0 or n > FRAME_MAX or len(data) < 4 + n:
        stop(f"frame {index} at byte {off}: length {n} does not fit")
        return
    Reel.Put(STREAM, number, data[4 : 4 + n])
    frames_read += 1
    number += 1
    index += 1
    offset = off + 4 + n
    if index == nframes:
        index = 0
        offset = 12
        loops += 1
    fill()


def poll(tick):
    fill()
    if state == "reading" or state == "starting":
        Timer.After(POLL_US, poll)


def init():
    Reel.Create(STREAM, [SENDER])
    Files.Read(MOVIE, 0, 12, got_header)
    Timer.After(POLL_US, poll)
    Console.Print(f"video_reader: reading {MOVIE} for stream {STREAM}")
