"""`spinwb cc`: a student's C file built against the packaged runtime, judged
by qemu-alpha (the same ELF must behave the same there) and by the host's
glibc (the runtime's printf, scanf and string functions must print what
glibc's do)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require

HERE = Path(__file__).resolve().parent / "cc"
GOOD = b"ann 90\nbob 75\n\n# a comment\ncid 90\ndee 60\n"
BAD = b"ann 90\nbob 75\noops\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The runtime's archive goes to a scratch cache, not the user's."""
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache"))}


def spinwb(args: list[str], env: dict[str, str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], input=stdin, capture_output=True, cwd=ROOT,
                          env=env, timeout=600)  # fmt: skip


def build(src: Path, out: Path, env: dict[str, str], *flags: str) -> None:
    require("alpha-linux-gnu-gcc")
    p = spinwb(["cc", str(src), "-o", str(out), *flags], env)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stderr == b"", "a clean program builds without a word"  # the runtime's own warnings stay hidden


def qemu(elf: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([require("qemu-alpha"), str(elf)], input=stdin, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def textbook(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    out = tmp_path_factory.mktemp("tb") / "textbook.elf"
    build(HERE / "textbook.c", out, env)
    return out


@pytest.mark.oracle
def test_textbook_program_runs_as_under_qemu(textbook: Path, env: dict[str, str]) -> None:
    ours, theirs = spinwb(["run", str(textbook)], env, GOOD), qemu(textbook, GOOD)
    assert theirs.returncode == 0 and theirs.stderr == b""
    assert ours.stdout == theirs.stdout  # byte for byte: fgets, sscanf, realloc, qsort, printf's %-10s and %.2f
    assert b"4 students, mean 78.75\n" in ours.stdout
    assert ours.returncode == 0


@pytest.mark.oracle
def test_textbook_error_is_reported_on_stderr(textbook: Path, env: dict[str, str]) -> None:
    """A bad line: the program says so with fprintf(stderr, ...) and exits 1.
    `spinwb run` keeps the streams apart as qemu-alpha does: each stream holds
    the same bytes under both."""
    ours, theirs = spinwb(["run", str(textbook)], env, BAD), qemu(textbook, BAD)
    assert theirs.returncode == ours.returncode == 1
    assert theirs.stdout == b"read 2 entries before the error\n"
    assert theirs.stderr == b'line 3: expected NAME SCORE, got "oops"\n'
    assert ours.stdout == theirs.stdout
    assert ours.stderr == theirs.stderr


@pytest.mark.oracle
def test_runtime_prints_and_parses_as_glibc_does(tmp_path: Path, env: dict[str, str]) -> None:
    """One program of printf, sscanf, strtol, string, ctype, qsort and heap
    cases, built for the host with glibc and with `spinwb cc`: same output."""
    host = tmp_path / "conform-host"
    subprocess.run([require("gcc"), "-w", "-o", str(host), str(HERE / "conform.c")], check=True, timeout=120)
    want = subprocess.run([str(host)], capture_output=True, check=True, timeout=60).stdout
    elf = tmp_path / "conform.elf"
    build(HERE / "conform.c", elf, env)
    q = qemu(elf)
    assert q.returncode == 0, q.stderr
    assert q.stdout.decode() == want.decode()
    ours = spinwb(["run", str(elf)], env)
    assert ours.returncode == 0 and ours.stdout == want


@pytest.mark.oracle
@pytest.mark.parametrize("cpu", ["ev56", "ev67"])
def test_cpu_models(tmp_path: Path, env: dict[str, str], cpu: str) -> None:
    elf = tmp_path / f"tb-{cpu}.elf"
    build(HERE / "textbook.c", elf, env, "--cpu", cpu)
    ours, theirs = spinwb(["run", "--cpu", cpu, str(elf)], env, GOOD), qemu(elf, GOOD)
    assert ours.stdout == theirs.stdout and b"mean 78.75" in ours.stdout


def test_missing_compiler_names_the_install_command(tmp_path: Path, env: dict[str, str]) -> None:
    src = tmp_path / "hello.c"
    src.write_text('#include <stdio.h>\nint main(void) { puts("hi"); }\n')
    p = spinwb(["cc", str(src)], {**env, "PATH": str(tmp_path)})  # a PATH without the cross compiler
    err = p.stderr.decode()
    assert p.returncode == 1
    assert "alpha-linux-gnu-gcc is not installed" in err and "apt-get install gcc-alpha-linux-gnu" in err
    assert "Traceback" not in err and not (tmp_path / "hello.elf").exists()


def test_compile_error_names_file_and_line(tmp_path: Path, env: dict[str, str]) -> None:
    require("alpha-linux-gnu-gcc")
    src = tmp_path / "broken.c"
    src.write_text('#include <stdio.h>\n\nint main(void)\n{\n\tprintf("%d\\n", missing);\n}\n')
    p = spinwb(["cc", str(src)], env)
    err = p.stderr.decode()
    assert p.returncode == 1
    assert f"{src}:5:" in err and "missing" in err  # gcc's own message, FILE:LINE first
    assert "Traceback" not in err and not (tmp_path / "broken.elf").exists()


def test_unknown_header_is_gccs_message(tmp_path: Path, env: dict[str, str]) -> None:
    """glibc's headers are not mixed in: what the runtime lacks is a clear
    'no such file', not a build that crashes at start-up."""
    require("alpha-linux-gnu-gcc")
    src = tmp_path / "net.c"
    src.write_text("#include <sys/socket.h>\nint main(void) { return 0; }\n")
    p = spinwb(["cc", str(src)], env)
    assert p.returncode == 1 and b"net.c:1:" in p.stderr and b"sys/socket.h" in p.stderr


@pytest.mark.parametrize(
    ("make", "args", "says"),
    [
        (None, ["nowhere.c"], "nowhere.c: no such file"),
        ("notes.txt", ["notes.txt"], "notes.txt: not a C or assembler source"),
        ("ok.c", ["ok.c", "-o", "no/such/dir/ok.elf"], "-o no/such/dir/ok.elf: no directory"),
    ],
)
def test_bad_arguments_say_what(
    tmp_path: Path, env: dict[str, str], make: str | None, args: list[str], says: str
) -> None:
    if make:
        (tmp_path / make).write_text("int main(void) { return 0; }\n")
    p = subprocess.run([sys.executable, "-m", "workbench.cli", "cc", *args], capture_output=True, text=True,
                       cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, timeout=60)  # fmt: skip
    assert p.returncode == 1 and says in p.stderr and "Traceback" not in p.stderr


def test_default_output_is_beside_the_source(tmp_path: Path, env: dict[str, str]) -> None:
    require("alpha-linux-gnu-gcc")
    src = tmp_path / "hello.c"
    src.write_text('#include <stdio.h>\nint main(void) { printf("hi %s\\n", "there"); }\n')
    assert spinwb(["cc", str(src)], env).returncode == 0
    p = spinwb(["run", str(tmp_path / "hello.elf")], env)
    assert p.stdout.startswith(b"hi there\n") and p.returncode == 0  # main's implicit return 0: hosted C
