"""`spinwb bench vm`: SOSP'95 Table 4, the UNIX way and the SPIN way.

Each operation runs in a freshly booted kernel as a user program:
``vm_unix`` (mprotect and a SIGSEGV handler) or ``vm_spin`` (the
``extensions/vm_app.py`` extension handling faults in the kernel and
offering protection as application-specific system calls). The programs
time themselves with rpcc, so the modeled figure is what the program saw;
a probe system call the bench installs for the run tells them how many
user/kernel boundary crossings each operation made. Host time is the whole
loop's wall time per iteration, the untimed set-up included (each program
is run with 0 iterations too and that is subtracted).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from kernel.core.costs import CLOCK_MHZ
from workbench.bench import measured
from workbench.bench.chart import chart
from workbench.bench.measured import Cell, measured_run

ROOT = Path(__file__).resolve().parents[2]
VM_EXTENSION = ROOT / "extensions" / "vm_app.py"

# SOSP'95 Table 4, microseconds: DEC OSF/1, Mach, SPIN (None: no such facility)
PAPER: dict[str, tuple[int | None, int | None, int]] = {
    "dirty": (None, None, 2),
    "fault": (329, 415, 29),
    "trap": (260, 185, 7),
    "prot1": (45, 106, 16),
    "prot100": (1041, 1792, 213),
    "unprot100": (1016, 302, 214),
    "appel1": (382, 819, 39),
    "appel2": (351, 608, 29),
}
LABELS = {"dirty": "Dirty", "fault": "Fault", "trap": "Trap", "prot1": "Prot1", "prot100": "Prot100",
          "unprot100": "Unprot100", "appel1": "Appel1", "appel2": "Appel2"}  # fmt: skip


def run_program(program: str, op: str, n: int, spin: bool) -> tuple[bytes, float, int | None]:
    """Boot, run one measuring program to its end; its stdout, host seconds, exit status."""
    return measured_run(program, [op, str(n)], [VM_EXTENSION] if spin else [])


def measure(program: str, op: str, n: int, spin: bool) -> Cell | None:
    return measured.measure(program, op, n, [VM_EXTENSION] if spin else [])


def bench_vm(n: int = 200) -> dict[str, dict[str, Cell | None]]:
    return {op: {"unix": measure("vm_unix", op, n, False), "spin": measure("vm_spin", op, n, True)} for op in PAPER}


def _fmt(x: float | int | None, width: int, digits: int = 1) -> str:
    return f"{'n/a':>{width}}" if x is None else f"{x:>{width}.{digits}f}"


def main(as_json: bool, n: int = 200, bars: bool = True) -> int:
    res = bench_vm(n)
    if as_json:
        print(json.dumps({op: {w: asdict(c) if c else None for w, c in ways.items()} for op, ways in res.items()}))
        return 0
    print(f"spinwb bench vm — SOSP'95 Table 4: virtual memory operations, {n} of each, "
          f"modeled µs at {CLOCK_MHZ} MHz")  # fmt: skip
    print(f"  {'':<10} {'UNIX way (mprotect+SIGSEGV)':>30}   {'SPIN way (vm_app extension)':>30}   "
          f"{'paper µs':>22}")  # fmt: skip
    print(f"  {'operation':<10} {'µs':>8} {'cross':>6} {'host µs':>9}   {'':>4}{'µs':>8} {'cross':>6} {'host µs':>9}"
          f"   {'OSF/1':>6} {'Mach':>6} {'SPIN':>6}  faster")  # fmt: skip
    lost = []
    for op, ways in res.items():
        u, s = ways["unix"], ways["spin"]
        assert s is not None
        osf, mach, spin = PAPER[op]
        if u is None:
            speed = "only SPIN can"
            ucols = f"{'n/a':>8} {'':>6} {'':>9}"
        else:
            speed = f"{u.micros / s.micros:.1f}x"
            ucols = f"{u.micros:>8.1f} {u.crossings:>6.0f} {u.host_micros:>9.0f}"
            if s.micros >= u.micros:
                lost.append(op)
        print(f"  {LABELS[op]:<10} {ucols}   {'':>4}{s.micros:>8.1f} {s.crossings:>6.0f} {s.host_micros:>9.0f}"
              f"   {_fmt(osf, 6, 0)} {_fmt(mach, 6, 0)} {spin:>6}  {speed}")  # fmt: skip
    print("  cross: user/kernel boundary crossings per operation (entries plus returns). A fault the UNIX way")
    print("  goes in, out to the handler, in and out for mprotect, in for sigreturn and out: 6; the SPIN way")
    print("  it is fixed where it was taken: in and out, 2. Trap counts the crossings before the handler runs.")
    print("  Dirty: the SPIN way includes the system call from user level (the paper's 2 µs does not).")
    if bars:
        groups = []
        for op, ways in res.items():
            u, s = ways["unix"], ways["spin"]
            osf, mach, spin = PAPER[op]
            groups.append((LABELS[op], [("ours, UNIX way", u.micros if u else None), ("ours, SPIN way", s.micros if s else None),
                                        ("paper OSF/1", osf), ("paper Mach", mach), ("paper SPIN", spin)]))  # fmt: skip
        print()
        print("\n".join(chart("Table 4 as bars (modeled µs; shorter is faster; each operation to its own scale)",
                               groups, "µs")))  # fmt: skip
    if lost:
        print(f"  the in-kernel path did NOT win: {', '.join(lost)}")
        return 1
    return 0
