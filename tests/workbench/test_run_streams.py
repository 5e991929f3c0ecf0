"""`spinwb run`'s streams, judged by qemu-alpha: fd 1 on stdout, fd 2 on
stderr, stdin from the host; and the command line a user types wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT, elf, require

UPPER_IN = b"hello world\n\nsecond Line\nno newline at the end"


def spinwb(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], cwd=ROOT, input=stdin,
                          capture_output=True, timeout=300)  # fmt: skip


def qemu(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([require("qemu-alpha"), *args], input=stdin, capture_output=True, timeout=120)


@pytest.mark.parametrize("how", [[], ["--harness"]], ids=["booted kernel", "harness"])
def test_stdout_and_stderr_are_apart_as_under_qemu(how: list[str]) -> None:
    prog = str(elf("streams", "ev4"))
    ours, theirs = spinwb("run", *how, prog, "A", "B"), qemu(prog, "A", "B")
    assert theirs.stderr.startswith(b"err 1: B\n"), "qemu-alpha is the judge: fd 2 on stderr"
    assert ours.stdout == theirs.stdout
    assert ours.stderr == theirs.stderr
    assert ours.returncode == theirs.returncode == 3


@pytest.mark.parametrize("how", [[], ["--harness"]], ids=["booted kernel", "harness"])
def test_a_program_fed_stdin_by_spinwb_run_reads_it_as_under_qemu(how: list[str]) -> None:
    prog = str(elf("upper", "ev4"))
    ours, theirs = spinwb("run", *how, prog, stdin=UPPER_IN), qemu(prog, stdin=UPPER_IN)
    assert theirs.stdout.startswith(b"  1 HELLO WORLD\n")
    assert (ours.stdout, ours.stderr, ours.returncode) == (theirs.stdout, theirs.stderr, theirs.returncode)
    assert b"upper: line 2 is empty" in ours.stderr and b"empty" not in ours.stdout


def test_arguments_that_look_like_flags_are_the_programs() -> None:
    prog = str(elf("hello", "ev4"))
    p = spinwb("run", prog, "-x", "--y", "--bogus=3", "-h", "--", "--stats")
    assert p.returncode == 0, p.stderr
    argv = [ln for ln in p.stdout.decode().splitlines() if ln.startswith("argv[")]
    assert argv[1:] == ["argv[1]=-x", "argv[2]=--y", "argv[3]=--bogus=3", "argv[4]=-h", "argv[5]=--stats"]
    assert not p.stderr, "--stats after -- is the program's, not ours"


def test_an_unknown_flag_before_the_program_prints_runs_usage() -> None:
    p = spinwb("run", "--bogus", str(elf("hello", "ev4")))
    err = p.stderr.decode()
    assert p.returncode == 2 and not p.stdout
    assert err.startswith("usage: spinwb run [OPTIONS] PROGRAM.elf [--] [ARGS...]\n")
    assert "spinwb run: unrecognized arguments: --bogus" in err and "Traceback" not in err
    bare = spinwb("run").stderr.decode()
    assert bare.startswith("usage: spinwb run") and "name the program to run" in bare


def test_run_help_documents_the_double_dash() -> None:
    out = spinwb("run", "--help").stdout.decode()
    assert "[--] [ARGS...]" in out and "everything after -- is the program's" in " ".join(out.split())


@pytest.mark.parametrize("how", [[], ["--harness"]], ids=["booted kernel", "harness"])
def test_ctrl_c_prints_the_stats_so_far_and_exits_130(how: list[str]) -> None:
    """upper waits on a pipe we hold open; once it has echoed a line it is
    surely running, and SIGINT (Ctrl-C) ends it with the figures so far."""
    p = subprocess.Popen([sys.executable, "-m", "workbench.cli", "run", *how, str(elf("upper", "ev4")), "--stats"],
                         cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert p.stdin is not None and p.stdout is not None
    try:
        p.stdin.write(b"one\n")
        p.stdin.flush()
        assert p.stdout.readline() == b"  1 ONE\n"
        os.kill(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    lines = err.decode().strip().splitlines()
    assert p.returncode == 130
    assert lines[-2].startswith("spinwb run: interrupted (Ctrl-C) after ")
    stats = json.loads(lines[-1])
    assert stats["instructions"] > 0 and "Traceback" not in err.decode()
