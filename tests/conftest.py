"""Shared fixtures: the corpus, and oracles that must exist under CI.

A test that needs a real tool (qemu-alpha, objdump, capstone) calls
``require(...)``: on a laptop without the tool it skips with the reason; with
CI=true a missing oracle is a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "scenarios" / "programs"
BIN = PROGRAMS / "bin"
CPUS = ("ev4", "ev56", "ev67")
CORPUS = sorted(p.stem for p in (PROGRAMS / "corpus").glob("*.c"))
# Programs and what a run must give: extra argv, stdin.
RUN_ARGS = {"bench": ["3"], "echo": ["first", "second"], "hello": ["x", "y z"], "streams": ["to stdout", "to stderr"]}
RUN_STDIN = {"echo": b"line one\nline two\n\nlast line without newline", "upper": b"Hello\n\nworld, 2 lines"}
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# The translator's on-disk cache (machine/alpha/codecache.py): one of the session's own, for
# this process and every `spinwb` it starts, so neither CI nor a developer's cache decides a
# result, and the suite runs with the cache on as users do. SPINWB_CACHE=off runs it without.
if os.environ.get("SPINWB_CACHE", "").lower() != "off":
    _CACHE = tempfile.mkdtemp(prefix="spinwb-test-cache-")
    os.environ["SPINWB_CACHE"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)  # after the cache's exit flush: atexit runs LIFO


def require(tool: str) -> str:
    """Path of an external tool, or skip (fail under CI) if it is missing."""
    path = shutil.which(tool)
    if path is None:
        msg = f"{tool} is not installed (Debian: qemu-user, binutils-alpha-linux-gnu, gcc-alpha-linux-gnu, tshark)"
        if IN_CI:
            pytest.fail(f"oracle missing under CI: {msg}")
        pytest.skip(msg)
    return path


def require_module(name: str) -> object:
    try:
        return __import__(name)
    except ImportError:
        if IN_CI:
            pytest.fail(f"oracle module {name} missing under CI (pip install -e '.[test]')")
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")


def elf(name: str, cpu: str) -> Path:
    return BIN / f"{name}-{cpu}.elf"


@dataclass
class Outcome:
    stdout: bytes
    status: int
    message: str = ""
    icount: int = 0
    regs: tuple[int, ...] = ()
    stderr: bytes = b""


def run_ours(path: Path, args: list[str], stdin: bytes = b"", cpu: str = "ev4", translate: bool = True,
             max_instructions: int | None = None) -> Outcome:  # fmt: skip
    from machine.elf import read_elf
    from machine.usermode import UserProgram

    out, err = io.BytesIO(), io.BytesIO()
    proc = UserProgram(read_elf(path), [str(path), *args], model=cpu, stdin=io.BytesIO(stdin), stdout=out,
                   stderr=err, translate=translate)  # fmt: skip
    info = proc.run(max_instructions)
    return Outcome(out.getvalue(), info.status, info.message, proc.cpu.icount, tuple(proc.cpu.r), err.getvalue())


KERNEL_PROGRAMS = tuple(p.stem for p in sorted((ROOT / "scenarios" / "programs" / "kernel").glob("*.c")))


def disk_with(*names: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A file-system image holding built programs (by name) and extra files."""
    from kernel.fs.format import build_image

    files = {n: (BIN / (f"{n}.elf" if n in KERNEL_PROGRAMS else f"{n}-ev4.elf")).read_bytes() for n in names}
    files.update(extra or {})
    return build_image(files)


@dataclass
class KernelRun:
    stdout: bytes
    status: int
    message: str
    why: str
    kernel: object
    stderr: bytes = b""


def run_kernel(path: Path, args: list[str], stdin: bytes = b"", cpu: str = "ev4", disk: bytes | None = None,
               max_instructions: int | None = 100_000_000, translate: bool = True) -> KernelRun:  # fmt: skip
    """Boot the kernel with the program as init, as `spinwb run` does."""
    from kernel.boot import boot
    from machine.elf import read_elf

    out = bytearray()
    k = boot(init=read_elf(path), argv=[str(path), *args], halt_when_done=True, model=cpu, console_out=out.extend,
             disk_image=disk, translate=translate)  # fmt: skip
    err = bytearray()
    k.machine.console.route_errors(err.extend)  # fd 2 apart, as `spinwb run` keeps it
    k.console_input = io.BytesIO(stdin).read
    why = k.run(max_instructions)
    return KernelRun(bytes(out), k.exit_status if k.exit_status is not None else -1, k.exit_message, why, k,
                     bytes(err))  # fmt: skip


def run_qemu(path: Path, args: list[str], stdin: bytes = b"", cpu: str = "ev4") -> Outcome:
    qemu = require("qemu-alpha")
    p = subprocess.run([qemu, "-cpu", cpu, str(path), *args], input=stdin, capture_output=True, timeout=120)
    status = p.returncode if p.returncode >= 0 else 128 - p.returncode
    return Outcome(p.stdout, status, stderr=p.stderr)


# Assembly snippets for small test programs: set gp; exit with $4 as status.
ASM_START = """
	.text
	.globl	_start
_start:	br	$29, 1f
1:	ldgp	$29, 0($29)
"""
ASM_EXIT_WITH_R4 = """
	mov	$4, $16
	lda	$0, 1
	callsys
"""
