"""`spinwb bench feedback`: read-ahead whose window software feedback sets (Synthetix §3.2).

One phased workload (kernel/fs/readworld.py: sequential reads with compute
between them, then random reads, then sequential again) under four
policies in freshly booted kernels: no read-ahead, a fixed window, and the
feedback controller undamped and damped (kernel/fs/readahead.py). The
figures are the kernel's own counts and the machine's virtual time; the
chart is the window of the program's stream over virtual time.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from kernel.core.costs import CLOCK_MHZ
from kernel.fs import readworld
from kernel.fs.readahead import DAMPED
from kernel.params import READAHEAD_FIXED
from workbench.bench.chart import timeline

POLICIES = ("none", f"fixed:{READAHEAD_FIXED}", "undamped", "damped")


def ms(cycles: float) -> float:
    return cycles / CLOCK_MHZ / 1000


def bench_feedback(chunks: int = readworld.CHUNKS, random: int = readworld.RANDOM) -> dict[str, readworld.Measured]:
    disk = readworld.image(chunks)
    return {p: readworld.run(p, chunks=chunks, random=random, disk=disk) for p in POLICIES}


def _phases(m: readworld.Measured) -> dict[str, float]:
    return {ph.name: ms(ph.cycles) for ph in m.phases}


def main(as_json: bool, bars: bool = True, chunks: int = readworld.CHUNKS, random: int = readworld.RANDOM) -> int:
    """Print the figures (and the chart); 1 if damping did not do what it should, or a policy read wrong bytes."""
    res = bench_feedback(chunks, random)
    damped, undamped, none = res["damped"], res["undamped"], res["none"]
    sums = {p: [ph.sum for ph in m.phases] for p, m in res.items()}
    same = len({tuple(s) for s in sums.values()}) == 1 and all(m.status == 0 for m in res.values())
    delay_ms = ms(damped.figures["longest_wait"])
    if as_json:
        print(json.dumps({"workload": {"sequential_reads": chunks, "random_reads": random,
                                       "random_span_chunks": readworld.SPAN * chunks,
                                       "work_passes": readworld.WORK, "seed": readworld.SEED},
                          "hold_us": DAMPED.hold_us, "longest_delay_ms": round(delay_ms, 2), "same_bytes": same,
                          "policies": {p: asdict(m) | {"run_ms": round(ms(m.cycles), 1), "phase_ms": _phases(m)}
                                       for p, m in res.items()}}))  # fmt: skip
        return 0 if same else 1
    print("spinwb bench feedback — Synthetix §3.2: read-ahead whose window software feedback sets "
          f"(modeled: virtual time at {CLOCK_MHZ} MHz)")  # fmt: skip
    print(f"  readphases: {chunks} sequential reads, {random} random among "
          f"{readworld.SPAN * chunks} chunks, {chunks} sequential; 8 KiB each, "
          f"{readworld.WORK} passes of compute (~3.9 ms) after each")  # fmt: skip
    print(f"  {'policy':<10} {'run ms':>8} {'seq1':>7} {'random':>7} {'seq2':>7}   {'waited':>6} {'wait ms':>8} "
          f"{'read ahead':>10} {'wasted':>6}   {'moves':>5} {'turns':>5}")  # fmt: skip
    for p, m in res.items():
        f, ph = m.figures, _phases(m)
        print(f"  {p:<10} {ms(m.cycles):>8.1f} {ph.get('seq1', 0):>7.1f} {ph.get('random', 0):>7.1f} "
              f"{ph.get('seq2', 0):>7.1f}   {f['waited']:>6} {ms(f['wait_cycles']):>8.1f} {f['prefetched']:>10} "
              f"{f['wasted']:>6}   {f['moves']:>5} {f['turns']:>5}")  # fmt: skip
    print("  waited: reads whose chunk was not in the buffer cache: the strand blocked for the disk and the")
    print("    system call restarted when the chunk came in (wait ms: the time they spent blocked).")
    print("  read ahead: chunks queued on the disk past a read; wasted: of them, those never read (abandoned")
    print("    when the stream jumped away, or reclaimed first). A demand read queues behind read-ahead.")
    print("  moves: changes of the window; turns: changes of its direction (oscillation).")
    print("  the paper: §3.2 gives no figures (its video player adapts qualitatively). Its damping rule (§4):")
    print('    ignore violations "for a period of time that is longer than twice the longest possible')
    print(f'    propagation delay". Here the delay is a sequential read\'s wait for its chunk: at most '
          f"{delay_ms:.1f} ms (damped run);")  # fmt: skip
    print(f"    the damped controller holds {DAMPED.hold_us / 1000:.0f} ms after each change "
          f"({'more' if DAMPED.hold_us / 1000 > 2 * delay_ms else 'LESS'} than twice that). On this workload the")  # fmt: skip
    print("    hold is not what settles it: smoothing, the band and the one-chunk step do, together")
    print("    (docs/software_feedback.md: each alone, and all but the hold).")
    print(f"  every policy read the same bytes: {'yes' if same else 'NO'}")
    if bars:
        starts = {p: res[p].windows[0][0] if res[p].windows else 0 for p in ("undamped", "damped")}
        series = [(f"{p}: {res[p].figures['turns']} turns", [(ms(c - starts[p]), w) for c, w in res[p].windows])
                  for p in ("undamped", "damped")]  # fmt: skip
        marks, t = [], 0.0
        for ph in damped.phases:
            marks.append((t, ph.name))
            t += ms(ph.cycles)
        end = max(ms(sum(ph.cycles for ph in res[p].phases)) for p in ("undamped", "damped"))
        print()
        print("\n".join(timeline("the window (chunks) over virtual time from the first read (phases: the damped "
                                 "run's); a column spans its lowest to highest value", series, max(end, 1.0), "ms",
                                 marks, height=10)))  # fmt: skip
    lost = []
    if damped.figures["waited"] >= none.figures["waited"]:
        lost.append("the damped controller's reads waited no less than with no read-ahead")
    if damped.figures["turns"] >= max(1, undamped.figures["turns"]):
        lost.append("the damped window turned as often as the undamped one, or more")
    if not same:
        lost.append("a policy read different bytes")
    for why in lost:
        print(f"  NOT as expected: {why}")
    return 1 if lost else 0
