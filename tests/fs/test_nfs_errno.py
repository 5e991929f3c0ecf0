"""The errno values the NFS client hands extensions are the Alpha's: the
cross compiler's <errno.h> judges every one the client's docstring names."""

from __future__ import annotations

import re
import subprocess

from kernel.core import sal
from kernel.fs import nfs_client
from tests.conftest import require

NAMED = ("ENOENT", "EIO", "ENOTDIR", "EISDIR", "EFBIG", "EAGAIN", "ETIMEDOUT")


def test_the_clients_errno_values_are_alphas() -> None:
    cc = require("alpha-linux-gnu-gcc")
    p = subprocess.run([cc, "-E", "-dM", "-include", "errno.h", "-"], input="", capture_output=True, text=True,
                       timeout=60)  # fmt: skip
    assert p.returncode == 0, p.stderr
    macros = dict(re.findall(r"#define (E[A-Z0-9]+) (\d+)", p.stdout))
    for name in NAMED:
        assert getattr(sal, name) == int(macros[name]), name
        assert f"{name} {macros[name]}" in (nfs_client.__doc__ or ""), name
