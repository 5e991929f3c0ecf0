"""`spinwb serve` answers HTTP on localhost: the page that opens the
workbench in a browser (textual-serve)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO


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
        out, _ = p.communicate(timeout=20)  # and close the pipe
    assert "spinwb serve: each browser's workbench runs isolated: " in out, out


def test_spinwb_serve_refuses_a_port_in_use() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([sys.executable, "-m", "workbench.cli", "serve", "--port", str(port)],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert p.returncode == 2
    assert f"port {port} is in use" in p.stderr and "Traceback" not in p.stderr


def _packet(stream: IO[bytes]) -> tuple[bytes, bytes]:
    """One packet of textual-serve's protocol: a type byte, a length, a payload."""
    kind = stream.read(1)
    size = int.from_bytes(stream.read(4), "big")
    return kind, stream.read(size)


def test_each_browsers_workbench_runs_isolated() -> None:
    """The command textual-serve runs per browser: the workbench starts and
    speaks the web driver's protocol from inside the isolation (seccomp on,
    no_new_privs, a scratch working directory), and quits when asked."""
    from workbench.cli.serve import browser_command

    env = dict(os.environ, TEXTUAL_DRIVER="textual.drivers.web_driver:WebDriver", COLUMNS="100", ROWS="30")
    p = subprocess.Popen(browser_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env)  # fmt: skip
    assert p.stdin is not None and p.stdout is not None
    try:
        assert p.stdout.readline() == b"__GANGLION__\n", "the workbench started"
        assert _packet(p.stdout)[0] in (b"D", b"M", b"P")
        [workbench] = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{workbench}/status").read_text().splitlines())
        cwd = os.readlink(f"/proc/{workbench}/cwd")
        assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2", status
        assert Path(cwd).name == "scratch" and Path(cwd).parent.name.startswith("spinwb-isolated-")
        quit_ = json.dumps({"type": "quit"}).encode()
        p.stdin.write(b"M" + len(quit_).to_bytes(4, "big") + quit_)
        p.stdin.flush()
        p.stdout.read()
        assert p.wait(timeout=60) == 0
        assert not Path(cwd).exists(), "its scratch directory went with it"
    finally:
        p.kill()
        p.communicate(timeout=20)


def test_max_sessions_refuses_the_next_browser_and_a_wildcard_host_gives_a_reachable_url() -> None:
    """--max-sessions 1: while one browser has its workbench, the page is a 503
    saying the classroom is full and a websocket that raced past it is told so
    in its terminal; when that browser leaves, the next one gets in. The page's
    URLs name the address the browser used; on 0.0.0.0 the printed URL does not."""
    import asyncio

    import aiohttp

    from tests.workbench.test_serve_browser import Server

    server = Server("--max-sessions", "1", "--host", "0.0.0.0")

    async def go() -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url, headers={"Host": "lab-pc7.example:8000"}) as r:
                assert r.status == 200
                assert 'data-session-websocket-url="ws://lab-pc7.example:8000/ws"' in await r.text()
            first = await http.ws_connect(server.url + "ws?width=80&height=24")
            await first.receive(timeout=120)  # its workbench is speaking
            async with http.get(server.url) as r:
                page = await r.text()
                assert r.status == 503 and "full (1 of 1 workbench in use)" in page, page
            second = await http.ws_connect(server.url + "ws")
            msg = await second.receive(timeout=60)
            assert b"classroom server is full" in msg.data
            await second.close()
            await first.close()
            for _ in range(600):
                async with http.get(server.url) as r:
                    if r.status == 200:
                        return
                await asyncio.sleep(0.1)
            raise AssertionError("the server stayed full after its one browser left")

    try:
        asyncio.run(go())
    finally:
        server.stop()
    out = server.output
    assert "at most 1 browser;" in out, out
    [url] = re.findall(r"open (http://\S+)", out)
    assert "0.0.0.0" not in url and url.endswith(f":{server.port}/"), out


def test_serve_refuses_a_public_url_that_is_not_one() -> None:
    p = subprocess.run([sys.executable, "-m", "workbench.cli", "serve", "--public-url", "lab-pc7:8000"],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert p.returncode == 2 and "not an http:// or https:// URL" in p.stderr and "Traceback" not in p.stderr
