"""Shared by the Poking Holes tests: a disk of small files, booting a program on it."""

from __future__ import annotations

from pathlib import Path

from kernel.boot import boot
from kernel.fs.format import build_image
from kernel.kernel import Kernel
from machine.elf import read_elf

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "scenarios" / "programs" / "bin"
MACRO = ROOT / "extensions" / "macro_calls.py"
FILES = {f"f{i}.txt": bytes((i * 31 + j * 7) & 0xFF for j in range(100 * i + 17)) for i in range(1, 5)}
PATHS = [f"/{n}" for n in sorted(FILES)]


def disk() -> bytes:
    return build_image(FILES)


def start(program: str, args: list[str], macro: bool = False, out: bytearray | None = None) -> Kernel:
    """A kernel booted with ``program args`` as init on the disk of small files."""
    buf = out if out is not None else bytearray()
    k = boot(init=read_elf(BIN / f"{program}.elf"), argv=[program, *args], halt_when_done=True,
             console_out=buf.extend, disk_image=disk())  # fmt: skip
    if macro:
        k.system.load_file(MACRO, importer="root")
    return k


def expected_output(rounds: int) -> bytes:
    lines = [f"/{n}: {len(d)} bytes, sum {sum(d)}\n" for n, d in sorted(FILES.items())]
    total = sum(len(d) for d in FILES.values()) * rounds
    return ("".join(lines) + f"{rounds * len(FILES)} files read, {total} bytes\n").encode()
