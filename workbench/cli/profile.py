"""`spinwb profile PROG.elf [ARGS...]`: a program's system calls, strace-like,
with modeled time and crossings, and the macro calls its sequences suggest.

Poking Holes §4.2 found Squid's open-write-close with strace and timed it
with hrprof; this does both on the emulated machine, from the kernel's
Syscall records (kernel/profile.py does the arithmetic). The program runs
as under `spinwb run` -- same boot, same disk and extensions -- with its
own output on stderr, so the report on stdout can be piped or saved.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.cli.args import int_in, read_extension

if TYPE_CHECKING:  # the functions import the kernel themselves: `spinwb --help` builds this parser without one
    from kernel import profile as P
    from kernel.sys.trace import Record

CALLS_MAX = 1_000_000  # calls a profile keeps (a longer run's are counted, not kept)
TOP = 5


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "profile",
        help="run a program and profile its system calls (strace-like, modeled time, macro-call candidates)",
        description="Run PROGRAM.elf under the SPIN kernel as `spinwb run` does and report its system calls: one "
        "strace-like line each with modeled time, a summary per call, the most frequent call sequences per process "
        "(ranked by count x crossings saved) and the macro calls they suggest (Poking Holes §4-5). The program's own "
        "output goes to stderr; the report to stdout. Options come before PROGRAM.elf.",
    )
    p.add_argument("file", metavar="PROGRAM.elf", nargs="?")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="the program's arguments (argv[1:])")
    p.add_argument("--disk", metavar="IMAGE", help="attach a disk with an extent file system (see spinwb mkfs)")
    p.add_argument("--ext", action="append", default=[], metavar="FILE",
                   help="load an extension before the program starts (repeatable), e.g. extensions/macro_calls.py")  # fmt: skip
    p.add_argument("--top", type=int_in(1, 100), default=TOP, metavar="N",
                   help=f"sequences and candidates to list (default {TOP})")  # fmt: skip
    p.add_argument("--no-trace", action="store_true", help="leave out the per-call lines")
    p.add_argument("--json", action="store_true", help="the report as one JSON object")
    p.add_argument("--max-instructions", type=int_in(1), default=2_000_000_000, metavar="N",
                   help="stop the program after N instructions (default 2e9)")  # fmt: skip
    p.set_defaults(fn=run, command="profile")


def _fail(message: str) -> int:
    print(f"spinwb profile: {message}", file=sys.stderr)
    return 2


def collect(k: Any) -> tuple[list[Record], list[int]]:
    """Every Syscall record from now on (the trace ring keeps only the last
    ones), and a one-item list counting those past CALLS_MAX."""
    from kernel.sys.trace import Syscall

    kept: list[Record] = []
    dropped = [0]
    before: Callable[[Record], None] | None = k.trace.watch

    def watch(r: Record) -> None:
        if isinstance(r, Syscall):
            if len(kept) < CALLS_MAX:
                kept.append(r)
            else:
                dropped[0] += 1
        if before is not None:
            before(r)

    k.trace.watch = watch
    return kept, dropped


def run(args: argparse.Namespace) -> int:
    import json

    from kernel import profile as P
    from kernel.boot import boot
    from kernel.fs.format import FsFormatError
    from kernel.sys.errors import SpinError
    from machine.disk import DiskImageError
    from machine.elf import ElfError, read_program

    if not args.file:
        return _fail("name the program to profile (see spinwb profile --help)")
    try:
        image = read_program(args.file)
    except ElfError as e:
        return _fail(str(e))

    def err(data: bytes) -> None:
        sys.stderr.buffer.write(data)
        sys.stderr.flush()

    try:
        k = boot(init=image, argv=[args.file, *args.args], halt_when_done=True, console_out=err,
                 disk_image=args.disk)  # fmt: skip
    except DiskImageError as e:
        return _fail(str(e))
    except FsFormatError as e:
        return _fail(f"{args.disk}: {e}")
    k.machine.console.route_errors(err)
    for path in args.ext:
        try:
            k.system.load(read_extension(path), path, importer="root")
        except ValueError as e:
            return _fail(str(e))
        except SpinError as e:
            return _fail(f"extension refused: {str(e).splitlines()[0]}")
    k.console_eof = True  # no input: a profile is not interactive
    kept, dropped = collect(k)
    try:
        why = k.run(args.max_instructions)
    except KeyboardInterrupt:
        why = "interrupted"
    prof = P.Profile(P.calls(kept), k.sal.now, k.sal.crossings, dropped[0])
    status = k.exit_status if k.exit_status is not None else 0
    message = k.exit_message
    if why == "budget":
        status, message = 124, f"stopped after {k.machine.cpu.icount} instructions (--max-instructions)"
    elif why == "interrupted":
        status, message = 130, "interrupted (Ctrl-C)"
    elif why != "all processes exited":
        status, message = 125, f"the machine stopped: {why}"
    print(json.dumps(as_json(prof, args.top, status)) if args.json else report(prof, args.top, not args.no_trace))
    if message:
        print(f"spinwb profile: {args.file}: {message}", file=sys.stderr)
    return status


def as_json(prof: P.Profile, top: int, status: int) -> dict[str, Any]:
    from dataclasses import asdict

    from kernel import profile as P
    from kernel.core.costs import CLOCK_MHZ

    seqs = prof.seqs[:top]
    return {
        "clock_mhz": CLOCK_MHZ,
        "status": status,
        "run_cycles": prof.run_cycles,
        "crossings": prof.crossings,
        "syscall_cycles": prof.syscall_cycles,
        "dropped": prof.dropped,
        "calls": [
            {**asdict(c), "args": list(c.args), "micros": round(c.micros, 3), "line": P.strace_line(c)}
            for c in prof.calls
        ],  # fmt: skip
        "summary": [asdict(r) for r in prof.rows],
        "sequences": [_seq(s) for s in seqs],
        "candidates": [_seq(s) for s in P.candidates(prof.seqs, top)],
    }


def _seq(s: P.Sequence) -> dict[str, Any]:
    from kernel.core.costs import micros

    return {"calls": list(s.calls), "name": s.name, "count": s.count, "pids": list(s.pids),
            "self_contained": s.self_contained, "crossings_saved": s.count * s.crossings_saved,
            "micros_saved": round(s.micros_saved, 3), "copies_saved": 2 * s.copies * s.count,
            "micros": round(micros(s.cycles), 3), "known": s.known}  # fmt: skip


def report(prof: P.Profile, top: int, trace: bool) -> str:
    from kernel import profile as P
    from kernel.core.costs import CLOCK_MHZ, micros

    out: list[str] = []
    pids = len({c.pid for c in prof.calls}) > 1
    if trace:
        out += [P.strace_line(c, pids) for c in prof.calls]
        if prof.dropped:
            out.append(f"... and {prof.dropped:,} calls more (the profile keeps {CALLS_MAX:,})")
        out.append("")
    total = prof.syscall_cycles
    share = f"{100 * total / prof.run_cycles:.1f}%" if prof.run_cycles else "n/a"
    out.append(f"{len(prof.calls):,} system calls, {micros(total):,.1f} µs modeled ({share} of the run's "
               f"{micros(prof.run_cycles):,.1f} µs at {CLOCK_MHZ} MHz), {prof.crossings:,} crossings")  # fmt: skip
    out.append(f"  {'% time':>7} {'µs total':>11} {'µs mean':>9} {'calls':>7} {'errors':>6} {'entries':>7}  call")
    for r in prof.rows:
        out.append(f"  {100 * r.share:>6.1f}% {r.micros:>11,.1f} {r.mean_micros:>9.1f} {r.count:>7,} {r.errors:>6,} "
                   f"{r.entries:>7,}  {r.name}")  # fmt: skip
    out.append("  µs: modeled, from a call's first entry to its return (waits for the disk included); entries: kernel")
    out.append("  entries it took (a call that blocks restarts: one entry more each time).")
    out.append("")
    seqs = prof.seqs[:top]
    out.append(f"Most frequent call sequences (per process, n = 2..4, ranked by count x crossings saved; top {top}):")
    if not seqs:
        out.append("  none: no sequence of calls occurs twice")
    else:
        out.append(f"  {'sequence':<34} {'count':>6} {'crossings saved':>16} {'µs saved':>10} {'copies':>7}  contained")
        for s in seqs:
            out.append(f"  {' → '.join(s.calls):<34} {s.count:>6,} {s.count * s.crossings_saved:>16,} "
                       f"{s.micros_saved:>10,.1f} {2 * s.copies * s.count:>7,}  {'yes' if s.self_contained else 'no'}")  # fmt: skip
        out.append(f"  crossings saved: 2n - 2 an occurrence (one entry and return instead of n); µs saved: at most, "
                   f"{P.ENTRY_CYCLES} modeled")  # fmt: skip
        out.append("  cycles an entry and return (PAL, trap, dispatch); copies: bytes' round trips through user memory")
        out.append(
            "  (a read into a buffer, then a write or send from it), 2 copies each; contained: opens only what it"
        )
        out.append("  closes and closes only what it opened -- a macro call can do it alone.")
    out.append("")
    cands = P.candidates(prof.seqs, top)
    out.append("Candidate macro calls:")
    if not cands:
        out.append("  none: no self-contained sequence occurs twice")
    for s in cands:
        line = (f"  {s.name}(...) = {' → '.join(s.calls)}: {s.count:,} uses, {s.count * s.crossings_saved:,} crossings "
                f"and up to {s.micros_saved:,.1f} µs fewer")  # fmt: skip
        if s.copies:
            line += f", {2 * s.copies * s.count:,} copies fewer"
        out.append(line)
        if s.known:
            out.append(f"      offered by {s.known}")
    return "\n".join(out)
