"""The scenario engine: lessons as Python modules of steps.

A scenario file makes a ``Lesson`` and decorates one function per step::

    lesson = Lesson("cow_fork", "Copy-on-write fork", summary="...")

    @lesson.step("Fork", narration="The parent writes ... *after* the fork.")
    def fork(run):
        k = run.boot(init="forkcow")
        run.run_until_exit(k)
        run.check("the child saw the parent's old value", b"child: 1" in run.console(k))
        run.ask("How many pages did the fork copy?", lambda: str(copies))

A step's function is its action; ``run.check`` records a check against live
state (with the file and line it was written on) and ``run.ask`` a question
whose answer is computed from the run, shown on request (OSTEP's ``-c``).
The same engine drives ``spinwb scenario run --headless`` and the
workbench's Scenario pane: ``Runner.next()`` does one step. Everything is
seeded from ``run.seed``, so a run replays exactly.

An error in a step -- an exception in its action, or a scenario file that
does not load -- becomes a ``ScenarioError`` naming FILE:LINE and the step;
the engine and whatever shows it keep running.
"""

from __future__ import annotations

import importlib.util
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernel import inspect
from kernel.boot import boot
from kernel.kernel import Kernel
from kernel.sys.errors import SpinError
from machine.elf import ElfError, ElfImage, read_elf, read_program
from machine.hostfile import HOST_TEXT_MAX, HostFileError, read_text

if TYPE_CHECKING:  # the network's modules load with a lesson's first network (most lessons boot none)
    from kernel.net.topology import Network

LESSONS = Path(__file__).resolve().parent / "lessons"
PROGRAMS = Path(__file__).resolve().parent / "programs" / "bin"
EXTENSIONS = Path(__file__).resolve().parent.parent / "extensions"
CLOCK_MHZ = 133
# The panes a step may name (the workbench's titles; tests/workbench checks each has a pane).
PANES = ("Strands", "Domains", "Events", "Page tables", "Packets", "Console", "CPU", "Trace", "Scenario", "Video")
VIRTUAL_LIMIT_S = 30.0  # a step's default limit in virtual seconds (the lessons' longest runs ~2 s)
HOST_LIMIT_S = 120.0  # and in host seconds (the slowest lesson step takes ~10 s on a loaded laptop)


class StepLimit(BaseException):
    """A step ran past its virtual-time or host-time limit. A BaseException,
    so a lesson's own ``except Exception`` cannot swallow it."""


class ScenarioError(Exception):
    """A scenario that cannot load or a step that failed to run: where and why."""

    def __init__(self, where: str, message: str, step: int | None = None) -> None:
        self.where = where
        self.step = step
        self.message = message
        at = f" (step {step})" if step is not None else ""
        super().__init__(f"{where}: {message}{at}")


@dataclass
class Check:
    text: str
    ok: bool
    detail: str = ""
    where: str = ""


@dataclass
class Question:
    text: str
    answer: str


@dataclass
class Exhibit:
    """A table a step shows: a moment of the run the narration points at."""

    title: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class StepResult:
    number: int
    title: str
    narration: str
    checks: list[Check] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    exhibits: list[Exhibit] = field(default_factory=list)
    error: str = ""  # FILE:LINE: what went wrong, if the action raised
    pane: str = "Scenario"  # the pane the step names
    host_seconds: float = 0.0  # how long the step took on the host
    virtual_us: float = 0.0  # and in virtual time (the longest of its machines)

    @property
    def passed(self) -> bool:
        return not self.error and all(c.ok for c in self.checks)


@dataclass
class Step:
    title: str
    narration: str
    action: Callable[[Run], None]
    pane: str = "Scenario"  # the pane to watch (one of PANES): the workbench shows it while the step runs
    watch: bool = False  # run at the instructor's pace in the workbench, panes repainting as the machine runs
    virtual_limit_s: float = VIRTUAL_LIMIT_S
    host_limit_s: float = HOST_LIMIT_S
    pace_us: float | None = None  # a watch step's own pace, virtual µs per host second (None: the workbench's)


class Lesson:
    def __init__(self, name: str, title: str, summary: str = "") -> None:
        for what, v in (("name", name), ("title", title), ("summary", summary)):
            if not isinstance(v, str):
                f = sys._getframe(1)
                raise ScenarioError(f"{_short(f.f_code.co_filename)}:{f.f_lineno}",
                                    f"Lesson's {what} must be a str, not {_kind(v)}")  # fmt: skip
        self.name = name
        self.title = title
        self.summary = summary
        self.steps: list[Step] = []
        self.file = ""

    def step(self, title: str, narration: str = "", *, pane: str = "Scenario", watch: bool = False,
             virtual_limit_s: float = VIRTUAL_LIMIT_S, host_limit_s: float = HOST_LIMIT_S,
             pace_us: float | None = None) -> Callable[[Callable[[Run], None]], Callable[[Run], None]]:  # fmt: skip
        """Decorate a step's action. ``pane`` names the pane whose text answers
        the step's questions (one of PANES); ``watch`` runs the step at a visible
        pace in the workbench, ``pace_us`` virtual µs per host second if the step's
        length needs its own (a 100 ms network step is not a 300 µs fork); the
        limits stop a step that would run for ever."""
        f = sys._getframe(1)
        where = f"{_short(f.f_code.co_filename)}:{f.f_lineno}"
        for what, text in (("title", title), ("narration", narration), ("pane", pane)):
            if not isinstance(text, str):
                raise ScenarioError(where, f"step {title!r}: {what} must be a str, not {_kind(text)}")
        if not isinstance(watch, bool):
            raise ScenarioError(where, f"step {title!r}: watch must be True or False, not {_kind(watch)}")
        match = {p.lower(): p for p in PANES}.get(pane.lower().strip())
        if match is None:
            raise ScenarioError(where, f"step {title!r}: no pane {pane!r}{_nearest(pane, PANES)} "
                                       f"(a step names one of: {', '.join(PANES)})")  # fmt: skip
        for what, v in (("virtual_limit_s", virtual_limit_s), ("host_limit_s", host_limit_s)):
            if not isinstance(v, int | float) or isinstance(v, bool) or not 0 < v < float("inf"):
                raise ScenarioError(where, f"step {title!r}: {what} must be a positive number of seconds, not {v!r}")
        if pace_us is not None and (
            not isinstance(pace_us, int | float) or isinstance(pace_us, bool) or not pace_us > 0
        ):
            raise ScenarioError(where, f"step {title!r}: pace_us must be a positive number of virtual µs per host "
                                       f"second, not {pace_us!r}")  # fmt: skip

        def add(fn: Callable[[Run], None]) -> Callable[[Run], None]:
            self.steps.append(Step(title, narration.strip(), fn, match, watch, float(virtual_limit_s),
                                   float(host_limit_s), None if pace_us is None else float(pace_us)))  # fmt: skip
            return fn

        return add


class Run:
    """What a step's action works with: the seed, the machines, checks and questions."""

    def __init__(self, lesson: Lesson, seed: int, trace: bool = False) -> None:
        self.lesson = lesson
        self.seed = seed
        self.trace = trace  # per-dispatch records on every kernel booted (the workbench's panes read them)
        self.rng = random.Random(seed)
        self.kernel: Kernel | None = None
        self.net: Network | None = None
        self.state: dict[str, Any] = {}  # what one step leaves for the next
        self.result: StepResult | None = None
        self.step: Step | None = None  # the step running now (None between steps)
        self.shown_event = ""  # the event whose bindings the Events pane shows (show_event)
        self.shown_host = 0  # the index of the host the panes show (show_host): 0 is 10.0.0.1
        # Called with the run on every clock tick of a machine the run booted, and at run.tick(),
        # while a step runs: the workbench paces a watch step and repaints; a headless run shows progress.
        self.observer: Callable[[Run], None] | None = None
        self.on_world: Callable[[Run], None] | None = None  # a step booted a machine or a network
        # While a watch step runs: run_until_exit runs in slices of this many cycles, calling tick()
        # between them, so the workbench can pace and repaint a run shorter than a clock tick (1024 Hz).
        self.slice_cycles: int | None = None
        self._host_start = 0.0
        self._held = 0.0  # host time the step spent in hold() (pacing, repainting): not counted against its limit
        self._virtual_start: dict[int, int] = {}  # id(kernel) -> its cycle count when the step began

    # --- building worlds -------------------------------------------------------------

    def program(self, name: str) -> ElfImage:
        """A program by name from scenarios/programs/bin ("forkcow"), or by a
        path (a name with a dot or a slash: "prog.elf", "bin/prog"), relative to the lesson's file."""
        if not isinstance(name, str) or not name:
            raise TypeError(f'a program is named by a str ("forkcow", or a path), not {_kind(name)}')
        if "/" not in name and "." not in name:
            if not (PROGRAMS / f"{name}.elf").is_file():
                known = sorted(p.stem for p in PROGRAMS.glob("*.elf"))
                raise ElfError(f"no program {name!r} in scenarios/programs/bin{_nearest(name, known)} "
                               "(a name there without .elf, or a path beside the lesson)")  # fmt: skip
            return read_elf(PROGRAMS / f"{name}.elf")
        path = Path(name).expanduser()
        if not path.is_absolute() and self.lesson.file:
            path = Path(_short(str(Path(self.lesson.file).resolve().parent / path)))
        try:
            return read_program(path)
        except ElfError as e:
            raise ElfError(f"the lesson's program: {e}") from None  # the step's error, at the lesson's line

    def boot(self, init: str | None = None, argv: list[str] | None = None, stdin: bytes | str | None = None,
             **kw: Any) -> Kernel:  # fmt: skip
        """A fresh workstation; with ``init``, pid 1 runs that program (a name
        in scenarios/programs/bin or a path beside the lesson, see ``program``).
        ``stdin`` is all the console input the run gets, then end of file (as
        ``prog < file`` would); without it a read of stdin waits for ``type``."""
        if argv is not None and (not isinstance(argv, list | tuple) or not all(isinstance(a, str) for a in argv)):
            raise TypeError(f'run.boot\'s argv is a list of str (argv=["upper", "-n"]), not {_kind(argv)}')
        if stdin is not None and not isinstance(stdin, bytes | bytearray | str):
            raise TypeError(f'run.boot\'s stdin is bytes or a str (stdin=b"one\\n"), not {_kind(stdin)}')
        image = self.program(init) if init else None
        self.kernel = boot(init=image, argv=argv or ([init] if init else None), trace=self.trace, **kw)
        self._watch(self.kernel)
        if stdin is not None:
            self.type(self.kernel, stdin, eof=True)
        if self.on_world is not None:
            self.on_world(self)
        return self.kernel

    def type(self, k: Kernel, text: bytes | str, eof: bool = False) -> None:
        """Input at the console, as if typed (a str is UTF-8); ``eof`` adds a
        Ctrl-D after it. Part of the machine's state, so a run replays."""
        _need_kernel("run.type", k)
        if not isinstance(text, bytes | bytearray | str):
            raise TypeError(f"run.type's text is bytes or a str, not {_kind(text)}")
        k.machine.console.feed(text.encode() if isinstance(text, str) else bytes(text))
        if eof:
            k.machine.console.end_of_input()

    def network(self, hosts: int, programs: dict[int, tuple[str, list[str]]] | None = None, loss: float = 0.0,
                **kw: Any) -> Network:  # fmt: skip
        """``hosts`` workstations 10.0.0.1.. on one wire; the wire's loss is
        seeded from the run's seed. ``programs`` is keyed by host index: 0 is 10.0.0.1."""
        if not isinstance(hosts, int) or isinstance(hosts, bool) or not 1 <= hosts <= 64:
            raise ValueError(f"run.network's hosts is a number of hosts from 1 to 64, not {hosts!r}")
        for i, prog in (programs or {}).items():
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < hosts:
                raise ValueError(f"run.network's programs are keyed by host index, 0 (10.0.0.1) to {hosts - 1} "
                                 f"(10.0.0.{hosts}); {i!r} is not one")  # fmt: skip
            if (not isinstance(prog, tuple | list) or len(prog) != 2 or not isinstance(prog[0], str)
                    or not isinstance(prog[1], list | tuple)):  # fmt: skip
                raise TypeError(f"run.network's programs[{i}] is (program, [args...]), e.g. "
                                f"(\"udp_echo\", [\"7\"]), not {prog!r}")  # fmt: skip
        from kernel.net.topology import Network

        images = {i: (self.program(p), [p, *args]) for i, (p, args) in (programs or {}).items()}
        self.net = Network(hosts, programs=images, loss=loss, seed=self.rng.randrange(1 << 30), trace=self.trace, **kw)
        self.shown_host = 0
        for k in self.net.hosts:
            self._watch(k)
        if self.on_world is not None:
            self.on_world(self)
        return self.net

    def world(self, world: Any) -> Any:
        """Put a world built outside the engine on the panes, as ``network``
        does its own: a WebWorld (kernel/net/webworld.py), a VideoWorld
        (kernel/net/videoworld.py), anything whose ``.net`` is a Network, or
        a Network. Its hosts become ``run.net.hosts`` (the panes show host 1,
        10.0.0.1, until ``show_host``); the step's limits count from now, not
        from while the world was being built. Returns ``world``."""
        from kernel.net.topology import Network

        net = world if isinstance(world, Network) else getattr(world, "net", None)
        if not isinstance(net, Network):
            raise TypeError(f"run.world takes a world with its hosts in .net (a WebWorld, a VideoWorld) or a "
                            f"Network, not {_kind(world)}")  # fmt: skip
        self.net = net
        self.shown_host = 0
        for k in net.hosts:
            if self.trace:
                k.dispatcher.set_tracing(True)  # the records the workbench's panes read (virtual time is the same)
            if id(k) not in self._virtual_start:
                k.tick_hooks.append(lambda k=k: self._tick(k))
            self._virtual_start[id(k)] = k.sal.now
        if self.on_world is not None:
            self.on_world(self)
        return world

    def show_host(self, host: Kernel | int) -> None:
        """Put one of ``run.net``'s hosts on the panes (a machine in
        ``run.net.hosts``, or its index: 0 is 10.0.0.1), as pressing ``h`` would;
        the student's ``h`` still moves on. Call it after the world is made."""
        if self.net is None:
            raise RuntimeError("run.show_host: no network yet; call it after run.network or run.world")
        hosts = self.net.hosts
        i = next((j for j, k in enumerate(hosts) if k is host), None) if isinstance(host, Kernel) else host
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(hosts):
            raise ValueError(f"run.show_host takes one of run.net.hosts or its index, 0 (10.0.0.1) to "
                             f"{len(hosts) - 1}, not {_kind(host)}")  # fmt: skip
        self.shown_host = i
        if self.on_world is not None:
            self.on_world(self)

    # --- limits, progress, pace ------------------------------------------------------------

    def _watch(self, k: Kernel) -> None:
        self._virtual_start[id(k)] = k.sal.now
        k.tick_hooks.append(lambda: self._tick(k))

    def now(self) -> int:
        """Virtual time of the machines the step works with, in cycles."""
        if self.net is not None:
            return self.net.now
        return self.kernel.sal.now if self.kernel is not None else 0

    def host_seconds(self) -> float:
        """Host time the step has taken so far (its pauses in ``hold`` included)."""
        return time.perf_counter() - self._host_start if self.step is not None else 0.0

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Host time spent inside does not count against the step's host
        limit: the workbench holds a watch step here to keep its pace and to
        repaint (a lesson has no reason to)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._held += time.perf_counter() - t0

    def virtual_seconds(self) -> float:
        """Virtual time the step has run so far (the longest of its machines)."""
        return max((self._elapsed(k) for k in self._kernels()), default=0) / (CLOCK_MHZ * 1e6)

    def _kernels(self) -> list[Kernel]:
        if self.net is not None:
            return list(self.net.hosts)
        return [self.kernel] if self.kernel is not None else []

    def _elapsed(self, k: Kernel) -> int:
        return k.sal.now - self._virtual_start.get(id(k), k.sal.now)

    def _begin(self, step: Step) -> None:
        self.step = step
        self._host_start = time.perf_counter()
        self._held = 0.0
        for k in self._kernels():
            self._virtual_start[id(k)] = k.sal.now

    def _tick(self, k: Kernel) -> None:
        step = self.step
        if step is None:
            return
        if self._elapsed(k) > step.virtual_limit_s * CLOCK_MHZ * 1e6:
            raise StepLimit(f"{step.virtual_limit_s:g} s of virtual time")
        self.tick()

    def tick(self) -> None:
        """Let the workbench repaint (and pace a watch step) and the limits be
        checked: machines do this on every clock tick; a lesson that loops in
        Python without a machine (a scheduler of its own) calls it now and then."""
        step = self.step
        if step is None:
            return
        if time.perf_counter() - self._host_start - self._held > step.host_limit_s:
            raise StepLimit(f"{step.host_limit_s:g} s of host time")
        if self.observer is not None:
            self.observer(self)

    def show_event(self, event: str) -> None:
        """Put ``event`` under the Events pane's cursor, so the pane lists its
        bindings (the student's arrow keys still move it). The event must be
        one the shown machine defines now (load its extension first)."""
        if not isinstance(event, str):
            raise TypeError(f'run.show_event takes an event\'s name ("UDP.PacketArrived"), not {_kind(event)}')
        shown = self.net.hosts[self.shown_host] if self.net is not None else self.kernel
        if shown is None:
            raise RuntimeError(f"run.show_event({event!r}): no machine yet; call it after run.boot or run.network")
        if event not in shown.dispatcher.events:
            names = sorted(shown.dispatcher.events)
            raise ValueError(f"run.show_event: the machine has no event {event!r}{_nearest(event, names)}; "
                             "the Events pane lists the events it has (an extension's appear once it is loaded)")  # fmt: skip
        self.shown_event = event

    def load(self, k: Kernel, extension: str, **settings: Any) -> Any:
        """Load extensions/NAME.py (or a path) on a kernel, with settings, as
        the machine's owner: a lesson is the instructor's (kernel/sys/authority.py)."""
        _need_kernel("run.load", k)
        if not isinstance(extension, str):
            raise TypeError(f'run.load takes an extension\'s name ("vm_app") or a .py path, not {_kind(extension)}')
        path = Path(extension) if extension.endswith(".py") else EXTENSIONS / f"{extension}.py"
        if not extension.endswith(".py") and not path.is_file():
            known = sorted(p.stem for p in EXTENSIONS.glob("*.py") if not p.name.startswith("_"))
            raise SpinError(f"no extension {extension!r} in extensions/{_nearest(extension, known)} "
                            "(a name there without .py, or a path to a .py file)")  # fmt: skip
        return k.system.load_file(path, settings=settings or None, importer="root")

    def try_load(self, k: Kernel, source: str, filename: str) -> str:
        """Load extension source that is meant to be refused: the refusal ('' if it loaded)."""
        _need_kernel("run.try_load", k)
        if not isinstance(source, str) or not isinstance(filename, str):
            raise TypeError("run.try_load(k, source, filename) takes the extension's source and a file name, both str")
        try:
            k.system.load(source, filename)
        except SpinError as e:
            return str(e)
        return ""

    # --- running ------------------------------------------------------------------------

    def run_until_exit(self, k: Kernel, max_instructions: int = 200_000_000, waiting_ok: bool = False) -> str:
        """Run until every process exits, the budget is spent, or the processes
        left can only wait for console input that nobody will type: then
        "waiting for input", which fails the step (a headless run would
        otherwise idle for ever) unless the lesson says ``waiting_ok``."""

        _need_kernel("run.run_until_exit", k)
        if not isinstance(max_instructions, int) or isinstance(max_instructions, bool) or max_instructions < 1:
            raise ValueError(
                f"run.run_until_exit's max_instructions is a positive whole number, not {max_instructions!r}"
            )

        def stuck() -> None:
            if waiting_for_input(k):
                k.machine.request_stop(WAITING)

        k.halt_when_done = True
        k.tick_hooks.append(stuck)
        try:
            end = k.machine.cpu.icount + max_instructions
            while True:  # one run, or slices of it for a watch step the workbench paces (the same instructions)
                cut = self.slice_cycles if self.step is not None and self.step.watch else None
                why = k.run(end - k.machine.cpu.icount, None if cut is None else k.sal.now + max(1, cut))
                if why != "cycle" or cut is None:
                    break
                self.tick()
        finally:
            k.tick_hooks.remove(stuck)
        if why == "stop" and k.machine.stop_detail == WAITING:
            why = WAITING
            if not waiting_ok:
                f = sys._getframe(1)
                assert self.result is not None
                self.result.checks.append(Check(
                    "the program waits for input on stdin and none is left", False,
                    "give it input: run.boot(..., stdin=b'...') or run.type(k, '...')",
                    f"{_short(f.f_code.co_filename)}:{f.f_lineno}"))  # fmt: skip
        return why

    def run_to(self, k: Kernel, seen: Callable[[], object], chunk: int = 1, budget: int = 2_000_000) -> bool:
        """Run ``k`` ``chunk`` instructions at a time until ``seen()`` holds (a
        trace record, a line on the console), at most ``budget`` instructions or
        until the machine halts; whether it held. To stop the machine at a
        moment the panes should show, not after it."""
        k.halt_when_done = True
        spent = 0
        while not seen():
            if spent >= budget or k.machine.halt_reason is not None:
                return bool(seen())
            k.run(chunk)
            spent += chunk
        return True

    def console(self, k: Kernel) -> str:
        _need_kernel("run.console", k)
        return bytes(k.machine.console.output).decode(errors="replace")

    def us(self, cycles: float) -> float:
        return cycles / CLOCK_MHZ

    # --- checks and questions -------------------------------------------------------------

    def check(self, text: str, ok: object, detail: str = "") -> bool:
        """Record a check; the FILE:LINE of the call goes with it."""
        f = sys._getframe(1)
        where = f"{_short(f.f_code.co_filename)}:{f.f_lineno}"
        self._in_step("run.check")
        assert self.result is not None
        if not isinstance(text, str):
            raise TypeError(f"run.check(text, ok, detail): text is what is checked, a str, not {_kind(text)}")
        if isinstance(ok, str | bytes):
            raise TypeError(f"run.check({text!r}, ok, ...): ok is {_kind(ok)}, which is true unless empty; "
                            "give the condition itself (x == y); the evidence goes in detail")  # fmt: skip
        if callable(ok):
            raise TypeError(f"run.check({text!r}, ok, ...): ok is a function, which is always true; call it "
                            "(ok=f()) -- only run.ask takes a function")  # fmt: skip
        try:
            passed = bool(ok)
        except Exception as e:  # noqa: BLE001 - e.g. an array whose truth is ambiguous
            raise TypeError(f"run.check({text!r}, ok, ...): ok ({_kind(ok)}) is neither true nor false: {e}") from None
        self.result.checks.append(Check(text, passed, detail if isinstance(detail, str) else str(detail), where))
        return passed

    def exhibit(self, title: str, columns: list[str], rows: list[list[object]]) -> None:
        """Show a table with the step (the Scenario pane and headless output):
        a moment of the run worth looking at, captured when it happened."""
        self._in_step("run.exhibit")
        assert self.result is not None
        if not isinstance(title, str):
            raise TypeError(f"run.exhibit's title is a str, not {_kind(title)}")
        if isinstance(columns, str) or not isinstance(columns, list | tuple):
            raise TypeError(
                f"run.exhibit({title!r}, columns, rows): columns is a list of headings, not {_kind(columns)}"
            )
        if isinstance(rows, str) or not isinstance(rows, list | tuple):
            raise TypeError(f"run.exhibit({title!r}, columns, rows): rows is a list of rows, not {_kind(rows)}")
        for i, r in enumerate(rows):
            if isinstance(r, str) or not isinstance(r, list | tuple) or len(r) != len(columns):
                raise ValueError(f"run.exhibit({title!r}, ...): row {i} is {r!r}; each row is a list of "
                                 f"as many cells as columns, {len(columns)}: {list(columns)}")  # fmt: skip
        self.result.exhibits.append(Exhibit(title, list(columns), [[str(c) for c in r] for r in rows]))

    def ask(self, question: str, answer: object) -> None:
        """A question whose answer the run computed (shown on request)."""
        self._in_step("run.ask")
        assert self.result is not None
        if not isinstance(question, str):
            raise TypeError(f"run.ask(question, answer): question is a str, not {_kind(question)}")
        value = answer() if callable(answer) else answer
        if value is None:
            raise ValueError(f"run.ask({question!r}, ...): the answer is None; give the value the pane shows")
        self.result.questions.append(Question(question, str(value)))

    def _in_step(self, what: str) -> None:
        if self.result is None:
            raise RuntimeError(f"{what} is called inside a step's action (a function decorated with @lesson.step)")


WAITING = "waiting for input"


def _kind(v: object) -> str:
    """A value as a message names it: its type, and a short repr."""
    text = repr(v)
    return f"{type(v).__name__} {text[:40] + '...' if len(text) > 40 else text}"


def _nearest(name: str, names: Iterable[str]) -> str:
    """' (did you mean X?)' for a misspelling, else ''."""
    import difflib  # here: only a misspelling needs it

    by_lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(str(name).lower().strip(), list(by_lower), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(by_lower[c] for c in close)}?)" if close else ""


def _need_kernel(what: str, k: object) -> None:
    if not isinstance(k, Kernel):
        from kernel.net.topology import Network

        hint = " (a network's machines are net.hosts[0], net.hosts[1], ...)" if isinstance(k, Network) else ""
        raise TypeError(f"{what} takes a machine (the Kernel run.boot returns), not {_kind(k)}{hint}")


def waiting_for_input(k: Kernel) -> bool:
    """Some process reads the console, none can run, and no input or end of
    file is queued: nothing but a person typing can move the run on."""
    rows = [r for r in inspect.strands(k) if r.kind == "user" and r.state != "done"]
    return (
        any(r.blocked_on == "console" for r in rows)
        and all(r.state == "blocked" and r.blocked_on in ("console", "wait") for r in rows)
        and not k.machine.console.readable
    )


def _short(path: str) -> str:
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


class Runner:
    """Steps through one lesson: ``next()`` runs the next step and returns
    its result; ``results`` holds the steps done so far."""

    def __init__(self, lesson: Lesson, seed: int = 0, trace: bool = False, host_limit_s: float | None = None) -> None:
        self.lesson = lesson
        self.seed = seed
        self.host_limit_s = host_limit_s  # overrides every step's own (`--step-limit`)
        self.run = Run(lesson, seed, trace)
        self.results: list[StepResult] = []
        self.halted = ""  # a step exceeded its limit: the machines are mid-run, the steps after it do not run

    @property
    def done(self) -> bool:
        return bool(self.halted) or len(self.results) >= len(self.lesson.steps)

    @property
    def upcoming(self) -> Step | None:
        """The step ``next()`` runs (None when done)."""
        return None if self.done else self.lesson.steps[len(self.results)]

    @property
    def position(self) -> str:
        """What a student pastes into a help request."""
        return f"scenario {self.lesson.name} seed {self.seed} step {len(self.results)}/{len(self.lesson.steps)}"

    def next(self) -> StepResult:
        if self.done:
            raise IndexError(f"{self.lesson.name}: all {len(self.lesson.steps)} steps are done")
        n = len(self.results) + 1
        step = self.lesson.steps[n - 1]
        if self.host_limit_s is not None:
            step = replace(step, host_limit_s=self.host_limit_s)
        res = StepResult(n, step.title, step.narration, pane=step.pane)
        self.run.result = res
        self.run._begin(step)
        try:
            with _alarm(step.host_limit_s):
                step.action(self.run)
        except StepLimit as e:
            res.error = f"{_where(e, self.lesson.file)}: step {n} exceeded its limit ({e})"
            self.halted = res.error
        except Exception as e:  # noqa: BLE001 - a lesson's bug is reported, never lost
            res.error = f"{_where(e, self.lesson.file)}: {type(e).__name__}: {e}"
        finally:
            self.run.step = None
            res.host_seconds = round(time.perf_counter() - self.run._host_start, 3)
            res.virtual_us = round(max((self.run._elapsed(k) for k in self.run._kernels()), default=0) / CLOCK_MHZ, 1)
        self.results.append(res)
        return res

    def run_all(self) -> list[StepResult]:
        while not self.done:
            self.next()
        return self.results

    @property
    def passed(self) -> bool:
        return self.done and not self.halted and all(r.passed for r in self.results)


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """A host-time limit that also stops a step looping in Python without a
    machine (machines check theirs on every tick): a timer signal, so only in
    the main thread (the workbench runs steps in a worker and relies on ticks)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise StepLimit(f"{seconds:g} s of host time")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds + 0.5)  # just after the ticks' own check, which says where
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _where(e: BaseException, file: str) -> str:
    """FILE:LINE of the deepest frame in the scenario file (else the deepest frame)."""
    import traceback  # here: only a failing check or step needs it (with linecache, tokenize, textwrap)

    frames = traceback.extract_tb(e.__traceback__)
    mine = [f for f in frames if Path(f.filename).resolve() == Path(file).resolve()] if file else []
    f = (mine or frames)[-1] if (mine or frames) else None
    return f"{_short(f.filename)}:{f.lineno}" if f else _short(file)


# --- finding and loading scenarios ----------------------------------------------------------


def available() -> dict[str, Path]:
    return {p.stem: p for p in sorted(LESSONS.glob("*.py")) if not p.name.startswith("_")}


def load(name_or_path: str) -> Lesson:
    """A lesson by name (scenarios/lessons/NAME.py) or by file path."""
    path = Path(name_or_path)
    if not (path.suffix == ".py" and path.exists()):
        found = available().get(name_or_path)
        if found is None:
            if path.suffix == ".py" or "/" in name_or_path or path.exists():  # meant as a file
                what = ("no such file" if not path.exists() else "a directory, not a scenario file" if path.is_dir()
                        else "not a scenario file (a lesson is a .py file)")  # fmt: skip
                raise ScenarioError(name_or_path, f"{what}; or a lesson's name: {', '.join(available())}")
            raise ScenarioError(name_or_path, f"no such scenario{_nearest(name_or_path, available())} "
                                              f"(try one of: {', '.join(available())})")  # fmt: skip
        path = found
    try:
        source = read_text(path, HOST_TEXT_MAX, "a scenario (Python source)")  # bounded: a FIFO cannot hang it
        code = compile(source, str(path), "exec")
    except SyntaxError as e:
        raise ScenarioError(f"{_short(str(path))}:{e.lineno}", f"syntax error: {e.msg}") from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise ScenarioError(_short(str(path)), f"cannot compile: {type(e).__name__}: {e}") from None
    except HostFileError as e:  # its text starts with the path (and maybe a line): say it once
        text = str(e)
        for prefix in (f"{path}: ", f"{path}:"):
            text = text.removeprefix(prefix)
        where, _, why = text.partition(": ")
        if why and where.isdigit():
            raise ScenarioError(f"{_short(str(path))}:{where}", why) from None
        raise ScenarioError(_short(str(path)), text) from None
    spec = importlib.util.spec_from_loader(f"scenario_{path.stem}", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    try:
        exec(code, module.__dict__)  # noqa: S102 - scenario files are the instructor's own code
    except ScenarioError:
        raise  # a bad step declaration: already says where
    except Exception as e:  # noqa: BLE001
        raise ScenarioError(_where(e, str(path)), f"{type(e).__name__}: {e}") from None
    lessons = [v for v in module.__dict__.values() if isinstance(v, Lesson)]
    if len(lessons) != 1:
        raise ScenarioError(_short(str(path)), f"defines {len(lessons)} Lesson objects; a scenario file defines one")
    lesson = lessons[0]
    lesson.file = str(path)
    if not lesson.steps:
        raise ScenarioError(_short(str(path)), "the lesson has no steps (decorate functions with @lesson.step)")
    return lesson
