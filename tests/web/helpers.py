"""Helpers for the web server's tests: a world of two hosts (the server on
host 0, a client in host 1's kernel), stand-ins for Files and NFS with
delays, and an HTTP client that runs as a kernel strand on the client host
(kernel/net/endpoints.py's way) and parses responses strictly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernel.core.costs import CLOCK_MHZ
from kernel.kernel import Kernel
from kernel.net import endpoints as E
from kernel.net.topology import Network
from kernel.sys.errors import SpinError
from kernel.sys.linker import run_bounded

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "extensions" / "web_server.py"


class FakeFiles:
    """Files as the spec names it, over a dict, each read answered after ``delay_us``."""

    __name__ = "Files"

    def __init__(self, k: Kernel, ext: Any, files: dict[str, bytes], delay_us: int) -> None:
        self._k, self._ext, self._files, self._delay = k, ext, files, delay_us
        self.reads = 0

    def Size(self, name: Any) -> int:  # noqa: N802
        if not isinstance(name, str):
            raise SpinError("Files.Size(name): a name")
        return len(self._files[name]) if name in self._files else -1

    def Read(self, name: Any, offset: Any, n: Any, handler: Any) -> None:  # noqa: N802
        self.reads += 1
        data = self._files.get(name)
        got: bytes | int = -2 if data is None else data[offset : offset + n]
        _later(self._k, self._ext, self._delay, lambda: handler(name, offset, got), "Files.Read's handler")

    def List(self) -> tuple[str, ...]:  # noqa: N802
        return tuple(sorted(self._files))


class FakeNFS:
    """NFS as the spec names it: whole files after ``delay_us``, -2 (ENOENT) for others."""

    __name__ = "NFS"

    def __init__(self, k: Kernel, ext: Any, files: dict[str, bytes], delay_us: int) -> None:
        self._k, self._ext, self._files, self._delay = k, ext, files, delay_us
        self.reads = 0

    def Read(self, server: Any, path: Any, handler: Any) -> None:  # noqa: N802
        self.reads += 1
        data = self._files.get(path)
        got: bytes | int = -2 if data is None else data
        _later(self._k, self._ext, self._delay, lambda: handler(path, got), "NFS.Read's handler")

    def Stat(self, server: Any, path: Any, handler: Any) -> None:  # noqa: N802
        size = len(self._files[path]) if path in self._files else -2
        _later(self._k, self._ext, self._delay, lambda: handler(path, size), "NFS.Stat's handler")


def _later(k: Kernel, ext: Any, delay_us: int, fn: Any, what: str) -> None:
    def run() -> None:
        if not ext.loaded:
            return
        try:
            run_bounded(ext, fn, what)
        except SpinError as e:
            k.dispatcher.report(f"{ext.name}: {e}")

    assert k.net is not None
    k.net.timer(max(1, delay_us) * CLOCK_MHZ, run)


@dataclass
class Response:
    status: int
    reason: str
    version: str
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]]
    body: bytes
    at: int = 0  # cycle the last byte arrived


@dataclass
class Session:
    """What one client connection saw."""

    responses: list[Response] = field(default_factory=list)
    closed: bool = False  # the server ended the stream
    error: int = 0
    start: int = 0
    done: bool = False
    leftover: bytes = b""


def parse_response(buf: bytes, head_only: bool) -> tuple[Response, bytes] | None:
    """One whole response from the front of ``buf`` and the rest, or None if
    not all of it is here. Strict: CRLF lines, a Content-Length."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    version, status, reason = lines[0].split(" ", 2)
    raw = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        assert name and name == name.strip(), f"bad header line {line!r}"
        raw.append((name, value.strip()))
    headers = {n.lower(): v for n, v in raw}
    n = 0 if head_only else int(headers["content-length"])
    body_end = end + 4 + n
    if len(buf) < body_end:
        return None
    return Response(int(status), reason, version, headers, raw, buf[end + 4 : body_end]), buf[body_end:]


def http_session(k: Kernel, dst: str, port: int, requests: list[bytes], out: Session, pipeline: bool = False,
                 heads: list[bool] | None = None) -> None:  # fmt: skip
    """A kernel strand: connect, send the requests (one at a time, or all at
    once), read a response for each until the server closes."""
    heads = heads or [r.startswith(b"HEAD ") for r in requests]
    out.start = k.sal.now
    c = E._connect(k, dst, port, "http client")
    if isinstance(c, int):
        out.error, out.done = c, True
        return
    buf = b""
    pending = list(range(len(requests)))
    if pipeline:
        E._send_all(k, c, b"".join(requests))
    sent = pipeline
    while pending:
        i = pending[0]
        if not sent:
            E._send_all(k, c, requests[i])
        got = parse_response(buf, heads[i])
        while got is None:
            more = E._recv(k, c, 65536)
            if isinstance(more, int) or not more:
                out.closed, out.error = True, more if isinstance(more, int) else 0
                out.leftover = buf
                pending = []
                break
            buf += more
            got = parse_response(buf, heads[i])
        if got is None:
            break
        resp, buf = got
        resp.at = k.sal.now
        out.responses.append(resp)
        pending.pop(0)
    if not out.closed:
        more = E._recv(k, c, 65536) if out.responses and out.responses[-1].headers.get("connection") == "close" else 0
        out.closed = more == b""
    c.close()
    out.done = True


class WebWorld:
    """Two hosts: the web server extension on 10.0.0.1 over fake Files/NFS, clients on 10.0.0.2."""

    def __init__(self, local: dict[str, bytes], remote: dict[str, bytes] | None = None, *, disk_us: int = 2000,
                 nfs_us: int = 5000, settings: dict[str, Any] | None = None, importer: str = "root") -> None:  # fmt: skip
        self.net = Network(2)
        self.server, self.client = self.net.hosts
        self.files: list[FakeFiles] = []
        self.nfs: list[FakeNFS] = []
        remote = dict(remote if remote is not None else local)
        k = self.server

        def files(ext: Any) -> FakeFiles:
            f = FakeFiles(k, ext, local, disk_us)
            self.files.append(f)
            return f

        def nfs(ext: Any) -> FakeNFS:
            f = FakeNFS(k, ext, remote, nfs_us)
            self.nfs.append(f)
            return f

        if k.machine.disk is None:  # no extent FS here: both levels are stand-ins
            k.system.public.exports["Files"] = files
            k.system.public.exports["NFS"] = nfs
        self.ext = k.system.load_file(WEB, importer=importer, settings={"PORT": 8080, **(settings or {})})
        self.port = self.ext.namespace["PORT"]

    def session(self, requests: list[bytes], pipeline: bool = False, limit_us: float = 5_000_000) -> Session:
        s = Session()
        self.client.sched.fork(http_session, self.client, "10.0.0.1", self.port, requests, s, pipeline, name="http")
        assert self.net.run_until(lambda: s.done, limit_us), "the client did not finish"
        return s

    def sessions(self, batches: list[list[bytes]], limit_us: float = 20_000_000) -> list[Session]:
        """Several connections at once."""
        out = [Session() for _ in batches]
        for s, reqs in zip(out, batches, strict=True):
            self.client.sched.fork(http_session, self.client, "10.0.0.1", self.port, reqs, s, False, name="http")
        assert self.net.run_until(lambda: all(s.done for s in out), limit_us), "clients did not finish"
        return out

    def get(self, path: str, method: str = "GET", extra: str = "") -> Response:
        s = self.session([req(path, method, extra)])
        assert s.responses, f"no response to {method} {path} (closed={s.closed}, error={s.error})"
        return s.responses[0]

    @property
    def counters(self) -> dict[str, Any]:
        from kernel.inspect import extension_globals

        return extension_globals(self.server, "web_server")


def req(path: str, method: str = "GET", extra: str = "", version: str = "HTTP/1.1") -> bytes:
    return f"{method} {path} {version}\r\nHost: 10.0.0.1\r\n{extra}\r\n".encode()
