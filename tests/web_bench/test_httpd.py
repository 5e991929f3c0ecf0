"""The UNIX-way server (scenarios/programs/kernel/httpd.c) through the web
world and the in-kernel HTTP client, and under qemu-alpha against Python's
http.client and curl."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.net.webworld import HTTPD, WebWorld
from tests.conftest import require

FILES = {
    "index.html": b"<html><body>home</body></html>\n",
    "empty.txt": b"",
    "bin.dat": bytes(range(256)) * 8,
    "multi.bin": bytes((i * 7 + (i >> 9)) & 0xFF for i in range(30000)),  # four read()s of 8 KiB
    "a b%.txt": b"a name that needs percent-encoding\n",
    "style.css": b"body { color: red }\n",
    "docs/deep/nested page.html": b"<p>nested, SPINFS02</p>\n",
}


@pytest.fixture(scope="module")
def world() -> Iterator[WebWorld]:
    w = WebWorld(FILES, server="unix")
    yield w
    w.close()


def _ok(w: WebWorld) -> None:
    """The server still serves."""
    r = w.fetch("/index.html")
    assert (r.status, r.body) == (200, FILES["index.html"]), r.error


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_file_comes_back_byte_exact_with_its_length_and_type(world: WebWorld, name: str) -> None:
    path = "/" + name.replace("%", "%25").replace(" ", "%20")
    r = world.fetch(path)
    assert r.error == "" and r.status == 200
    assert r.body == FILES[name]
    assert r.headers["content-length"] == str(len(FILES[name]))
    want = {"html": "text/html", "txt": "text/plain", "css": "text/css"}.get(name.rsplit(".", 1)[-1])
    assert r.headers["content-type"] == (want or "application/octet-stream")


def test_head_gives_gets_headers_and_no_body(world: WebWorld) -> None:
    g, h = world.fetch("/multi.bin"), world.fetch("/multi.bin", method="HEAD")
    assert h.status == 200 and h.body == b""
    assert h.headers == g.headers


def test_root_is_the_index(world: WebWorld) -> None:
    assert world.fetch("/").body == FILES["index.html"]


def test_the_file_server_runs_nfs_beside_it(world: WebWorld) -> None:
    assert world.nfs is not None  # kernel/fs/nfs_server.serve_nfs on 10.0.0.2 (the extension's third level)


def test_empty_components_are_refused_and_a_directory_is_not_a_file(world: WebWorld) -> None:
    assert world.fetch("/docs//deep/nested%20page.html").status == 400
    assert world.fetch("/docs/deep").status == 404


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"GET /nope.html HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET /index.html%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /../index.html HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /%2e%2e/index.html HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /a%2 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET index.html HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /index.html HTTP/1.1\r\n\r\n", 400),  # RFC 9112 §3.2: 1.1 needs Host
        (b"GET /index.html HTTP/2.0\r\nHost: x\r\n\r\n", 400),
        (b"garbage\r\n\r\n", 400),
        (b"GET /index.html HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 405),
        (b"DELETE /index.html HTTP/1.0\r\n\r\n", 405),
        (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ],
)
def test_bad_requests_get_their_status_and_the_server_keeps_serving(world: WebWorld, raw: bytes, status: int) -> None:
    r = world.fetch("/", raw=raw)
    assert r.error == "" and r.status == status, (r.status, r.error)
    assert f"{status}".encode() in r.body
    if status == 405:
        assert r.headers["allow"] == "GET, HEAD"
    _ok(world)


def test_http_1_0_closes_and_1_1_keeps_alive(world: WebWorld) -> None:
    r = world.fetch("/", raw=b"GET /bin.dat HTTP/1.0\r\n\r\n")
    assert r.version == "HTTP/1.0" and r.headers["connection"] == "close" and r.body == FILES["bin.dat"]
    a = world.fetch("/bin.dat", keep_alive=True)
    b = world.fetch("/multi.bin", keep_alive=True)
    assert a.keep_alive and b.reused and b.body == FILES["multi.bin"]
    c = world.fetch("/nope", keep_alive=True)  # a 404 keeps the connection too
    assert c.status == 404 and c.reused
    d = world.fetch("/index.html")  # Connection: close ends it; the server takes the next one
    assert d.reused and d.body == FILES["index.html"] and not d.keep_alive
    _ok(world)


def test_a_client_that_goes_away_mid_request_does_not_stop_the_server(world: WebWorld) -> None:
    r = world.start("/", raw=b"GET /multi.bin HT")
    world.run_us(20_000)
    assert r.conn is not None
    r.conn.tcb.abort()
    world.run_us(20_000)
    _ok(world)


# --- the same program under qemu-alpha, judged by real clients ------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def qemu_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    qemu = require("qemu-alpha")
    root = tmp_path_factory.mktemp("www")
    for name, body in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(body)
    port = _free_port()
    p = subprocess.Popen([qemu, "-cpu", "ev4", str(HTTPD), str(port), str(root)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port, root
    finally:
        p.kill()
        p.wait()


def test_under_qemu_python_http_client_gets_every_file(qemu_server: tuple[int, Path]) -> None:
    port, _ = qemu_server
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for name, body in FILES.items():  # one kept-alive connection for all of them
        c.request("GET", "/" + name.replace("%", "%25").replace(" ", "%20"))
        r = c.getresponse()
        assert (r.status, r.read()) == (200, body)
    c.request("HEAD", "/multi.bin")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Length") == str(len(FILES["multi.bin"])) and r.read() == b""
    c.request("GET", "/missing")
    assert c.getresponse().status == 404
    c.close()


def test_under_qemu_curl_agrees(qemu_server: tuple[int, Path], tmp_path: Path) -> None:
    port, _ = qemu_server
    curl = require("curl")
    out = tmp_path / "multi.bin"
    p = subprocess.run([curl, "-sS", "-o", str(out), "-w", "%{http_code}", f"http://127.0.0.1:{port}/multi.bin"],
                       capture_output=True, text=True, timeout=30)  # fmt: skip
    assert p.stdout == "200" and out.read_bytes() == FILES["multi.bin"]
    p = subprocess.run([curl, "-sS", "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}",
                        f"http://127.0.0.1:{port}/../etc/passwd"], capture_output=True, text=True, timeout=30)  # fmt: skip
    assert p.stdout == "400"
