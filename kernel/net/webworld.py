"""The web world of the SPIN project's web server (1995) and SOSP'95 §5.4: three SPIN hosts on one
10 Mb/s wire (kernel/net/topology.py).

    10.0.0.1  the web server host: it runs the web server extension
              (extensions/web_server.py, loaded as root with its settings),
              whose extent disk holds a subset of the files (the rest come
              from NFS); or the UNIX-way server (scenarios/programs/bin/
              httpd.elf as init, on port 80), whose disk holds every file:
              it has no NFS level and relies on the kernel's caching file
              system (SOSP'95 §5.4), so ``local`` does not apply to it
    10.0.0.2  the file server host: all the files on its disk, and the
              kernel's NFSv3-subset server on UDP 2049 (kernel/fs/nfs_server.py)
    10.0.0.3  the client host: HTTP requests from its kernel's TCP
              (kernel/net/http_client.py)

The benches, the lessons and the host bridge build on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kernel.core.costs import CLOCK_MHZ
from kernel.fs.format import build_image
from kernel.fs.nfs_server import NfsServer, serve_nfs
from kernel.net import http_client
from kernel.net.http_client import HttpResult
from kernel.net.topology import Network, host_address
from kernel.net.websettings import CACHE_BYTES, CLIENT, FILES, POLICIES, PORT, SERVERS, SMALL_LIMIT, WEB
from machine.elf import read_elf

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "extensions" / "web_server.py"
HTTPD = ROOT / "scenarios" / "programs" / "bin" / "httpd.elf"
NFS_SERVER = host_address(FILES)  # the file server host's address
READY_US = 2_000_000  # virtual µs the web host may take to listen on its port


class WebWorldError(Exception):
    """The world cannot be built as asked; says what and why."""


class WebWorld:
    def __init__(self, files: dict[str, bytes], local: Iterable[str] | None = None, *, server: str = "extension",
                 policy: str = "hybrid", pcap: str | None = None, seed: int = 0,
                 settings: dict[str, Any] | None = None) -> None:  # fmt: skip
        if server not in SERVERS:
            raise WebWorldError(f"web world: server {server!r} is not one of {', '.join(SERVERS)}")
        if policy not in POLICIES:
            raise WebWorldError(f"web world: policy {policy!r} is not one of {', '.join(POLICIES)}")
        self.files = dict(files)
        self.server, self.policy = server, policy
        self.settings: dict[str, Any] = {"POLICY": policy, "NFS_SERVER": NFS_SERVER, "PORT": PORT,
                                         "ADDRESS": host_address(WEB), "CLOCK_MHZ": CLOCK_MHZ,
                                         "SMALL_LIMIT": SMALL_LIMIT, "CACHE_BYTES": CACHE_BYTES,
                                         **(settings or {})}  # fmt: skip
        limit = int(self.settings.get("SMALL_LIMIT", SMALL_LIMIT))
        if server == "unix":  # no NFS level: a file not on its disk would be a 404
            names = list(self.files)
        else:
            names = [n for n, b in self.files.items() if len(b) <= limit] if local is None else list(local)
        missing = [n for n in names if n not in self.files]
        if missing:
            raise WebWorldError(f"web world: local names {missing[:3]} are not among the files")
        self.local = sorted(names)
        programs = {}
        if server == "unix":
            if not HTTPD.exists():
                raise WebWorldError(f"web world: {HTTPD} is missing (make -C scenarios/programs)")
            programs[WEB] = (read_elf(HTTPD), ["httpd", str(PORT)])
        disks = {WEB: build_image({n: self.files[n] for n in self.local}), FILES: build_image(self.files)}
        self.net = Network(3, programs=programs, disks=disks, seed=seed, pcap=pcap)
        self.web, self.fileserver, self.client = (self.net.hosts[i] for i in (WEB, FILES, CLIENT))
        for k in self.net.hosts:  # warm ARP: the figures are about HTTP, not the first broadcast
            assert k.net is not None
            for other in self.net.hosts:
                if other is not k and other.net is not None:
                    k.net.arp_cache[other.net.address] = other.net.mac
        self.nfs: NfsServer = serve_nfs(self.fileserver)
        if server == "extension":
            self.web.system.load_file(EXTENSION, importer="root", settings=self.settings)
        if not self.run_until(self.listening, READY_US):
            raise WebWorldError(f"web world: the {server} server is not listening on port {PORT} after "
                                f"{READY_US} µs; console: {bytes(self.web.machine.console.output)[-200:]!r}")  # fmt: skip

    @property
    def address(self) -> str:
        """The web server's address."""
        return self.net.addresses[WEB]

    def listening(self) -> bool:
        """Whether something on the web host listens on port 80 (the extension's TCP.Listen, or httpd's socket)."""
        net = self.web.net
        return net is not None and PORT in net.tcp.listeners

    def run_until(self, done: Callable[[], bool], limit_us: float = 5_000_000) -> bool:
        return self.net.run_until(done, limit_us, step_us=500)

    def run_us(self, us: float) -> None:
        self.net.run_us(us)

    def start(self, path: str, method: str = "GET", raw: bytes | None = None, *,
              keep_alive: bool = False) -> http_client.Request:  # fmt: skip
        """A request from the client host's kernel, in flight (run the world until ``.done``)."""
        return http_client.get(self.client, self.address, PORT, path, method, raw, keep_alive=keep_alive)

    def fetch(self, path: str, method: str = "GET", raw: bytes | None = None, *, keep_alive: bool = False,
              limit_us: float = http_client.TIMEOUT_US + 100_000) -> HttpResult:  # fmt: skip
        """One request, run to its end: the response, or a result whose ``error`` says why not."""
        r = self.start(path, method, raw, keep_alive=keep_alive)
        if not self.run_until(lambda: r.done, limit_us) or r.result is None:
            return HttpResult(0, {}, b"", limit_us, f"no result within {limit_us:.0f} µs of virtual time")
        return r.result

    def close(self) -> None:
        http_client.client_of(self.client).close()
        self.net.run_us(2000)
        self.net.close()
