"""The classroom server behind ``spinwb serve``: textual-serve's, with three
things a class needs that it lacks.

- Each browser's workbench ends with its browser or the server. textual-serve
  starts it through a shell in the server's process group, and on a closed
  websocket asks it to quit and waits for ever; a workbench that does not
  answer (still starting, busy, or wedged) is left behind, and a server that
  stops leaves them all. Here a workbench is started without a shell in a
  process group of its own, asked to quit, and its group sent SIGTERM and then
  SIGKILL if it has not gone within a few seconds; the server's shutdown does
  the same for every one. The app's side (workbench/cli/web_driver.py) ends it
  if the server dies without doing so.
- The page's URLs name the address the browser used (its Host, or a proxy's
  X-Forwarded-* headers), so a server on 0.0.0.0 works for every student and
  behind jupyter-server-proxy, unless ``public_url`` fixes them.
- At most ``max_sessions`` workbenches run; the next browser gets a page (or,
  racing, a terminal line) saying the classroom is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import re
import signal
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from workbench.cli.web_driver import DRIVER

log = logging.getLogger("textual-serve")
QUIT_GRACE = 5.0  # seconds a workbench has to quit when asked, before SIGTERM
TERM_GRACE = 3.0  # then seconds after SIGTERM, before SIGKILL
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
_PREFIX = re.compile(r"(/[A-Za-z0-9._~%@!$&'()*+,;=:-]+)*/?")


class Session(AppService):
    """One browser's workbench, in a process group of its own."""

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        super().__init__(" ".join(argv), **kwargs)
        self.argv = argv
        self.pid: int | None = None

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width, height)
        env["TEXTUAL_DRIVER"] = DRIVER
        return env

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._build_environment(width, height), start_new_session=True,
        )  # fmt: skip
        assert process.stdin is not None
        self._stdin = process.stdin
        self.pid = process.pid
        return process

    async def run(self) -> None:
        await super().run()
        with contextlib.suppress(Exception):  # the workbench has gone: so does the browser's session
            await self.remote_close()

    async def stop(self) -> None:
        """Ask the workbench to quit; end its process group if it will not."""
        if self._process is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(super().stop()), QUIT_GRACE)
        await self.end()

    async def end(self) -> None:
        """SIGTERM the workbench's group, SIGKILL what is left, and reap it."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            self._signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), TERM_GRACE)
            except TimeoutError:
                pass
        self._signal(signal.SIGKILL)  # anything left in its group (nothing, usually)
        with contextlib.suppress(Exception):
            await process.wait()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _signal(self, sig: signal.Signals) -> None:
        if self.pid is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, sig)


class ClassroomServer(Server):
    """textual-serve's Server, with sessions that end, URLs that reach, a cap."""

    def __init__(self, argv: list[str], *, max_sessions: int | None = None, fixed_public_url: str | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(" ".join(argv), **kwargs)
        self.argv = argv
        self.max_sessions = max_sessions
        self.fixed_public_url = fixed_public_url
        self.sessions: set[Session] = set()

    def full(self) -> bool:
        return self.max_sessions is not None and len(self.sessions) >= self.max_sessions

    def full_message(self) -> str:
        n = self.max_sessions
        return (f"This classroom server is full ({n} of {n} workbench{'' if n == 1 else 'es'} in use). "
                "Try again when someone leaves, or ask your instructor.")  # fmt: skip

    def public_url_for(self, request: web.Request) -> str:
        """The base of the page's URLs: fixed, or the address this browser used."""
        if self.fixed_public_url:
            return str(self.fixed_public_url).rstrip("/")
        h = request.headers
        proto = h.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
        host = h.get("X-Forwarded-Host", request.host).split(",")[0].strip()
        prefix = h.get("X-Forwarded-Prefix", "").split(",")[0].strip()
        if proto not in ("http", "https") or not _HOST.fullmatch(host) or not _PREFIX.fullmatch(prefix):
            return self.public_url  # a header that is not a URL's part: the server's own address
        return f"{proto}://{host}{prefix.rstrip('/')}"

    async def on_startup(self, app: web.Application) -> None:
        pass  # spinwb serve prints its own lines

    async def on_shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(s.end() for s in list(self.sessions)))

    async def handle_index(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        if self.full():
            page = FULL_PAGE.format(title=html.escape(self.title), message=html.escape(self.full_message()))
            return web.Response(status=503, text=page, content_type="text/html", headers={"Retry-After": "60"})
        base = self.public_url_for(request)
        router = request.app.router
        ws = base + str(router["websocket"].url_for())
        ws = ("wss:" if ws.startswith("https:") else "ws:") + ws.split(":", 1)[1]
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": ws,
            "config": {"static": {"url": base + str(router["static"].url_for(filename="/")).rstrip("/") + "/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        if self.full():  # raced past the page: say so in the terminal, start nothing
            with contextlib.suppress(Exception):
                await websocket.send_bytes(f"\r\n  {self.full_message()}\r\n".encode())
                async for _ in websocket:
                    pass
            return websocket
        session = Session(self.argv, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                          close=websocket.close, download_manager=self.download_manager, debug=self.debug)  # fmt: skip
        self.sessions.add(session)
        try:
            await session.start(to_int(request.query.get("width", "80"), 80),
                                to_int(request.query.get("height", "24"), 24))  # fmt: skip
            await self._process_messages(websocket, session)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await websocket.close()
        except Exception as error:  # noqa: BLE001 - one browser's failure is logged, the server goes on
            log.exception(error)
        finally:
            try:
                await session.stop()
            finally:
                self.sessions.discard(session)  # counted until its processes are gone
        return websocket


FULL_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}: full</title>
<style>body {{ background: #0c181f; color: #eee; font-family: monospace; display: flex; height: 90vh;
align-items: center; justify-content: center; }} p {{ max-width: 40em; font-size: 18px; }}</style></head>
<body><div><h1>{title}</h1><p id="full">{message}</p></div></body></html>
"""
