"""machine/, kernel/, extensions/ and scenarios/ never import the UI layer."""

import subprocess
import sys

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
