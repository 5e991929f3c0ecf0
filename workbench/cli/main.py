"""The `spinwb` command: subcommands for scripts and CI, the TUI without one."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn

from machine.alpha.constants import CPU_MODELS, DEFAULT_CPU
from workbench.cli import cc, netrun, profile, scenario, web
from workbench.cli.args import SEED, Parser, int_in, read_extension, scenario_arg

if TYPE_CHECKING:
    from machine.elf import ElfImage

# Building the parser (and so `spinwb --help`) needs only the argument tables:
# each handler imports the kernel, the machine or a bench itself, so a command
# pays only for what it runs (tests/workbench/test_startup.py holds this).

MAX_OPS = 1_000_000


def _read_image(command: str, path: str, program: bool = True) -> ElfImage | None:
    """The user program (or with ``program`` false, any image: disasm reads
    KSEG kernels too) at path, or None after one clear line on stderr."""
    from machine.elf import ElfError, read_elf, read_program

    try:
        return read_program(path) if program else read_elf(path)
    except ElfError as e:
        print(f"spinwb {command}: {e}", file=sys.stderr)
        return None


def _run(args: argparse.Namespace) -> int:
    import hashlib
    import json
    import time

    from kernel.boot import boot
    from kernel.fs.format import FsFormatError
    from kernel.sys.errors import SpinError
    from machine.disk import DiskImageError

    image = _read_image("run", args.file)
    if image is None:
        return 2
    if args.harness:
        return _run_harness(args, image)

    def stream(f: BinaryIO) -> Callable[[bytes], None]:
        def write(data: bytes) -> None:
            f.write(data)
            f.flush()

        return write

    try:
        k = boot(init=image, argv=[args.file, *args.args], halt_when_done=True, model=args.cpu,
                 console_out=stream(sys.stdout.buffer), translate=not args.interpret, disk_image=args.disk)  # fmt: skip
    except DiskImageError as e:
        print(f"spinwb run: {e}", file=sys.stderr)
        return 2
    except FsFormatError as e:
        print(f"spinwb run: {args.disk}: {e}", file=sys.stderr)
        return 2
    k.machine.console.route_errors(stream(sys.stderr.buffer))  # fd 2 on the host's stderr, as qemu-alpha does
    for path in args.ext:
        try:
            k.system.load(read_extension(path), path, importer="root")  # the owner at the command line
        except ValueError as e:
            print(f"spinwb run: {e}", file=sys.stderr)
            return 2
        except SpinError as e:
            print(f"spinwb run: extension refused: {e}", file=sys.stderr)
            return 2
    disk_before = hashlib.sha256(k.machine.disk.data).digest() if k.machine.disk is not None else b""
    stdin = sys.stdin.buffer
    k.console_input = stdin.read1 if hasattr(stdin, "read1") else stdin.read  # type: ignore[union-attr]
    t0 = time.perf_counter()
    try:
        why = k.run(args.max_instructions)
    except KeyboardInterrupt:  # Ctrl-C: what ran so far is still worth its figures
        why = "interrupted"
    host = time.perf_counter() - t0
    status = k.exit_status if k.exit_status is not None else 0
    if args.disk and not _save_disk(k, args.disk, disk_before):
        status = status or 1
    if why == "budget":
        status, k.exit_message = 124, f"stopped after {k.machine.cpu.icount} instructions (--max-instructions)"
    elif why == "interrupted":
        status, k.exit_message = 130, f"interrupted (Ctrl-C) after {k.machine.cpu.icount} instructions"
    elif why != "all processes exited":
        status, k.exit_message = 125, f"the machine stopped: {why}"
    if k.exit_message:
        print(f"spinwb run: {k.exit_message}", file=sys.stderr)
    if args.stats:
        from kernel import inspect  # lazy: 30 ms (the packet and trace rows) that a plain run does not need

        c = inspect.counters(k)
        stats = {"instructions": c.instructions, "cycles": c.cycles, "host_seconds": round(host, 6),
                 "mips": round(c.instructions / host / 1e6, 3) if host > 0 else 0.0, "syscalls": c.syscalls,
                 "faults": c.faults, "switches": c.switches, "crossings": c.crossings, "ticks": c.ticks}  # fmt: skip
        print(json.dumps(stats), file=sys.stderr)
    return status


def _save_disk(k: Any, path: str, before: bytes) -> bool:
    """The run's writes to the image file: the file system's dirty chunks
    and directory go to the disk (polled), then the image replaces the file
    at once (a crash of the host leaves the old image or the new). A program
    that crashed still had its writes in the cache: they are kept too."""
    import hashlib

    from kernel.fs.extentfs import DiskIOError
    from machine.hostfile import HostFileError, replace_bytes

    disk = k.machine.disk
    try:
        if k.fs is not None:
            k.fs.flush_polled()
    except DiskIOError as e:
        print(f"spinwb run: {path}: not all writes reached the disk: {e}", file=sys.stderr)
        return False
    if disk is None or hashlib.sha256(disk.data).digest() == before:
        return True
    try:
        replace_bytes(path, bytes(disk.data))
    except HostFileError as e:
        print(f"spinwb run: cannot save the disk's writes: {e}", file=sys.stderr)
        return False
    return True


def _run_harness(args: argparse.Namespace, image: ElfImage) -> int:
    """The CPU issue's one-process harness (no kernel), kept for comparison."""
    import json
    import time

    from machine.usermode import ExitInfo, UserProgram, default_streams

    stdin, stdout, stderr = default_streams()
    proc = UserProgram(image, [args.file, *args.args], model=args.cpu, stdin=stdin, stdout=stdout,
                   stderr=stderr, translate=not args.interpret)  # fmt: skip
    t0 = time.perf_counter()
    try:
        info = proc.run(args.max_instructions)
    except KeyboardInterrupt:
        info = ExitInfo(130, 0, f"interrupted (Ctrl-C) after {proc.cpu.icount} instructions")
    host = time.perf_counter() - t0
    if info.message:
        print(f"spinwb run: {info.message}", file=sys.stderr)
    if args.stats:
        n = proc.cpu.icount
        stats = {"instructions": n, "cycles": proc.cpu.cycles, "host_seconds": round(host, 6),
                 "mips": round(n / host / 1e6, 3) if host > 0 else 0.0}  # fmt: skip
        print(json.dumps(stats), file=sys.stderr)
    return info.status


def _disasm(args: argparse.Namespace) -> int:
    import bisect

    from machine.alpha.disasm import listing

    image = _read_image("disasm", args.file, program=False)
    if image is None:
        return 2
    labels = image.labels()
    names = sorted(labels.items())

    def symbolize(addr: int) -> str | None:
        i = bisect.bisect_right(names, (addr, "\uffff")) - 1
        if i < 0:
            return None
        base, name = names[i]
        return name if base == addr else f"{name}+{addr - base:#x}"

    print(f"\n{args.file}:     file format elf64-alpha\n")
    sections = image.text_sections() or [None]
    for sec in sections:
        if sec is None:  # no section headers: disassemble executable segments
            segs = [s for s in image.segments if s.flags & 1]
            chunks = [(s.vaddr, s.data) for s in segs]
            name = "(executable segments)"
        else:
            chunks = [(sec.addr, sec.data)]
            name = sec.name
        print(f"\nDisassembly of section {name}:")
        for base, data in chunks:
            words = [(base + i, int.from_bytes(data[i : i + 4], "little")) for i in range(0, len(data) - 3, 4)]
            for line in listing(words, symbolic=args.objdump, labels=labels, symbolize=symbolize):
                print(line)
    return 0


def _asm(args: argparse.Namespace) -> int:
    from machine.alpha.asm import AsmError, assemble_file  # lazy: 10 ms on every start, for one subcommand

    try:
        assemble_file(args.file, args.output)
    except AsmError as e:  # FILE:LINE: message, or FILE: what is wrong with reading or writing it
        print(str(e), file=sys.stderr)
        return 2
    return 0


def _stream_list(text: str) -> tuple[int, ...]:
    """--streams: "1,3,5" -> (1, 3, 5); each from 1 to the video server's client bound (videoworld.MAX_CLIENTS)."""
    from kernel.net.videoworld import MAX_CLIENTS

    try:
        out = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of stream counts") from None
    if not out or len(out) > 16 or any(not 1 <= n <= MAX_CLIENTS for n in out):
        raise argparse.ArgumentTypeError(f"{text!r}: 1 to 16 stream counts, each from 1 to {MAX_CLIENTS}")
    return out


def _bench(args: argparse.Namespace) -> int:
    from workbench.bench import main as bench

    return bench.main(args)


def _shell(args: argparse.Namespace) -> int:
    from workbench.shell.prompt import run_shell  # lazy: prompt_toolkit takes 140 ms

    return run_shell(args.scenario, args.seed)


def _serve(args: argparse.Namespace) -> int:
    from workbench.cli.serve import serve

    return serve(args.host, args.port, args.scenario, args.seed, max_sessions=args.max_sessions,
                 public_url=args.public_url)  # fmt: skip


RUN_TEXT = {
    "usage": "spinwb run [OPTIONS] PROGRAM.elf [--] [ARGS...]",
    "description": "Boot the SPIN kernel with PROGRAM.elf as its first process and run it to the end. The program's "
    "stdin is yours (reading waits for you to type; Ctrl-D or the end of a pipe is its end of file), its fd 1 goes to "
    "stdout and its fd 2 to stderr, as under qemu-alpha; its exit status is spinwb's (128 + N for signal N).",
    "epilog": "Arguments after PROGRAM.elf are the program's, flags too (spinwb run prog.elf -x --y), except the "
    "options listed here, which may also follow it; everything after -- is the program's, even these "
    "(spinwb run prog.elf -- --stats). Ctrl-C stops the run (exit 130), with --stats printed so far.",
}


class RunParser(Parser):
    """`spinwb run`'s own parser: an unknown option or no program shows run's
    usage, not spinwb's; a bad value of a known option stays one line."""

    def error(self, message: str) -> NoReturn:
        if "required" in message:
            message = "name the program to run"
        if message.startswith(("unrecognized", "name the program")):
            self.print_usage(sys.stderr)
        self.exit(2, f"spinwb run: {message} (see spinwb run --help)\n")


def _run_arguments(r: argparse.ArgumentParser) -> argparse.ArgumentParser:
    r.add_argument("file", metavar="PROGRAM.elf", help="a static Alpha ELF (built with make, spinwb asm or spinwb cc)")
    r.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="the program's arguments (argv[1:])")
    r.add_argument("--cpu", choices=sorted(CPU_MODELS), default=DEFAULT_CPU,
                   help=f"CPU model (default {DEFAULT_CPU}, the 21064); ev56 adds BWX, ev67 adds CIX/FIX/MVI")  # fmt: skip
    r.add_argument("--stats", action="store_true", help="print a JSON line of counters on stderr at the end")
    r.add_argument("--ext", action="append", default=[], metavar="FILE",
                   help="load an extension into the booted kernel before the program starts (repeatable)")  # fmt: skip
    r.add_argument("--max-instructions", type=int_in(1), default=None, metavar="N", help="stop after N instructions")
    r.add_argument("--interpret", action="store_true", help="use the reference interpreter, not the translator")
    r.add_argument("--disk", metavar="IMAGE",
                   help="attach a disk with an extent file system (see spinwb mkfs); what the run writes on it goes "
                   "back to IMAGE when the run ends")  # fmt: skip
    r.add_argument("--harness", action="store_true",
                   help="run without the kernel, in the one-process harness (for comparison)")  # fmt: skip
    r.set_defaults(fn=_run, command="run")
    return r


def run_parser() -> RunParser:
    return _run_arguments(RunParser(prog="spinwb run", **RUN_TEXT))  # type: ignore[return-value]


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="spinwb", description="SPIN Workbench: the SPIN extensible kernel on an "
               "emulated DEC Alpha. With no command, opens the terminal workbench; `spinwb FILE.elf [ARGS...]` "
               "opens it booted with that program as init.")  # fmt: skip
    sub = p.add_subparsers(dest="command")
    _run_arguments(sub.add_parser("run", help="run a static Alpha ELF program", **RUN_TEXT))
    f = sub.add_parser("mkfs", help="build an extent file-system image from host files")
    f.add_argument("output", metavar="IMAGE")
    f.add_argument("files", nargs="+", metavar="[NAME=]PATH",
                   help="a file, or a directory whose tree goes in (at the top, or under NAME)")  # fmt: skip
    f.add_argument("--free", metavar="SIZE", default="32K", type=_size_arg,
                   help="free space to leave for the programs' writes (bytes, or with K or M; default 32K)")  # fmt: skip
    f.set_defaults(fn=_mkfs)
    d = sub.add_parser("disasm", help="disassemble an Alpha ELF, objdump style")
    d.add_argument("file")
    d.add_argument("--objdump", action="store_true", help="objdump's symbolic register names (v0, sp, ...)")
    d.set_defaults(fn=_disasm)
    a = sub.add_parser("asm", help="assemble GNU-as-syntax Alpha source into a static ELF")
    a.add_argument("file")
    a.add_argument("-o", "--output", default="a.out")
    a.set_defaults(fn=_asm)
    b = sub.add_parser("bench", help="print performance figures")
    b.add_argument(
        "what",
        choices=[
            "cpu",
            "lessons",
            "mmu",
            "dispatch",
            "vm",
            "threads",
            "net",
            "web",
            "ui",
            "video",
            "files",
            "specialize",
            "feedback",
            "macro",
        ],
        help="cpu: guest MIPS of each CPU tier and qemu-alpha on general-code workloads, instructions per block; "
        "lessons: each lesson headless from process start, and --help; mmu: paged vs unmapped; dispatch: event raise costs; "
        "vm: SOSP'95 Table 4 the UNIX way and the SPIN way; threads: Table 3, kernel and user threads; "
        "net: §5.5's guard experiment and Tables 5 and 6 on emulated machines joined by a wire; "
        "web: §5.4's web server, the extension vs a user-level server, and its cache policies; "
        "ui: the workbench's input-to-repaint latency while the machine runs; "
        "video: SOSP'95 Figure 6, the video server's utilization against streams, SPIN vs the OSF/1 way; "
        "files: Poking Holes' Tables 1-3, write against mmap and the hidden cost of O_TRUNC; "
        "specialize: Synthetix's specialized read against the generic one, per read size, with the replug's cost; "
        "feedback: Synthetix §3.2, read-ahead whose window a feedback loop sets, undamped and damped; "
        "macro: Poking Holes §3.2, one macro call as trusted kernel code, a verified extension and user code",
    )
    b.add_argument("lessons", nargs="*", metavar="LESSON", help="lessons: the lessons to time (default: all)")
    b.add_argument("--ops", type=int_in(1, MAX_OPS), default=None,
                   help="vm, threads, net, specialize: operations of each kind per run (default 200); web: requests per cached-file "
                   "figure (default and at most 60); ui: key presses (default and at most 200)")  # fmt: skip
    b.add_argument("--json", action="store_true")
    b.add_argument(
        "--no-chart",
        action="store_true",
        help="vm, threads, net, web, specialize, feedback: leave out the charts below the numbers",
    )
    b.add_argument("--rounds", type=int_in(1, MAX_OPS), default=None,
                   help="cpu: the bench program's rounds, the other workloads scaled alike (default 25 = about 5M "
                   "instructions each); mmu: bench program rounds (default 100 = about 20M instructions)")  # fmt: skip
    b.add_argument("--runs", type=int_in(1, 100), default=3,
                   help="cpu, lessons: runs of each measurement, the median reported (default 3)")  # fmt: skip
    b.add_argument("--streams", type=_stream_list, default=None,
                   help="video: stream counts, comma-separated (default 1,3,...,15; each 1 to the server's client bound)")  # fmt: skip
    b.add_argument(
        "--device",
        choices=["dma", "pio"],
        default="dma",
        help="video: the server's interface, DMA (T3-like, default) or programmed I/O (Lance-like)",
    )
    b.set_defaults(fn=_bench)
    cc.add_parser(sub)
    netrun.add_parser(sub)
    profile.add_parser(sub)
    scenario.add_parser(sub)
    web.add_parser(sub)
    sh = sub.add_parser("shell", help="the workbench's commands at a prompt (history, completion, tables)")
    sh.add_argument("--scenario", type=scenario_arg, metavar="NAME|FILE", help="open a lesson (then: scenario step)")
    sh.add_argument("--seed", type=SEED, default=0)
    sh.set_defaults(fn=_shell)
    sv = sub.add_parser("serve", help="serve the workbench to browsers (textual-serve), one workbench per browser")
    sv.add_argument("--port", type=int_in(1, 65535), default=8000)
    sv.add_argument("--host", default="localhost", help="the address to listen on (0.0.0.0 for a classroom)")
    sv.add_argument("--scenario", type=scenario_arg, metavar="NAME|FILE", help="open this lesson in every browser")
    sv.add_argument("--seed", type=SEED, default=0)
    sv.add_argument("--max-sessions", type=int_in(1, 10_000), default=None, metavar="N",
                    help="at most N browsers at once; the next is told the classroom is full")  # fmt: skip
    sv.add_argument("--public-url", metavar="URL",
                    help="the address the page's URLs name, behind a proxy (default: the one each browser used)")  # fmt: skip
    sv.set_defaults(fn=_serve)
    e = sub.add_parser("ext", help="extensions: check one with the verifier")
    esub = e.add_subparsers(dest="ext_command", required=True)
    ec = esub.add_parser("check", help="verify extension files; exit 0 accepted, 1 rejected, 2 unreadable")
    ec.add_argument("files", nargs="+", metavar="FILE.py")
    ec.add_argument("--trusted", action="store_true", help="allow SpinTrusted interfaces too")
    ec.set_defaults(fn=_ext_check)
    return p


def _size_arg(text: str) -> int:
    """A size as mkfs --free takes it: 4096, 64K, 2M."""
    t = text.strip().upper()
    scale = {"K": 1024, "M": 1024 * 1024}.get(t[-1:], 1)
    digits = t[:-1] if scale > 1 else t
    if not digits.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (write bytes, or a number with K or M: 64K)")
    return int(digits) * scale


def _mkfs(args: argparse.Namespace) -> int:
    from kernel.fs.format import FsFormatError, image_from_paths, read_image
    from machine.hostfile import HostFileError, write_bytes
    from workbench.views import plural

    try:
        image = image_from_paths(args.files, spare_blocks=-(-args.free // 512))
        write_bytes(args.output, image)
    except (FsFormatError, HostFileError) as e:
        print(f"spinwb mkfs: {e}", file=sys.stderr)
        return 2
    entries = read_image(image)
    print(f"{args.output}: {plural(len(image) // 512, 'block')}, {plural(len(entries), 'file')}")
    for e in entries:
        print(f"  /{e.name:<24} {e.size:>9} bytes  blocks {e.block}..{e.block + e.nblocks - 1}  {e.mode:o}")
    return 0


def _ext_check(args: argparse.Namespace) -> int:
    from workbench.cli import extcheck

    return extcheck.run(args)


def _take_run_options(args: argparse.Namespace) -> str | None:
    """`spinwb run FILE [ARGS...] [--stats] [--max-instructions N]`: our options
    may follow the program's arguments, any other flag is the program's;
    everything after `--` is the program's."""
    rest, prog = list(args.args), []
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--":
            prog += rest[i + 1 :]
            break
        name, eq, value = a.partition("=")
        if name in ("--stats", "--interpret", "--harness") and not eq:
            setattr(args, name[2:], True)
        elif name in ("--max-instructions", "--cpu", "--disk", "--ext"):
            if not eq:
                if i + 1 >= len(rest):
                    return f"{name} needs a value"
                value = rest[i + 1]
                i += 1
            if name == "--disk":
                args.disk = value
            elif name == "--ext":
                args.ext.append(value)
            elif name == "--cpu":
                if value not in CPU_MODELS:
                    return f"unknown CPU model {value!r} (choose from {', '.join(sorted(CPU_MODELS))})"
                args.cpu = value
            else:
                try:
                    args.max_instructions = int_in(1)(value)
                except argparse.ArgumentTypeError as e:
                    return f"argument --max-instructions: {e}"
        else:
            prog.append(a)
        i += 1
    args.args = prog
    return None


def _open_elf(path: str, args: list[str]) -> int:
    """`spinwb FILE.elf [ARGS...]`: the workbench booted with that program as init."""
    from workbench.session import Session, SessionError  # lazy, as the TUI is

    try:
        session = Session.of_program(path, args)
    except SessionError as e:
        print(f"spinwb: {e}", file=sys.stderr)
        return 2
    from workbench.tui.app import Workbench

    Workbench(session=session).run()
    return 0


def _names_a_program(parser: argparse.ArgumentParser, word: str) -> bool:
    """A first word that is no command but a path (`spinwb hello.elf`, `spinwb ./a.out`)."""
    commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return not word.startswith("-") and word not in commands and ("/" in word or "." in word or os.path.exists(word))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Built once (a build is about 10 ms, twice was a tenth of a short lesson), and not for `run`, which has its own.
    parser = None if argv[:1] == ["run"] else build_parser()
    if argv and parser is not None and _names_a_program(parser, argv[0]):
        return _open_elf(argv[0], argv[1:])
    after: list[str] = []
    if argv[:1] == ["run"] and "--" in argv:  # argparse would swallow the `--`
        cut = argv.index("--")
        argv, after = argv[:cut], argv[cut + 1 :]
    args = run_parser().parse_args(argv[1:]) if parser is None else parser.parse_args(argv)
    if args.command is None:
        from workbench.tui.app import run_app  # lazy: Textual takes 600 ms, which no subcommand needs

        return run_app()
    if args.command == "run":
        err = _take_run_options(args)
        if err:
            print(f"spinwb run: {err}", file=sys.stderr)
            return 2
        args.args += after
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `spinwb ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
