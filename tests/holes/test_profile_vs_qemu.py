"""spinwb profile's calls against qemu-alpha -strace: the same programs on the
same files make the same calls with the same arguments and results (pointers
aside: the two place the stack and the data differently)."""

from __future__ import annotations

import re
import subprocess

import pytest

from kernel import profile as P
from kernel.sys.trace import Syscall
from tests.conftest import require
from tests.holes.helpers import BIN, FILES, start

STRACE = re.compile(r"^\d+ (\w+)\((.*?)\)\s*=\s*(-?\w+)(?: errno=(\d+))?", re.M)
NAMES = sorted(FILES)


def ours(program: str, args: list[str]) -> list[tuple[str, str, str]]:
    k = start(program, args)
    k.run(50_000_000)
    out = []
    for c in P.calls(k.trace.of(Syscall)):
        a = P.arguments(c).replace(" ", "")
        out.append((c.name, re.sub(r"0x[0-9a-f]+", "PTR", a), str(c.result)))
    return out


def qemus(program: str, args: list[str], tmp_path) -> list[tuple[str, str, str]]:  # noqa: ANN001
    qemu = require("qemu-alpha")
    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data)
    p = subprocess.run([qemu, "-strace", str(BIN / f"{program}.elf"), *args], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60, check=False)  # fmt: skip
    out = []
    for name, a, r, errno in STRACE.findall(p.stderr):
        a = re.sub(r"0x[0-9a-f]+", "PTR", a.replace(" ", ""))
        out.append((name, a, f"-{errno}" if errno else str(int(r, 0))))
    return out


@pytest.mark.parametrize(("program", "args"), [("smallfiles", ["2", *NAMES]), ("readfile", [NAMES[0], "missing"])])
def test_the_calls_are_qemus(program: str, args: list[str], tmp_path) -> None:  # noqa: ANN001
    mine = ours(program, args)
    theirs = qemus(program, args, tmp_path)
    assert [c for c in mine if c[0] != "exit_group"] == [c for c in theirs if c[0] != "exit_group"], (mine, theirs)
    assert len(mine) >= 7  # something was compared
