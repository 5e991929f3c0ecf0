"""`spinwb bench`: performance figures, printed (never asserted in tests)."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import time
from pathlib import Path

from machine.elf import read_elf
from machine.usermode import Process

PROGRAMS = Path(__file__).resolve().parent.parent / "scenarios" / "programs" / "bin"


def bench_cpu(rounds: int) -> dict[str, object]:
    elf = PROGRAMS / "bench-ev4.elf"
    image = read_elf(elf)
    out: dict[str, object] = {"program": str(elf.name), "rounds": rounds}
    for mode, translate in (("translated", True), ("interpreted", False)):
        r = rounds if translate else max(1, rounds // 20)
        proc = Process(image, [str(elf), str(r)], stdout=io.BytesIO(), translate=translate)
        t0 = time.perf_counter()  # host-time ok: a benchmark
        info = proc.run()
        dt = time.perf_counter() - t0
        out[mode] = {"instructions": proc.cpu.icount, "host_seconds": round(dt, 3),
                     "mips": round(proc.cpu.icount / dt / 1e6, 2), "status": info.status}  # fmt: skip
    qemu = shutil.which("qemu-alpha")
    if qemu:
        t0 = time.perf_counter()
        subprocess.run([qemu, "-cpu", "ev4", str(elf), str(rounds)], capture_output=True, check=False)
        out["qemu_seconds"] = round(time.perf_counter() - t0, 3)
    return out


def main(args: argparse.Namespace) -> int:
    res = bench_cpu(args.rounds)
    if args.json:
        print(json.dumps(res))
        return 0
    t, i = res["translated"], res["interpreted"]
    assert isinstance(t, dict) and isinstance(i, dict)
    print(f"spinwb bench cpu — {res['program']}, {res['rounds']} rounds (host time)")
    print(f"  translated   {t['instructions']:>12,} instructions  {t['host_seconds']:>8.3f} s  {t['mips']:>7.2f} MIPS")
    print(f"  interpreted  {i['instructions']:>12,} instructions  {i['host_seconds']:>8.3f} s  {i['mips']:>7.2f} MIPS")
    if "qemu_seconds" in res:
        q = res["qemu_seconds"]
        print(f"  qemu-alpha   {t['instructions']:>12,} instructions  {q:>8.3f} s  (same ELF, whole process)")
    print("  reference: a 133 MHz 21064 ran on the order of 100 MIPS")
    return 0
