"""The file-system programs under `spinwb run --disk` and under qemu-alpha on
a host directory: the same output, the same exit status, and the same tree
afterwards -- Linux's own file system is the oracle for the POSIX semantics
(issue 21's differential test). Each program starts from the same small tree."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kernel.fs.format import image_from_tree, image_tree
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "scenarios" / "programs" / "bin"
# fs_crash has a test of its own; fs_tables prints virtual cycles, which qemu-alpha does not have
PROGRAMS = sorted(p.stem for p in BIN.glob("fs_*.elf") if p.stem not in ("fs_crash", "fs_tables"))
SEED = {"hello.txt": b"hello, disk\n", "docs/readme.txt": b"a file in a directory\n" * 40}


def _seed(d: Path) -> None:
    for name, body in SEED.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(body)


def _host_tree(d: Path) -> tuple[dict[str, bytes], set[str]]:
    files, dirs = {}, set()
    for p in sorted(d.rglob("*")):
        rel = p.relative_to(d).as_posix()
        if p.is_dir():
            dirs.add(rel)
        elif stat.S_ISREG(p.stat().st_mode):
            files[rel] = p.read_bytes()
    return files, dirs


def _umask022() -> None:
    os.umask(0o022)  # the kernel's fixed umask: the modes the programs print agree


def test_there_are_at_least_ten_programs() -> None:
    assert len(PROGRAMS) >= 10, PROGRAMS


@pytest.mark.parametrize("prog", PROGRAMS)
def test_a_file_program_agrees_with_qemu_on_a_host_directory(prog: str, tmp_path: Path) -> None:
    qemu = require("qemu-alpha")
    elf = BIN / f"{prog}.elf"
    host = tmp_path / "host"
    host.mkdir()
    _seed(host)
    want = subprocess.run([qemu, "-cpu", "ev4", str(elf)], cwd=host, capture_output=True, timeout=60,
                          preexec_fn=_umask022)  # fmt: skip
    seed = tmp_path / "seed"
    seed.mkdir()
    _seed(seed)
    image = tmp_path / "disk.img"
    image.write_bytes(image_from_tree(seed, spare_blocks=8192))
    got = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "--disk", str(image), str(elf)], cwd=ROOT,
                         capture_output=True, timeout=300)  # fmt: skip
    assert got.stdout.decode() == want.stdout.decode(), got.stderr.decode()
    assert got.returncode == want.returncode, got.stderr.decode()
    files, dirs = image_tree(image.read_bytes())  # the writes reached the image file
    hfiles, hdirs = _host_tree(host)
    assert sorted(files) == sorted(hfiles)
    for name in files:
        assert files[name] == hfiles[name], f"{name}: the image's bytes differ from the host's"
    assert dirs == hdirs


def test_writes_survive_a_program_that_crashes(tmp_path: Path) -> None:
    """fs_crash writes, then dies of SIGSEGV without closing: the bytes are in
    the cache only, and the end of the run still puts them in the image."""
    elf = BIN / "fs_crash.elf"
    image = tmp_path / "disk.img"
    image.write_bytes(image_from_tree(_seeded(tmp_path), spare_blocks=256))
    got = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "--disk", str(image), str(elf)], cwd=ROOT,
                         capture_output=True, timeout=120)  # fmt: skip
    assert got.returncode != 0 and b"SIGSEGV" in got.stderr, got.stderr
    files, _ = image_tree(image.read_bytes())
    assert files["crash.txt"] == b"written before the crash\n"


def _seeded(tmp_path: Path) -> Path:
    d = tmp_path / "seed"
    d.mkdir(exist_ok=True)
    _seed(d)
    return d


def test_the_image_is_replaced_whole_not_written_in_place(tmp_path: Path) -> None:
    """A reader holding the old image file keeps the old bytes: the new image
    is a new file renamed over it (a crash of the host leaves one or the other)."""
    image = tmp_path / "disk.img"
    image.write_bytes(image_from_tree(_seeded(tmp_path), spare_blocks=256))
    with image.open("rb") as old:
        before = old.read()
        subprocess.run([sys.executable, "-m", "workbench.cli", "run", "--disk", str(image),
                        str(BIN / "fs_create.elf")], cwd=ROOT, capture_output=True, timeout=120, check=True)  # fmt: skip
        old.seek(0)
        assert old.read() == before
    assert image.read_bytes() != before and "notes.txt" in image_tree(image.read_bytes())[0]
    assert not list(tmp_path.glob("*.spinwb-new"))


def test_a_second_run_sees_the_first_runs_files(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(image_from_tree(_seeded(tmp_path), spare_blocks=2048))
    run = [sys.executable, "-m", "workbench.cli", "run", "--disk", str(image)]
    subprocess.run([*run, str(BIN / "fs_big.elf")], cwd=ROOT, capture_output=True, timeout=120, check=True)
    out = subprocess.run([*run, str(BIN / "readfile.elf"), "big.dat"], cwd=ROOT, capture_output=True, timeout=120)
    assert out.stdout.startswith(b"big.dat: 210000 bytes"), out.stdout
