"""kernel/net/http_client.py: the parser on every split of a response, and
the client in a kernel against servers that answer garbage or reset."""

from __future__ import annotations

from typing import Any

import pytest

from kernel.net import endpoints as E
from kernel.net import http_client
from kernel.net import tcp as T
from kernel.net.http_client import ResponseParser
from kernel.net.topology import Network

CL = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world"
CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5;ext=1\r\nhello\r\n1\r\n \r\nA\r\nworld, and\r\n0\r\nX-Trailer: t\r\n\r\n")  # fmt: skip
CLOSE = b"HTTP/1.0 200 OK\nServer: s\n\nuntil the end"


def _parse(data: bytes, cuts: list[int], head_only: bool = False, eof: bool = True) -> ResponseParser:
    p = ResponseParser(head_only)
    last = 0
    for c in [*cuts, len(data)]:
        p.feed(data[last:c])
        last = c
    if eof:
        p.eof()
    return p


@pytest.mark.parametrize(
    "data, body", [(CL, b"hello world"), (CHUNKED, b"hello world, and"), (CLOSE, b"until the end")]
)
def test_every_two_way_split_and_byte_by_byte_parse_the_same(data: bytes, body: bytes) -> None:
    for cut in range(len(data) + 1):
        p = _parse(data, [cut])
        assert (p.done, p.error, p.status, bytes(p.body)) == (True, "", 200, body), cut
    p = _parse(data, list(range(1, len(data))))
    assert bytes(p.body) == body and p.status == 200


def test_content_length_ends_without_eof_and_notes_extra_bytes() -> None:
    p = _parse(CL + b"HTTP/1.1 200", [], eof=False)
    assert p.done and bytes(p.body) == b"hello world" and p.extra
    assert p.headers["content-type"] == "text/plain"


def test_chunked_ends_at_the_last_chunk_and_not_before() -> None:
    p = _parse(CHUNKED[:-2], [], eof=False)
    assert not p.done
    p.feed(CHUNKED[-2:])
    assert p.done and not p.error


def test_head_and_304_have_no_body_and_100_continue_is_skipped() -> None:
    assert _parse(CL[: CL.index(b"hello")], [], head_only=True, eof=False).done
    assert _parse(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", [], eof=False).done
    p = _parse(b"HTTP/1.1 100 Continue\r\n\r\n" + CL, [30], eof=False)
    assert p.status == 200 and bytes(p.body) == b"hello world"


@pytest.mark.parametrize(
    "data, why",
    [
        (b"\x00\xff garbage \r\n\r\n", "status line"),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", "three digits"),
        (b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n", "header field"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", "CRLF"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "closed in the middle"),
        (b"", "before any response"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 20000, "header section"),
    ],
)
def test_malformed_responses_are_errors_not_exceptions(data: bytes, why: str) -> None:
    p = _parse(data, [len(data) // 2])
    assert p.done and why in p.error, p.error


def _garbage_server(k: Any, port: int, answers: list[bytes | None]) -> None:
    """Accept a connection per answer: send it and close (None: reset instead)."""
    lst = k.net.tcp.listen(port, 4, "garbage server")
    assert isinstance(lst, T.Tcb)
    for a in answers:
        c = E._accept(k, lst)
        E._recv(k, c, 4096)
        if a is None:
            c.abort()
            continue
        E._send_all(k, c, a)
        c.close()


def test_the_client_survives_garbage_a_reset_and_a_refusal_then_still_works() -> None:
    net = Network(2)
    srv, cli = net.hosts
    answers: list[bytes | None] = [
        b"\x16\x03\x01 this is not HTTP\r\n\r\n",
        None,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ]
    srv.sched.fork(_garbage_server, srv, 8080, answers, name="garbage server")
    net.run_us(1000)
    results = []
    for _ in answers:
        r = http_client.get(cli, "10.0.0.1", 8080, "/")
        assert net.run_until(lambda r=r: r.done, 3_000_000)
        results.append(r.result)
    assert results[0] is not None and results[0].status == 0 and "status line" in results[0].error
    assert results[1] is not None and results[1].status == 0 and results[1].error
    assert results[2] is not None and (results[2].status, results[2].body) == (200, b"ok")
    assert results[2].latency_us > 0
    r = http_client.get(cli, "10.0.0.1", 9, "/")  # nobody listens: refused
    assert net.run_until(lambda: r.done, 3_000_000)
    assert r.result is not None and r.result.status == 0 and "refused" in r.result.error


def test_a_silent_server_times_out_in_virtual_time() -> None:
    net = Network(2)
    srv, cli = net.hosts
    lst = srv.net.tcp.listen(8081, 4, "silent")
    assert isinstance(lst, T.Tcb)
    r = http_client.get(cli, "10.0.0.1", 8081, "/", timeout_us=50_000)
    assert net.run_until(lambda: r.done, 1_000_000)
    assert r.result is not None and "50000 µs" in r.result.error
