"""`spinwb bench macro`: one macro call run three ways (Poking Holes §3.2).

The trust taxonomy of the paper's §3.2, on one call, open_read_close, on
one machine:

- *trusted kernel code* (kernel/unix/macrocalls.py): installed by the
  kernel, called directly -- no fuel, no imposed guard, no checked
  interface. The paper's "I trust extensions": a Linux module.
- *a verified extension with fuel* (extensions/macro_calls.py, loaded for
  the program's process by a user): the verifier passed it at load, its
  handler runs under fuel checks, the personality imposes a guard that it
  sees only its own process's calls, and each Unix call it makes is
  checked and charged as a call into the kernel (EXT_CALL, EXT_FUEL). The
  paper's "I don't trust extensions" -- check before and while it runs
  (KernInst's analysis, PCC's proofs; the paper files SPIN under "trusts",
  since SPIN trusted its Modula-3 compiler, whose part the verifier plays).
- *user code behind the system-call boundary* (smallfiles: its own open,
  read and close): nothing to trust, the boundary isolates it. The paper's
  "I don't have to trust extensions" (Exokernel's library OS, VINO's
  sandbox).

Each way runs smallfiles or smallfiles_macro in a freshly booted kernel
with the disk's files read twice (warm cache) and then ``n`` times more;
the figures are the difference per use, so boot and the first reads' disk
waits are out. Modeled cycles are the whole program's (the calls and the
user code around them).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from kernel.boot import boot
from kernel.core.costs import CLOCK_MHZ, EXT_CALL, EXT_FUEL, micros
from kernel.fs.format import build_image
from kernel.kernel import Kernel
from kernel.profile import ENTRY_CYCLES
from kernel.sys.trace import Dispatch, Record
from kernel.unix.macrocalls import install_trusted
from machine.elf import read_elf
from workbench.bench.measured import PROGRAMS

EXTENSION = PROGRAMS.parents[2] / "extensions" / "macro_calls.py"
FILES = {f"f{i}.txt": bytes((i * 13 + j) & 0xFF for j in range(64 * i + 40)) for i in range(1, 5)}
WAYS = ("trusted", "extension", "user")
LABELS = {"trusted": "trusted kernel code", "extension": "verified extension, fuel", "user": "user code, 3 calls"}
# Poking Holes §3.2 and its Figure 2: which trust model each way is, and the systems the paper files there.
TAXONOMY = {"trusted": ('"I trust extensions"', "Linux modules; SPIN (it trusts its compiler)"),
            "extension": ('"I don\'t trust extensions"', "KernInst (analysis), PCC (proofs)"),
            "user": ('"I don\'t have to trust extensions"', "VINO (sandbox), Exokernel (library OS)")}  # fmt: skip
# SOSP'95 Table 2 (spin-reference.md, benchmarks page): a system call, µs, on a 133 MHz 21064.
PAPER_SYSCALL = {"OSF/1": 5, "SPIN": 4}
PAPER_EXT_CALL = 0.13  # µs, a protected in-kernel call (SOSP'95 Table 2)


@dataclass
class Way:
    """Per use of open_read_close, one way: the difference between two runs."""

    cycles: float
    micros: float
    crossings: float
    copies: float
    guards: float  # guards evaluated on Trap.SystemCall (the dispatch's own and imposed ones)
    checks: float  # the Unix interface's checks of the extension's calls
    fuel: float  # fuel checks the extension's code made


def _run(way: str, rounds: int) -> dict[str, float]:
    program = "smallfiles" if way == "user" else "smallfiles_macro"
    paths = [f"/{n}" for n in sorted(FILES)]
    out = bytearray()
    k = boot(init=read_elf(PROGRAMS / f"{program}.elf"), argv=[program, str(rounds), *paths], halt_when_done=True,
             console_out=out.extend, disk_image=build_image(FILES), trace=True)  # fmt: skip
    if way == "trusted":
        install_trusted(k)
    elif way == "extension":
        k.system.load_file(EXTENSION, importer="user", clients=(1,))
    guards = [0]

    def watch(r: Record) -> None:
        if isinstance(r, Dispatch) and r.event == "Trap.SystemCall":
            guards[0] += sum(g is not None for _, g in r.guards)

    k.trace.watch = watch
    why = k.run(2_000_000_000)
    if why != "all processes exited" or k.exit_status != 0:
        raise RuntimeError(f"bench macro: {program} {rounds} ({way}): {why}, exit {k.exit_status}: {bytes(out)!r}")
    fuel = imposed = 0
    ext = k.system.extensions.get("macro_calls")
    if ext is not None:
        fuel = sum(b.fuel_used for b in ext.bindings)
        imposed = sum(len(b.imposed) * b.calls for b in ext.bindings)
    checks = _ops(k).checks
    return {"cycles": k.sal.now, "crossings": k.sal.crossings, "copies": k.copies, "guards": guards[0] + imposed,
            "checks": checks, "fuel": fuel}  # fmt: skip


def _ops(k: Kernel):  # noqa: ANN202 - the personality's CallOps
    assert k.personality is not None
    return k.personality.calls


def measure(way: str, n: int) -> Way:
    a, b = _run(way, 2), _run(way, 2 + n)  # the disk reads are all in round 1 of both (their timing stays out)
    uses = n * len(FILES)
    d = {key: (b[key] - a[key]) / uses for key in a}
    return Way(d["cycles"], micros(d["cycles"]), d["crossings"], d["copies"], d["guards"], d["checks"], d["fuel"])


def bench_macro(n: int = 50) -> dict[str, Way]:
    return {way: measure(way, n) for way in WAYS}


def main(as_json: bool, n: int = 50) -> int:
    res = bench_macro(n)
    if as_json:
        print(json.dumps({w: asdict(v) for w, v in res.items()}))
        return 0
    uses = n * len(FILES)
    print(f"spinwb bench macro — Poking Holes §3.2: open_read_close run three ways; per use, modeled at {CLOCK_MHZ} "
          f"MHz ({uses} uses, warm cache)")  # fmt: skip
    print(f"  {'way':<26} {'cycles':>7} {'µs':>6} {'cross':>6} {'copies':>6} {'guards':>6} {'checks':>6} "
          f"{'fuel':>5}  trust model (paper §3.2, Figure 2)")  # fmt: skip
    for way, w in res.items():
        model, systems = TAXONOMY[way]
        print(f"  {LABELS[way]:<26} {w.cycles:>7.0f} {w.micros:>6.2f} {w.crossings:>6.1f} {w.copies:>6.1f} "
              f"{w.guards:>6.1f} {w.checks:>6.1f} {w.fuel:>5.1f}  {model}: {systems}")  # fmt: skip
    t, e, u = res["trusted"], res["extension"], res["user"]
    print("  cross: user/kernel crossings (entries plus returns); copies: copyin/copyout operations (the path, the")
    print("  data); guards: Trap.SystemCall guards evaluated, imposed ones included; checks: the Unix interface's")
    print(f"  checks of an extension's calls (state, process, arguments), {EXT_CALL} cycles each call; fuel: the")
    print(f"  extension's fuel checks, {EXT_FUEL} cycles each.")
    saved = u.cycles - t.cycles
    print(f"  the macro call saves {u.crossings - t.crossings:.0f} crossings a use: {saved:.0f} cycles "
          f"({micros(saved):.2f} µs) as kernel code, {u.cycles - e.cycles:.0f} ({micros(u.cycles - e.cycles):.2f} µs) "
          f"as a verified extension;")  # fmt: skip
    print(f"  the extension's safety costs {e.cycles - t.cycles:.0f} cycles a use ({micros(e.cycles - t.cycles):.2f} "
          f"µs) over trusted code. Each call removed is one entry and return, {ENTRY_CYCLES} cycles modeled here.")  # fmt: skip
    paper = ", ".join(f"{k} {v} µs" for k, v in PAPER_SYSCALL.items())
    print(f"  paper: a system call costs {paper} (SOSP'95 Table 2), a protected in-kernel call {PAPER_EXT_CALL} µs;")
    print(f"  removing 2 of 3 calls would save about {2 * PAPER_SYSCALL['SPIN']}-{2 * PAPER_SYSCALL['OSF/1']} µs a use "
          f"there, ours {micros(2 * ENTRY_CYCLES):.1f} µs (a leaner trap path; costs.py).")  # fmt: skip
    print("  Poking Holes itself gives no timings for macro calls (its §5 is 'to be completed').")
    if not (t.cycles < e.cycles < u.cycles and t.crossings < u.crossings):
        print("  UNEXPECTED: the ways are not ordered trusted < extension < user")
        return 1
    return 0
