"""`spinwb cc`: a student's C program built into a static Alpha ELF.

The cross toolchain's static glibc crashes at start-up (under qemu-alpha
too), so programs link against the packaged runtime instead: crt0 and the
division helpers the corpus uses, and a small libc (runtime/libc/) under the
standard header names (runtime/include/), so a textbook program compiles
unchanged. gcc's own freestanding headers (stdarg.h, stddef.h, stdint.h,
limits.h, ...) come with it; glibc's are kept out with -nostdinc.

The runtime is compiled once per CPU model into an archive in the user's
cache, keyed by its sources, the flags and the compiler, so a rebuild
compiles only the student's files.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from machine.alpha.constants import CPU_MODELS, DEFAULT_CPU
from scenarios import programs

RUNTIME = Path(programs.__file__).resolve().parent / "runtime"
INCLUDE = RUNTIME / "include"
LIBC = ("sys.c", "string.c", "stdlib.c", "stdio.c", "printf.c", "scanf.c", "fs.c")
GCC = "alpha-linux-gnu-gcc"
AR = "alpha-linux-gnu-ar"
INSTALL = "apt-get install gcc-alpha-linux-gnu"
SOURCES = (".c", ".s", ".S")
# Hosted C (main returns 0 at its end) without glibc: the runtime's headers, gcc's, no others.
# long double is double, as the runtime's printf and scanf read it.
CFLAGS = ["-static", "-fno-pie", "-fno-stack-protector", "-mlong-double-64", "-nostdinc"]
# The runtime itself is freestanding: gcc would turn its memset loop into a call to memset.
RTFLAGS = ["-O2", "-ffreestanding", "-fno-builtin", "-Wall"]
LDFLAGS = ["-nostdlib", "-static", "-no-pie", "-Wl,--build-id=none"]


class BuildError(Exception):
    """The build could not run or failed; the message is for the user as is."""


def _tool(name: str) -> str:
    import shutil  # this and the other stdlib imports below: lazy, `spinwb --help` builds cc's parser

    path = shutil.which(name)
    if path is None:
        raise BuildError(f"{name} is not installed: spinwb cc needs the Alpha cross compiler "
                         f"(Debian/Ubuntu: {INSTALL})")  # fmt: skip
    return path


def _gcc_include(gcc: str) -> str:
    """gcc's own freestanding headers (stdarg.h, stddef.h, ...), which -nostdinc drops too."""
    import subprocess

    p = subprocess.run([gcc, "-print-file-name=include"], capture_output=True, text=True, check=False)
    return p.stdout.strip()


def _includes(gcc: str) -> list[str]:
    return ["-isystem", str(INCLUDE), "-isystem", _gcc_include(gcc)]


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spinwb" / "cc"


def _runtime_archive(gcc: str, cpu: str, verbose: bool) -> Path:
    """libspin.a for ``cpu``: built once, then found by the hash of what made it."""
    import hashlib
    import subprocess
    import tempfile

    files = [
        RUNTIME / "div.S",
        RUNTIME / "sys.h",
        *sorted((RUNTIME / "libc").iterdir()),
        *sorted(p for p in INCLUDE.rglob("*") if p.is_file()),
    ]  # fmt: skip (sys/stat.h and the like too)
    version = subprocess.run([gcc, "--version"], capture_output=True, text=True, check=False).stdout
    h = hashlib.sha256(version.encode() + cpu.encode() + " ".join(CFLAGS + RTFLAGS).encode())
    for f in files:
        h.update(str(f.relative_to(RUNTIME)).encode() + b"\0" + f.read_bytes())
    key = f"{cpu}-{h.hexdigest()[:16]}"
    for root in (_cache_root(), Path(tempfile.gettempdir()) / f"spinwb-cc-{os.getuid()}"):
        archive = root / key / "libspin.a"
        if archive.is_file():
            return archive
        try:
            archive.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        with tempfile.TemporaryDirectory(dir=archive.parent) as tmp:
            objs = []
            for src in [RUNTIME / "div.S", *(RUNTIME / "libc" / n for n in LIBC)]:
                obj = Path(tmp) / f"{src.stem}.o"
                _compile(gcc, [*CFLAGS, *RTFLAGS, f"-mcpu={cpu}", *_includes(gcc), "-c", "-o", str(obj), str(src)],
                         verbose, what="the runtime")  # fmt: skip
                objs.append(str(obj))
            part = Path(tmp) / "libspin.a"
            _compile(_tool(AR), ["rcs", str(part), *objs], verbose, what="the runtime")
            os.replace(part, archive)  # atomic: two builds at once both find a whole archive
        return archive
    raise BuildError(f"cannot write the runtime's cache ({_cache_root()}): set XDG_CACHE_HOME to a writable directory")


def _compile(tool: str, args: list[str], verbose: bool, what: str = "") -> None:
    import subprocess

    cmd = [tool, *args]
    if verbose:
        print(" ".join(cmd), file=sys.stderr)
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    sys.stderr.write(p.stderr)  # gcc's warnings and errors, FILE:LINE as gcc writes them
    if p.returncode != 0:
        if what:
            raise BuildError(f"building {what} failed (a broken install? reinstall spin-workbench)")
        raise BuildError("")


def build(sources: list[str], output: str, cpu: str = DEFAULT_CPU, opt: str = "2",
          defines: list[str] | None = None, includes: list[str] | None = None, verbose: bool = False) -> None:  # fmt: skip
    """Compile and link ``sources`` into the static ELF ``output``; a BuildError if not."""
    import tempfile

    for s in sources:
        if not Path(s).exists():
            raise BuildError(f"{s}: no such file")
        if not Path(s).is_file():
            raise BuildError(f"{s}: not a regular file")
        if Path(s).suffix not in SOURCES:
            raise BuildError(f"{s}: not a C or assembler source (want a name ending in .c, .s or .S)")
    out_dir = Path(output).resolve().parent
    if not out_dir.is_dir():
        raise BuildError(f"-o {output}: no directory {out_dir}")
    gcc = _tool(GCC)
    archive = _runtime_archive(gcc, cpu, verbose)
    flags = [*CFLAGS, f"-O{opt}", f"-mcpu={cpu}", "-Wall", *_includes(gcc)]
    flags += [f"-D{d}" for d in defines or []] + [a for i in includes or [] for a in ("-I", i)]
    with tempfile.TemporaryDirectory() as tmp:
        objs = []
        for i, s in enumerate(sources):
            obj = str(Path(tmp) / f"{i}-{Path(s).stem}.o")
            _compile(gcc, [*flags, "-c", "-o", obj, s], verbose)
            objs.append(obj)
        start = Path(tmp) / "crt0.o"
        _compile(
            gcc, [*CFLAGS, f"-mcpu={cpu}", "-c", "-o", str(start), str(RUNTIME / "crt0.S")], verbose, "the runtime"
        )
        _compile(gcc, [*LDFLAGS, "-o", output, str(start), *objs, str(archive), "-lgcc"], verbose)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = sub.add_parser("cc", help="build a C program into a static Alpha ELF against the packaged runtime",
                       description="Compile C sources with alpha-linux-gnu-gcc against the workbench's runtime "
                       "(stdio.h, stdlib.h, string.h, ctype.h, ...; see docs/programs.md) into a static ELF for "
                       "spinwb run, spinwb FILE.elf and qemu-alpha.")  # fmt: skip
    c.add_argument("files", nargs="+", metavar="FILE.c")
    c.add_argument("-o", "--output", metavar="FILE.elf", help="the program to write (default: FILE.elf beside FILE.c)")
    c.add_argument("--cpu", choices=sorted(CPU_MODELS), default=DEFAULT_CPU,
                   help=f"the CPU model to build for (default {DEFAULT_CPU}, the 21064; ev56 adds byte loads and "
                   "stores, ev67 count and square-root instructions)")  # fmt: skip
    c.add_argument("-O", dest="opt", choices=["0", "1", "2", "3", "s"], default="2", help="optimization (default 2)")
    c.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]", help="define a macro")
    c.add_argument("-I", dest="includes", action="append", default=[], metavar="DIR", help="look for headers here too")
    c.add_argument("-v", "--verbose", action="store_true", help="print the compiler's command lines")
    c.set_defaults(fn=run)


def run(args: argparse.Namespace) -> int:
    output = args.output or str(Path(args.files[0]).with_suffix(".elf"))
    try:
        build(args.files, output, args.cpu, args.opt, args.defines, args.includes, args.verbose)
    except BuildError as e:
        if str(e):
            print(f"spinwb cc: {e}", file=sys.stderr)
        return 1
    return 0
