"""A course's JupyterHub: ``jupyter server`` with jupyter-server-proxy finds the
workbench through pyproject.toml's ``jupyter_serverproxy_servers`` entry point,
starts ``spinwb serve`` on demand and serves its page under ``/spinwb/``, with
the page's URLs under that prefix too (so the websocket goes through the proxy).

The entry point is read from pyproject.toml into a throwaway dist-info on the
server's path, so the test checks this tree's declaration, not whatever
version of the package happens to be installed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tomllib
import urllib.request
import uuid
from contextlib import suppress
from pathlib import Path

from tests.conftest import ROOT, require_module
from tests.workbench.test_serve import free_port
from tests.workbench.test_serve_browser import wait_for, workbenches


def test_the_entry_point_describes_a_server_process() -> None:
    from workbench.cli.jupyter import setup_spinwb

    eps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert eps["jupyter_serverproxy_servers"] == {"spinwb": "workbench.cli.jupyter:setup_spinwb"}
    d = setup_spinwb()
    assert d["command"][1:4] == ["-m", "workbench.cli", "serve"] and "{port}" in d["command"]
    assert d["absolute_url"] is False  # the page's URLs come from X-Forwarded-Prefix (see the next test)
    assert d["launcher_entry"]["title"] == "SPIN Workbench" and Path(d["launcher_entry"]["icon_path"]).is_file()


def test_jupyter_server_proxies_the_workbench(tmp_path: Path) -> None:
    require_module("jupyter_server")
    require_module("jupyter_server_proxy")
    ep = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    info = tmp_path / "site" / "spinwb_under_test-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: spinwb-under-test\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) for group, eps in ep.items())
    )
    port, token, mark = free_port(), uuid.uuid4().hex, uuid.uuid4().hex
    env = dict(os.environ, SPINWB_TEST_MARK=mark, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_DATA_DIR=str(tmp_path / "data"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")]))  # fmt: skip
    # jupyter-server-proxy is a server extension: enable it by config, as a hub's image does
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_server_proxy": True}}})
    )
    p = subprocess.Popen([sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                          f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--allow-root"],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:

        def fetch(path: str) -> tuple[int, str] | None:
            assert p.poll() is None, p.stdout.read() if p.stdout else ""
            req = urllib.request.Request(base + path, headers={"Authorization": f"token {token}"})
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    return r.status, r.read().decode()
            except OSError:
                return None

        wait_for("jupyter server", lambda: fetch("/api/status"))
        servers = json.loads(fetch("/server-proxy/servers-info")[1])["server_processes"]  # type: ignore[index]
        # this tree's entry point, and the installed package's too when it is installed (as CI's is): one name
        assert servers and {s["name"] for s in servers} == {"spinwb"}, servers
        status, page = wait_for("the workbench's page through the proxy", lambda: fetch("/spinwb/"), timeout=120)
        assert status == 200
        assert "SPIN Workbench" in page and "textual-terminal" in page, page[:500]  # textual-serve's page
        ws = re.search(r'data-session-websocket-url="([^"]+)"', page)
        assert ws and ws[1] == f"ws://127.0.0.1:{port}/spinwb/ws", ws  # back through the proxy, not to its port
        assert f'href="http://127.0.0.1:{port}/spinwb/static/css/xterm.css"' in page
        assert fetch("/spinwb/static/js/textual.js")[0] == 200  # type: ignore[index]
        assert workbenches(mark, p.pid), "spinwb serve runs under jupyter"
        p.terminate()
        p.communicate(timeout=60)
        wait_for("jupyter to stop the spinwb serve it started", lambda: not workbenches(mark, p.pid), timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate(timeout=60)
        for pid in workbenches(mark, p.pid):
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)
