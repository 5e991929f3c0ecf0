"""`spinwb web` as a process: it does not spin when idle, stops cleanly on
SIGINT and SIGTERM with a summary, refuses bad flags in one line, and its
--pcap is a capture tshark reads without a complaint."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import require
from tests.realclients.conftest import ROOT, TREE, start, url_path


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _get(port: int, path: str) -> tuple[int, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def _quiet_after(pid: int, deadline: float, window: float, limit: float) -> list[float]:
    """CPU share of `pid` in successive windows, until one is under `limit`
    or `deadline` seconds have passed; the shares, the last one deciding."""
    shares: list[float] = []
    end = time.monotonic() + deadline
    while True:
        before, t0 = _cpu_seconds(pid), time.monotonic()
        time.sleep(window)
        shares.append(round((_cpu_seconds(pid) - before) / (time.monotonic() - t0), 3))
        if shares[-1] < limit or time.monotonic() > end:
            return shares


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process CPU time from /proc (Linux)")
def test_idle_world_does_not_spin(tree: Path) -> None:
    s = start(tree)
    try:
        assert _get(s.port, "/index.html") == (200, TREE["index.html"])  # it ran, and settles afterwards
        # the grace period (TIME_WAIT and the last ACKs, in virtual time) is longer on a loaded machine
        windows = _quiet_after(s.proc.pid, deadline=20.0, window=2.0, limit=0.10)
        assert windows[-1] < 0.10, f"idle spinwb web never went quiet; CPU share per 2 s window: {windows}"
        assert _get(s.port, "/empty.txt") == (200, b"")  # and wakes up for the next client
    finally:
        assert s.stop() == 0


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process CPU time from /proc (Linux)")
@pytest.mark.parametrize("how", ["huge header", "never reads"])
def test_a_stuck_client_does_not_spin_the_world(tree: Path, how: str) -> None:
    """A client that sends a 100 KB header and stops, or asks for a large file
    and never reads it, leaves a connection probing a zero window for ever;
    its timers keep pace with host time (a probe every second or two), so
    the process sleeps instead of running virtual time flat out."""
    s = start(tree)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    try:
        if how == "huge header":
            sock.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nX-Big: " + b"A" * 100_000 + b"\r\n\r\n")
            assert sock.recv(12) == b"HTTP/1.1 400"
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(b"GET /big/one-mib.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        # The last segments take longer on a loaded machine; a world that spins
        # for ever never goes quiet, one that settles does within the deadline.
        windows = _quiet_after(s.proc.pid, deadline=30.0, window=2.0, limit=0.15)
        assert windows[-1] < 0.15, f"{how}: spinwb web never went quiet; CPU share per 2 s window: {windows}"
        assert _get(s.port, "/empty.txt") == (200, b"")  # and still serves
    finally:
        sock.close()
        assert s.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_with_a_summary(tree: Path, sig: int) -> None:
    s = start(tree)
    assert _get(s.port, "/a/b/c/deep.txt") == (200, TREE["a/b/c/deep.txt"])
    assert s.stop(sig) == 0, s.err
    assert b"Traceback" not in s.err and b"Traceback" not in s.out, s.err
    assert b"status pages http://127.0.0.1:" in s.out
    last = s.out.decode().strip().splitlines()[-1]
    assert last.startswith("spinwb web: stopped:") and "1 connection" in last, last
    assert "1 request: hits memory 0, disk 1, nfs 0, 0 not found (404);" in last, last


def test_the_summary_itemises_every_request(tree: Path) -> None:
    """Good, missing, bad, refused and status requests: the summary's parts sum to its request count."""
    s = start(tree)
    try:
        for path in ("/index.html", "/index.html", "/no/such", "/spin/", "/spin/cache", "/a%zz"):
            _get(s.port, path)
        for raw in (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi", b"GARBAGE\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", s.port), timeout=30) as c:
                c.sendall(raw)
                assert c.recv(12) in (b"HTTP/1.1 405", b"HTTP/1.1 400")
    finally:
        assert s.stop() == 0, s.err
    last = s.out.decode().strip().splitlines()[-1]
    assert (
        "8 requests: hits memory 1, disk 1, nfs 0, 1 not found (404), 2 status pages, 2 bad requests (400, 414), "
        "1 methods not served (405, 501);"
    ) in last, last


def test_signal_in_the_middle_of_a_transfer(tree: Path) -> None:
    """SIGINT while a 1 MiB answer is on the wire: still exit 0, no traceback."""
    s = start(tree)
    c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    c.sendall(f"GET {url_path('big/one-mib.bin')} HTTP/1.0\r\n\r\n".encode())
    c.recv(1000)
    assert s.stop() == 0, s.err
    assert b"Traceback" not in s.err, s.err
    c.close()


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--root", "/no/such/dir"], "no such directory"),
        (["--root", str(ROOT / "README.md")], "not a directory"),
        (["--port", "70000", "--root", "."], "out of range"),
        (["--port", "0"], "--root"),
        (["--root", ".", "--policy", "fifo"], "invalid choice"),
        (["--root", ".", "--server", "nginx"], "invalid choice"),
        (["--root", ".", "--local-limit", "-1"], "out of range"),
        (["--root", ".", "--port", "0", "--pcap", "/no/such/dir/x.pcap"], "cannot write"),
    ],
)
def test_bad_flags_one_line_exit_2(argv: list[str], says: str) -> None:
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "web", *argv], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and lines[0].startswith("spinwb web"), r.stderr
    assert "Traceback" not in r.stderr


def test_port_in_use_one_line_exit_2(tree: Path) -> None:
    s = start(tree)
    try:
        r = subprocess.run([sys.executable, "-m", "workbench.cli", "web", "--port", str(s.port), "--root", str(tree)],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert f"--port {s.port}" in r.stderr and "Traceback" not in r.stderr
    finally:
        assert s.stop() == 0


@pytest.mark.oracle
def test_tshark_reads_the_pcap_clean(tree: Path, tmp_path: Path) -> None:
    """Every file fetched once (and twice: the second from the cache), a 404 and
    a 400; the capture has no malformed packet, no bad checksum, and HTTP decoded."""
    tshark = require("tshark")
    pcap = tmp_path / "run.pcap"
    s = start(tree, "--pcap", str(pcap))
    try:
        for name in sorted(TREE) * 2:
            assert _get(s.port, url_path(name)) == (200, TREE[name]), name
        assert _get(s.port, "/missing")[0] == 404
        with socket.create_connection(("127.0.0.1", s.port), timeout=30) as c:
            c.sendall(b"BAD\r\n\r\n")
            assert c.recv(100).startswith(b"HTTP/1.")
    finally:
        assert s.stop() == 0
    assert b"pcap " in s.out
    checks = ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    bad = subprocess.run([tshark, "-n", "-r", str(pcap), *checks, "-Y", "_ws.malformed || _ws.expert.severity==error"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert bad.returncode == 0, bad.stderr
    assert bad.stdout.strip() == "", bad.stdout[:2000]
    http_rows = subprocess.run([tshark, "-n", "-r", str(pcap), "-Y", "http.request || http.response", "-T", "fields",
                                "-e", "http.request.method", "-e", "http.response.code"], capture_output=True,
                               text=True, timeout=300).stdout.split("\n")  # fmt: skip
    requests = sum(1 for r in http_rows if r.startswith("GET"))
    codes = [r.split("\t")[-1] for r in http_rows if r.strip() and not r.startswith("GET")]
    assert requests == 2 * len(TREE) + 1, (requests, http_rows[:20])
    assert codes.count("200") == 2 * len(TREE) and "404" in codes, codes
    bad_bits = subprocess.run([tshark, "-n", "-r", str(pcap), *checks, "-Y", "tcp.checksum.status == 2 || "
                               "ip.checksum.status == 2 || udp.checksum.status == 2"], capture_output=True, text=True,
                              timeout=300)  # fmt: skip
    assert bad_bits.stdout.strip() == "", bad_bits.stdout[:2000]
    nfs = subprocess.run([tshark, "-n", "-r", str(pcap), "-Y", "nfs", "-T", "fields", "-e", "nfs.procedure_v3"],
                         capture_output=True, text=True, timeout=300).stdout.split()  # fmt: skip
    assert {"3", "6"} <= set(nfs), f"NFS LOOKUP and READ decoded: {sorted(set(nfs))}"


def test_flags_reach_the_world_levels_in_the_summary(tree: Path) -> None:
    """--local-limit 0 puts nothing on the web host's disk and --policy none caches
    nothing: both fetches of a small file cross the wire as NFS."""
    s = start(tree, "--local-limit", "0", "--policy", "none")
    for _ in range(2):
        assert _get(s.port, "/index.html") == (200, TREE["index.html"])
    assert s.stop() == 0, s.err
    last = s.out.decode().strip().splitlines()[-1]
    assert "2 requests" in last and "memory 0, disk 0, nfs 2" in last, last
    s = start(tree)  # the defaults: hybrid, small files local; the second fetch is from memory
    for _ in range(2):
        assert _get(s.port, "/index.html") == (200, TREE["index.html"])
    assert s.stop() == 0, s.err
    last = s.out.decode().strip().splitlines()[-1]
    assert "memory 1, disk 1, nfs 0" in last, last


def test_unix_way_server_through_the_bridge(tree: Path) -> None:
    s = start(tree, "--server", "unix")
    try:
        # every file is on its disk (no NFS level): those above SMALL_LIMIT too, and the 1 MiB one
        for name in ("index.html", "bin/all256.bin", "a/b/c/deep.txt", "empty.txt", "medium/forty-k.bin",
                     "big/one-mib.bin"):  # fmt: skip
            assert _get(s.port, url_path(name)) == (200, TREE[name]), name
        assert _get(s.port, "/no/such")[0] == 404
        assert _get(s.port, "/spin/")[0] == 404  # no status pages, and the banner does not offer them
    finally:
        assert s.stop() == 0, s.err
    assert b"Traceback" not in s.err
    out = s.out.decode()
    assert "status pages" not in out.replace("no status pages", "") and "/spin/" not in out, out
    assert f"{len(TREE)} files" in out and "all on the web host's disk" in out and "buffer cache" in out, out
    assert "cache policy" not in out.replace("no cache policy", ""), out
