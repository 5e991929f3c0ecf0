"""`spinwb` as a user meets it: bad input gets one clear line and the right
exit status, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, elf


def spinwb(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], cwd=ROOT, input=stdin,
                          capture_output=True, timeout=300)  # fmt: skip


def one_line(p: subprocess.CompletedProcess[bytes]) -> str:
    err = p.stderr.decode()
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_missing_file(tmp_path: Path) -> None:
    p = spinwb("run", str(tmp_path / "nope.elf"))
    assert p.returncode == 2
    assert one_line(p).endswith("nope.elf: no such file")


def test_not_elf(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    p = spinwb("run", str(f))
    assert p.returncode == 2
    assert "not an ELF file" in one_line(p)


def test_truncated_elf(tmp_path: Path) -> None:
    f = tmp_path / "cut.elf"
    f.write_bytes(elf("hello", "ev4").read_bytes()[:5000])
    p = spinwb("run", str(f))
    assert p.returncode == 2
    assert "truncated" in one_line(p)


def test_wrong_machine(tmp_path: Path) -> None:
    p = spinwb("run", sys.executable)  # an x86-64 (or other host) ELF
    assert p.returncode == 2
    assert "not Alpha" in one_line(p) or "not an ELF" in one_line(p)


def test_directory(tmp_path: Path) -> None:
    p = spinwb("run", str(tmp_path))
    assert p.returncode == 2
    assert "is a directory" in one_line(p)


def test_run_passes_arguments_and_exit_status() -> None:
    p = spinwb("run", str(elf("echo", "ev4")), "tag", stdin=b"abc\n")
    assert p.stdout == b"  1| abc\ntag: 4 bytes from 2 args\n"
    assert p.returncode == 4


def test_stats_is_the_last_stderr_line_as_json() -> None:
    p = spinwb("run", str(elf("hello", "ev4")), "--stats")
    assert p.returncode == 0
    stats = json.loads(p.stderr.decode().strip().splitlines()[-1])
    assert set(stats) == {"instructions", "cycles", "host_seconds", "mips", "syscalls", "faults", "switches",
                          "crossings", "ticks"}  # fmt: skip
    assert stats["instructions"] > 100_000 and stats["cycles"] >= stats["instructions"]
    # hello makes 9 writes and exit_group; each call is two crossings except the exit
    assert stats["syscalls"] == 10 and stats["crossings"] == 2 * stats["syscalls"] - 1
    harness = json.loads(
        spinwb("run", str(elf("hello", "ev4")), "--stats", "--harness").stderr.decode().splitlines()[-1]
    )
    assert set(harness) == {"instructions", "cycles", "host_seconds", "mips"}
    assert harness["instructions"] == stats["instructions"], "the kernel adds no user instructions"


def test_fault_reports_one_line_and_128_plus_signal() -> None:
    p = spinwb("run", str(elf("fault", "ev4")))
    assert p.returncode == 139
    line = one_line(p)
    assert line.startswith("spinwb run: SIGSEGV: segmentation fault: load at address 0x8")
    assert "pc 0x" in line and "ldq $16,8($1)" in line


def test_max_instructions_stops_the_program() -> None:
    p = spinwb("run", str(elf("sieve", "ev4")), "--max-instructions", "5000", "--stats")
    assert p.returncode == 124
    assert json.loads(p.stderr.decode().strip().splitlines()[-1])["instructions"] == 5000


def test_asm_error_is_file_line_message(tmp_path: Path) -> None:
    src = tmp_path / "lesson.s"
    src.write_text("\t.text\n_start:\n\tldq $1, 8(%2)\n")
    p = spinwb("asm", str(src), "-o", str(tmp_path / "x.elf"))
    assert p.returncode == 2  # bad input, as for every other command
    assert one_line(p).startswith(f"{src}:3: ")


def test_asm_then_run_then_disasm(tmp_path: Path) -> None:
    src = tmp_path / "exit.s"
    src.write_text("\t.text\n\t.globl _start\n_start:\n\tlda $16, 42\n\tlda $0, 1\n\tcallsys\n")
    assert spinwb("asm", str(src), "-o", str(tmp_path / "exit.elf")).returncode == 0
    assert spinwb("run", str(tmp_path / "exit.elf")).returncode == 42
    d = spinwb("disasm", str(tmp_path / "exit.elf")).stdout.decode()
    assert "<_start>:" in d and "lda\t$16,42" in d and "callsys" in d


@pytest.mark.parametrize("objdump_names", [False, True])
def test_disasm_of_a_corpus_program(objdump_names: bool) -> None:
    args = ["disasm", str(elf("hello", "ev4"))] + (["--objdump"] if objdump_names else [])
    out = spinwb(*args).stdout.decode()
    assert "<main>:" in out
    if objdump_names:
        assert "ldah\tgp,1(t12)" in out and "$29" not in out
    else:
        assert "ldah\t$29,1($27)" in out and "(t12)" not in out


def test_program_arguments_after_double_dash_are_not_ours() -> None:
    p = spinwb("run", str(elf("hello", "ev4")), "--", "--stats")
    assert b"argv[1]=--stats" in p.stdout
    assert not p.stderr


def test_run_ext_loads_an_extension_and_a_bad_one_is_refused_in_one_line(tmp_path: Path) -> None:
    """--ext: with the lottery loaded, lottery_join succeeds (no complaint
    from the children); a file the verifier rejects stops before the program
    with exit 2 and the verifier's FILE:LINE diagnostic."""
    prog = "scenarios/programs/bin/lottery.elf"
    ok = spinwb("run", "--ext", "extensions/lottery.py", prog, "2000")
    assert ok.returncode == 0 and b"lottery_join: errno" not in ok.stdout and ok.stdout.endswith(b"all done\n")
    without = spinwb("run", prog, "2000")
    assert without.stdout.count(b"lottery_join: errno 78") == 2
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    refused = spinwb("run", "--ext", str(bad), prog, "2000")
    assert refused.returncode == 2 and refused.stdout == b""
    assert f"{bad}:1:" in refused.stderr.decode() and "Traceback" not in refused.stderr.decode()
