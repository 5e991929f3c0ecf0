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


def bench_mmu(rounds: int) -> dict[str, object]:
    """The same program unmapped (user-mode harness) and paged (whole machine:
    MMU, TBs, user mode, the 1024 Hz timer)."""
    from machine.paged import boot_program

    elf = PROGRAMS / "bench-ev4.elf"
    image = read_elf(elf)
    out: dict[str, object] = {"program": elf.name, "rounds": rounds}
    proc = Process(image, [str(elf), str(rounds)], stdout=io.BytesIO())
    t0 = time.perf_counter()  # host-time ok: a benchmark
    proc.run()
    dt = time.perf_counter() - t0
    out["unmapped"] = {"instructions": proc.cpu.icount, "host_seconds": round(dt, 3),
                       "mips": round(proc.cpu.icount / dt / 1e6, 2)}  # fmt: skip
    m = boot_program(image, [str(elf), str(rounds)])
    t0 = time.perf_counter()
    why = m.run()
    dt = time.perf_counter() - t0
    out["paged"] = {"instructions": m.cpu.icount, "host_seconds": round(dt, 3),
                    "mips": round(m.cpu.icount / dt / 1e6, 2), "stop": why, "timer_ticks": m.ticks,
                    "itb_misses": m.mmu.itb.misses, "dtb_misses": m.mmu.dtb.misses}  # fmt: skip
    return out


def main(args: argparse.Namespace) -> int:
    if args.what == "mmu":
        res = bench_mmu(args.rounds)
        if args.json:
            print(json.dumps(res))
            return 0
        u, p = res["unmapped"], res["paged"]
        assert isinstance(u, dict) and isinstance(p, dict)
        print(f"spinwb bench mmu — {res['program']}, {res['rounds']} rounds (host time)")
        print(f"  unmapped  {u['instructions']:>12,} instructions  {u['host_seconds']:>8.3f} s  {u['mips']:>7.2f} MIPS")
        print(
            f"  paged     {p['instructions']:>12,} instructions  {p['host_seconds']:>8.3f} s  {p['mips']:>7.2f} MIPS"
            f"   ({p['timer_ticks']} timer ticks, ITB misses {p['itb_misses']}, DTB misses {p['dtb_misses']})"
        )
        print(f"  paged costs {100 * (u['mips'] / p['mips'] - 1):+.1f}% over unmapped (floor: about +30%)")
        return 0
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
