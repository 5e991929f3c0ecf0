"""Real clients through `spinwb web`: curl, Python's http.client, ab, headless
Chromium, and tshark on the pcap of the run. Every byte they see crossed
the emulated wire as kernel TCP (workbench/web/bridge.py)."""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import subprocess

import pytest

from tests.conftest import require
from tests.realclients.conftest import TREE, Served, url_path

NAMES = sorted(TREE)


def _http(served: Served, method: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    c = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        c.close()


def _raw(served: Served, request: bytes) -> bytes:
    """Send bytes as they are and read the answer to its end."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    return got


@pytest.mark.oracle
@pytest.mark.parametrize("name", NAMES)
def test_curl_fetches_every_file_byte_exact(served: Served, name: str) -> None:
    curl = require("curl")
    r = subprocess.run([curl, "-sS", "--fail-with-body", "--max-time", "60", served.url.rstrip("/") + url_path(name)],
                       capture_output=True, timeout=90)  # fmt: skip
    assert r.returncode == 0, (name, r.stderr)
    assert r.stdout == TREE[name], f"{name}: {len(r.stdout)} bytes, want {len(TREE[name])}"


@pytest.mark.parametrize("name", NAMES)
def test_http_client_get_and_head(served: Served, name: str) -> None:
    status, headers, body = _http(served, "GET", url_path(name))
    assert status == 200, (name, status, body[:200])
    assert body == TREE[name]
    assert dict((k.lower(), v) for k, v in headers)["content-length"] == str(len(TREE[name]))
    hstatus, hheaders, hbody = _http(served, "HEAD", url_path(name))
    assert hstatus == 200 and hbody == b""
    drop = {"date"}  # the one header allowed to differ between two answers
    assert [(k, v) for k, v in hheaders if k.lower() not in drop] == [
        (k, v) for k, v in headers if k.lower() not in drop
    ]


def test_404_then_still_serving(served: Served) -> None:
    status, _, _ = _http(served, "GET", "/no/such/file.txt")
    assert status == 404
    status, _, body = _http(served, "GET", "/index.html")
    assert status == 200 and body == TREE["index.html"]


@pytest.mark.parametrize("line", [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET /index.html HTTP/9\x00\r\n\r\n",
                                  b"\xff\xfe\xfd /x HTTP/1.0\r\n\r\n"])  # fmt: skip
def test_400_for_a_malformed_request_line_then_still_serving(served: Served, line: bytes) -> None:
    got = _raw(served, line)
    assert re.match(rb"HTTP/1\.[01] 400 ", got), got[:200]
    status, _, body = _http(served, "GET", "/bin/all256.bin")
    assert status == 200 and body == TREE["bin/all256.bin"]


def test_half_close_request_then_full_answer(served: Served) -> None:
    """The client's FIN right after its request (the raw helper shuts its write
    side) reaches the server as a kernel FIN, and the whole answer still comes back."""
    got = _raw(served, b"GET /big/one-mib.bin HTTP/1.0\r\n\r\n")
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0]
    assert body == TREE["big/one-mib.bin"]


def test_40_pipelined_requests_all_answered_in_order(served: Served) -> None:
    """Past the server's 16 requests a handler call (PIPELINE_MAX) the rest
    wait in its buffer; the kernel calls it again (conn.Again) without the
    client sending more: this client writes once and never half-closes."""
    names = [NAMES[i % len(NAMES)] for i in range(40)]
    reqs = [f"GET {url_path(n)} HTTP/1.1\r\nHost: x\r\n{'Connection: close' + chr(13) + chr(10) if i == 39 else ''}\r\n"
            for i, n in enumerate(names)]  # fmt: skip
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as s:
        s.sendall("".join(reqs).encode())
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    bodies = []
    while got:
        head, sep, rest = got.partition(b"\r\n\r\n")
        assert sep, got[:200]
        assert head.startswith(b"HTTP/1.1 200 "), head[:200]
        n = int(re.search(rb"(?i)\r\ncontent-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        bodies.append(rest[:n])
        got = rest[n:]
    assert len(bodies) == 40 and bodies == [TREE[n] for n in names]


@pytest.mark.oracle
def test_ab_500_requests_8_concurrent_none_failed(served: Served) -> None:
    ab = require("ab")
    r = subprocess.run([ab, "-n", "500", "-c", "8", "-s", "60", served.url + "index.html"], capture_output=True,
                       text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert re.search(r"Complete requests:\s+500\b", r.stdout), r.stdout
    assert re.search(r"Failed requests:\s+0\b", r.stdout), r.stdout
    assert re.search(r"Non-2xx responses", r.stdout) is None, r.stdout
    rate = re.search(r"Requests per second:\s+([\d.]+)", r.stdout)
    print(f"ab: {rate.group(1) if rate else '?'} requests/s")


@pytest.mark.oracle
def test_chromium_renders_spin_threads(served: Served) -> None:
    chromium = next((p for n in ("chromium", "chromium-browser") if (p := shutil.which(n))), None) or require(
        "chromium"
    )
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--dump-dom", served.url + "spin/threads"], capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    dom = r.stdout
    assert "<table" in dom, (dom[:500], r.stderr[-500:])
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", dom, re.S)
    cells = " ".join(rows)
    assert len(rows) >= 2, dom[:1000]
    assert re.search(r"\bidle\b", cells) and re.search(r"\bnetisr\b", cells), cells[:1000]  # the kernel's strands
