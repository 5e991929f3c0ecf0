"""docs/extensions.md is the reference for SPIN Python: it must name every
accepted builtin, every refused construct and every limit with its value, as
kernel/sys/language.py defines them; and every shipped extension must load
and run on a booted, networked kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.core import framebuffer
from kernel.core.reel import install_reel
from kernel.core.timers import install_timers
from kernel.fs.format import build_image
from kernel.net.multicast import install_multicast
from kernel.net.topology import Network
from kernel.sys import language as L
from kernel.video.format import build_movie, test_pattern
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "extensions.md").read_text()
SHIPPED = sorted(p for p in (ROOT / "extensions").glob("*.py") if p.name != "__init__.py")


def test_the_reference_names_every_builtin_construct_and_limit() -> None:
    for name in L.BUILTINS:
        assert f"`{name}`" in DOC, name
    for node in (*L.STATEMENTS, *L.EXPRESSIONS, *L.REFUSED):
        assert f"`{node.__name__}`" in DOC, node.__name__
    for name, value in L.LIMITS.items():
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        assert f"| `{name}` | {shown} |" in DOC, name


def test_the_readme_links_the_reference() -> None:
    assert "docs/extensions.md" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_extension_loads_and_runs_on_a_networked_kernel(path: Path) -> None:
    movie = build_image({"video/test.svf": build_movie(test_pattern("bars", 2))})  # the video reader's
    net = Network(2, disks={1: movie})
    a, b = net.hosts
    b.machine.attach_framebuffer()  # the video client writes to one (SOSP'95 §5.4)
    framebuffer.attach(b)
    install_timers(b), install_reel(b), install_multicast(b)  # the video server's (kernel/core/timers.py ...)
    ext = b.system.load_file(path, importer="root")
    assert ext.bindings or ext.namespace.get("init") is not None
    seq = 1
    a.net.ping("10.0.0.2", seq)
    assert a.net.udp.send(4000, "10.0.0.2", 7, b"hello") == 0
    assert net.run_until(lambda: any(r[3] == seq for r in a.net.ping_replies), 1_000_000)
    assert not [r for r in b.dispatcher.reports if r.startswith(f"{ext.name}:")], b.dispatcher.reports
    b.system.unload(ext)
