"""The committed user-program ELFs are what the Makefile builds today."""

import subprocess

import pytest

from tests.conftest import PROGRAMS, require


@pytest.mark.oracle
def test_committed_elfs_are_up_to_date() -> None:
    require("alpha-linux-gnu-gcc")
    require("make")
    p = subprocess.run(["make", "-s", "-C", str(PROGRAMS), "check"], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
