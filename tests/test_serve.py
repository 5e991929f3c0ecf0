"""`spinwb serve` answers HTTP on localhost: the page that opens the
workbench in a browser (textual-serve)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_spinwb_serve_answers_http() -> None:
    port = free_port()
    p = subprocess.Popen([sys.executable, "-m", "workbench.cli", "serve", "--port", str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        body = ""
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"http://localhost:{port}/", timeout=5) as r:
                    assert r.status == 200
                    body = r.read().decode()
                    break
            except OSError:
                assert p.poll() is None, p.stdout.read() if p.stdout else ""
                time.sleep(0.3)
        assert "SPIN Workbench" in body, body[:500]
        assert "ws" in body  # the page opens a websocket to a workbench of its own
    finally:
        p.terminate()
        p.communicate(timeout=20)  # and close the pipe


def test_spinwb_serve_refuses_a_port_in_use() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([sys.executable, "-m", "workbench.cli", "serve", "--port", str(port)],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert p.returncode == 2
    assert f"port {port} is in use" in p.stderr and "Traceback" not in p.stderr
