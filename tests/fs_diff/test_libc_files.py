"""A student's program built with `spinwb cc` on the runtime's libc (fopen,
rename, mkdir, stat, mmap of a file, opendir/readdir, remove): the same
output and status under `spinwb run --disk` as under qemu-alpha on a host
directory, and the same tree afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kernel.fs.format import image_from_tree, image_tree
from tests.conftest import require
from tests.fs_diff.test_fs_programs import ROOT, _host_tree

SOURCE = Path(__file__).resolve().parent / "programs" / "libc_files.c"


def test_a_libc_file_program_agrees_with_qemu(tmp_path: Path) -> None:
    require("alpha-linux-gnu-gcc")
    qemu = require("qemu-alpha")
    elf = tmp_path / "libc_files.elf"
    build = subprocess.run([sys.executable, "-m", "workbench.cli", "cc", str(SOURCE), "-o", str(elf)], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert build.returncode == 0, build.stderr
    host = tmp_path / "host"
    host.mkdir()
    (host / "keep.txt").write_text("kept\n")
    want = subprocess.run([qemu, "-cpu", "ev4", str(elf)], cwd=host, capture_output=True, timeout=60,
                          preexec_fn=lambda: os.umask(0o022))  # fmt: skip
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "keep.txt").write_text("kept\n")
    image = tmp_path / "disk.img"
    image.write_bytes(image_from_tree(seed, spare_blocks=512))
    got = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "--disk", str(image), str(elf)], cwd=ROOT,
                         capture_output=True, timeout=300)  # fmt: skip
    assert (got.stdout, got.stderr, got.returncode) == (want.stdout, want.stderr, want.returncode)
    files, dirs = image_tree(image.read_bytes())
    assert (files, dirs) == _host_tree(host)
