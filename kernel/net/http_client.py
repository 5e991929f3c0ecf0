"""An HTTP/1.1 client in a kernel's own TCP: the benches' and the web
world's client (kernel/net/webworld.py), the way SPIN's tests ran clients in
the kernel (kernel/net/endpoints.py).

``get`` forks a short kernel strand that opens the connection (or reuses an
idle kept-alive one) and writes the request; from then on the connection's
``Tcb.on_event`` drives it in the network thread: the rest of the request
as the send buffer drains, the response parsed as it arrives. The caller
runs the world until ``Request.done``. Latency is virtual time from the
connect (or, on a reused connection, from the request's first byte handed to
TCP) to the response's last byte.

The response parser (``ResponseParser``, pure) follows RFC 9112: status line,
header fields, then the body framed by ``Transfer-Encoding: chunked``
(§7.1), ``Content-Length`` (§6.3) or the end of the connection; no body for
HEAD, 1xx, 204 and 304. Anything malformed ends the request with an
``error`` in its result, never an exception.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kernel.core.costs import CLOCK_MHZ
from kernel.net import tcp as T

if TYPE_CHECKING:
    from kernel.kernel import Kernel

HEAD_MAX = 65536  # bytes of status line and header fields a response may have
BODY_MAX = 64 << 20  # bytes of body the client keeps
TIMEOUT_US = 10_000_000  # virtual µs a request may take
RECV_CHUNK = 65536


@dataclass
class HttpResult:
    """What came back. ``status`` is 0 and ``error`` says why when there is
    no whole, well-formed response; headers' names are lower case (repeats
    joined with ", "); ``raw_headers`` keeps them as sent."""

    status: int
    headers: dict[str, str]
    body: bytes
    latency_us: float
    error: str = ""
    reason: str = ""
    version: str = ""
    reused: bool = False  # sent on a kept-alive connection
    raw_headers: list[tuple[str, str]] = field(default_factory=list)
    keep_alive: bool = False  # the connection stayed open for another request


class ResponseParser:
    """Incremental: ``feed`` bytes as they come, ``eof`` at the peer's FIN.
    ``done`` once the response is whole (or ``error`` is set)."""

    def __init__(self, head_only: bool = False, body_max: int = BODY_MAX) -> None:
        self.head_only = head_only
        self.body_max = body_max
        self.buf = bytearray()
        self.status = 0
        self.reason = self.version = ""
        self.raw_headers: list[tuple[str, str]] = []
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.error = ""
        self.done = False
        self.extra = False  # bytes followed the response (nothing was asked for them)
        self._phase = "head"  # head, length, chunk-size, chunk-data, chunk-crlf, trailer, close
        self._left = 0

    def feed(self, data: bytes) -> None:
        if self.done:
            self.extra = self.extra or bool(data)
            return
        self.buf += data
        self._run()

    def eof(self) -> None:
        """The peer closed: a close-delimited body ends here; anything else unfinished is an error."""
        if self.done:
            return
        if self._phase == "close":
            self._finish()
        elif self._phase == "head" and not self.buf and not self.status:
            self._fail("the connection closed before any response")
        else:
            self._fail(f"the connection closed in the middle of the response ({self._phase})")

    def _fail(self, why: str) -> None:
        self.error, self.done = why, True

    def _finish(self) -> None:
        self.done = True
        self.extra = bool(self.buf)

    def _run(self) -> None:
        while not self.done:
            before = (self._phase, len(self.buf))
            getattr(self, "_" + self._phase.replace("-", "_"))()
            if (self._phase, len(self.buf)) == before:
                return  # needs more input

    def _line(self, limit: int) -> bytes | None:
        """One CRLF (or bare LF) terminated line, or None until it is whole."""
        i = self.buf.find(b"\n")
        if i < 0:
            if len(self.buf) > limit:
                self._fail(f"a line longer than {limit} bytes")
            return None
        line = bytes(self.buf[:i])
        del self.buf[: i + 1]
        return line[:-1] if line.endswith(b"\r") else line

    def _head(self) -> None:
        end = self.buf.find(b"\r\n\r\n")
        end2 = self.buf.find(b"\n\n")
        ends = [e + n for e, n in ((end, 4), (end2, 2)) if e >= 0]
        if not ends:
            if len(self.buf) > HEAD_MAX:
                self._fail(f"no end of the header section within {HEAD_MAX} bytes")
            return
        cut = min(ends)
        head = bytes(self.buf[:cut]).decode("latin-1")
        del self.buf[:cut]
        lines = head.replace("\r\n", "\n").rstrip("\n").split("\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or parts[0] not in ("HTTP/1.0", "HTTP/1.1"):
            self._fail(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
            return
        if len(parts[1]) != 3 or not parts[1].isdigit():
            self._fail(f"status code {parts[1][:20]!r} is not three digits")
            return
        self.version, self.status, self.reason = parts[0], int(parts[1]), parts[2] if len(parts) > 2 else ""
        for ln in lines[1:]:
            name, colon, value = ln.partition(":")
            if not colon or not name or name != name.strip() or any(c in name for c in " \t\0"):
                self._fail(f"malformed header field {ln[:80]!r}")
                return
            self.raw_headers.append((name, value.strip(" \t")))
            key = name.lower()
            v = value.strip(" \t")
            self.headers[key] = f"{self.headers[key]}, {v}" if key in self.headers else v
        self._frame()

    def _frame(self) -> None:
        """RFC 9112 §6.3: which of the ways the body's length is known."""
        if self.head_only or self.status < 200 or self.status in (204, 304):
            if 100 <= self.status < 200:
                self._reset_for_final()
                return
            self._finish()
            return
        te = self.headers.get("transfer-encoding")
        if te is not None:
            if te.lower().replace(" ", "").split(",")[-1] != "chunked":
                self._phase = "close"
            else:
                self._phase = "chunk-size"
            return
        cl = self.headers.get("content-length")
        if cl is not None:
            values = {v.strip() for v in cl.split(",")}
            if len(values) != 1 or not next(iter(values)).isdigit():
                self._fail(f"Content-Length {cl[:40]!r} is not one decimal number")
                return
            n = int(next(iter(values)))
            if n > self.body_max:
                self._fail(f"Content-Length {n} is more than the client keeps ({self.body_max})")
                return
            self._left, self._phase = n, "length"
            if n == 0:
                self._finish()
            return
        self._phase = "close"

    def _reset_for_final(self) -> None:
        """An interim 1xx response: the final one follows."""
        self.status, self.reason, self.version = 0, "", ""
        self.raw_headers, self.headers = [], {}

    def _take(self, n: int) -> bytes:
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _length(self) -> None:
        got = self._take(self._left)
        self.body += got
        self._left -= len(got)
        if self._left == 0:
            self._finish()

    def _close(self) -> None:
        self.body += self._take(len(self.buf))
        if len(self.body) > self.body_max:
            self._fail(f"a body of more than {self.body_max} bytes")

    def _chunk_size(self) -> None:
        line = self._line(1024)
        if line is None:
            return
        size = line.split(b";", 1)[0].strip()
        try:
            if not size or any(c not in b"0123456789abcdefABCDEF" for c in size):
                raise ValueError
            n = int(size, 16)
        except ValueError:
            self._fail(f"chunk size {line[:40]!r} is not hexadecimal")
            return
        if len(self.body) + n > self.body_max:
            self._fail(f"a body of more than {self.body_max} bytes")
            return
        self._left = n
        self._phase = "chunk-data" if n else "trailer"

    def _chunk_data(self) -> None:
        got = self._take(self._left)
        self.body += got
        self._left -= len(got)
        if self._left == 0:
            self._phase = "chunk-crlf"

    def _chunk_crlf(self) -> None:
        line = self._line(2)
        if line is None:
            return
        if line:
            self._fail("chunk data not followed by CRLF")
            return
        self._phase = "chunk-size"

    def _trailer(self) -> None:
        line = self._line(HEAD_MAX)
        if line is None:
            return
        if not line:
            self._finish()


@dataclass
class _Conn:
    tcb: T.Tcb
    busy: bool = False


class Request:
    """One request in flight; ``result`` is set when ``done``."""

    def __init__(self, client: HttpClient, data: bytes, head_only: bool, keep_alive: bool, timeout_us: float) -> None:
        self.client = client
        self.data = data
        self.sent = 0
        self.parser = ResponseParser(head_only)
        self.keep_alive = keep_alive
        self.timeout_us = timeout_us
        self.t0 = 0
        self.reused = False
        self.conn: _Conn | None = None
        self.result: HttpResult | None = None
        self.timer: Any = None

    @property
    def done(self) -> bool:
        return self.result is not None


class HttpClient:
    """The client of one kernel: its kept-alive connections, by (address, port)."""

    def __init__(self, k: Kernel) -> None:
        assert k.net is not None, "an HTTP client runs on a host with a network"
        self.k = k
        self.idle: dict[tuple[str, int], _Conn] = {}
        self.requests = 0

    def get(self, dst: str, port: int, path: str, method: str = "GET", raw: bytes | None = None, *,
            keep_alive: bool = False, host: str | None = None, timeout_us: float = TIMEOUT_US) -> Request:  # fmt: skip
        """Start a request (``raw``: these bytes instead of a built one)."""
        if raw is None:
            conn = "keep-alive" if keep_alive else "close"
            data = (f"{method} {path} HTTP/1.1\r\nHost: {host or dst}\r\nUser-Agent: spin-kernel-client\r\n"
                    f"Connection: {conn}\r\n\r\n").encode("latin-1", "replace")  # fmt: skip
        else:
            data = raw
        r = Request(self, data, method.upper() == "HEAD", keep_alive, timeout_us)
        self.requests += 1
        self.k.sched.fork(self._start, r, dst, port, name="http client")
        return r

    # --- in the kernel ----------------------------------------------------------------------

    def _start(self, r: Request, dst: str, port: int) -> None:
        k = self.k
        net = k.net
        assert net is not None
        r.t0 = k.sal.now
        r.timer = net.timer(int(r.timeout_us * CLOCK_MHZ), lambda: self._timeout(r))
        c = self.idle.pop((dst, port), None)
        if c is not None and c.tcb.state == T.ESTABLISHED and not c.tcb.rcvbuf and not c.tcb.eof:
            r.reused, r.conn = True, c
        else:
            if c is not None:
                c.tcb.close()
            t = net.tcp.connect(dst, port, "http client")
            if isinstance(t, int):
                self._end(r, f"cannot connect to {dst}:{port} (errno {-t})")
                return
            r.conn = _Conn(t)
        r.conn.busy = True
        r.conn.tcb.on_event = lambda t, r=r: self._event(r, (dst, port))
        self._event(r, (dst, port))

    def _event(self, r: Request, key: tuple[str, int]) -> None:
        if r.done or r.conn is None:
            return
        t = r.conn.tcb
        if t.state in (T.SYN_SENT, T.SYN_RCVD):
            return
        if r.sent < len(r.data) and t.state in (T.ESTABLISHED, T.CLOSE_WAIT):
            n = t.send(r.data[r.sent :])
            if n > 0:
                r.sent += n
        while True:
            got = t.recv(RECV_CHUNK)
            if got is None:
                break
            if isinstance(got, int):
                if not r.parser.done:
                    why = "reset by the server" if r.parser.status or r.sent else "connection refused or reset"
                    self._end(r, f"{why} (errno {-got})")
                    return
                break
            if not got:
                r.parser.eof()
                break
            r.parser.feed(got)
            if r.parser.done:
                break
        if r.parser.done:
            self._complete(r, key)
        elif t.state == T.CLOSED and not r.parser.done:
            self._end(r, f"the connection closed (errno {t.error})" if t.error else "the connection closed")

    def _complete(self, r: Request, key: tuple[str, int]) -> None:
        p = r.parser
        assert r.conn is not None
        t = r.conn.tcb
        conn_hdr = p.headers.get("connection", "").lower()
        keep = (r.keep_alive and not p.error and not p.extra and t.state == T.ESTABLISHED and not t.eof
                and "close" not in conn_hdr and (p.version == "HTTP/1.1" or "keep-alive" in conn_hdr))  # fmt: skip
        t.on_event = None
        if keep:
            r.conn.busy = False
            self.idle[key] = r.conn
        else:
            t.close()
        self._end(r, p.error, keep)

    def _timeout(self, r: Request) -> None:
        if not r.done:
            if r.conn is not None:
                r.conn.tcb.on_event = None
                r.conn.tcb.abort()
            self._end(r, f"no whole response within {r.timeout_us:.0f} µs")

    def _end(self, r: Request, error: str, keep: bool = False) -> None:
        p = r.parser
        if r.timer is not None:
            r.timer.cancel()
        if error and r.conn is not None and not keep:
            r.conn.tcb.on_event = None
        us = (self.k.sal.now - r.t0) / CLOCK_MHZ
        r.result = HttpResult(0 if error else p.status, dict(p.headers), bytes(p.body), us, error, p.reason,
                              p.version, r.reused, list(p.raw_headers), keep)  # fmt: skip

    def close(self) -> None:
        """Close the kept-alive connections (run the world a little for their FINs)."""
        for c in self.idle.values():
            c.tcb.close()
        self.idle.clear()


_CLIENTS: weakref.WeakKeyDictionary[Kernel, HttpClient] = weakref.WeakKeyDictionary()


def client_of(k: Kernel) -> HttpClient:
    """The kernel's one client (made on first use), so kept-alive connections are shared."""
    c = _CLIENTS.get(k)
    if c is None:
        c = _CLIENTS[k] = HttpClient(k)
    return c


def get(k: Kernel, dst: str, port: int, path: str, method: str = "GET", raw: bytes | None = None, *,
        keep_alive: bool = False, timeout_us: float = TIMEOUT_US) -> Request:  # fmt: skip
    """Start an HTTP request from kernel ``k``; run its world until ``.done``, then read ``.result``."""
    return client_of(k).get(dst, port, path, method, raw, keep_alive=keep_alive, timeout_us=timeout_us)
