"""The web server over the real levels: the kernel's extent FS on the web
host (Files) and the NFSv3-subset server on the file server host (NFS),
three hosts on one wire (kernel/net/webworld.py)."""

from __future__ import annotations

import pytest

from kernel.inspect import extension_globals
from kernel.net.webworld import WebWorld

BIG = bytes((i * 31 + 7) & 0xFF for i in range(1 << 20))
FILES = {
    "index.html": b"<!DOCTYPE html><title>root</title>",
    "small.txt": b"small and local\n",
    "docs/a b.txt": b"nested, with a space\n",
    "far/only-remote.css": b"body { color: red }\n" * 40,
    "empty.bin": b"",
    "big.bin": BIG,
}


@pytest.fixture(scope="module")
def world() -> WebWorld:
    w = WebWorld(FILES, local=["index.html", "small.txt", "docs/a b.txt", "empty.bin"])
    yield w
    w.close()


def counters(w: WebWorld) -> dict[str, int]:
    g = extension_globals(w.web, "web_server")
    return {k: g[k] for k in ("hits_memory", "hits_disk", "hits_nfs", "misses", "bytes_nfs")}


def test_each_level_serves_byte_exact_and_is_counted(world: WebWorld) -> None:
    r = world.fetch("/small.txt")
    assert (r.status, r.body) == (200, FILES["small.txt"])
    assert counters(world)["hits_disk"] == 1
    r = world.fetch("/far/only-remote.css")
    assert (r.status, r.body, r.headers["content-type"]) == (200, FILES["far/only-remote.css"], "text/css")
    assert counters(world)["hits_nfs"] == 1
    for path in ("/small.txt", "/far/only-remote.css"):
        assert world.fetch(path).status == 200
    c = counters(world)
    assert c["hits_memory"] == 2 and c["hits_disk"] == 1 and c["hits_nfs"] == 1
    assert world.fetch("/docs/a%20b.txt").body == FILES["docs/a b.txt"]
    assert world.fetch("/empty.bin").body == b""
    assert world.fetch("/").body == FILES["index.html"]
    assert world.fetch("/nowhere.txt").status == 404
    assert world.fetch("/docs").status == 404  # a directory on the NFS server: not a file
    assert counters(world)["misses"] == 2


def test_a_mebibyte_over_nfs_is_never_cached_under_hybrid(world: WebWorld) -> None:
    before = counters(world)
    for _ in range(2):
        r = world.fetch("/big.bin", limit_us=30_000_000)
        assert r.status == 200 and r.body == BIG
    c = counters(world)
    assert c["hits_nfs"] - before["hits_nfs"] == 2 and c["hits_memory"] == before["hits_memory"]
    assert c["bytes_nfs"] - before["bytes_nfs"] == 2 * len(BIG)
    head = world.fetch("/big.bin", "HEAD", limit_us=30_000_000)
    assert head.status == 200 and head.body == b"" and head.headers["content-length"] == str(len(BIG))


def test_a_client_that_sends_on_after_the_400_is_heard_out_not_left_probing() -> None:
    """A 100 KB header: the server answers 400 and closes, with most of the
    header not yet read. What arrives after its Close is read and dropped
    (a lingering close), so the peer's window never stays shut: the client
    gets the whole 400 and the end of the stream, and the wire falls quiet
    instead of carrying zero-window probes for ever."""
    from kernel import inspect
    from kernel.net import relay

    w = WebWorld({"index.html": b"hi"})
    try:
        r = relay.connect(w.client, w.address, 80)
        assert not isinstance(r, int)
        data = b"GET /index.html HTTP/1.1\r\nHost: x\r\nX-Big: " + b"A" * 100_000 + b"\r\n\r\n"
        got = bytearray()

        def pump() -> bool:
            nonlocal data
            if data and not r.opening:
                n = r.push(data)
                if n > 0:
                    data = data[n:]
            got.extend(r.take(65536))
            return r.eof or bool(r.reset)

        assert w.run_until(pump, 20_000_000)
        assert got.startswith(b"HTTP/1.1 400") and r.eof and not r.reset
        r.close()
        w.run_us(2_000_000)
        quiet = inspect.wire(w.net).carried
        w.run_us(10_000_000)
        assert inspect.wire(w.net).carried == quiet, "segments still on the wire 10 s after both ends closed"
        assert w.web.net is not None and w.web.net.tcp.ext_service.discarded > 0
    finally:
        w.close()
