"""The web server extension over the kernel's TCP: HTTP behaviour byte by
byte, the three levels and the hybrid policy, the status pages, and the
figures (a cached 1 KiB GET's client-side latency, crossings and copies)."""

from __future__ import annotations

import html.parser
from typing import Any

import pytest

from kernel.core.costs import CLOCK_MHZ
from kernel.inspect import counters
from kernel.sys.errors import SpinError
from tests.web.helpers import WebWorld, req

FILES = {
    "index.html": b"<!DOCTYPE html><title>root</title>",
    "a.txt": b"hello world\n",
    "empty.txt": b"",
    "docs/a b.html": b"<p>spaced</p>" * 50,
    "docs/index.html": b"docs index",
    "img/logo.png": bytes(range(256)) * 3,
    "big.bin": bytes((i * 7) & 0xFF for i in range(300_000)),
    "k1.txt": b"x" * 1024,
    "odd.weird": b"?",
}


@pytest.fixture(scope="module")
def w() -> WebWorld:
    return WebWorld(FILES)


def test_files_byte_exact_with_types(w: WebWorld) -> None:
    for path, name, ctype in [("/a.txt", "a.txt", "text/plain; charset=utf-8"), ("/empty.txt", "empty.txt", None),
                              ("/docs/a%20b.html", "docs/a b.html", "text/html; charset=utf-8"),
                              ("/img/logo.png", "img/logo.png", "image/png"), ("/big.bin", "big.bin", None),
                              ("/odd.weird", "odd.weird", "application/octet-stream"),
                              ("/", "index.html", None), ("/docs/", "docs/index.html", None)]:  # fmt: skip
        r = w.get(path)
        assert r.status == 200, path
        assert r.body == FILES[name], path
        assert r.headers["content-length"] == str(len(FILES[name]))
        assert r.headers["server"] == "SPIN-Workbench"
        if ctype:
            assert r.headers["content-type"] == ctype


def test_head_is_get_without_the_body(w: WebWorld) -> None:
    for path in ("/a.txt", "/big.bin", "/nope", "/spin/cache"):
        g, h = w.get(path), w.get(path, "HEAD")
        assert h.status == g.status and h.body == b""
        if path != "/spin/cache":  # its body counts requests: its length may change
            assert h.raw_headers == g.raw_headers


def test_keep_alive_three_requests_on_one_connection(w: WebWorld) -> None:
    s = w.session([req("/a.txt"), req("/img/logo.png"), req("/a.txt", extra="Connection: close\r\n")])
    assert [r.status for r in s.responses] == [200, 200, 200]
    assert s.responses[2].headers["connection"] == "close" and s.closed
    # HTTP/1.0 closes unless asked; with keep-alive it stays
    s = w.session([req("/a.txt", version="HTTP/1.0", extra="Connection: keep-alive\r\n"),
                   req("/a.txt", version="HTTP/1.0")])  # fmt: skip
    assert [r.status for r in s.responses] == [200, 200]
    # the status line carries the server's own version, 1.1 (RFC 9110 §6.2); 1.0's semantics are kept
    assert s.responses[0].headers["connection"] == "keep-alive" and s.responses[0].version == "HTTP/1.1"
    assert s.responses[1].headers["connection"] == "close" and s.closed and s.responses[1].version == "HTTP/1.1"


def test_pipelined_answers_stay_in_request_order_across_slow_levels() -> None:
    w = WebWorld({"slow.txt": b"S" * 5000, "fast.txt": b"F"}, disk_us=30_000)
    w.get("/fast.txt")  # now in memory
    s = w.session([req("/slow.txt"), req("/fast.txt"), req("/missing"), req("/slow.txt")], pipeline=True)
    assert [(r.status, r.body[:1]) for r in s.responses] == [(200, b"S"), (200, b"F"), (404, b"<"), (200, b"S")]
    c = w.counters
    assert c["hits_disk"] == 3 and c["misses"] == 1  # fast.txt's first trip, and two coalesced slow ones
    assert c["bytes_disk"] == 1 + 5000  # but slow.txt was read once: bytes are what the disk gave


def test_coalesced_requests_are_each_answered_but_the_file_read_once() -> None:
    w = WebWorld({"one.txt": b"1" * 700}, disk_us=30_000)
    s = w.session([req("/one.txt")] * 20, pipeline=True)
    assert [r.body for r in s.responses] == [b"1" * 700] * 20
    c = w.counters
    assert w.files[0].reads == 1 and c["hits_disk"] == 20 and c["bytes_disk"] == 700


def test_more_than_pipeline_max_pipelined_requests_are_all_answered_in_order() -> None:
    """Requests past PIPELINE_MAX stay in the server's buffer; conn.Again() has
    the kernel call its handler again, so they are answered without the client
    sending anything more."""
    files = {f"f{i}.txt": f"file {i}\n".encode() * (i + 1) for i in range(40)}
    w = WebWorld(files)
    assert w.ext.namespace["PIPELINE_MAX"] < 40
    s = w.session([req(f"/f{i}.txt") for i in range(40)], pipeline=True, limit_us=2_000_000)
    assert [r.body for r in s.responses] == [files[f"f{i}.txt"] for i in range(40)]
    assert w.counters["requests"] == 40


def test_errors_and_the_server_keeps_serving(w: WebWorld) -> None:
    cases = [(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
             (b"GARBAGE\r\n\r\n", 400), (b"GET /a.txt HTTP/1.1\r\n\r\n", 400),  # 1.1 without Host
             (b"GET /a.txt HTTP/2.0\r\nHost: x\r\n\r\n", 505), (b"GET /a.txt HTTP/1.x\r\nHost: x\r\n\r\n", 400),
             (req("/a.txt", "DELETE"), 405), (req("/a.txt", "PUT"), 405), (req("/a.txt", "POST", "Content-Length: 0\r\n"), 405),
             (req("/a.txt", "POST", "Content-Length: 5\r\n") + b"hello", 405),  # a body: answered, then closed
             (req("/a.txt", "get"), 501), (req("/a.txt", "BREW"), 501), (req("/" + "a" * 3000), 414),
             (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n", 414), (req("/x", extra="X: " + "y" * 9000 + "\r\n"), 400),
             (req("/nope.txt"), 404), (req("/a%zz"), 400), (req("/a%0"), 400)]  # fmt: skip
    for raw, status in cases:
        s = w.session([raw, req("/a.txt")])
        assert s.responses and s.responses[0].status == status, raw[:60]
        if status == 400 or not raw.endswith(b"\r\n\r\n"):
            assert s.responses[0].headers.get("connection") == "close", raw[:60]
            assert s.closed and len(s.responses) == 1  # a 400 (and an unfinished head) ends the connection
        else:
            assert [r.status for r in s.responses] == [status, 200], raw[:60]  # the same connection goes on
    assert w.session([req("/a.txt", "OPTIONS")]).responses[0].headers["allow"] == "GET, HEAD"
    assert "allow" not in w.session([req("/a.txt", "BREW")]).responses[0].headers  # 501: no method is allowed
    assert w.get("/a.txt").body == FILES["a.txt"]


@pytest.mark.parametrize("target", ["/../a.txt", "/%2e%2e/a.txt", "/%2E%2E/%2e%2e/etc/passwd", "/docs/../a.txt",
                                    "/./a.txt", "/docs/%2e/a%20b.html", "//a.txt", "/docs//a%20b.html",
                                    "/docs\\..\\a.txt", "/docs%5c..%5ca.txt", "/a.txt%00", "/a%00.txt",
                                    "/docs%2fa%20b.html", "/..", "/.", "a.txt", "*"])  # fmt: skip
def test_path_escapes_are_refused(w: WebWorld, target: str) -> None:
    before = w.counters
    r = w.get(target)
    assert r.status in (400, 404)
    assert r.body not in FILES.values()
    after = w.counters
    assert after["hits_disk"] == before["hits_disk"] and after["hits_nfs"] == before["hits_nfs"]


def test_the_three_levels_are_counted() -> None:
    w = WebWorld({"local.txt": b"L" * 100}, remote={"local.txt": b"L" * 100, "far/away.txt": b"R" * 200})
    assert w.get("/far/away.txt").body == b"R" * 200
    assert w.get("/local.txt").body == b"L" * 100
    assert w.get("/far/away.txt").status == 200 and w.get("/local.txt").status == 200
    assert w.get("/nowhere").status == 404
    c = w.counters
    assert (c["hits_nfs"], c["hits_disk"], c["hits_memory"], c["misses"]) == (1, 1, 2, 1)
    assert (c["bytes_nfs"], c["bytes_disk"], c["bytes_memory"]) == (200, 100, 300)
    page = w.get("/spin/cache").body.decode()
    assert "<td>from NFS</td><td>1</td><td>200</td>" in page and "policy hybrid" in page


def test_how_each_request_was_answered_sums_to_requests() -> None:
    """ANSWERS divides ``requests``: after good, missing, bad, refused and status requests, the parts are the
    whole, in the counters and on /spin/cache."""
    w = WebWorld({"local.txt": b"L" * 100}, remote={"local.txt": b"L" * 100, "far.txt": b"R" * 20})
    raws = [req("/local.txt"), req("/local.txt"), req("/far.txt"), req("/nope"), req("/nope2"), req("/spin/"),
            req("/spin/heap"), b"GARBAGE\r\n\r\n", req("/a%zz"), req("/" + "a" * 3000), req("/x", "POST"),
            req("/x", "BREW"), req("/x", version="HTTP/2.0")]  # fmt: skip
    for raw in raws:
        assert w.session([raw]).responses, raw[:40]
    w.get("/spin/cache")
    c = w.counters
    want = {"hits_memory": 1, "hits_disk": 1, "hits_nfs": 1, "misses": 2, "status_pages": 3, "bad_requests": 3,
            "bad_methods": 2, "bad_versions": 1, "nfs_failures": 0}  # fmt: skip
    assert {k: c[k] for k, _ in c["ANSWERS"]} == want
    assert c["requests"] == len(raws) + 1 == sum(want.values())
    page = w.get("/spin/cache").body.decode()
    assert "<td>status pages</td><td>4</td>" in page and "<td>all</td><td>15</td>" in page
    assert "<td>not yet (waiting on the disk or NFS)</td><td>0</td>" in page


def _mix(policy: str) -> dict[str, Any]:
    small = {f"s{i}.html": bytes([65 + i]) * 4000 for i in range(20)}  # 80 KB of small files
    large = {f"L{i}.bin": bytes([i]) * 150_000 for i in range(3)}  # each three quarters of the cache
    w = WebWorld({**small, **large}, settings={"POLICY": policy, "CACHE_BYTES": 200_000, "SMALL_LIMIT": 32768},
                 disk_us=1000)  # fmt: skip
    order = []
    for rnd in range(3):
        order += [f"/s{i}.html" for i in range(20)] + [f"/L{rnd}.bin"]
    batches = [[req(p) for p in order[i : i + 7]] for i in range(0, len(order), 7)]
    for b in batches:
        for r in w.session(b).responses:
            assert r.status == 200
    return w.counters


def test_hybrid_gets_more_memory_hits_than_lru_on_a_mix() -> None:
    hybrid, lru, none = _mix("hybrid"), _mix("lru"), _mix("none")
    assert hybrid["requests"] == lru["requests"] == 63
    assert hybrid["hits_memory"] == 40  # every small file after its first trip; no large file ever
    assert lru["hits_memory"] < hybrid["hits_memory"]  # the large files pushed small ones out
    assert lru["evictions"] > 0 and hybrid["evictions"] == 0
    assert none["hits_memory"] == 0 and none["hits_disk"] == 63


class _Html(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self.links: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in = tag
        if tag == "a":
            self.links.append(dict(attrs)["href"] or "")

    def handle_data(self, data: str) -> None:
        if self._in == "td":
            self.cells.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def test_status_pages_show_the_real_system(w: WebWorld) -> None:
    k = w.server
    k.sched.fork(lambda: k.sched.block(), name="strand <b>&'\"", priority=10)  # a name that needs escaping
    w.net.run_us(2000)
    pages = {p: w.get(f"/spin/{p}") for p in ("", "threads", "domains", "events", "heap", "cache")}
    for p, r in pages.items():
        assert r.status == 200 and r.headers["content-type"] == "text/html; charset=utf-8", p
        text = r.body.decode("utf-8")
        assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text and "<title>" in text
        h = _Html()
        h.feed(text)
        assert "table" in h.tags, p
        assert {"/spin/threads", "/spin/domains", "/spin/events", "/spin/heap", "/spin/cache"} <= set(h.links)
    threads = pages["threads"].body.decode()
    assert "strand &lt;b&gt;&amp;&#39;&quot;" in threads and "<b>&" not in threads
    h = _Html()
    h.feed(threads)
    assert "netisr" in h.cells and "idle" in h.cells and "strand <b>&'\"" in h.cells
    doms = _Html()
    doms.feed(pages["domains"].body.decode())
    assert "web_server" in doms.cells and "SpinPublic" in doms.cells
    assert not any(c.startswith("(") or c.startswith("[") for c in doms.cells), doms.cells  # no Python reprs
    assert any(c.startswith("Clock, Console, ") for c in doms.cells) and "\u2014" in doms.cells  # "—": none
    index = _Html()
    index.feed(pages[""].body.decode())
    text = pages[""].body.decode()
    assert "web server host (10.0.0.1)" in text and f"at {CLOCK_MHZ} MHz" in text and "virtual seconds" in text
    row = index.cells[index.cells.index("instructions") :][:3]
    assert row[2].startswith("guest Alpha instructions"), row
    ev = _Html()
    ev.feed(pages["events"].body.decode())
    assert "TCP.Ready" in ev.cells and "UDP.PacketArrived" in ev.cells


def test_inspect_is_refused_to_a_users_extension() -> None:
    from kernel.net.topology import Network

    k = Network(1).hosts[0]
    src = "from spin import Inspect\nn = 0\ndef init():\n    global n\n    n = len(Inspect.Threads())\n"
    with pytest.raises(SpinError, match="Inspect.Threads: seeing the whole system needs the right all-processes"):
        k.system.load(src, "peek.py", importer="user")
    ext = k.system.load(src, "peek.py", importer="root")
    assert ext.namespace["n"] == len(k.sched.strands)
    # the web server loaded by a user: its status pages fail, contained; files are still served, on a high port
    w = WebWorld({"a.txt": b"A"}, importer="user")
    s = w.session([req("/spin/threads"), req("/a.txt")])
    assert not s.responses and s.closed  # the handler faulted: that connection was aborted
    assert any("Inspect.Threads: seeing the whole system" in r for r in w.server.dispatcher.reports)
    assert w.get("/a.txt").body == b"A"


def test_latency_and_mechanism_of_a_cached_1k_get(w: WebWorld) -> None:
    """The figures: a cached 1 KiB GET, SYN to last byte, and per request on
    a kept-alive connection; crossings and copies on the server host."""
    w.get("/k1.txt")
    k = w.server
    before = counters(k)
    s = w.session([req("/k1.txt")])
    after = counters(k)
    r = s.responses[0]
    assert r.body == FILES["k1.txt"]
    fresh_us = (r.at - s.start) / CLOCK_MHZ
    s = w.session([req("/k1.txt") for _ in range(5)])
    per_us = (s.responses[-1].at - s.responses[0].at) / 4 / CLOCK_MHZ
    print(
        f"\ncached 1 KiB GET: {fresh_us:.0f} µs SYN to last byte; {per_us:.0f} µs per request kept alive; "
        f"server crossings {after.crossings - before.crossings}, copies {after.copies - before.copies}"
    )
    assert after.crossings == before.crossings  # nothing crossed into user space on the server
    assert after.copies - before.copies == 1  # the request out of TCP's buffer; the response by reference
    assert 1000 < per_us < fresh_us < 10_000


def test_pipelined_large_files_wait_for_the_queue_instead_of_passing_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Six pipelined 200 KB answers would queue 1.2 MB at once; with the kernel's
    bound at 600 KB the server holds the next back until the queue drains."""
    from kernel.net import tcp_ext

    monkeypatch.setattr(tcp_ext, "TCP_EXT_QUEUED", 600_000)
    big = bytes((i * 13) & 0xFF for i in range(200_000))
    w = WebWorld({"big.bin": big}, settings={"POLICY": "lru"})
    assert w.get("/big.bin").body == big  # now in memory: all six are ready at once
    s = w.session([req("/big.bin")] * 6, pipeline=True, limit_us=10_000_000)
    assert [r.body == big for r in s.responses] == [True] * 6
