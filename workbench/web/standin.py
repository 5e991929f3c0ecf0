"""A stand-in HTTP/1.0 responder on a kernel TCP listener, for the bridge's
own tests while the web server extension (extensions/web_server.py) and
WebWorld (kernel/net/webworld.py) are built elsewhere. It is trusted
kernel-side code on ``Tcb.on_event``, not an extension: one request per
connection, GET and HEAD, 400/404/405, /spin/threads from kernel/inspect.py.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from urllib.parse import unquote_to_bytes

from kernel import inspect
from kernel.kernel import Kernel
from kernel.net import tcp as T
from kernel.net.topology import Network

MAX_HEAD = 8192


class StandinServer:
    def __init__(self, k: Kernel, files: dict[str, bytes], port: int = 80) -> None:
        assert k.net is not None
        self.k = k
        self.files = files
        self.requests = 0
        self.counts = {"200": 0, "400": 0, "404": 0, "405": 0}
        lst = k.net.tcp.listen(port, 64, "standin httpd")
        assert isinstance(lst, T.Tcb), f"port {port}: {lst}"
        self.listener = lst
        lst.on_event = self._accept
        self.heads: dict[int, bytearray] = {}
        self.out: dict[int, tuple[T.Tcb, memoryview]] = {}

    def _accept(self, lst: T.Tcb) -> None:
        while (c := lst.accept()) is not None:
            self.heads[id(c)] = bytearray()
            c.on_event = self._event
            self._event(c)

    def _event(self, c: T.Tcb) -> None:
        key = id(c)
        if key in self.out:
            self._flush(c)
            return
        head = self.heads.get(key)
        if head is None:
            return
        while isinstance(d := c.recv(4096), bytes) and d:
            head += d
        if isinstance(d, int):
            self.heads.pop(key, None)
            return
        end = head.find(b"\r\n\r\n")
        if end < 0 and len(head) <= MAX_HEAD and d != b"":
            return
        del self.heads[key]
        self._respond(c, bytes(head[: end if end >= 0 else len(head)]))

    def _respond(self, c: T.Tcb, head: bytes) -> None:
        self.requests += 1
        line = head.split(b"\r\n", 1)[0]
        parts = line.split(b" ")
        body, ctype, status = b"", "text/plain", "200 OK"
        if (len(parts) != 3 or not parts[0].isalpha() or not parts[0].isascii()
                or parts[2] not in (b"HTTP/1.0", b"HTTP/1.1") or not parts[1].startswith(b"/")):  # fmt: skip
            status, body = "400 Bad Request", b"bad request\n"
        elif parts[0] not in (b"GET", b"HEAD"):
            status, body = "405 Method Not Allowed", b"method not allowed\n"
        else:
            path = unquote_to_bytes(parts[1].split(b"?", 1)[0]).decode("utf-8", "replace").lstrip("/")
            if path in ("spin/threads", "spin/", "spin"):
                ctype, body = "text/html; charset=utf-8", self._threads()
            elif path in self.files:
                ctype, body = "application/octet-stream", self.files[path]
            else:
                status, body = "404 Not Found", b"not found\n"
        self.counts[status[:3]] = self.counts.get(status[:3], 0) + 1
        hdr = (f"HTTP/1.0 {status}\r\nServer: SPIN stand-in\r\nContent-Type: {ctype}\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()  # fmt: skip
        data = hdr if parts[0] == b"HEAD" else hdr + body
        self.out[id(c)] = (c, memoryview(data))
        self._flush(c)

    def _flush(self, c: T.Tcb) -> None:
        _, rest = self.out[id(c)]
        while rest:
            n = c.send(rest[:16384])
            if n < 0:  # the client reset
                self.out.pop(id(c))
                c.abort()
                return
            if n == 0:  # the send buffer is full: on_event again when it drains
                self.out[id(c)] = (c, rest)
                return
            rest = rest[n:]
        self.out.pop(id(c))
        c.close()

    def _threads(self) -> bytes:
        rows = "".join(f"<tr><td>{r.id}</td><td>{html.escape(r.name)}</td><td>{r.state}</td></tr>"
                       for r in inspect.strands(self.k))  # fmt: skip
        return (
            f"<!doctype html><html><head><title>threads</title></head><body><table id='threads'>"
            f"<tr><th>id</th><th>name</th><th>state</th></tr>{rows}</table></body></html>"
        ).encode()


class StandinWorld:
    """Three hosts as the spec's WebWorld has them (10.0.0.1 web, .2 files, .3
    client), with the stand-in on the web host. The files host is idle."""

    def __init__(self, files: dict[str, bytes], local: Iterable[str] | None = None, *, pcap: str | None = None,
                 seed: int = 0) -> None:  # fmt: skip
        self.net = Network(3, pcap=pcap, seed=seed)
        self.server = StandinServer(self.net.hosts[0], files)

    def counters(self) -> dict[str, int]:
        return {"requests": self.server.requests, **{f"status_{k}": v for k, v in self.server.counts.items()}}

    def close(self) -> None:
        self.net.close()
