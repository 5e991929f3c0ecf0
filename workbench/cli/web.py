"""`spinwb web`: the web world served to real clients on the host.

    spinwb web --port 8080 --root site/ [--pcap run.pcap]

Boots the three hosts of the web world (10.0.0.1 the web server, 10.0.0.2
the NFS file server with every file of --root, 10.0.0.3 the client), puts
the small files on the web host's own disk too (every file, for --server
unix: the UNIX-way httpd has no NFS level), and bridges
http://127.0.0.1:PORT/ into the client host's kernel TCP (workbench/web/
bridge.py): curl, ab and a browser talk to the server over real TCP on the
emulated wire. Ctrl-C or SIGTERM stops it with a summary. docs/web.md says
what runs where.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.net.websettings import CLIENT, POLICIES, PORT, SERVERS, SMALL_LIMIT, WEB
from workbench.cli.args import SEED, int_in

if TYPE_CHECKING:  # main imports the web world itself: `spinwb --help` builds this parser without one
    from kernel.net.webworld import WebWorld
    from workbench.web.bridge import Bridge


def _world(args: argparse.Namespace, files: dict[str, bytes], local: list[str]) -> WebWorld:
    from kernel.net.webworld import WebWorld

    return WebWorld(files, local, server=args.server, policy=args.policy, pcap=args.pcap, seed=args.seed)


def _banner(args: argparse.Namespace, files: dict[str, bytes], world: WebWorld) -> str:
    """What serves what: the extension's levels and policy, or what the UNIX-way httpd does instead."""
    from workbench.views import plural

    head = f"spinwb web: {plural(len(files), 'file')} ({sum(len(d) for d in files.values()):,} bytes) from {args.root}"
    if args.server == "unix":
        return (f"{head}, all on the web host's disk (10.0.0.1); the UNIX-way httpd (scenarios/programs/kernel/"
                "httpd.c): no NFS level, no status pages, no cache policy of its own -- it relies on the kernel's "
                "buffer cache (SOSP'95 §5.4)")  # fmt: skip
    return (f"{head} on the file server (10.0.0.2), {len(world.local)} of them on the web host's disk (10.0.0.1); "
            f"the SPIN extension server, {args.policy} cache policy")  # fmt: skip


def answered(c: dict[str, Any]) -> list[str]:
    """The extension's requests divided by how each was answered (its ANSWERS), so the parts sum to
    ``requests``: the levels always, the rest when nonzero, and those not answered yet."""
    kinds = [k for k in c.get("ANSWERS", ()) if isinstance(k, (list, tuple)) and len(k) == 2 and k[0] in c]
    if not kinds:
        return []
    levels = {"hits_memory": "memory", "hits_disk": "disk", "hits_nfs": "nfs"}
    out = ["hits " + ", ".join(f"{levels[k]} {c[k]}" for k, _ in kinds if k in levels)]
    out += [f"{c[k]} {label}" for k, label in kinds if k not in levels and (c[k] or k == "misses")]
    pending = int(c.get("requests", 0)) - sum(int(c[k]) for k, _ in kinds)
    if pending:
        out.append(f"{pending} not answered yet")
    return out


def _counters(world: WebWorld) -> dict[str, Any]:
    """The extension's counters (its top-level globals); the UNIX-way server keeps none."""
    from kernel.inspect import extension_globals

    return extension_globals(world.net.hosts[WEB], "web_server")


def _summary(bridge: Bridge, world: Any, host_s: float, pcap: str | None) -> str:
    from workbench.views import plural

    c = _counters(world)
    s = bridge.stats
    parts = []
    if "requests" in c:
        parts.append(plural(int(c["requests"]), "request"))
    if "requests" in c:
        parts[-1] += ": " + ", ".join(answered(c))
    parts.append(plural(s.connections, "connection"))
    parts.append(f"{s.bytes_in:,} bytes in, {s.bytes_out:,} bytes out")
    per = f", {s.host_busy_s * 1000 / int(c['requests']):.1f} ms a request" if c.get("requests") else ""
    parts.append(f"{s.virtual_us / 1e6:.3f} s virtual in {s.host_busy_s:.3f} s of host time{per} ({host_s:.1f} s up)")
    if pcap:
        tap = world.net.tap
        parts.append(f"pcap {pcap} ({plural(tap.frames if tap else 0, 'frame')})")
    return "spinwb web: stopped: " + "; ".join(parts)


def main(args: argparse.Namespace) -> int:
    from kernel.fs.format import FsFormatError
    from kernel.net.webworld import WebWorldError
    from kernel.sys.errors import SpinError
    from machine.hostfile import write_error
    from workbench.web.bridge import Bridge
    from workbench.web.tree import TreeError, read_tree

    try:
        files = read_tree(args.root)
    except TreeError as e:
        print(f"spinwb web: --root {e}", file=sys.stderr)
        return 2
    limit = SMALL_LIMIT if args.local_limit is None else args.local_limit
    local = [n for n, d in files.items() if len(d) <= limit]
    try:
        world = _world(args, files, local)
    except OSError as e:
        if args.pcap is None:
            raise
        print(f"spinwb web: --pcap {write_error(args.pcap, e)}", file=sys.stderr)
        return 2
    except (FsFormatError, SpinError, ValueError, WebWorldError) as e:  # a refused name or setting, or world
        print(f"spinwb web: {e}", file=sys.stderr)
        return 2
    try:
        bridge = Bridge(world.net, world.net.hosts[CLIENT], world.net.addresses[WEB], PORT, port=args.port)
    except OSError as e:
        world.close()
        print(f"spinwb web: --port {args.port}: {e.strerror or e}", file=sys.stderr)
        return 2
    if args.tui:
        return _tui(args, world, bridge)
    bridge.install_signals()
    print(_banner(args, files, world))
    print(f"spinwb web: serving {bridge.url}")
    if args.server == "extension":
        print(f"spinwb web: status pages {bridge.url}spin/")
    print("spinwb web: Ctrl-C to stop", flush=True)
    return _serve(args, world, bridge, bridge.run)


def _serve(args: argparse.Namespace, world: WebWorld, bridge: Bridge, run: Callable[[], object],
           served: str = "") -> int:  # fmt: skip
    """Serve until ``run`` returns, then close the bridge and the world (flushing the pcap) and sum up."""
    t0 = time.monotonic()
    try:
        run()
    finally:
        bridge.close()
        world.close()  # flushes and closes the pcap
    if served:
        print(served)
    print(_summary(bridge, world, time.monotonic() - t0, args.pcap), flush=True)
    return 0


def _tui(args: argparse.Namespace, world: WebWorld, bridge: Bridge) -> int:
    """--tui: the workbench on the web world, the bridge turned by its timer (Bridge.poll); q stops both."""
    from workbench.session import Session  # lazily: the headless server needs no Textual
    from workbench.tui.app import Workbench

    session = Session.of_world(world.net, f"spinwb web {bridge.url}", focus=WEB)
    app = Workbench(session=session, poll=lambda: bridge.poll(0), start_layout="network")
    app.title = f"SPIN Workbench: serving {bridge.url}"
    return _serve(args, world, bridge, app.run, f"spinwb web: served {bridge.url} under the workbench")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("web", help="serve the web world to real clients (curl, ab, a browser) on 127.0.0.1")
    p.add_argument("--port", type=int_in(0, 65535), default=8080, help="host TCP port (0: pick a free one)")
    p.add_argument("--root", required=True, metavar="DIR", help="the files to serve (all on the file server)")
    p.add_argument("--pcap", metavar="FILE", help="write every frame on the emulated wire to this pcap file")
    p.add_argument("--policy", choices=POLICIES, default=POLICIES[0],
                   help=f"the web server's memory cache: hybrid (LRU for files up to {SMALL_LIMIT} bytes, none for "
                        "larger; SOSP'95 divides by file type, this by size), lru, none")  # fmt: skip
    p.add_argument("--server", choices=SERVERS, default=SERVERS[0],
                   help="the SPIN extension or the UNIX-way user-level server (every file on its disk; "
                        "--policy and --local-limit do not apply)")  # fmt: skip
    p.add_argument("--local-limit", type=int_in(0), default=None, metavar="BYTES",
                   help=f"files up to this size are also on the web host's disk (default {SMALL_LIMIT})")  # fmt: skip
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--tui", action="store_true",
                   help="serve under the workbench: its panes (Packets, Events, ...) on the web world; q stops")  # fmt: skip
    p.set_defaults(fn=main)
