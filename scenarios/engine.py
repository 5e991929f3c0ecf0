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
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernel import inspect
from kernel.boot import boot
from kernel.kernel import Kernel
from kernel.net.topology import Network
from kernel.sys.errors import SpinError
from machine.elf import ElfError, ElfImage, read_elf, read_program
from machine.hostfile import HOST_TEXT_MAX, HostFileError, read_text

LESSONS = Path(__file__).resolve().parent / "lessons"
PROGRAMS = Path(__file__).resolve().parent / "programs" / "bin"
EXTENSIONS = Path(__file__).resolve().parent.parent / "extensions"
CLOCK_MHZ = 133


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

    @property
    def passed(self) -> bool:
        return not self.error and all(c.ok for c in self.checks)


@dataclass
class Step:
    title: str
    narration: str
    action: Callable[[Run], None]


class Lesson:
    def __init__(self, name: str, title: str, summary: str = "") -> None:
        self.name = name
        self.title = title
        self.summary = summary
        self.steps: list[Step] = []
        self.file = ""

    def step(self, title: str, narration: str = "") -> Callable[[Callable[[Run], None]], Callable[[Run], None]]:
        def add(fn: Callable[[Run], None]) -> Callable[[Run], None]:
            self.steps.append(Step(title, narration.strip(), fn))
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

    # --- building worlds -------------------------------------------------------------

    def program(self, name: str) -> ElfImage:
        """A program by name from scenarios/programs/bin ("forkcow"), or by a
        path (a name with a dot or a slash: "prog.elf", "bin/prog"), relative to the lesson's file."""
        if "/" not in name and "." not in name:
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
        image = self.program(init) if init else None
        self.kernel = boot(init=image, argv=argv or ([init] if init else None), trace=self.trace, **kw)
        if stdin is not None:
            self.type(self.kernel, stdin, eof=True)
        return self.kernel

    def type(self, k: Kernel, text: bytes | str, eof: bool = False) -> None:
        """Input at the console, as if typed (a str is UTF-8); ``eof`` adds a
        Ctrl-D after it. Part of the machine's state, so a run replays."""
        k.machine.console.feed(text.encode() if isinstance(text, str) else bytes(text))
        if eof:
            k.machine.console.end_of_input()

    def network(self, hosts: int, programs: dict[int, tuple[str, list[str]]] | None = None, loss: float = 0.0,
                **kw: Any) -> Network:  # fmt: skip
        """``hosts`` workstations 10.0.0.1.. on one wire; the wire's loss is
        seeded from the run's seed."""
        images = {i: (self.program(p), [p, *args]) for i, (p, args) in (programs or {}).items()}
        self.net = Network(hosts, programs=images, loss=loss, seed=self.rng.randrange(1 << 30), trace=self.trace, **kw)
        return self.net

    def load(self, k: Kernel, extension: str, **settings: Any) -> Any:
        """Load extensions/NAME.py (or a path) on a kernel, with settings, as
        the machine's owner: a lesson is the instructor's (kernel/sys/authority.py)."""
        path = Path(extension) if extension.endswith(".py") else EXTENSIONS / f"{extension}.py"
        return k.system.load_file(path, settings=settings or None, importer="root")

    def try_load(self, k: Kernel, source: str, filename: str) -> str:
        """Load extension source that is meant to be refused: the refusal ('' if it loaded)."""
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

        def stuck() -> None:
            if waiting_for_input(k):
                k.machine.request_stop(WAITING)

        k.halt_when_done = True
        k.tick_hooks.append(stuck)
        try:
            why = k.run(max_instructions)
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

    def console(self, k: Kernel) -> str:
        return bytes(k.machine.console.output).decode(errors="replace")

    def us(self, cycles: float) -> float:
        return cycles / CLOCK_MHZ

    # --- checks and questions -------------------------------------------------------------

    def check(self, text: str, ok: object, detail: str = "") -> bool:
        """Record a check; the FILE:LINE of the call goes with it."""
        f = sys._getframe(1)
        where = f"{_short(f.f_code.co_filename)}:{f.f_lineno}"
        assert self.result is not None
        self.result.checks.append(Check(text, bool(ok), detail, where))
        return bool(ok)

    def exhibit(self, title: str, columns: list[str], rows: list[list[object]]) -> None:
        """Show a table with the step (the Scenario pane and headless output):
        a moment of the run worth looking at, captured when it happened."""
        assert self.result is not None
        self.result.exhibits.append(Exhibit(title, list(columns), [[str(c) for c in r] for r in rows]))

    def ask(self, question: str, answer: object) -> None:
        """A question whose answer the run computed (shown on request)."""
        assert self.result is not None
        value = answer() if callable(answer) else answer
        self.result.questions.append(Question(question, str(value)))


WAITING = "waiting for input"


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

    def __init__(self, lesson: Lesson, seed: int = 0, trace: bool = False) -> None:
        self.lesson = lesson
        self.seed = seed
        self.run = Run(lesson, seed, trace)
        self.results: list[StepResult] = []

    @property
    def done(self) -> bool:
        return len(self.results) >= len(self.lesson.steps)

    @property
    def position(self) -> str:
        """What a student pastes into a help request."""
        return f"scenario {self.lesson.name} seed {self.seed} step {len(self.results)}/{len(self.lesson.steps)}"

    def next(self) -> StepResult:
        if self.done:
            raise IndexError(f"{self.lesson.name}: all {len(self.lesson.steps)} steps are done")
        n = len(self.results) + 1
        step = self.lesson.steps[n - 1]
        res = StepResult(n, step.title, step.narration)
        self.run.result = res
        try:
            step.action(self.run)
        except Exception as e:  # noqa: BLE001 - a lesson's bug is reported, never lost
            res.error = f"{_where(e, self.lesson.file)}: {type(e).__name__}: {e}"
        self.results.append(res)
        return res

    def run_all(self) -> list[StepResult]:
        while not self.done:
            self.next()
        return self.results

    @property
    def passed(self) -> bool:
        return self.done and all(r.passed for r in self.results)


def _where(e: BaseException, file: str) -> str:
    """FILE:LINE of the deepest frame in the scenario file (else the deepest frame)."""
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
            raise ScenarioError(name_or_path, f"no such scenario (try one of: {', '.join(available())})")
        path = found
    try:
        source = read_text(path, HOST_TEXT_MAX, "a scenario (Python source)")  # bounded: a FIFO cannot hang it
        code = compile(source, str(path), "exec")
    except SyntaxError as e:
        raise ScenarioError(f"{_short(str(path))}:{e.lineno}", f"syntax error: {e.msg}") from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise ScenarioError(_short(str(path)), f"cannot compile: {type(e).__name__}: {e}") from None
    except HostFileError as e:
        raise ScenarioError(_short(str(path)), str(e).removeprefix(f"{path}: ")) from None
    spec = importlib.util.spec_from_loader(f"scenario_{path.stem}", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    try:
        exec(code, module.__dict__)  # noqa: S102 - scenario files are the instructor's own code
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
