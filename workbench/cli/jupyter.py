"""The workbench under a course's JupyterHub: jupyter-server-proxy finds this
through the ``jupyter_serverproxy_servers`` entry point (pyproject.toml) and,
when a student opens the launcher's "SPIN Workbench" (or ``/spinwb/`` under
their server), starts ``spinwb serve`` on a free port inside that student's own
server and proxies it. The hub scales to a class; each student's workbenches
run in their own container, isolated as in a classroom.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

SESSIONS_PER_STUDENT = 4  # browser tabs at once; each is a 64 MiB machine


def setup_spinwb() -> dict[str, Any]:
    """jupyter-server-proxy's server description (its "server process" options)."""
    return {
        "command": [
            sys.executable,
            "-m",
            "workbench.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--max-sessions",
            str(SESSIONS_PER_STUDENT),
        ],  # fmt: skip
        "timeout": 60,  # seconds to wait for the port: the first start imports textual-serve and probes isolation
        "absolute_url": False,  # the proxy strips /spinwb; the page's URLs come back from X-Forwarded-Prefix
        "new_browser_tab": True,
        "launcher_entry": {"title": "SPIN Workbench", "icon_path": str(Path(__file__).with_name("spinwb.svg"))},
    }
