"""Attacks on issue 20's new kernel surfaces by hostile extensions and
hostile hosts: Timer, Reel, Multicast, Files' callbacks, FrameBuffer, the
video client, Inspect, the NFS client's reply matching.

Each attack that broke something is a test that fails without its fix
(named in the docstring); the others are attacks the defenses held
against, kept as regression tests ("held")."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from kernel.core import framebuffer as fbdrv
from kernel.core import reel as R
from kernel.core.reel import install_reel
from kernel.core.timers import install_timers
from kernel.fs import files_ext
from kernel.fs.extentfs import ExtentFS
from kernel.fs.format import build_image
from kernel.inspect import extension_globals
from kernel.kernel import Kernel
from kernel.net import rpc
from kernel.net.multicast import install_multicast
from kernel.net.topology import Network
from kernel.sys.errors import SpinError
from kernel.video import format as V
from kernel.video.format import test_pattern

ROOT = Path(__file__).resolve().parents[2]
REEL_STREAMS_USER = getattr(R, "REEL_STREAMS_USER", 4)  # getattr: the tests load (and fail) without the fix
NESTED_MAX = getattr(files_ext, "NESTED_MAX", 4)


def _disk(k: Kernel, files: dict[str, bytes]) -> None:
    k.machine.attach_disk(build_image(files))
    fs = ExtentFS(k)
    k.attach_fs(fs)
    fs.mount()


# --- Timer ---------------------------------------------------------------------------------------

REARM = """
from spin import Timer
n = 0
def again(tick):
    global n
    n += 1
    if n < 20000:
        Timer.After(0, again)
def init():
    Timer.After(0, again)
"""


def test_a_timer_that_re_arms_itself_with_after_0_fires_once_a_tick() -> None:
    """Broken before the fix in kernel/core/timers.py: the network thread runs
    every timer due before it rests, and the handler's own work moves the
    clock past After(0)'s deadline, so a user's extension re-arming itself
    kept the thread in one pass for ever (20,000 firings in one tick here;
    without the cap in the extension, a hang). Now a timer armed during a
    tick fires at the next tick, as the module's docstring promised."""
    net = Network(2)
    a, b = net.hosts
    install_timers(a)
    ext = a.system.load(REARM, "rearm.py", importer="user")
    assert a.net is not None
    start = time.monotonic()
    t0 = a.ticks
    net.run_us(50_000)
    fired = ext.namespace["n"]
    assert fired <= a.ticks - t0 + 1, f"{fired} firings in {a.ticks - t0} ticks"
    assert fired >= 40  # and it still fires, once a tick (1024 Hz)
    assert time.monotonic() - start < 20
    # the network thread still serves the wire
    assert a.net.ping("10.0.0.2", 0) == 0
    assert net.run_until(lambda: bool(a.net and a.net.ping_replies), 50_000)


# --- Reel ----------------------------------------------------------------------------------------

OWNER = """
from spin import Reel
def init():
    Reel.Create(7, ["video_sender"])
    Reel.Put(7, 0, b"secret frame")
"""
TAKER = """
from spin import Reel
got = []
def init():
    got.append(Reel.Take(7))
"""


def _reel_host() -> tuple[Network, Kernel]:
    net = Network(1)
    k = net.hosts[0]
    install_reel(k)
    return net, k


def test_a_user_s_extension_cannot_read_or_write_a_root_reel() -> None:
    """Broken before the fix (kernel/core/reel.py): any extension could Take
    any stream's frames or Put its own into it. Now only the creator and the
    extensions it names, and never a user's extension for a root reel, even
    one loaded under the named sender's name."""
    _, k = _reel_host()
    k.system.load(OWNER, "video_reader.py", importer="root")
    with pytest.raises(SpinError, match="snoop: Reel.Take: stream 7 is video_reader's reel"):
        k.system.load(TAKER, "snoop.py", importer="user")
    with pytest.raises(SpinError, match="video_sender: Reel.Take: stream 7 is video_reader's reel"):
        k.system.load(TAKER, "video_sender.py", importer="user")  # the named one's name, but a user's
    put = "from spin import Reel\ndef init():\n    Reel.Put(7, 1, b'forged')\n"
    with pytest.raises(SpinError, match="Reel.Put: stream 7 is video_reader's reel"):
        k.system.load(put, "forger.py", importer="user")
    with pytest.raises(SpinError, match="Reel.Take: stream 7 is video_reader's reel"):
        k.system.load(TAKER, "other_root.py", importer="root")  # root, but not named
    with pytest.raises(SpinError, match="Reel.Create: stream 7 is video_reader's reel already"):
        k.system.load("from spin import Reel\ndef init():\n    Reel.Create(7, ['x'])\n", "grab.py", importer="user")
    ok = k.system.load(TAKER, "video_sender.py", importer="root")
    assert ok.namespace["got"] == [(0, b"secret frame")]


def test_user_reels_are_bounded_and_freed_on_unload() -> None:
    """Broken before the fix: one user's extension could take all 16 streams
    (the kernel-wide bound) and keep them after it was unloaded."""
    _, k = _reel_host()
    hog = "from spin import Reel\ndef init():\n    for s in range(100, 120):\n        Reel.Room(s)\n"
    with pytest.raises(SpinError, match=f"a user's extension owns at most {REEL_STREAMS_USER} reels"):
        k.system.load(hog, "hog.py", importer="user")
    few = "from spin import Reel\ndef init():\n    for s in range(100, 104):\n        Reel.Room(s)\n"
    ext = k.system.load(few, "few.py", importer="user")
    reel = k.reel
    assert reel is not None
    assert len(reel.streams) == REEL_STREAMS_USER
    k.system.unload(ext)
    assert reel.streams == {}
    # and a user's own reel works between user's extensions it names (held: the intended use)
    k.system.load("from spin import Reel\ndef init():\n    Reel.Create(7, ['mine'])\n    Reel.Put(7, 3, b'x')\n",
                  "u_owner.py", importer="user")  # fmt: skip
    assert k.system.load(TAKER, "mine.py", importer="user").namespace["got"] == [(3, b"x")]


# --- Multicast -----------------------------------------------------------------------------------

SPOOF = """
from spin import UDP, Multicast
problems = []
sent = 0
def on(d):
    global sent
    for clients in ([("10.0.0.3", 7000)], [("not-an-ip", 7000)]):
        try:
            sent += Multicast.Send(d, clients)
        except Exception as e:
            problems.append(str(e))
def init():
    UDP.Listen(6000, on)
"""


def _three() -> tuple[Network, Kernel, Kernel, Kernel, list[Any]]:
    net = Network(3)
    a, b, c = net.hosts
    install_multicast(a)
    seen: list[Any] = []
    assert c.net is not None
    c.net.udp.bind(7000, "sink", seen.append)
    return net, a, b, c, seen


def test_multicast_cannot_resend_a_datagram_as_its_sender() -> None:
    """Broken before the fix (kernel/net/multicast.py): a user's extension
    handed a datagram from 10.0.0.2 could Multicast.Send it to 10.0.0.3,
    which got it *from 10.0.0.2* -- a spoofed source, and a reflector past
    UDP.Send's own-port rule. A bad address was a ValueError out of the
    packet builder; now a SpinError naming the pair."""
    net, a, b, c, seen = _three()
    ext = a.system.load(SPOOF, "spoof.py", importer="user")
    assert b.net is not None and b.net.udp.send(5555, "10.0.0.1", 6000, b"hello") == 0
    net.run_us(50_000)
    assert seen == [], f"10.0.0.3 got {[(d.src, d.src_port) for d in seen]}"
    p = ext.namespace["problems"]
    assert any("spoof: Multicast.Send: the datagram is from 10.0.0.2, not this host" in x for x in p), p


SNOOP = """
from spin import UDP, Dispatcher, Multicast
problems = []
sent = 0
def watched(d):
    return d.src_port == WATCH
def cast(d):
    global sent
    for clients in ([("10.0.0.3", 7000)], [("not-an-ip", 7000)], [("10.0.0.3", 7000)] * 65):
        try:
            sent += Multicast.Send(d, clients)
        except Exception as e:
            problems.append(str(e))
def init():
    UDP.Listen(6001, cast)
    Dispatcher.InstallHandler(UDP.PacketSend, cast, watched)
    if WATCH == 6001:
        UDP.Send(6001, "10.0.0.2", 9, b"mine")
WATCH = 4444
"""


def test_multicast_sends_only_from_the_extension_s_own_ports() -> None:
    """Broken before the fix: a user's extension with a guarded handler on
    UDP.PacketSend saw the kernel's own datagrams (here from port 4444) and
    could multicast copies of them, from the kernel's port, to anyone."""
    net, a, b, c, seen = _three()
    ext = a.system.load(SNOOP, "snoop.py", importer="user")
    assert a.net is not None
    a.net.udp.send(4444, "10.0.0.2", 9999, b"kernel business")
    net.run_us(50_000)
    assert seen == [], f"10.0.0.3 got {[(d.src, d.src_port, bytes(d.payload)) for d in seen]}"
    p = ext.namespace["problems"]
    assert any("snoop: Multicast.Send: source port 4444 is not one this extension listens on" in x for x in p), p


def test_multicast_from_its_own_port_goes_and_bad_clients_are_refused_by_name() -> None:
    """Held: from the extension's own port one copy per client goes out, and
    more than 64 clients are refused. Broken before the fix: a bad address
    was a ValueError out of the packet builder, not a SpinError naming it."""
    net, a, b, c, seen = _three()
    ext = a.system.load(SNOOP, "own.py", importer="user", settings={"WATCH": 6001})
    net.run_us(50_000)
    assert [(d.src, d.src_port, bytes(d.payload)) for d in seen] == [("10.0.0.1", 6001, b"mine")]
    p = ext.namespace["problems"]
    assert any("own: Multicast.Send: ('not-an-ip', 7000) is not an (address 'a.b.c.d', port) pair" in x for x in p), p
    assert any("clients is a list of at most 64" in x for x in p), p


# --- Files' callbacks -----------------------------------------------------------------------------

RECURSE = """
from spin import Files
n = 0
def again(name, offset, data):
    global n
    n += 1
    Files.Read("nope", 0, 1, again)
def init():
    Files.Read("nope", 0, 1, again)
"""


def test_a_files_handler_that_asks_again_from_its_own_answer_stops_early() -> None:
    """Broken before the fix (kernel/fs/files_ext.py Callbacks.call): a
    missing file is answered at once, inside the extension's call; a handler
    asking again recursed ~200 deep until Python's RecursionError, wherever in
    the kernel the stack ran out. Now at most NESTED_MAX deep, reported."""
    net = Network(1)
    k = net.hosts[0]
    _disk(k, {"a.txt": b"hello"})
    ext = k.system.load(RECURSE, "recurse.py", importer="user")
    assert ext.namespace["n"] == NESTED_MAX
    assert not any("RecursionError" in r for r in k.dispatcher.reports), k.dispatcher.reports[-3:]
    assert any("recurse: handler on Completion.FilesRead not called" in r for r in k.dispatcher.reports)
    # the next read of a real file is answered normally
    got: list[Any] = []
    ext.namespace["n"] = 0
    files = k.system.public.exports["Files"](ext)
    files.Read("a.txt", 0, 5, lambda name, off, data: got.append(data))
    assert net.run_until(lambda: bool(got), 1_000_000)
    assert got == [b"hello"]


def test_files_read_arguments_are_checked() -> None:
    """Held: negative and huge offsets and sizes, wrong types, a flood of reads."""
    net = Network(1)
    k = net.hosts[0]
    _disk(k, {"a.txt": b"hello"})
    bad = [("'a.txt', -1, 5", "offset and n are ints >= 0"), ("'a.txt', 0, 1 << 40", "more than the"),
           ("5, 0, 5", "the name must be a str"), ("'a.txt', 0, 5, 7", "not a procedure")]  # fmt: skip
    for args, msg in bad:
        src = f"from spin import Files\ndef h(n, o, d):\n    pass\ndef init():\n    Files.Read({args}{'' if args.count(',') == 3 else ', h'})\n"
        with pytest.raises(SpinError, match=msg):
            k.system.load(src, "bad.py", importer="user")
    flood = "from spin import Files\ndef h(n, o, d):\n    pass\ndef init():\n    for i in range(100):\n        Files.Read('a.txt', 0, 5, h)\n"
    with pytest.raises(SpinError, match="reads are already waiting for the disk"):
        k.system.load(flood, "flood.py", importer="user")
    far = "from spin import Files\ngot = []\ndef h(n, o, d):\n    got.append(d)\ndef init():\n    Files.Read('a.txt', 1 << 60, 5, h)\n"
    ext = k.system.load(far, "far.py", importer="user")
    net.run_us(100_000)
    assert ext.namespace["got"] == [b""]  # past the end: empty, not someone else's blocks


# --- Inspect ------------------------------------------------------------------------------------


def test_inspect_is_refused_to_a_user_s_extension() -> None:
    """Held: a user's extension cannot list the system's strands and domains."""
    k = Network(1).hosts[0]
    for call in ("Threads", "Domains", "Events", "Heap", "Counters"):
        src = f"from spin import Inspect\ndef init():\n    Inspect.{call}()\n"
        with pytest.raises(SpinError, match=f"spy: Inspect.{call}: seeing the whole system needs the right"):
            k.system.load(src, "spy.py", importer="user")


# --- FrameBuffer and the video client -------------------------------------------------------------


def _video() -> tuple[Network, Kernel, Kernel]:
    net = Network(2)
    a, b = net.hosts
    b.machine.attach_framebuffer()
    fbdrv.attach(b)
    b.system.load_file(ROOT / "extensions" / "video_client.py", importer="root")
    assert a.net is not None and a.net.ping("10.0.0.2", 0) == 0
    assert net.run_until(lambda: bool(a.net and a.net.ping_replies), 50_000)
    return net, a, b


def test_frame_buffer_writes_outside_pixel_memory_are_refused() -> None:
    """Held: huge, negative and overflowing offsets, wrong types."""
    net, a, b = _video()
    fb = b.machine.framebuffer
    assert fb is not None
    before = bytes(fb.shown)
    for args in ("-1, b'x'", "1 << 64, b'x'", "12288, b'x'", "12287, b'xy'", "-12288, bytes(24576)",
                 "0, bytes(12289)", "'0', b'x'", "0, 'text'", "0.0, b'x'"):  # fmt: skip
        src = f"from spin import FrameBuffer\ndef init():\n    FrameBuffer.Write({args})\n"
        with pytest.raises(SpinError, match="FrameBuffer.Write"):
            b.system.load(src, "painter.py", importer="user")
    assert bytes(fb.shown) == before


def _send(net: Network, a: Kernel, packets: list[bytes]) -> None:
    assert a.net is not None
    for p in packets:
        assert a.net.udp.send(5004, "10.0.0.2", V.PORT, p) == 0
    net.run_us(50_000)


def test_duplicated_raw_chunks_never_show_a_frame_that_is_not_whole() -> None:
    """Broken before the fix (extensions/video_client.py): a raw frame's
    chunks were counted, not marked, so one chunk sent 12 times (a duplicating
    network, or a spoofing host) completed the 12-chunk frame and Present
    showed a frame of which 11 chunks were never received."""
    net, a, b = _video()
    frames = test_pattern("bars", 2)
    movie = V.parse_movie(V.build_movie(frames, rle=False))
    packets = V.movie_packets(movie, stream=3)
    first = packets[0]
    assert len(first) == 12
    _send(net, a, [first[0]] * 12)
    c = extension_globals(b, "video_client")
    assert c["frames_shown"] == 0, "a frame of one chunk twelve times was shown"
    _send(net, a, first[1:])
    c = extension_globals(b, "video_client")
    assert c["frames_shown"] == 1
    fb = b.machine.framebuffer
    assert fb is not None and bytes(fb.shown) == frames[0]


def test_video_packets_claiming_65535_chunks_are_malformed() -> None:
    """Held: a chunk count over MAX_CHUNKS, an index past the count, a short
    chunk in the middle, a raw frame past the buffer; nothing is held for them."""
    net, a, b = _video()

    def pkt(chunk: int, count: int, size: int, flags: int = 0, frame: int = 1) -> bytes:
        return (b"SV" + bytes((1, flags)) + (3).to_bytes(4, "big") + frame.to_bytes(4, "big") + chunk.to_bytes(2, "big")
                + count.to_bytes(2, "big") + bytes(size))  # fmt: skip

    bad = [pkt(0, 65535, 1024, 1), pkt(65534, 65535, 1024, 1), pkt(5, 3, 1024, 1), pkt(0, 3, 100, 1),
           pkt(12, 13, 1024), pkt(0, 0, 10)]  # fmt: skip
    _send(net, a, bad)
    c = extension_globals(b, "video_client")
    assert c["malformed"] == len(bad) and c["frames_shown"] == 0
    assert b.system.extensions["video_client"].namespace["parts"] == []


# --- NFS: forged replies ---------------------------------------------------------------------------


def test_an_nfs_reply_from_the_wrong_port_or_host_is_dropped() -> None:
    """Held: a reply carrying the right xid (an on-path host can read it off
    the wire) from any other address or port than the call went to is
    dropped and counted, and the real answer still wins."""
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.fs.nfsworld import NfsWorld

    w = NfsWorld({"a.txt": b"the real bytes"})
    got: list[Any] = []
    w.client.read("10.0.0.2", "a.txt", got.append)
    ((xid, call),) = w.client.calls.items()
    forged = rpc.encode_accepted(xid, rpc.SUCCESS, b"\x00\x00\x00\x02")  # NOENT for the LOOKUP
    assert w.server_k.net is not None
    w.server_k.net.udp.send(2050, "10.0.0.1", w.client.port, forged)  # the server's host, another port
    w.net.run_until(lambda: bool(got), 5_000_000)
    assert got == [b"the real bytes"]
    assert w.client.counters["replies dropped: from the wrong host or port"] >= 1


# --- the web server --------------------------------------------------------------------------------

SMUGGLE = {
    "a body on GET (Content-Length + pipelining)": (
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 35\r\n\r\nGET /docs/b.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
    ),
    "Transfer-Encoding with Content-Length": (
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n",
        400,
    ),
    "two Content-Lengths": (b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 400),
    "obs-fold": (b"GET /a.txt HTTP/1.1\r\nHost: x\r\n X: y\r\n\r\n", 400),
    "overlong UTF-8 dots": (b"GET /%c0%ae%c0%ae/%c0%ae%c0%ae/etc HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "percent-encoded dot segments": (b"GET /docs/%2e%2e/%2e%2e/a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "an encoded slash": (b"GET /docs%2fb.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "backslashes": (b"GET /docs\\..\\a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "markup in the path": (b"GET /%3cscript%3ealert(1)%3c/script%3e HTTP/1.1\r\nHost: x\r\n\r\n", 404),
}


def test_smuggling_path_escapes_and_markup_are_refused_and_escaped() -> None:
    """Held: every request above is answered with its refusal (a 400 closes
    the connection, so a smuggled second request is never read); the server
    goes on serving; a strand named with markup is escaped on /spin/threads."""
    from kernel.net.webworld import WebWorld

    w = WebWorld({"a.txt": b"public", "docs/b.txt": b"bbb"})
    try:
        for what, (raw, status) in SMUGGLE.items():
            r = w.fetch("/", raw=raw)
            assert r.status == status, f"{what}: {r.status} {r.body[:60]!r}"
            assert b"<script" not in r.body and b"bbb" not in r.body, what
        w.web.sched.fork(lambda: w.web.sched.sleep(10**12), name="<script>alert(1)</script>")
        page = w.fetch("/spin/threads")
        assert page.status == 200 and b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.body
        assert b"<script" not in page.body
        assert w.fetch("/a.txt").body == b"public"
    finally:
        w.close()
