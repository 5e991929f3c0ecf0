"""`spinwb bench WHAT`: runs the bench named; the mmu bench (host MIPS, paged against unmapped) is here, each other
bench a module."""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from machine.elf import read_elf
from machine.paged import boot_program
from machine.usermode import UserProgram

PROGRAMS = Path(__file__).resolve().parents[2] / "scenarios" / "programs" / "bin"
MMU_ROUNDS = 100  # mmu's --rounds when not given: about 20M instructions
OPS = 200  # --ops when not given: operations of each kind (vm, threads, net), key presses (ui, at most)
WEB_OPS = 60  # web: requests per cached-file figure, when not given and at most (each is a whole HTTP exchange)


def _timed(run: Callable[[], object], instructions: Callable[[], int]) -> dict[str, object]:
    """Run, and report instructions, host seconds and MIPS."""
    t0 = time.perf_counter()  # host-time ok: a benchmark
    run()
    dt = time.perf_counter() - t0
    n = instructions()
    return {"instructions": n, "host_seconds": round(dt, 3), "mips": round(n / dt / 1e6, 2)}


def _line(label: str, fig: dict[str, object], extra: str = "") -> str:
    return (f"  {label:<12} {fig['instructions']:>12,} instructions  {fig['host_seconds']:>8.3f} s  "
            f"{fig['mips']:>7.2f} MIPS{extra}")  # fmt: skip


def bench_mmu(rounds: int) -> dict[str, object]:
    """The same program unmapped (user-mode harness) and paged (whole machine:
    MMU, TBs, user mode, the 1024 Hz timer)."""
    elf = PROGRAMS / "bench-ev4.elf"
    image = read_elf(elf)
    out: dict[str, object] = {"program": elf.name, "rounds": rounds}
    proc = UserProgram(image, [str(elf), str(rounds)], stdout=io.BytesIO())
    out["unmapped"] = _timed(proc.run, lambda: proc.cpu.icount)
    m = boot_program(image, [str(elf), str(rounds)])
    paged = _timed(m.run, lambda: m.cpu.icount)
    paged.update(stop=m.halt_reason, timer_ticks=m.ticks, itb_misses=m.mmu.itb.misses, dtb_misses=m.mmu.dtb.misses)
    out["paged"] = paged
    return out


def main(args: argparse.Namespace) -> int:
    given = args.ops
    if args.what == "web" and given is not None and given > WEB_OPS:
        print(f"spinwb bench: argument --ops: {given} is out of range for web: from 1 to {WEB_OPS} requests per "
              "cached-file figure (see spinwb bench --help)", file=sys.stderr)  # fmt: skip
        return 2
    args.ops = OPS if given is None else given
    if getattr(args, "lessons", None) and args.what != "lessons":
        print(f"spinwb bench: lesson names are for bench lessons, not bench {args.what} (see spinwb bench --help)",
              file=sys.stderr)  # fmt: skip
        return 2
    # Each bench's module is imported only when it runs: `spinwb` imports this module on every start,
    # and the benches cost 4-30 ms each to import (ui's Textual, 300 ms).
    if args.what == "cpu":
        from workbench.bench import cpu

        try:
            res = cpu.bench(cpu.DEFAULT_ROUNDS if args.rounds is None else args.rounds, args.runs)
        except RuntimeError as e:  # a workload that did not run as it must (its exit, its instruction count)
            print(f"spinwb bench cpu: {e}", file=sys.stderr)
            return 1
        print(json.dumps(res) if args.json else "\n".join(cpu.report(res)))
        return 0
    if args.what == "lessons":
        from workbench.bench import lessons

        return lessons.main(args.json, args.lessons, args.runs)
    if args.what == "dispatch":
        from workbench.bench import dispatch

        return dispatch.main(args.json)
    if args.what == "net":
        from workbench.bench import net

        return net.main(args.json, args.ops, not getattr(args, "no_chart", False))
    if args.what == "web":
        from workbench.bench import web

        return web.main(args.json, WEB_OPS if given is None else given, not getattr(args, "no_chart", False))
    if args.what == "video":
        from workbench.bench import video

        streams = args.streams or video.DEFAULT_STREAMS
        return video.main(args.json, streams, args.device, not getattr(args, "no_chart", False))
    if args.what == "files":
        from workbench.bench import files

        return files.main(args.json)
    if args.what == "threads":
        from workbench.bench import threads

        return threads.main(args.json, args.ops, not getattr(args, "no_chart", False))
    if args.what == "specialize":
        from workbench.bench import specialize

        return specialize.main(args.json, args.ops, not getattr(args, "no_chart", False))
    if args.what == "ui":
        from workbench.bench import ui

        return ui.main(args.json, min(args.ops, 200))
    if args.what == "feedback":
        from workbench.bench import feedback

        return feedback.main(args.json, not getattr(args, "no_chart", False))
    if args.what == "macro":
        from workbench.bench import macro

        return macro.main(args.json, 50 if given is None else min(given, 1000))
    if args.what == "vm":
        from workbench.bench import vm

        return vm.main(args.json, args.ops, not getattr(args, "no_chart", False))
    res = bench_mmu(MMU_ROUNDS if args.rounds is None else args.rounds)
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"spinwb bench {args.what} — {res['program']}, {res['rounds']} rounds (host time)")
    u, p = res["unmapped"], res["paged"]
    assert isinstance(u, dict) and isinstance(p, dict)
    print(_line("unmapped", u))
    print(_line("paged", p, f"   ({p['timer_ticks']} timer ticks, ITB misses {p['itb_misses']}, "
                            f"DTB misses {p['dtb_misses']})"))  # fmt: skip
    print(f"  paging costs {100 * (u['mips'] / p['mips'] - 1):+.1f}% over unmapped (target: at most about +30%)")
    return 0
