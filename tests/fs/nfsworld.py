"""Two hosts on one wire, host 1 serving NFS from a disk: the test rig."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kernel.core.costs import CLOCK_MHZ
from kernel.fs.extentfs import ExtentFS
from kernel.fs.format import build_image
from kernel.fs.nfs_client import client
from kernel.fs.nfs_server import NfsServer, serve_nfs
from kernel.kernel import Kernel
from kernel.net.topology import Network

SERVER = "10.0.0.2"


def attach_disk(k: Kernel, image: bytes) -> None:
    """A disk for a booted host (Network boots its hosts without one)."""
    k.machine.attach_disk(image)
    fs = ExtentFS(k)
    k.attach_fs(fs)
    fs.mount()


class NfsWorld:
    def __init__(self, files: dict[str, bytes], *, loss: float = 0.0, seed: int = 0,
                 pcap: str | Path | None = None) -> None:  # fmt: skip
        self.net = Network(2, loss=loss, seed=seed, pcap=pcap)
        self.client_k, self.server_k = self.net.hosts
        attach_disk(self.server_k, build_image(files))
        self.server: NfsServer = serve_nfs(self.server_k)
        self.client = client(self.client_k)

    def fetch(self, path: str, stat: bool = False, limit_us: float = 30_000_000) -> tuple[Any, float]:
        """(bytes or -errno, modeled µs it took)."""
        got: list[Any] = []
        sal = self.client_k.sal
        start = sal.now
        (self.client.stat if stat else self.client.read)(SERVER, path, lambda r: got.append((r, sal.now)))
        assert self.net.run_until(lambda: bool(got), limit_us=limit_us, step_us=500), f"{path}: no answer"
        return got[0][0], (got[0][1] - start) / CLOCK_MHZ

    def close(self) -> None:
        self.net.close()
