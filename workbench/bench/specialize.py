"""`spinwb bench specialize`: Synthetix's specialized read (seed 003 §3.1, §4.3).

A user program (scenarios/programs/kernel/readspec.c) reads a 1 MiB file
that is already in the buffer cache and times each read with its own cycle
counter, across read sizes, two ways: on a kernel that specializes -- the
open installs read_specialized in the file's slot, and after two reads of
one size read_sequential -- and on one that does not (the slot keeps
read_generic, which walks the file table, vnode, file-system and
buffer-cache layers on every call). Everything is modeled cycles at 133 MHz
(kernel/core/costs.py); the mechanism is counted by the kernel's read path
(kernel/unix/fileread.py) over the timed reads only.

The specialization's price is paid at open: the program times its open on
both kernels, and the difference is what the crossover divides by the
saving per read. A second run opens the file a second time: that open's
guard replugs the first descriptor's read generic (the replug's cost).
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kernel.boot import boot
from kernel.core.costs import CLOCK_MHZ, REPLUG_CALL, REPLUG_SWAP, micros
from kernel.core.probe import install_probe, parse_tally
from kernel.fs.format import build_image
from machine.elf import read_elf
from workbench.bench.chart import chart

PROGRAM = Path(__file__).resolve().parents[2] / "scenarios" / "programs" / "bin" / "readspec.elf"
SIZES = (1, 64, 512, 4096, 8192, 65536)
FILE_BYTES = 1 << 20
PAPER_FACTOR = 3  # §3.1: the specialized read "can reduce the software overhead of the read system call by more than a factor of three"
PAPER_CALL = 35  # §4.3: cycles a call through a replug point adds
PAPER_REPLUG = 535  # §4.3: cycles of a replug with nobody inside (by inspection of the generated code)
_OPEN = re.compile(rb"^open cycles=(\d+) second=(\d+)$", re.M)


@dataclass
class Way:
    """One read size one way, per timed read."""

    cycles: float  # modeled cycles of the whole read call, user to user
    crossings: float  # user/kernel boundary crossings
    copies: float  # copy-outs to the user's buffer
    guard_checks: float  # invariant checks made on the read path (the specialized read's own guards)
    layers: float  # layers the generic read walked (file table, vnode, file system, buffer cache)
    replugs: float  # replugs during the timed reads (the incremental level)


def _data() -> bytes:
    return bytes((i * 7 + (i >> 8)) & 0xFF for i in range(FILE_BYTES))


def _run(image: bytes, size: int, count: int, specialize: bool, shared: bool = False) -> tuple[Way, int, int]:
    """Boot, run readspec, and count the read path's work over the timed reads."""
    out = bytearray()
    argv = ["readspec", "/data", str(size), str(count), *(["shared"] if shared else [])]
    k = boot(init=read_elf(PROGRAM), argv=argv, halt_when_done=True, console_out=out.extend, disk_image=image)
    install_probe(k)
    reads = k.personality.reads
    reads.specialize = specialize
    names = ("copies", "guard_checks", "layers", "replugs")
    start: dict[str, int] = {}
    opened = reads.opened
    opens = [0]

    def counting(p: Any, f: Any, s: Any = None) -> bool:
        ok = opened(p, f, s)
        if ok and f.kind == "file":
            opens[0] += 1
            if opens[0] == 2 + shared:  # the descriptor the program times (after the warm-up's, and the second's)
                start.update({n: getattr(reads, n) for n in names})
        return ok

    reads.opened = counting  # type: ignore[method-assign]
    k.run(2_000_000_000)
    t = parse_tally(bytes(out))
    m = _OPEN.search(bytes(out))
    if t is None or m is None or k.exit_status != 0 or not start:
        raise RuntimeError(f"readspec {size} {count}: exit {k.exit_status}, output {out.decode(errors='replace')!r}")
    per = {n: (getattr(reads, n) - start[n]) / t.ops for n in names}
    return Way(t.cycles / t.ops, t.crossings / t.ops, **per), int(m[1]), int(m[2])


def bench_specialize(count: int = 200) -> dict[str, Any]:
    image = build_image({"data": _data()})
    rows = []
    opens: dict[str, int] = {}
    for size in SIZES:
        n = max(1, min(count, FILE_BYTES // size))
        gen, opens["generic"], _ = _run(image, size, n, False)
        spec, opens["specialized"], _ = _run(image, size, n, True)
        rows.append({"size": size, "reads": n, "generic": asdict(gen), "specialized": asdict(spec),
                     "factor": round(gen.cycles / spec.cycles, 2)})  # fmt: skip
    _, _, opens["second_plain"] = _run(image, 64, 1, False, shared=True)
    _, _, opens["second_guard"] = _run(image, 64, 1, True, shared=True)
    cost = opens["specialized"] - opens["generic"]  # what specializing at open costs
    for r in rows:
        saving = r["generic"]["cycles"] - r["specialized"]["cycles"]
        r["crossover_reads"] = math.ceil(cost / saving) if saving > 0 else None
    return {
        "modeled": True,
        "clock_mhz": CLOCK_MHZ,
        "file_bytes": FILE_BYTES,
        "rows": rows,
        "open_cycles": opens,
        "specialize_cost_cycles": cost,
        "replug_at_second_open_cycles": opens["second_guard"] - opens["second_plain"],
        "slot_call_cycles": REPLUG_CALL,
        "replug_cycles": REPLUG_SWAP,
        "paper": {"factor_more_than": PAPER_FACTOR, "call_cycles": PAPER_CALL, "replug_cycles": PAPER_REPLUG},
    }


def main(as_json: bool, count: int = 200, bars: bool = True) -> int:
    t0 = time.perf_counter()  # host-time ok: a benchmark
    res = bench_specialize(count)
    host = time.perf_counter() - t0  # host-time ok: a benchmark
    if as_json:
        print(json.dumps(res))
        return 0
    print(f"spinwb bench specialize — Synthetix §3.1's specialized read, modeled cycles per read at {CLOCK_MHZ} MHz")
    print(f"  a {FILE_BYTES >> 20} MiB file in the buffer cache; each read timed by the program (rpcc), whole call")
    print(f"  {'size':>7} {'reads':>5} {'generic':>9} {'specialized':>12} {'factor':>7}   mechanism per read: "
          "crossings, copies, layers walked / guard checks, replugs")  # fmt: skip
    for r in rows_of(res):
        g, s = r["generic"], r["specialized"]
        print(f"  {_size(r['size']):>7} {r['reads']:>5} {g['cycles']:>9.0f} {s['cycles']:>12.0f} {r['factor']:>6.2f}x   "
              f"generic {g['crossings']:.0f}, {g['copies']:.0f}, {g['layers']:.0f} layers;  "
              f"specialized {s['crossings']:.0f}, {s['copies']:.0f}, {s['guard_checks']:.0f} guard, "
              f"{s['replugs']:.2f} replugs")  # fmt: skip
    o = res["open_cycles"]
    cost = res["specialize_cost_cycles"]
    print(f"  open: {o['generic']} cycles plain, {o['specialized']} specializing (build the read + one replug): "
          f"{cost} cycles ({micros(cost):.1f} µs) to pay back")  # fmt: skip
    cross = [f"{_size(r['size'])}: {r['crossover_reads']}" for r in rows_of(res)]
    print(f"  crossover, reads before the specialization has paid for itself: {', '.join(cross)}")
    print(f"  a second open of a specialized file: {o['second_guard']} cycles vs {o['second_plain']} (its guard "
          f"replugs the first descriptor's read generic: {res['replug_at_second_open_cycles']} cycles)")  # fmt: skip
    print(f"  replugging, modeled on the paper's figures: {REPLUG_CALL} cycles a call through the slot, "
          f"{REPLUG_SWAP} a replug with nobody inside")  # fmt: skip
    small = rows_of(res)[0]
    print(f"  paper (HP-UX, §3.1): read's overhead cut by more than {PAPER_FACTOR}x; ours at {_size(small['size'])}: "
          f"{small['factor']:.2f}x, falling toward 1x as the copy dominates. §4.3: about {PAPER_CALL} cycles a call "
          f"through a replug point, about {PAPER_REPLUG} a replug")  # fmt: skip
    print(f"  (host time for the whole bench: {host:.1f} s)")
    if bars:
        groups = [(_size(r["size"]), [("generic", r["generic"]["cycles"]), ("specialized", r["specialized"]["cycles"])])
                  for r in rows_of(res)]  # fmt: skip
        print()
        print("\n".join(chart("cycles per read (modeled; shorter is faster)", groups, "cycles")))
    if not small["factor"] > PAPER_FACTOR:
        print(f"  expected more than {PAPER_FACTOR}x for small reads, as in the paper; got {small['factor']}x")
        return 1
    return 0


def rows_of(res: dict[str, Any]) -> list[dict[str, Any]]:
    return list(res["rows"])


def _size(n: int) -> str:
    return f"{n >> 10} KiB" if n >= 1024 else f"{n} B"
