"""`spinwb net`: boot N workstations on one wire and run programs and
extensions on them -- the command-line way into kernel/net/topology.py.

    spinwb net --hosts 2 --ext 2:extensions/udp_echo.py \\
        --run "1:scenarios/programs/bin/udp_rtt.elf 10.0.0.2 7 5" --pcap run.pcap

Hosts are numbered from 1 (host i is 10.0.0.i), as in the shell's `host`. Each host's console output
is printed with its address in front; the run ends when every program has
exited, or at --until-ms of virtual time.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from workbench.cli.args import SEED, float_in, int_in, read_extension

MAX_HOSTS = 16
EXAMPLE = 'spinwb net --ext 2:extensions/udp_echo.py --run "1:scenarios/programs/bin/udp_rtt.elf 10.0.0.2 7 5"'


def _host(spec: str, n: int, what: str) -> tuple[int, str]:
    head, sep, rest = spec.partition(":")
    if not sep or not head.isdigit() or not 1 <= int(head) <= n:
        raise ValueError(f"{what} {spec!r}: write HOST:..., HOST a number from 1 to {n}")
    return int(head) - 1, rest


def main(args: argparse.Namespace) -> int:
    from kernel.core.probe import install_probe  # lazy: `spinwb --help` builds this parser without a kernel
    from kernel.net.topology import Network
    from kernel.sys.errors import SpinError
    from machine.elf import ElfError, read_program
    from machine.hostfile import write_error
    from workbench.views import plural

    n = args.hosts
    if not 1 <= n <= MAX_HOSTS:
        print(f"spinwb net: --hosts {n}: from 1 to {MAX_HOSTS}", file=sys.stderr)
        return 2
    if args.stray:  # `spinwb net prog.elf`: a program is given to a host with --run
        print(f"spinwb net: {args.stray[0]!r}: give each program to a host with --run \"HOST:FILE.elf ARGS\" "
              f"(host 1 is 10.0.0.1), e.g. {EXAMPLE}", file=sys.stderr)  # fmt: skip
        return 2
    try:
        programs = {}
        for spec in args.run:
            i, cmd = _host(spec, n, "--run")
            try:
                words = shlex.split(cmd)
            except ValueError as e:  # an unclosed quote
                raise ValueError(f"--run {spec!r}: {str(e).lower()}") from None
            if not words:
                raise ValueError(f"--run {spec!r}: name a program after the host")
            if i in programs:
                raise ValueError(f"--run: host {i + 1} already runs a program (init runs one)")
            programs[i] = (read_program(words[0]), [Path(words[0]).stem, *words[1:]])
        exts = []
        for spec in args.ext:
            i, path = _host(spec, n, "--ext")
            if not path:
                raise ValueError(f"--ext {spec!r}: name an extension file after the host")
            exts.append((i, path, read_extension(path)))
    except (ValueError, ElfError) as e:
        print(f"spinwb net: {e}", file=sys.stderr)
        return 2
    if not programs:  # without one, nothing would end the run but --until-ms
        print(f"spinwb net: no program to run: give a host one with --run \"HOST:FILE.elf ARGS\" "
              f"(host 1 is 10.0.0.1), e.g. {EXAMPLE}", file=sys.stderr)  # fmt: skip
        return 2
    try:
        net = Network(n, programs=programs, loss=args.loss, seed=args.seed, pcap=args.pcap)
    except OSError as e:  # the pcap file: opened first, before any host boots
        if args.pcap is None:
            raise
        print(f"spinwb net: --pcap {write_error(args.pcap, e)}", file=sys.stderr)
        return 2
    for k in net.hosts:  # the measuring programs' probe (udp_rtt's crossings=), as `spinwb bench net` has it
        install_probe(k)
    for i, path, source in exts:
        try:
            net.hosts[i].system.load(source, path, importer="root")  # the owner at the command line
        except SpinError as e:
            print(f"spinwb net: host {i + 1}: extension refused: {e}", file=sys.stderr)
            return 2
    printed = [0] * n  # console bytes already shown, per host
    said = [0] * n  # kernel console lines (extensions' Console.Print) already shown, per host

    def flush() -> None:
        for i, k in enumerate(net.hosts):
            out = bytes(k.machine.console.output)
            for line in out[printed[i] :].splitlines(keepends=True):
                if not line.endswith(b"\n"):
                    break
                sys.stdout.write(f"{net.addresses[i]:<10} {line.decode(errors='replace')}")
                printed[i] += len(line)
            for text in k.system.console[said[i] :]:
                sys.stdout.write(f"{net.addresses[i]:<10} [kernel] {text}\n")
            said[i] = len(k.system.console)

    def done() -> bool:
        flush()
        return bool(programs) and all(not k.user_strands() for k in net.hosts)

    finished = net.run_until(done, limit_us=args.until_ms * 1000, step_us=1000)
    net.close()
    for i, k in enumerate(net.hosts):
        for line in k.reports:
            print(f"{net.addresses[i]:<10} {line}", file=sys.stderr)
    if args.stats:
        for i, k in enumerate(net.hosts):
            stats = ", ".join(f"{key} {v}" for key, v in k.net.stats().items() if v)
            print(f"{net.addresses[i]}: {stats}", file=sys.stderr)
    if args.pcap:
        print(f"spinwb net: {plural(net.wire.carried, 'frame')} written to {args.pcap}", file=sys.stderr)
    if programs and not finished:
        print(f"spinwb net: stopped at {args.until_ms} ms of virtual time with programs still running",
              file=sys.stderr)  # fmt: skip
        return 124
    statuses = [net.hosts[i].exit_status or 0 for i in programs]
    return max(statuses, default=0)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("net", help="boot workstations on one Ethernet and run programs and extensions on them")
    p.add_argument("--hosts", type=int_in(1, MAX_HOSTS), default=2, help="how many (host i is 10.0.0.i)")
    p.add_argument("--run", action="append", default=[], metavar='"HOST:FILE.elf ARGS"',
                   help="host HOST's init runs this program (repeatable, one per host)")  # fmt: skip
    p.add_argument("--ext", action="append", default=[], metavar="HOST:FILE.py", help="load an extension on HOST")
    p.add_argument("--pcap", help="write every frame on the wire to this pcap file")
    p.add_argument("--loss", type=float_in(0, 1), default=0.0, help="fraction of frames the wire drops (seeded)")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--until-ms", type=float_in(0, 1e9, open_lo=True), default=10_000,
                   help="virtual time limit (default 10 s)")  # fmt: skip
    p.add_argument("--stats", action="store_true", help="print each host's network counters")
    p.add_argument("stray", nargs="*", help=argparse.SUPPRESS)  # a program named without --run: say how
    p.set_defaults(fn=main)
