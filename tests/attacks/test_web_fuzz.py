"""10,000 malformed HTTP requests (seeded) to the web server over the
emulated TCP: each is answered with an error status or its connection is
dropped, the extension's handler never faults, and a correct GET works
afterwards.

The requests go pipelined, up to BATCH on a connection (a truncated one
only last, before the client's FIN, so it cannot join the next into a
valid request): the server answers in order until a 400, then closes, and
what followed is dropped with the connection. Every batch's first request
is parsed, whatever it is; the run stays under a minute of host time."""

from __future__ import annotations

import random
from typing import Any

from kernel.net import tcp as T
from tests.web.helpers import WebWorld, parse_response, req

N = 10_000
BATCH = 8
CLIENTS = 16


def malformed(rng: random.Random) -> bytes:
    kind = rng.randrange(10)
    if kind == 0:  # random bytes
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120))) + b"\r\n\r\n"
    if kind == 1:  # a truncated line: no end of head (the client half-closes)
        return b"GET /a.txt HTTP/1.1\r\nHost: x"[: rng.randrange(1, 28)]
    if kind == 2:  # a huge header
        return b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX: " + b"y" * rng.randrange(8200, 12000) + b"\r\n\r\n"
    if kind == 3:  # a bad method
        m = rng.choice([b"POST", b"PUT", b"DELETE", b"get", b"G\x00T", b"G(T", b"", b"BREW"])
        return m + b" /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
    if kind == 4:  # a bad version
        v = rng.choice([b"HTTP/2.0", b"HTTP/1.2", b"HTTP/1", b"HTTPS/1.1", b"http/1.1", b"HTTP/1.1x", b"", b"HTTP/9.9"])
        return b"GET /a.txt " + v + b"\r\nHost: x\r\n\r\n"
    if kind == 5:  # bare CR or LF inside the head
        return rng.choice([b"GET /a.txt\rHTTP/1.1\r\nHost: x\r\n\r\n", b"GET /a.txt HTTP/1.1\r\nHost: x\rY: z\r\n\r\n",
                           b"GET /a.txt HTTP/1.1\r\n Host: x\r\n\r\n", b"\r\r\n\r\n"])  # fmt: skip
    if kind == 6:  # invalid percent escapes, NUL, dot segments
        t = rng.choice(
            [b"/%", b"/%4", b"/%zz", b"/a%0g", b"/%00", b"/%2e%2e/a.txt", b"/a%2Fb", b"/%ff%fe", b"/./a.txt"]
        )
        return b"GET " + t + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    if kind == 7:  # a long URI
        return b"GET /" + b"a" * rng.randrange(2100, 9000) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    if kind == 8:  # a mangled valid request: one byte changed to a control character
        r = bytearray(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r[rng.randrange(0, 20)] = rng.choice([0, 1, 8, 11, 12, 127])
        return bytes(r)
    return rng.choice([b"GET\r\n\r\n", b"GET /a.txt\r\n\r\n", b" GET /a.txt HTTP/1.1\r\n\r\n", b"\r\n\r\n\r\n\r\n",
                       b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
                       b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                       b"GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n"])  # fmt: skip


class Client:
    """An in-kernel client driven by its connections' ``on_event`` (no strand
    to switch to: 10,000 connections stay quick): one connection per
    request -- send it, half-close, read to the end, parse what came."""

    def __init__(self, w: WebWorld, items: list[list[bytes]], out: dict[str, Any]) -> None:
        self.w, self.items, self.out = w, list(reversed(items)), out
        self.tcp = w.client.net.tcp  # type: ignore[union-attr]

    def next(self) -> None:
        if not self.items:
            self.out["done"] = self.out.get("done", 0) + 1
            return
        batch = self.items.pop()
        raw = b"".join(batch)
        c = self.tcp.connect("10.0.0.1", self.w.port, "fuzz")
        if isinstance(c, int):
            self.out["connect errors"] = self.out.get("connect errors", 0) + 1
            self.w.client.net.timer(1, self.next)  # type: ignore[union-attr]
            return
        state = {"sent": False, "buf": b"", "over": False}

        def news(t: T.Tcb) -> None:
            if state["over"]:
                return
            if not state["sent"] and t.state == T.ESTABLISHED:
                state["sent"] = True
                assert t.send(raw) == len(raw)  # within TCP_SNDBUF: batches stay under 32 KiB
                t.close()
            while isinstance(more := t.recv(65536), bytes) and more:
                state["buf"] += more
            if more is None:
                return
            state["over"] = True
            buf, answers = state["buf"], []
            while buf:
                got = parse_response(buf, False)
                assert got is not None, f"half a response to {raw[:80]!r}: {buf[:200]!r}"
                answers.append(got[0])
                buf = got[1]
            self.out.setdefault("batches", []).append((batch, answers))
            self.w.client.net.timer(1, self.next)  # type: ignore[union-attr]

        c.on_event = news


def batches(items: list[bytes]) -> list[list[bytes]]:
    out: list[list[bytes]] = [[]]
    for raw in items:
        if len(out[-1]) == BATCH or sum(map(len, out[-1])) + len(raw) > 30_000:
            out.append([])
        out[-1].append(raw)
        if not raw.endswith(b"\r\n\r\n") and b"\r\n\r\n" not in raw:  # truncated: last before the FIN
            out.append([])
    return [b for b in out if b]


def test_ten_thousand_malformed_requests() -> None:
    rng = random.Random(2020)
    w = WebWorld({"a.txt": b"hello world\n"})
    items = [malformed(rng) for _ in range(N)]
    todo = batches(items)
    out: dict[str, Any] = {}
    for i in range(CLIENTS):
        Client(w, todo[i::CLIENTS], out).next()
    assert w.net.run_until(lambda: out.get("done", 0) == CLIENTS, 600_000_000, step_us=5000)
    assert out.get("connect errors", 0) == 0
    seen = out["batches"]
    assert sum(len(b) for b, _ in seen) == N
    answered = firsts = 0
    for batch, answers in seen:
        assert len(answers) <= len(batch)
        assert all(400 <= a.status < 600 for a in answers), (batch[0][:80], [a.status for a in answers])
        truncated = not batch[-1].endswith(b"\r\n\r\n")
        blank = sum(1 for b in batch if not b.strip(b"\r\n"))  # empty lines are no request (RFC 9112 §2.2)
        if (
            len(answers) < len(batch) - truncated - blank and answers
        ):  # the rest was dropped: only after a 400 that closed
            assert answers[-1].status in (400, 414) and answers[-1].headers.get("connection") == "close", (
                [(len(b), b[:40]) for b in batch],
                [(a.status, a.headers) for a in answers],
            )
        assert all(a.status != 400 for a in answers[:-1])  # nothing is answered after a 400
        answered += len(answers)
        first = batch[0]
        firsts += bool(answers) or not first.endswith(b"\r\n\r\n") or not first.strip(b"\r\n")
    assert firsts == len(seen)
    assert answered > len(seen)
    faults = [r for r in w.server.dispatcher.reports if "web_server" in r]
    assert not faults, faults[:3]
    assert not w.server.sched.failures and w.server.machine.halt_reason is None
    c = w.counters
    assert c["errors_4xx"] + c["errors_5xx"] == c["requests"] >= answered
    assert w.get("/a.txt").body == b"hello world\n"
    s = w.session([req("/a.txt"), req("/a.txt")])
    assert [r.status for r in s.responses] == [200, 200]
    w.net.run_us(50_000)  # the client's FIN arrives
    assert not w.server.net.tcp.ext_service.news and not w.ext.namespace["conns"]  # nothing left behind
