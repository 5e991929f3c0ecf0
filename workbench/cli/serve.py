"""`spinwb serve`: the workbench in browsers, for a classroom (textual-serve).

Each browser that connects gets its own workbench process, so a student's
steps never move the projector's machine. That process runs isolated
(workbench/cli/isolate.py: CPU time, memory, writes only in a scratch directory
of its own, no network), so a student's extension that found a hole in the
sandbox still cannot reach the instructor's files.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
from pathlib import Path

from workbench.cli import isolate

# A lecture's worth of a workbench running flat out; the machines are 64 MiB each.
BROWSER_LIMITS = isolate.Limits(cpu_seconds=2 * 3600, memory_bytes=2048 * isolate.MiB)


def browser_command(
    scenario: str | None = None, seed: int = 0, limits: isolate.Limits | None = BROWSER_LIMITS
) -> list[str]:
    """What textual-serve runs for each browser: the workbench, isolated
    unless ``limits`` is None. A scenario file is named absolutely, since the
    isolated workbench starts in its scratch directory."""
    args = [sys.executable, "-m", "workbench.cli"]
    if scenario is not None:
        if scenario.endswith(".py") and Path(scenario).exists():
            scenario = str(Path(scenario).resolve())
        args += ["scenario", "run", scenario, "--seed", str(seed)]
    if limits is None:
        return args
    return [sys.executable, "-m", "workbench.cli.isolate", "--cpu", str(limits.cpu_seconds),
            "--memory", str(limits.memory_bytes // isolate.MiB), "--file-size", str(limits.file_bytes // isolate.MiB),
            "--", *args]  # fmt: skip


def serve(host: str, port: int, scenario: str | None = None, seed: int = 0,
          limits: isolate.Limits | None = BROWSER_LIMITS) -> int:  # fmt: skip
    """Serve until ctrl-c; ``limits=None`` runs browsers' workbenches unisolated."""
    try:
        from textual_serve.server import Server  # lazy: 600 ms, and an optional dependency
    except ImportError:
        print("spinwb serve: textual-serve is not installed (pip install textual-serve)", file=sys.stderr)
        return 2
    args = browser_command(scenario, seed, limits)
    with socket.socket() as probe:  # say so plainly, before aiohttp's traceback would
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            print(f"spinwb serve: port {port} is in use on {host} ({e.strerror}); try --port", file=sys.stderr)
            return 2
    os.environ["SPINWB_CLASSROOM"] = "1"  # each browser's workbench loads extensions with a user's rights only
    if limits is None:
        print("spinwb serve: browsers' workbenches are NOT isolated", file=sys.stderr)
    else:
        conf = isolate.probe(isolate.Limits(10, limits.memory_bytes, limits.file_bytes, 60))
        for line in conf.warnings:
            print(line, file=sys.stderr)
        print(f"spinwb serve: each browser's workbench runs isolated: {conf.brief()}", flush=True)
    print(f"spinwb serve: http://{host}:{port}/ (ctrl-c stops)", flush=True)
    Server(shlex.join(args), host=host, port=port, title="SPIN Workbench").serve()
    return 0
