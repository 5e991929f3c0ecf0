"""`spinwb serve`: the workbench in browsers, for a classroom (textual-serve).

Each browser that connects gets its own workbench process, so a student's
steps never move the projector's machine. That process runs isolated
(workbench/cli/isolate.py: CPU time, memory, writes only in a scratch directory
of its own, no network), so a student's extension that found a hole in the
sandbox still cannot reach the instructor's files.
"""

from __future__ import annotations

import errno
import os
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


WILDCARDS = ("", "0.0.0.0", "::")


def reachable_host(host: str) -> str:
    """The address to give students for a server listening on ``host``: a
    wildcard is replaced by this machine's address on its default route."""
    if host not in WILDCARDS:
        return host
    family, probe = (socket.AF_INET6, "2001:db8::1") if host == "::" else (socket.AF_INET, "192.0.2.1")
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((probe, 9))  # chooses a route; sends nothing
            return str(s.getsockname()[0])
    except OSError:
        return socket.gethostname()


def page_url(host: str, port: int) -> str:
    host = reachable_host(host)
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(host: str, port: int, scenario: str | None = None, seed: int = 0,
          limits: isolate.Limits | None = BROWSER_LIMITS, max_sessions: int | None = None,
          public_url: str | None = None) -> int:  # fmt: skip
    """Serve until ctrl-c or SIGTERM, which end every browser's workbench;
    ``limits=None`` runs them unisolated. The page's URLs name the address each
    browser used unless ``public_url`` (a proxy's address) is given."""
    try:
        from workbench.cli.classroom import ClassroomServer  # lazy: 600 ms, and an optional dependency
    except ImportError:
        print("spinwb serve: textual-serve is not installed (pip install textual-serve)", file=sys.stderr)
        return 2
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        print(f"spinwb serve: --public-url {public_url!r} is not an http:// or https:// URL", file=sys.stderr)
        return 2
    args = browser_command(scenario, seed, limits)
    with socket.socket(
        socket.AF_INET6 if ":" in host else socket.AF_INET
    ) as probe:  # plainly, before aiohttp's traceback
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            what = "in use" if e.errno == errno.EADDRINUSE else "not available"
            print(
                f"spinwb serve: port {port} is {what} on {host} ({e.strerror}); try --port or --host", file=sys.stderr
            )
            return 2
    os.environ["SPINWB_CLASSROOM"] = "1"  # each browser's workbench loads extensions with a user's rights only
    if limits is None:
        print("spinwb serve: browsers' workbenches are NOT isolated", file=sys.stderr)
    else:
        conf = isolate.probe(isolate.Limits(10, limits.memory_bytes, limits.file_bytes, 60))
        for line in conf.warnings:
            print(line, file=sys.stderr)
        print(f"spinwb serve: each browser's workbench runs isolated: {conf.brief()}", flush=True)
    cap = (
        f"at most {max_sessions} browser{'' if max_sessions == 1 else 's'}"
        if max_sessions
        else "no limit on browsers (--max-sessions N)"
    )
    print(f"spinwb serve: one workbench per browser, {cap}; it ends when its browser leaves", flush=True)
    url = public_url or page_url(host, port)
    print(f"spinwb serve: open {url} (ctrl-c stops)", flush=True)
    server = ClassroomServer(args, host=host, port=port, title="SPIN Workbench", max_sessions=max_sessions,
                             public_url=page_url(host, port).rstrip("/"), fixed_public_url=public_url)  # fmt: skip
    server.serve()
    return 0
