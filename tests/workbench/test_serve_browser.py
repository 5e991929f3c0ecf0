"""`spinwb serve` in a real browser: Debian's chromium, headless, driven over
the Chrome DevTools Protocol (aiohttp's websocket client, which textual-serve
already brings: no browser-automation package). The workbench's text must
appear in the page's terminal and answer a key; and when the browser leaves
-- after the workbench started, during its start-up, or when the server gets
SIGTERM -- no workbench process may remain. Processes are counted by a marker
in their environment, so one re-parented to init is still counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import require
from tests.workbench.test_serve import free_port

WAIT = 90.0  # seconds any one thing may take on a loaded machine before the test gives up

# The terminal's rows as text: xterm.js draws on a canvas, so find its Terminal
# among the page's objects and read its buffer, which is what it draws.
FIND_TERMINAL = """function () {
  window.__term = this.find(o => { try { return !!(o && o.buffer && o.buffer.active && o.element
      && typeof o.write === "function" && typeof o.focus === "function"); } catch (e) { return false; } });
  return !!window.__term;
}"""
SCREEN_TEXT = """(() => { const b = window.__term.buffer.active, rows = [];
  for (let i = 0; i < b.length; i++) rows.push(b.getLine(i).translateToString(true));
  return rows.join("\\n"); })()"""


def marked(mark: str) -> list[int]:
    """Pids of processes whose environment carries ``mark``."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with suppress(OSError):
                if f"SPINWB_TEST_MARK={mark}".encode() in (d / "environ").read_bytes().split(b"\0"):
                    pids.append(int(d.name))
    return pids


def workbenches(mark: str, server: int) -> list[int]:
    """The browsers' workbench processes (and their isolation wrappers): everything marked but the server."""
    return [p for p in marked(mark) if p != server]


def wait_for(what: str, cond: Any, timeout: float = WAIT) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := cond():
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


class Server:
    def __init__(self, *extra: str) -> None:
        self.mark = uuid.uuid4().hex
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = dict(os.environ, SPINWB_TEST_MARK=self.mark)
        self.p = subprocess.Popen([sys.executable, "-m", "workbench.cli", "serve", "--port", str(self.port), *extra],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip
        wait_for("the server", self._up)

    def _up(self) -> bool:
        import urllib.request

        assert self.p.poll() is None, self.p.stdout.read() if self.p.stdout else ""
        try:
            with urllib.request.urlopen(self.url, timeout=5):
                return True
        except OSError:
            return False

    def workbenches(self) -> list[int]:
        return workbenches(self.mark, self.p.pid)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
        self.output = ""
        with suppress(subprocess.TimeoutExpired):
            self.output = self.p.communicate(timeout=30)[0]
        for pid in self.workbenches():  # a failed test leaves nothing running either
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def chromium(tmp_path: Path) -> Any:
    exe = require("chromium")
    p = subprocess.Popen([exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--remote-debugging-port=0", f"--user-data-dir={tmp_path / 'profile'}", "about:blank"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    assert p.stderr is not None
    end, seen = time.monotonic() + WAIT, []
    ws = ""
    while not ws and time.monotonic() < end and p.poll() is None:
        if select.select([p.stderr], [], [], 1)[0]:
            line = p.stderr.readline()
            seen.append(line)
            if line.startswith("DevTools listening on "):
                ws = line.split(" on ", 1)[1].strip()
    assert ws, "chromium did not start: " + "".join(seen)[-2000:]
    yield ws
    with suppress(OSError):
        os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    p.stderr.close()


class CdpError(Exception):
    pass


class Browser:
    """A CDP connection to the browser: open a page, read its terminal, press a key."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.n = ws, 0

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.n += 1
        msg: dict[str, Any] = {"id": self.n, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        await self.ws.send_json(msg)
        async for m in self.ws:
            data = json.loads(m.data)
            if data.get("id") == self.n:
                if "error" in data:
                    raise CdpError(method, data["error"])
                return dict(data["result"])
        raise AssertionError("the browser closed its DevTools connection")

    async def open(self, url: str) -> tuple[str, str]:
        target = (await self.call("Target.createTarget", url=url))["targetId"]
        session = (await self.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        return target, session

    async def js(self, session: str, expression: str) -> Any:
        r = await self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        return r["result"].get("value")

    async def screen(self, session: str) -> str:
        try:
            return await self._screen(session)
        except CdpError:  # the page is still loading: its first context has gone
            return ""

    async def _screen(self, session: str) -> str:
        if not await self.js(session, "!!window.__term"):
            proto = (await self.call("Runtime.evaluate", session, expression="Object.prototype"))["result"]
            objs = (await self.call("Runtime.queryObjects", session, prototypeObjectId=proto["objectId"]))["objects"]
            found = await self.call("Runtime.callFunctionOn", session, objectId=objs["objectId"],
                                    functionDeclaration=FIND_TERMINAL, returnByValue=True)  # fmt: skip
            if not found["result"].get("value"):
                return ""
        return str(await self.js(session, SCREEN_TEXT))

    async def wait_text(self, session: str, text: str) -> str:
        end = time.monotonic() + WAIT
        screen = ""
        while time.monotonic() < end:
            screen = await self.screen(session)
            if text in screen:
                return screen
            await asyncio.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared in the page; its terminal shows:\n{screen}")

    async def key(self, session: str, key: str) -> None:
        await self.js(session, "window.__term.focus()")
        for kind in ("keyDown", "keyUp"):
            await self.call(
                "Input.dispatchKeyEvent", session, type=kind, key=key, text=key if kind == "keyDown" else ""
            )


@asynccontextmanager
async def browser(ws_url: str) -> AsyncIterator[Browser]:
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as ws:
        yield Browser(ws)


async def until(what: str, cond: Any) -> None:
    end = time.monotonic() + WAIT
    while time.monotonic() < end:
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def test_a_browser_sees_the_workbench_answer_a_key_and_leaves_nothing_behind(chromium: str) -> None:
    server = Server()

    async def go() -> None:
        async with browser(chromium) as b:
            target, page = await b.open(server.url)
            first = await b.wait_text(page, "SPIN")  # the workbench drew itself in the page's terminal
            assert "SPIN Workbench — keys" not in first
            assert server.workbenches(), "a workbench process runs for this browser"
            await b.key(page, "?")
            await b.wait_text(page, "SPIN Workbench — keys")  # the help the key opens, drawn by the workbench
            await b.call("Target.closeTarget", targetId=target)  # the browser leaves

    try:
        asyncio.run(go())
        wait_for("the workbench to end after its browser left", lambda: not server.workbenches())
        assert server.p.poll() is None, "the server still serves"
    finally:
        server.stop()


WEDGED = "while True:  # a start-up that never ends, at 100% CPU: it never reads the server's quit\n    pass\n"


@pytest.mark.parametrize("start_up", ["booting", "wedged"])
def test_a_browser_leaving_during_start_up_leaves_no_process(chromium: str, tmp_path: Path, start_up: str) -> None:
    """Leaving while the workbench boots; or while it is stuck before it ever
    answers (a lesson file that loops at load), which only ending its process
    group can stop."""
    extra: list[str] = []
    if start_up == "wedged":
        (tmp_path / "wedged.py").write_text(WEDGED)
        extra = ["--scenario", str(tmp_path / "wedged.py")]
    server = Server(*extra)

    async def go() -> None:
        async with browser(chromium) as b:
            target, _ = await b.open(server.url)
            await until("a workbench to start", server.workbenches)
            await b.call("Target.closeTarget", targetId=target)  # before it has drawn anything

    try:
        asyncio.run(go())
        wait_for("the half-started workbench to end", lambda: not server.workbenches())
        assert server.p.poll() is None
    finally:
        server.stop()


def test_sigterm_to_the_server_ends_every_workbench(chromium: str) -> None:
    server = Server()

    async def go() -> None:
        async with browser(chromium) as b:
            pages = [(await b.open(server.url))[1] for _ in range(2)]
            for page in pages:
                await b.wait_text(page, "SPIN")
            running = server.workbenches()
            assert len(running) >= 2, running
            server.p.send_signal(signal.SIGTERM)  # the browsers stay open
            await until("the server to exit", lambda: server.p.poll() is not None)
            await until("every workbench to end", lambda: not server.workbenches())

    try:
        asyncio.run(go())
        assert server.p.returncode == 0
    finally:
        server.stop()


def test_a_killed_server_leaves_no_workbench(chromium: str) -> None:
    """SIGKILL gives the server no chance to clean up: each workbench sees its
    input end and quits by itself (workbench/cli/web_driver.py)."""
    server = Server()

    async def go() -> None:
        async with browser(chromium) as b:
            _, page = await b.open(server.url)
            await b.wait_text(page, "SPIN")
            assert server.workbenches()
            server.p.kill()
            await until("every workbench to end", lambda: not server.workbenches())

    try:
        asyncio.run(go())
    finally:
        server.stop()
