"""What `spinwb` imports on its way to an answer (issue 22: `--help` under 0.1 s, a headless
lesson under 0.25 s from process start). Each run is a fresh interpreter, listing
``sys.modules`` at the end: an eager import re-added at the top of a module fails here,
whatever the machine's speed (the times themselves are benchmarks, not tests)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

# Run main() as `spinwb ARGS` does, its output thrown away, then name the modules loaded.
PROBE = """
import contextlib, io, sys
from workbench.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
print("\\n".join(sorted(sys.modules)))
"""

UI = ("textual", "prompt_toolkit", "workbench.tui", "workbench.shell", "workbench.web", "jupyter_server",
      "textual_serve")  # fmt: skip


def loaded(*argv: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def under(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_the_probe_sees_an_eager_import() -> None:
    """The checker itself: a command that does load the kernel shows it."""
    mods = loaded("scenario", "run", "--headless", "boot_tour")
    assert "kernel.boot" in mods and "machine.alpha.translate" in mods


@pytest.mark.parametrize("argv", [["--help"], ["scenario", "run", "--help"], ["web", "--help"], ["net", "--help"]])
def test_help_needs_only_the_argument_tables(argv: list[str]) -> None:
    """Building the parser imports no kernel (but the web world's settings, kernel/net/websettings.py),
    machine model, lesson engine, rich, json or UI."""
    mods = loaded(*argv) - {"kernel", "kernel.net", "kernel.net.websettings"}
    heavy = under(mods, ("kernel", "machine.alpha.cpu", "machine.machine", "scenarios.engine", "rich", "json", *UI))
    assert heavy == [], f"spinwb {' '.join(argv)} imported {heavy}"


def test_a_headless_lesson_imports_no_ui() -> None:
    """A headless lesson needs the kernel, never Textual, the shell or the web bits, nor rich:
    its narration, printed to a pipe, is plain text (workbench/cli/narration.py)."""
    mods = loaded("scenario", "run", "--headless", "boot_tour")
    assert under(mods, UI) == []
    assert under(mods, ("rich", "markdown_it", "pygments")) == []
    assert "workbench.cli.narration" in mods  # it does print the narration
    for idle in ("workbench.cli.isolate", "workbench.bench", "ctypes"):  # a lesson run here is not confined
        assert idle not in mods, f"a headless lesson imported {idle}"
    # boot_tour boots neither a network nor a disk: the protocol stack, its records and NFS stay unloaded
    net = ("kernel.net.stack", "kernel.net.tcp", "kernel.net.sockets", "kernel.fs.nfs_client", "kernel.net.records",
           "kernel.net.packet", "kernel.net.topology", "machine.world")  # fmt: skip
    assert under(mods, net) == []
    # nor does it load an extension: the verifier and SPIN Python's tables stay unloaded
    assert under(mods, ("kernel.sys.verifier", "kernel.sys.language")) == []
    # and every check passes: what explains a failure (traceback, difflib's suggestions) stays unloaded
    assert under(mods, ("traceback", "difflib", "textwrap")) == []


def test_a_lesson_with_an_extension_loads_the_verifier() -> None:
    """The other side of the lazy verifier: a lesson that loads an extension has it."""
    mods = loaded("scenario", "run", "--headless", "handler_combination")
    assert "kernel.sys.verifier" in mods
