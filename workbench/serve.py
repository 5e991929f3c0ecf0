"""`spinwb serve`: the workbench in browsers, for a classroom (textual-serve).

Each browser that connects gets its own workbench process, so a student's
steps never move the projector's machine.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys


def serve(host: str, port: int, scenario: str | None = None, seed: int = 0) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:
        print("spinwb serve: textual-serve is not installed (pip install textual-serve)", file=sys.stderr)
        return 2
    args = [sys.executable, "-m", "workbench.cli"]
    if scenario is not None:
        args += ["scenario", "run", scenario, "--seed", str(seed)]
    with socket.socket() as probe:  # say so plainly, before aiohttp's traceback would
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            print(f"spinwb serve: port {port} is in use on {host} ({e.strerror}); try --port", file=sys.stderr)
            return 2
    os.environ["SPINWB_CLASSROOM"] = "1"  # each browser's workbench loads extensions with a user's rights only
    print(f"spinwb serve: http://{host}:{port}/ (ctrl-c stops)", flush=True)
    Server(shlex.join(args), host=host, port=port, title="SPIN Workbench").serve()
    return 0
