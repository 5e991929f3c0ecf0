"""Issue 22's "must show": each CPU tier changes speed only. The whole corpus (under the
kernel, every CPU model), the kernel suite (every program of scenarios/programs/kernel,
run as its tests and lessons run it) and every lesson give the same output, instruction
counts, cycles and state hashes with the tier on as with the reference tier: translated
blocks with regions, the on-disk code cache and the native tier all off.

A tier is switched by environment variables, read when a Translator is made, so each run
sets them (monkeypatch) before it builds its machines. Each workload's reference run is
made once and compared with every tier. The reference run also writes every block it
translates into a code cache of the workload's own (it never reads one: each lookup
misses, so it compiles exactly as with the cache off); the cache tier then starts from
those files, as a second process would, and must translate nothing.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kernel.boot import boot
from kernel.fs.format import build_image
from kernel.kernel import Kernel
from kernel.net import endpoints as E
from kernel.net.topology import Network
from machine.alpha import codecache, translate
from machine.elf import read_elf
from scenarios import engine
from tests.conftest import BIN, CORPUS, CPUS, KERNEL_PROGRAMS, ROOT, RUN_ARGS, RUN_STDIN, elf, require_module

REFERENCE = {"SPINWB_TRACES": "0", "SPINWB_CACHE": "off", "SPINWB_NATIVE": "0"}
WARM = "warm"  # stands for the workload's own code cache, filled by its reference run
# Each tier: what it sets on top of the reference. The native tier compiles hot regions, so
# regions are on with it.
TIERS = {
    "traces": {"SPINWB_TRACES": "1"},
    "cache": {"SPINWB_CACHE": WARM},
    "native": {"SPINWB_TRACES": "1", "SPINWB_NATIVE": "1"},
}
EXT = ROOT / "extensions"
FILES = {
    "hello.txt": b"hello, disk\n",
    "docs/readme.txt": b"a file in a directory\n" * 40,
    "data.bin": bytes(i * 7 & 0xFF for i in range(3 * 8192)),
}


@dataclass(frozen=True)
class Prog:
    """A kernel-suite program as init on one machine: its arguments, stdin, the
    programs and files on its disk, and extensions loaded before it runs."""

    args: tuple[str, ...] = ()
    stdin: bytes = b""
    disk: tuple[str, ...] = ()
    files: bool = False  # FILES on the disk
    ext: tuple[str, ...] = ()
    budget: int = 1_500_000  # instructions: the few longer runs are compared where they stop
    memory: int = 32 << 20


# Every program of scenarios/programs/kernel that runs on one machine, as its tests run it.
KERNEL_SUITE: dict[str, Prog] = {
    "badexec": Prog(("/notes.txt", "/missing", "/hello"), disk=("hello",), files=True),
    "calls": Prog(("null", "20")),
    "efault": Prog(),
    "exec": Prog(disk=("hello",), files=True),
    "extref": Prog(("own",)),
    "forkbomb": Prog(),
    "forkcow": Prog(),
    "fs_append": Prog(files=True),
    "fs_big": Prog(files=True),
    "fs_crash": Prog(files=True),
    "fs_create": Prog(files=True),
    "fs_dirs": Prog(files=True),
    "fs_errors": Prog(files=True),
    "fs_guard": Prog(files=True),
    "fs_mmap_private": Prog(files=True),
    "fs_mmap_shared": Prog(files=True),
    "fs_otrunc": Prog(("3",), files=True),
    "fs_pread": Prog(files=True),
    "fs_rename": Prog(files=True),
    "fs_tables": Prog(("t1-write", "3", "4096"), files=True),
    "fs_truncate": Prog(files=True),
    "fs_unlink": Prog(files=True),
    "init": Prog(("/forkcow", "/missing"), disk=("forkcow", "hello")),
    "lottery": Prog(("20000",), ext=("lottery",)),
    "nullderef": Prog(),
    "oom": Prog(memory=4 << 20),  # as tests/kernel/test_oom.py: a hog fills it soon
    "preempt": Prog(("3", "3")),
    "pressure": Prog(("/docs/readme.txt", "40"), files=True),
    "protcall": Prog(("xcall", "10"), ext=("xcall",)),
    "readfile": Prog(("/hello.txt", "/docs/readme.txt", "/missing"), files=True),
    "readfixed": Prog(("/docs/readme.txt", "100"), files=True, ext=("macro_calls",)),
    "readphases": Prog(("/data.bin", "1", "2", "1", "7"), files=True),
    "readspec": Prog(("/docs/readme.txt", "64", "20"), files=True),
    "sigsegv": Prog(),
    "smallfiles": Prog(("3", "/hello.txt", "/docs/readme.txt"), files=True),
    "smallfiles_macro": Prog(("3", "/hello.txt", "/docs/readme.txt"), files=True, ext=("macro_calls",)),
    "specread": Prog(("/docs/readme.txt", "1"), files=True),
    "threads_integrated": Prog(("forkjoin", "4")),
    "threads_layered": Prog(("forkjoin", "4")),
    "vm_spin": Prog(("fault", "5"), ext=("vm_app",)),
    "vm_unix": Prog(("fault", "5")),
    "xcall_attack": Prog(("forge",), ext=("xcall",)),
}


@dataclass(frozen=True)
class World:
    """Programs that need a peer: each host's init (program, args), and kernel-strand
    peers (kernel/net/endpoints.py, as spinwb bench net uses them) whose dict says "done"."""

    programs: dict[int, tuple[str, ...]]
    peers: tuple[tuple[int, str, tuple[Any, ...]], ...] = ()  # (host, endpoint function, its arguments)
    endless: tuple[int, ...] = ()  # hosts whose program serves for ever: the run ends without them


NET_SUITE: dict[str, World] = {
    "udp": World({1: ("udp_echo", "7", "5"), 0: ("udp_rtt", "10.0.0.2", "7", "5")}),
    "tcp": World({1: ("tcp_recv", "5001"), 0: ("tcp_send", "10.0.0.2", "5001", "20000")}),
    "netbad": World({0: ("netbad", "10.0.0.2")}),
    "udp_sink": World({1: ("udp_sink", "9", "3")}, ((0, "udp_blast", ("10.0.0.2", 9, 3, 1472)),)),
    "udp_splice": World(
        {1: ("udp_splice", "7", "10.0.0.3", "3"), 2: ("udp_echo", "7", "3"), 0: ("udp_rtt", "10.0.0.2", "7", "3")}
    ),  # fmt: skip
    "tcp_splice": World(
        {1: ("tcp_splice", "5001", "10.0.0.3")},
        ((2, "tcp_echo_server", (5001,)), (0, "tcp_rtt_client", ("10.0.0.2", 5001, 3, 16))),
        endless=(1,),
    ),
}
# Kernel programs that only a lesson's world runs (a web or video world, a served file).
IN_LESSONS = {"httpd": "web_cache", "vserver": "video_server", "filesend": "macro_call", "udp_serve": "user_endpoint"}

# The module must stay a few minutes long on a loaded machine: a corpus run stops after this
# many instructions (sieve, divide, sort, crc and interp run longer; the state there is
# compared), and a long lesson runs only its first steps (the rest cost 1-4 s each).
CORPUS_BUDGET = 1_000_000
STEPS = {"app_scheduler": 1, "cache_policy": 2, "guarded_dispatch": 2, "page_faults": 4, "software_feedback": 1,
         "syscall_paths": 6, "thread_packages": 4, "video_server": 4}  # fmt: skip

Result = tuple[Any, ...]


@contextmanager
def _tier(env: dict[str, str], cache: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, str(cache) if value == WARM else value)
        mp.setattr(codecache, "_CACHES", {})  # a cache is read from its files, as by a new process
        yield


def _kernel_state(k: Kernel) -> Result:
    cpu = k.machine.cpu
    return bytes(k.machine.console.output), k.exit_status, k.exit_message, cpu.icount, cpu.cycles, k.state_hash()


def _run_program(name: str) -> Result:
    p = KERNEL_SUITE[name]
    files = {n: (BIN / (f"{n}.elf" if n in KERNEL_PROGRAMS else f"{n}-ev4.elf")).read_bytes() for n in p.disk}
    files |= FILES if p.files else {}
    disk = build_image(files, spare_blocks=1024) if files else None  # room for fs_big's 210 KB
    return _boot_and_run(BIN / f"{name}.elf", list(p.args), p.stdin, "ev4", disk, p.ext, p.budget, p.memory)


def _run_corpus(name: str, cpu: str) -> Result:
    return _boot_and_run(elf(name, cpu), RUN_ARGS.get(name, []), RUN_STDIN.get(name, b""), cpu, None, (),
                         CORPUS_BUDGET, 32 << 20)  # fmt: skip


def _boot_and_run(path: Path, args: list[str], stdin: bytes, cpu: str, disk: bytes | None, ext: tuple[str, ...],
                  budget: int, memory: int) -> Result:  # fmt: skip
    """As `spinwb run` runs a program: the kernel booted with it as init; then
    everything a tier could get wrong."""
    err = bytearray()
    k = boot(init=read_elf(path), argv=[path.stem, *args], halt_when_done=True, model=cpu, disk_image=disk,
             memory=memory)  # fmt: skip
    k.machine.console.route_errors(err.extend)
    k.console_input = io.BytesIO(stdin).read
    for e in ext:
        k.system.load_file(EXT / f"{e}.py", importer="root")
    why = k.run(budget)
    return why, bytes(err), *_kernel_state(k)


def _run_net(name: str) -> Result:
    w = NET_SUITE[name]
    hosts = max([*w.programs, *(h for h, *_ in w.peers)]) + 1
    net = Network(hosts, programs={i: (read_elf(BIN / f"{p}.elf"), [p, *a]) for i, (p, *a) in w.programs.items()})
    outs: list[dict[str, Any]] = []
    for host, fn, args in w.peers:
        k = net.hosts[host]
        outs.append({})
        k.sched.fork(getattr(E, fn), k, *args, outs[-1], name=fn)
    users = [net.hosts[i] for i in w.programs if i not in w.endless]
    clients = [o for (_, fn, _), o in zip(w.peers, outs, strict=True) if fn != "tcp_echo_server"]
    done = net.run_until(lambda: all("done" in o for o in clients) and not any(k.user_strands() for k in users),
                         3_000_000)  # fmt: skip
    return done, repr(outs), tuple(_kernel_state(k) for k in net.hosts)


def _run_lesson(name: str) -> Result:
    """Each step's output (narration aside: it is text of the lesson's own) and,
    after it, every machine the run shows."""
    r = engine.Runner(engine.load(name))
    steps = []
    while not r.done and len(steps) < STEPS.get(name, len(r.lesson.steps)):
        res = r.next()
        shown = list(r.run.net.hosts) if r.run.net is not None else [r.run.kernel] if r.run.kernel else []
        steps.append((
            res.title, res.error, res.pane, res.virtual_us,
            [(c.text, c.ok, c.detail, c.where) for c in res.checks],
            [(q.text, q.answer) for q in res.questions],
            [(x.title, x.columns, x.rows) for x in res.exhibits],
            [_kernel_state(k) for k in shown],
        ))  # fmt: skip
    return r.passed, r.halted, steps


WORKLOADS: dict[str, Callable[[], Result]] = {}
for _cpu in CPUS:
    for _name in CORPUS:
        WORKLOADS[f"corpus-{_name}-{_cpu}"] = lambda n=_name, c=_cpu: _run_corpus(n, c)
for _name in KERNEL_SUITE:
    WORKLOADS[f"kernel-{_name}"] = lambda n=_name: _run_program(n)
for _name in NET_SUITE:
    WORKLOADS[f"net-{_name}"] = lambda n=_name: _run_net(n)
for _name in engine.available():
    WORKLOADS[f"lesson-{_name}"] = lambda n=_name: _run_lesson(n)

_REFERENCE: dict[str, tuple[Result, Path, int]] = {}


def _reference(workload: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path, int]:
    """The workload's reference run (made once), the code cache it wrote and how many
    blocks it translated."""
    if workload not in _REFERENCE:
        cache = tmp_path_factory.mktemp("cache")
        with _tier({**REFERENCE, "SPINWB_CACHE": WARM}, cache), pytest.MonkeyPatch.context() as mp:
            mp.setattr(codecache, "_rebuild", lambda tr, blob: None)  # every lookup misses: compiled, then kept
            result = WORKLOADS[workload]()
            kept = codecache.current()
            assert kept is not None and kept.hits == 0
            kept.flush()
        _REFERENCE[workload] = result, cache, kept.misses
    return _REFERENCE[workload]


def _needs(tier: str) -> None:
    if tier == "native":
        if importlib.util.find_spec("machine.alpha.native") is None:
            pytest.skip("native tier not built")
        require_module("wasmtime")


def test_every_kernel_program_is_run() -> None:
    """A new program in scenarios/programs/kernel must join the suite (or name the lesson that runs it)."""
    ran = set(KERNEL_SUITE) | set(IN_LESSONS) | {p for w in NET_SUITE.values() for p, *_ in w.programs.values()}
    assert set(KERNEL_PROGRAMS) <= ran, sorted(set(KERNEL_PROGRAMS) - ran)
    assert set(IN_LESSONS.values()) <= set(engine.available())


@pytest.mark.parametrize("workload", list(WORKLOADS))
@pytest.mark.parametrize("tier", list(TIERS))
def test_a_tier_changes_nothing_but_speed(tier: str, workload: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    _needs(tier)
    want, cache, translated = _reference(workload, tmp_path_factory)
    with _tier({**REFERENCE, **TIERS[tier]}, cache), pytest.MonkeyPatch.context() as mp:
        if tier == "native":  # started at once: most workloads run fewer than NATIVE_START instructions
            mp.setattr(translate, "NATIVE_START", 0)
        got = WORKLOADS[workload]()
        used = codecache.current()
        if tier == "cache":  # every block the reference translated is read back, none compiled
            assert used is not None and (used.hits, used.misses) == (translated, 0)
    assert got == want
