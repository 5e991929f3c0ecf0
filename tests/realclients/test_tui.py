"""`spinwb web --tui`: the workbench's panes on the web world while the host
bridge serves a real client, the bridge turned by the app's timer on the UI
thread (Bridge.poll). A GET through it comes back byte-exact, and the web
host's Packets pane lists the HTTP segments and the NFS calls it caused."""

from __future__ import annotations

import asyncio
import http.client
import io
import subprocess
import sys
import threading
from pathlib import Path

from rich.console import Console

from kernel.net.webworld import CLIENT, PORT, WEB, WebWorld
from tests.realclients.conftest import ROOT
from workbench import views
from workbench.session import Session, SessionError
from workbench.tui.app import Workbench
from workbench.tui.panes import PacketsPane
from workbench.web.bridge import Bridge

FAR = bytes((i * 31 + 7) & 0xFF for i in range(9000))  # not on the web host's disk: it comes over NFS
FILES = {"index.html": b"<h1>near</h1>\n", "far.bin": FAR}


def _get(port: int, path: str, out: dict[str, object]) -> None:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path)
        r = c.getresponse()
        out["status"], out["body"] = r.status, r.read()
    except Exception as e:  # noqa: BLE001 - the test asserts on it
        out["error"] = e
    finally:
        c.close()


def test_tui_serves_and_shows_the_packets() -> None:
    world = WebWorld(FILES, ["index.html"])
    bridge = Bridge(world.net, world.net.hosts[CLIENT], world.net.addresses[WEB], PORT, port=0)
    session = Session.of_world(world.net, "web world", focus=WEB)
    app = Workbench(session=session, poll=lambda: bridge.poll(0), start_layout="network")
    got: dict[str, object] = {}
    shown: list[str] = []

    async def drive() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            t = threading.Thread(target=_get, args=(bridge.port, "/far.bin", got), daemon=True)
            t.start()
            for _ in range(1500):  # up to about 30 s: the world runs only on the app's timer
                await pilot.pause(0.02)
                if not t.is_alive():
                    break
            await pilot.pause(0.2)  # a repaint after the last turn
            app.refresh_panes()
            await pilot.pause()
            console = Console(width=160, record=True, file=io.StringIO())
            console.print(app.query_one("#packets", PacketsPane).content)
            shown.append(console.export_text())
            await pilot.press("q")

    try:
        asyncio.run(drive())
    finally:
        bridge.close()
        world.close()
    assert "error" not in got, got.get("error")
    assert got.get("status") == 200 and got.get("body") == FAR
    assert session.host_name == world.net.addresses[WEB]  # the web server host is on show
    rows = [r.summary for r in views.packets(session.kernel)]  # what the Packets pane renders
    web = f"{world.net.addresses[WEB]}:{PORT}"
    assert any(s.startswith("TCP") and web in s for s in rows), rows[:10]
    assert any("· NFS READ" in s for s in rows), rows[:10]
    assert bridge.stats.connections == 1 and bridge.stats.bytes_out > len(FAR)
    assert bridge.sel.get_map() is None  # closed: the listener is gone
    text = shown[0]  # the pane on show, as drawn: the newest packets (the HTTP exchange's end, its NFS replies)
    assert f"TCP {web} >" in text and "· NFS READ reply" in text, text


def test_live_session_refuses_to_boot_again() -> None:
    world = WebWorld(FILES, ["index.html"])
    try:
        s = Session.of_world(world.net, "web world")
        s.step(133_000)  # steps run the live world, as any network's
        for refused in (s.reset, s.back, lambda: s.save("/tmp/never.json")):
            try:
                refused()
            except SessionError as e:
                assert "live world" in str(e)
            else:
                raise AssertionError(f"{refused} was not refused")
    finally:
        world.close()


def test_tui_bad_root_is_one_line(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "workbench.cli", "web", "--tui", "--port", "0", "--root",
                        str(tmp_path / "nowhere")], cwd=ROOT, capture_output=True, timeout=60)  # fmt: skip
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("spinwb web: --root") and "Traceback" not in err
