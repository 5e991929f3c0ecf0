"""`spinwb bench threads`: SOSP'95 Table 3, thread management overhead.

Kernel threads: Fork-Join and Ping-Pong written against the kernel's thread
package (kernel/core/sync.py: Thread.Fork/Join, Mutex, Condition), run on
kernel strands. User threads: the same two workloads as user programs over
a C-Threads-like package built two ways -- "layered" on Mach's kernel-thread
calls (kernel/unix/machthreads.py), and "integrated" as one kernel extension
called once per operation (kernel/unix/cthreads.py). Modeled µs at 133 MHz
are machine-clock time per operation; crossings are user/kernel boundary
crossings per operation; host time is wall time per operation of the whole
loop.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

from kernel.boot import boot
from kernel.core import sync
from kernel.core.costs import CLOCK_MHZ, micros
from workbench.bench import measured
from workbench.bench.chart import chart
from workbench.bench.measured import Cell

# SOSP'95 Table 3, µs: OSF/1 kernel, user; Mach kernel, user; SPIN kernel, user layered, user integrated
PAPER = {"forkjoin": (198, 1230, 101, 338, 22, 262, 111), "pingpong": (21, 264, 71, 115, 17, 159, 85)}
LABELS = {"forkjoin": "Fork-Join", "pingpong": "Ping-Pong"}


def kernel_threads(op: str, n: int) -> Cell:
    """The workload on kernel strands, timed by the virtual clock."""
    k = boot()
    sched, sal = k.sched, k.sal
    spent = [0, 0.0]

    def echo(i: int) -> int:
        return i

    def forkjoin() -> None:
        for i in range(n):
            t0, h0 = sal.now, time.perf_counter()  # host-time ok: a benchmark
            if sync.fork(sched, echo, i, name="child").join() != i:
                raise RuntimeError("Thread.Join returned another thread's result")
            spent[0] += sal.now - t0
            spent[1] += time.perf_counter() - h0  # host-time ok: a benchmark

    def pingpong() -> None:
        m, c = sync.Mutex(sched, "pp"), sync.Condition(sched, "pp")
        turn = [0]

        def partner() -> None:
            with m:
                for _ in range(n + 1):
                    while turn[0] != 1:
                        c.wait(m)
                    turn[0] = 0
                    c.signal()

        th = sync.fork(sched, partner, name="partner")
        with m:
            for i in range(n + 1):  # the first round is the partner starting: not timed
                t0, h0 = sal.now, time.perf_counter()  # host-time ok: a benchmark
                turn[0] = 1
                c.signal()
                while turn[0] != 0:
                    c.wait(m)
                if i:
                    spent[0] += sal.now - t0
                    spent[1] += time.perf_counter() - h0  # host-time ok: a benchmark
        th.join()

    driver = sync.fork(sched, forkjoin if op == "forkjoin" else pingpong, name=f"bench {op}")
    for _ in range(10_000):
        if driver.ended:
            break
        k.run(50_000)
    if not driver.ended or driver.strand.error is not None or sched.failures:
        raise RuntimeError(f"kernel {op}: {driver.strand.error or sched.failures or 'did not finish'}")
    per = spent[0] / n
    return Cell(per, micros(per), 0.0, spent[1] / n * 1e6)


def user_threads(program: str, op: str, n: int) -> Cell:
    cell = measured.measure(program, op, n, [])
    assert cell is not None
    return cell


def bench_threads(n: int = 200) -> dict[str, dict[str, Cell]]:
    return {
        op: {
            "kernel": kernel_threads(op, n),
            "layered": user_threads("threads_layered", op, n),
            "integrated": user_threads("threads_integrated", op, n),
        }
        for op in PAPER
    }


def main(as_json: bool, n: int = 200, bars: bool = True) -> int:
    res = bench_threads(n)
    if as_json:
        out: dict[str, Any] = {op: {w: asdict(c) for w, c in ways.items()} for op, ways in res.items()}
        print(json.dumps(out))
        return 0
    print(f"spinwb bench threads — SOSP'95 Table 3: thread management, {n} of each, modeled µs at {CLOCK_MHZ} MHz")
    print(f"  {'':<10} {'kernel':>17}   {'user, layered':>24}   {'user, integrated':>24}")
    print(f"  {'operation':<10} {'µs':>7} {'host µs':>9}   {'µs':>7} {'cross':>6} {'host µs':>9}   "
          f"{'µs':>7} {'cross':>6} {'host µs':>9}")  # fmt: skip
    bad = []
    for op, w in res.items():
        kc, lc, ic = w["kernel"], w["layered"], w["integrated"]
        print(f"  {LABELS[op]:<10} {kc.micros:>7.1f} {kc.host_micros:>9.0f}   "
              f"{lc.micros:>7.1f} {lc.crossings:>6.0f} {lc.host_micros:>9.0f}   "
              f"{ic.micros:>7.1f} {ic.crossings:>6.0f} {ic.host_micros:>9.0f}")  # fmt: skip
        if not kc.micros < ic.micros < lc.micros:
            bad.append(op)
    print("  paper, µs:  OSF/1 kernel user | Mach kernel user | SPIN kernel, user layered, user integrated")
    for op, p in PAPER.items():
        print(f"  {LABELS[op]:<10}  {p[0]:>5} {p[1]:>5}  | {p[2]:>4} {p[3]:>5}  | {p[4]:>4}, {p[5]:>4}, {p[6]:>4}")
    print("  cross: user/kernel crossings per operation. Layered makes a system call for each Mach primitive")
    print("  (a fork is create + set_state + resume; a wake-up is a message); integrated makes one per")
    print("  C-Threads operation. Kernel threads never cross.")
    if bars:
        names = ("paper OSF/1 kernel", "paper OSF/1 user", "paper Mach kernel", "paper Mach user", "paper SPIN kernel",
                 "paper SPIN layered", "paper SPIN integrated")  # fmt: skip
        groups = [(LABELS[op], [("ours, kernel", w["kernel"].micros), ("ours, user layered", w["layered"].micros),
                                ("ours, user integrated", w["integrated"].micros),
                                *zip(names, map(float, PAPER[op]), strict=True)]) for op, w in res.items()]  # fmt: skip
        print()
        print("\n".join(chart("Table 3 as bars (modeled µs; shorter is faster)", groups, "µs")))
    if bad:
        print(f"  expected kernel < integrated < layered, as in the paper; not so for: {', '.join(bad)}")
        return 1
    return 0
