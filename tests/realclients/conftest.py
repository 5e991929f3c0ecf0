"""`spinwb web` as a subprocess, and the test tree real clients fetch.

The tree has what breaks naive servers and bridges: an empty file, every
byte value, a 1 MiB file (many windows' worth, so back-pressure and the
NFS path are exercised), nested directories, and names that need
percent-encoding (space, '#', '%', non-ASCII).
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
URL_LINE = re.compile(rb"serving (http://127\.0\.0\.1:(\d+)/)")

TREE: dict[str, bytes] = {
    "index.html": b"<!doctype html><title>SPIN</title><h1>SPIN web server</h1>\n",
    "empty.txt": b"",
    "bin/all256.bin": bytes(range(256)) * 3,
    "big/one-mib.bin": bytes((i * 7 + (i >> 10)) & 0xFF for i in range(1 << 20)),
    "a/b/c/deep.txt": b"three directories down\n",
    "names/with space.txt": b"a space\n",
    "names/hash#mark.txt": b"a hash mark\n",
    "names/per%cent.txt": b"a percent sign\n",
    "names/ünïcødé ☃.txt": "non-ASCII: ünïcødé ☃\n".encode(),
    "medium/forty-k.bin": bytes(i & 0xFF for i in range(40_000)),  # above the spec's SMALL_LIMIT: not local
}


def url_path(name: str) -> str:
    """The request path for a file name: each component percent-encoded as UTF-8."""
    return "/" + quote(name, safe="/")


def make_tree(base: Path) -> Path:
    for name, data in TREE.items():
        p = base / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return base


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    port: int
    head: bytes  # what it printed before serving
    pcap: Path | None = None
    out: bytes = b""
    err: bytes = b""
    lines: list[bytes] = field(default_factory=list)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        self.out, self.err = self.head + out, err
        return self.proc.returncode


def start(root: Path, *extra: str, timeout: float = 60) -> Served:
    """Start `python -m workbench.cli web --port 0 --root ROOT ...` and wait for its URL."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "web", "--port", "0", "--root", str(root), *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)  # fmt: skip
    assert proc.stdout is not None
    got = b""
    deadline = time.monotonic() + timeout
    while (m := URL_LINE.search(got)) is None:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"spinwb web did not print its URL: {(got + out)!r} {err!r}")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                continue
            got += chunk
    # the rest of the banner (status URL, Ctrl-C) follows at once
    time.sleep(0.05)
    return Served(proc, m.group(1).decode(), int(m.group(2)), got)


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tree(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def served(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    pcap = tmp_path_factory.mktemp("pcap") / "run.pcap"
    s = start(tree, "--pcap", str(pcap))
    s.pcap = pcap
    yield s
    if s.proc.poll() is None:
        s.stop()
