"""Files and NFS as extensions use them: the bytes arrive at the handler,
bad arguments are clear SpinErrors, and a handler that loops forever is
stopped by its fuel while the kernel goes on."""

from __future__ import annotations

import pytest

from kernel.boot import boot
from kernel.fs.format import build_image
from kernel.kernel import Kernel
from kernel.params import FILES_READ_MAX, FILES_READS_PER_EXTENSION
from kernel.sys.errors import SpinError
from tests.fs.nfsworld import NfsWorld, attach_disk

BIG = bytes((i * 13) & 0xFF for i in range(100_000))
FILES = {"a.txt": b"hello", "d/big.bin": BIG}

READER = """
from spin import Files
got = {}
sizes = ()

def done(name, offset, data):
    got[(name, offset)] = data

def init():
    global sizes
    sizes = (Files.Size("a.txt"), Files.Size("d/big.bin"), Files.Size("nope"), Files.List())
    Files.Read("a.txt", 0, 100, done)
    Files.Read("d/big.bin", 4000, 60000, done)
    Files.Read("nope", 0, 1, done)
"""

LOOPER = """
from spin import Files
calls = 0

def spin_forever(name, offset, data):
    global calls
    calls += 1
    while True:
        pass

def init():
    Files.Read("a.txt", 0, 5, spin_forever)
"""


def _kernel() -> Kernel:
    return boot(disk_image=build_image(FILES), unix=False)


def _run(k: Kernel, done: object, limit: int = 3000) -> None:
    for _ in range(limit):
        if done():  # type: ignore[operator]
            return
        k.run(until_cycle=k.sal.now + 200_000)
    raise AssertionError("the disk never answered")


def test_files_read_reaches_the_handler() -> None:
    k = _kernel()
    ext = k.system.load(READER, "reader.py")
    got = ext.namespace["got"]
    assert ext.namespace["sizes"] == (5, 100_000, -1, ("a.txt", "d/big.bin"))
    assert got[("nope", 0)] == -2  # ENOENT, at once
    _run(k, lambda: len(got) == 3)
    assert got[("a.txt", 0)] == b"hello" and got[("d/big.bin", 4000)] == BIG[4000:64000]
    assert k.fs is not None and k.fs.cache == {}  # no double buffering


@pytest.mark.parametrize("call, message", [
    ("Files.Read(3, 0, 1, h)", "the name must be a str"),
    ("Files.Read('a.txt', -1, 1, h)", "offset and n are ints >= 0"),
    (f"Files.Read('a.txt', 0, {FILES_READ_MAX + 1}, h)", "more than the"),
    ("Files.Read('a.txt', 0, 1, 7)", "is not a procedure"),
    ("Files.Read('a.txt', 0, 1, lambda x: x)", "must take 3"),
    ("Files.Size(None)", "the name must be a str"),
    (f"[Files.Read('d/big.bin', 0, 1, h) for i in range({FILES_READS_PER_EXTENSION + 1})]", "already waiting"),
])  # fmt: skip
def test_bad_files_arguments_are_clear(call: str, message: str) -> None:
    k = _kernel()
    src = f"from spin import Files\ndef h(name, offset, data):\n    pass\ndef init():\n    {call}\n"
    with pytest.raises(SpinError, match=message) as e:
        k.system.load(src, "bad.py")
    assert "bad" in str(e.value)


def test_a_looping_handler_is_stopped_and_the_kernel_goes_on() -> None:
    k = _kernel()
    ext = k.system.load(LOOPER, "looper.py")
    _run(k, lambda: ext.namespace["calls"] == 1)
    assert any("looper" in r and "fuel" in r for r in k.dispatcher.reports), k.dispatcher.reports
    assert k.fs is not None
    got: list[object] = []
    k.fs.read_direct(k.fs.files["d/big.bin"], 0, 10, got.append)  # the disk and its interrupt still work
    _run(k, lambda: bool(got))
    assert got == [BIG[:10]]


NFS_READER = """
from spin import NFS
got = {}

def done(path, data):
    got[path] = data

def init():
    NFS.Read(SERVER, "/d/big.bin", done)
    NFS.Read(SERVER, "nope", done)
    NFS.Stat(SERVER, "a.txt", done)
    NFS.Read(SERVER, "d", done)
"""


def test_nfs_read_reaches_the_handler() -> None:
    w = NfsWorld(FILES)
    ext = w.client_k.system.load('SERVER = "10.0.0.2"\n' + NFS_READER, "nfs_reader.py")
    got = ext.namespace["got"]
    assert w.net.run_until(lambda: len(got) == 4, 10_000_000)
    assert got == {"/d/big.bin": BIG, "nope": -2, "a.txt": 5, "d": -21}


@pytest.mark.parametrize("call, message", [
    ("NFS.Read('10.0.0.2', 5, h)", "path as a str"),
    ("NFS.Read('not an address', 'a', h)", "is not an address"),
    ("NFS.Read('10.0.0.2', '../etc', h)", "'..' component"),
    ("NFS.Stat('10.0.0.2', 'a', 3)", "is not a procedure"),
])  # fmt: skip
def test_bad_nfs_arguments_are_clear(call: str, message: str) -> None:
    w = NfsWorld(FILES)
    src = f"from spin import NFS\ndef h(path, data):\n    pass\ndef init():\n    {call}\n"
    with pytest.raises(SpinError, match=message):
        w.client_k.system.load(src, "badnfs.py")


def test_a_looping_nfs_handler_is_stopped_and_the_network_goes_on() -> None:
    w = NfsWorld(FILES)
    src = "from spin import NFS\ndef h(path, data):\n    while True:\n        pass\ndef init():\n" \
          "    NFS.Read('10.0.0.2', 'a.txt', h)\n"  # fmt: skip
    w.client_k.system.load(src, "nfsloop.py")
    w.net.run_until(lambda: any("nfsloop" in r for r in w.client_k.dispatcher.reports), 5_000_000)
    assert any("fuel" in r for r in w.client_k.dispatcher.reports)
    assert w.fetch("d/big.bin")[0] == BIG  # the network thread is fine


def test_files_is_offered_only_with_a_disk() -> None:
    k = boot(unix=False)
    with pytest.raises(SpinError, match="Files"):
        k.system.load("from spin import Files\n", "nofiles.py")
    attach_disk(k, build_image(FILES))
    k.system.load("from spin import Files\nn = Files.Size('a.txt')\n", "files.py")


HOG = """
from spin import NFS
got = []

def done(path, data):
    got.append(data)

def init():
    for _ in range(16):
        NFS.Read("10.0.0.2", "/d/big.bin", done)
"""


def test_users_extensions_cannot_starve_the_owner_s_nfs_reads() -> None:
    """Two users' extensions each ask for 16 large files at once, more than
    the client's 64 calls; they share NFS_CALLS_USERS of them (the rest get
    EAGAIN, theirs to retry), and a read of the machine's owner -- the web
    server's kind -- still goes through while they wait."""
    w = NfsWorld(FILES)
    hogs = [w.client_k.system.load(HOG, f"hog{i}.py", name=f"hog{i}") for i in range(2)]
    w.net.run_us(40_000)  # their transfers are past the LOOKUPs, each asking for a window of READs
    owner = w.client_k.system.load('SERVER = "10.0.0.2"\n' + NFS_READER, "owner.py", importer="root")
    c = w.client
    assert c.user_calls <= 16 and len(c.calls) > c.user_calls  # the owner's calls are in flight beside theirs
    got = owner.namespace["got"]
    assert w.net.run_until(lambda: len(got) == 4, 10_000_000)
    assert got["/d/big.bin"] == BIG
    assert w.net.run_until(lambda: sum(len(h.namespace["got"]) for h in hogs) == 32, 30_000_000)
    results = [r for h in hogs for r in h.namespace["got"]]
    assert -35 in results and BIG in results  # some refused with EAGAIN, the ones begun served whole
    assert all(r == BIG or r == -35 for r in results)
    assert c.stats()["calls refused (users' share taken)"] > 0
