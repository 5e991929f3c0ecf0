"""The layers' import rules (docs/architecture.md): machine/, kernel/, extensions/
and scenarios/ never import the UI; in the kernel only sal knows the Alpha; the
TUI, the shell and the lessons never import the Alpha at all (the CLI's asm,
disasm, run and cc are the machine's own tools and may)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize("package", ["machine", "kernel", "extensions", "scenarios", "machine.usermode",
                                     "machine.alpha.translate", "machine.alpha.asm", "kernel.sys.system",
                                     "kernel.net.stack", "kernel.net.topology", "scenarios.engine"])  # fmt: skip
def test_core_does_not_import_ui(package: str) -> None:
    code = (f"import sys, importlib; importlib.import_module({package!r}); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'prompt_toolkit', 'workbench')]; "
            "print(','.join(bad))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{package} pulled in UI modules: {out.stdout.strip()}"


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, with its line: at the top, in functions, under TYPE_CHECKING."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]  # `from machine import alpha`
    return found


def test_no_core_file_imports_the_ui() -> None:
    """The source-level check beside the import one: lesson files and extensions are
    loaded from disk, not imported as packages, so read every file's imports."""
    ui = ("workbench", "textual", "prompt_toolkit")
    bad = [f"{path.relative_to(ROOT)}:{line}: {mod}"
           for top in ("machine", "kernel", "extensions", "scenarios") for path in sorted((ROOT / top).rglob("*.py"))
           for line, mod in imports_of(path) if mod.split(".")[0] in ui]  # fmt: skip
    assert not bad, "\n".join(bad)


def alpha_imports(files: list[Path], root: Path = ROOT) -> list[str]:
    """FILE:LINE and the module for each import of machine.alpha among files, one per line."""
    bad: dict[str, str] = {}
    for f in files:
        for line, name in imports_of(f):
            if name == "machine.alpha" or name.startswith("machine.alpha."):
                bad.setdefault(f"{f.relative_to(root)}:{line}", name)
    return [f"{at} imports {name}" for at, name in bad.items()]


def test_the_checker_sees_every_form_of_import(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("import machine.alpha.cpu\nfrom machine import alpha\n"
                 "def g():\n    from machine.alpha.constants import PAGE_SHIFT\n"
                 "import machine.elf\n")  # fmt: skip
    assert alpha_imports([f], tmp_path) == ["m.py:1 imports machine.alpha.cpu", "m.py:2 imports machine.alpha",
                                            "m.py:4 imports machine.alpha.constants"]  # fmt: skip


def _sources(*where: str) -> list[Path]:
    out: list[Path] = []
    for w in where:
        p = ROOT / w
        out += [p] if p.is_file() else sorted(p.rglob("*.py"))
    assert out, where
    return out


def test_in_the_kernel_only_sal_imports_the_alpha() -> None:
    kernel = [f for f in _sources("kernel") if f != ROOT / "kernel" / "core" / "sal.py"]
    bad = alpha_imports(kernel)
    assert not bad, "only kernel/core/sal.py may import machine.alpha:\n" + "\n".join(bad)


@pytest.mark.parametrize("layer", ["workbench/tui", "workbench/shell", "workbench/session.py", "workbench/views.py",
                                   "scenarios"])  # fmt: skip
def test_the_tui_the_shell_and_the_lessons_do_not_import_the_alpha(layer: str) -> None:
    bad = alpha_imports(_sources(layer))
    assert not bad, f"{layer} reads the machine through kernel/inspect.py, not machine.alpha:\n" + "\n".join(bad)


def kernel_internals(path: Path) -> list[str]:
    """Where a UI file reaches into the kernel's TCP or wire, or into another
    object's private attributes (its own ``self._x`` is its business), with the line."""
    bad = []
    tree = ast.parse(path.read_text(), str(path))
    for line, mod in imports_of(path):
        if mod in ("kernel.net.tcp", "kernel.net.tcp.Tcb", "kernel.net.tcp_ext") or mod.endswith(".Tcb"):
            bad.append(f"{line}: imports {mod}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "Tcb":
            bad.append(f"{node.lineno}: names Tcb")
        if not isinstance(node, ast.Attribute):
            continue
        inner = node.value
        if node.attr == "Tcb":
            bad.append(f"{node.lineno}: names .Tcb")
        elif isinstance(inner, ast.Attribute) and (inner.attr, node.attr) == ("net", "tcp"):
            bad.append(f"{node.lineno}: reads .net.tcp")
        elif isinstance(inner, ast.Attribute) and inner.attr == "wire":
            bad.append(f"{node.lineno}: reads .wire.{node.attr}")
        elif node.attr.startswith("_") and not node.attr.startswith("__"):
            if not (isinstance(inner, ast.Name) and inner.id in ("self", "cls")):
                bad.append(f"{node.lineno}: reads private .{node.attr}")
    return [f"{path.name}:{b}" for b in sorted(set(bad), key=lambda s: (int(s.split(":")[0]), s))]


def test_the_internals_checker_sees_each_kind(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("from kernel.net import tcp as T\nfrom kernel.net.tcp import Tcb\n"
                 "def g(k, net, c):\n    k.net.tcp.connect('a', 1, 'o')\n    net.wire.carried\n"
                 "    c.tcb._private\n    self._mine\n    T.Tcb\n    relay.busy(net)\n")  # fmt: skip
    assert kernel_internals(f) == ["m.py:1: imports kernel.net.tcp", "m.py:2: imports kernel.net.tcp",
                                   "m.py:2: imports kernel.net.tcp.Tcb",
                                   "m.py:4: reads .net.tcp", "m.py:5: reads .wire.carried",
                                   "m.py:6: reads private ._private", "m.py:8: names .Tcb"]  # fmt: skip


def test_the_web_ui_reaches_the_kernel_through_relay_and_inspect() -> None:
    """workbench/web/ (the host bridge) drives connections through kernel/net/relay.py
    and reads the world through kernel/inspect.py, never the TCP engine or the wire."""
    bad = [b for f in _sources("workbench/web") for b in kernel_internals(f)]
    assert not bad, "\n".join(bad)
