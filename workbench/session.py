"""What the workbench drives: a booted workstation, or a scenario's machines.

The TUI, the shell and the tests all hold a ``Session``. Panes read plain
snapshots of it (``strands()``, ``cpu()``, ``workbench/views.py``) instead
of holding kernel objects that the next step invalidates.

Everything that changes the session is an *action* and goes into ``log``:
steps, stepping to the next kernel entry or dispatch, scenario steps,
breakpoints, loads, unloads, raises, console input typed. The machine is deterministic, so the
log is the state: step back replays all but the last action from a fresh
boot, a snapshot is a position in the log, and a snapshot file is the log
with the state hashes it must reproduce (Ripes' reverse step, Dolphie's
replay).
"""

from __future__ import annotations

import ast
import difflib
import functools
import inspect as pyinspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel import inspect
from kernel.boot import boot
from kernel.core.costs import CLOCK_MHZ
from kernel.fs.format import build_image
from kernel.kernel import Kernel
from kernel.net.topology import Network
from kernel.sys.errors import SpinError
from kernel.sys.trace import Dispatch, Install, MemFault, Record, Switch
from machine.elf import ElfError, ElfImage, read_elf, read_program
from scenarios import engine
from workbench import __version__
from workbench.views import packet_ports, plural, record_text

BIN = Path(__file__).resolve().parent.parent / "scenarios" / "programs" / "bin"
DEMO_DISK = ("hello-ev4", "forkcow", "preempt", "nullderef")
DEMO_INIT = ["/init", "/hello-ev4", "/forkcow", "/preempt", "/nullderef"]
SNAPSHOT_FORMAT = "spinwb-snapshot"
SNAPSHOT_VERSION = 1
TO_INSTRUCTIONS = 5_000_000  # how far "step to the next kernel entry or dispatch" looks
TO_CYCLES = CLOCK_MHZ * 500_000  # and at most half a second of virtual time
MAX_INPUT = 4096  # bytes of console input one action may type (a snapshot file's text bound, shell/snapfile.py)


class SessionError(Exception):
    """A request the session refused; the message says what and why, nothing changed."""


@dataclass(frozen=True)
class CpuView:
    pc: int
    regs: tuple[int, ...]
    mode: str
    ipl: int
    icount: int
    cycles: int


# --- breakpoints on OS events ------------------------------------------------------------------

# kind: (what stops the run, its argument, an example)
BREAK_KINDS = {
    "install": ("a handler installed on an event", "an event name or any", "break install UDP.PacketArrived"),
    "fault": ("a memory fault at an address", "an address or any", "break fault 0x0"),
    "switch": ("a context switch to a strand", "a strand id", "break switch 3"),
    "packet": ("a packet in or out with a UDP/TCP port", "a port number", "break packet 7"),
    "dispatch": ("a raise of an event", "an event name or any", "break dispatch any"),
}


def break_kinds_text() -> str:
    return "; ".join(f"{what} ({example})" for what, _, example in BREAK_KINDS.values())


@dataclass(frozen=True)
class Breakpoint:
    kind: str
    arg: str

    def __str__(self) -> str:
        return f"{self.kind} {self.arg}"

    def matches(self, r: Record) -> bool:
        a = self.arg
        if self.kind == "install":
            return isinstance(r, Install) and (a == "any" or r.event == a)
        if self.kind == "fault":
            return isinstance(r, MemFault) and (a == "any" or r.address == int(a, 0))
        if self.kind == "switch":
            return isinstance(r, Switch) and r.new == int(a)
        if self.kind == "packet":
            p = packet_ports(r)
            return p is not None and int(a) in p
        if self.kind == "dispatch":
            return isinstance(r, Dispatch) and (a == "any" or r.event == a)
        return False


def parse_breakpoint(text: str) -> Breakpoint:
    """``KIND ARG`` as typed; a SessionError says what a good one looks like."""
    parts = text.split()
    if len(parts) != 2 or parts[0] not in BREAK_KINDS:
        raise SessionError(f"not a breakpoint: {text!r}. Breakpoints stop on {break_kinds_text()}")
    kind, arg = parts
    try:
        if kind == "fault" and arg != "any":
            int(arg, 0)
        elif kind in ("switch", "packet"):
            if not 0 <= int(arg) < 65536:
                raise ValueError
    except ValueError:
        _, wants, example = BREAK_KINDS[kind]
        raise SessionError(f"break {kind}: {arg!r} is not {wants} (e.g. {example})") from None
    return Breakpoint(kind, arg)


def program_image(path: str | Path) -> ElfImage:
    """The user program at ``path`` (any static Alpha ELF, e.g. one `spinwb cc`
    built); a SessionError saying what is wrong with the file if it is not one."""
    try:
        return read_program(path)
    except ElfError as e:
        raise SessionError(f"{e} (give a static Alpha ELF, e.g. one built with `spinwb cc FILE.c`)") from None


# --- events by name -----------------------------------------------------------------------------


@functools.cache
def workstation_events() -> frozenset[str]:
    """Every event a workstation defines, a networked one's too: a breakpoint
    may name an event that a lesson's later step brings (UDP.PacketArrived
    before the network boots). Extensions define no events of their own."""
    return frozenset(Network(1).hosts[0].dispatcher.events)


def nearest(name: str, names: Iterator[str] | list[str] | frozenset[str]) -> list[str]:
    """The known names a mistyped one was probably meant to be (case aside)."""
    by_lower = {n.lower(): n for n in names}
    return [by_lower[n] for n in difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)]


def no_event(name: str, names: list[str] | frozenset[str]) -> str:
    """What to say about an event name that is not one."""
    near = nearest(name, names)
    hint = f"did you mean {' or '.join(near)}?" if near else "`inspect events` lists them"
    return f"no event named {name}: {hint}"


def signature(ev: Any) -> str:
    """An event as its procedure reads: ``Sched.Choose(g, ready) -> int``,
    from its intrinsic handler (the event's interface procedure)."""
    try:
        sig = pyinspect.signature(ev.original.handler)
    except (TypeError, ValueError):
        return f"{ev.name}(...)"
    params = ", ".join(p.name + (f": {_annotation(p.annotation)}" if p.annotation is not p.empty else "")
                       for p in sig.parameters.values())  # fmt: skip
    result = "" if sig.return_annotation in (sig.empty, None, "None") else f" -> {_annotation(sig.return_annotation)}"
    return f"{ev.name}({params}){result}"


def _annotation(a: Any) -> str:
    return a if isinstance(a, str) else getattr(a, "__name__", str(a))


def _arity(ev: Any) -> tuple[int, int | None] | None:
    """(least, most) arguments the event takes; None when its procedure cannot say."""
    try:
        params = pyinspect.signature(ev.original.handler).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return sum(p.default is p.empty for p in positional), len(positional)


def literal_arguments(event: str, args: str) -> tuple[Any, ...]:
    """``raise``'s arguments: Python literals, comma- or space-separated."""
    if not args.strip():
        return ()
    try:
        return tuple(ast.literal_eval(f"({args},)"))
    except (ValueError, SyntaxError):
        pass
    try:  # `raise E 1 2`: each word a literal of its own
        return tuple(ast.literal_eval(w) for w in args.split())
    except (ValueError, SyntaxError):
        raise SessionError(
            f"raise {event}: arguments must be Python literals (1, 'text', (1, 2)), not {args!r}"
        ) from None


@dataclass
class Command:
    """What the user did, as ``back`` undoes it: the actions from ``start`` in
    the log (a shell `run` is many steps, undone together), in words."""

    start: int
    text: str


# --- the session ----------------------------------------------------------------------------------


class Session:
    """One machine and its kernel booted with init running ``argv`` (the demo
    runs a few programs from the disk), or the machines of a scenario."""

    def __init__(self, program: Path | None = None, argv: list[str] | None = None, scenario: str | None = None,
                 seed: int = 0, live: tuple[str, Network] | None = None) -> None:  # fmt: skip
        self.program = program
        self.argv = argv
        self.lesson: engine.Lesson | None = engine.load(scenario) if scenario is not None else None
        self.seed = seed
        self.marks: list[int] = []  # snapshots: positions in the log
        self.live = live  # of_world: (its name, the world)
        self.reset()

    # --- building ------------------------------------------------------------------------

    @property
    def source(self) -> dict[str, Any]:
        """What a replay boots from."""
        if self.lesson is not None:
            return {"scenario": self.lesson.file, "seed": self.seed}
        return {"program": None if self.program is None else str(self.program), "argv": self.argv}

    def reset(self) -> None:
        """Boot again: the log and the breakpoints start empty (snapshots stay)."""
        if self.live is not None and hasattr(self, "kernels"):
            raise SessionError(f"{self.live[0]}: a live world cannot boot again, step back or restore: real "
                               "clients' bytes are in it and not in the log (quit and start it again)")  # fmt: skip
        self.log: list[list[Any]] = []
        self.commands: list[Command] = []  # the log cut into what the user did, for `back`
        self._command: Command | None = None  # open while one command's actions are applied
        self.breakpoints: list[Breakpoint] = []
        self.generation = 0  # bumped by every action: panes highlight what changed since
        self.stopped = ""  # the run ended for good (all processes exited, a halt)
        self.last_stop = ""  # why the last action stopped early (a breakpoint), in words
        self.runner: engine.Runner | None = None
        # Called on each clock tick while a scenario step runs (engine.Run.observer): the workbench's pacing.
        self.observer: Callable[[engine.Run], None] | None = getattr(self, "observer", None)
        self._world: tuple[Kernel | None, Network | None] = (None, None)  # the run's machines the panes show
        self._shown_host: tuple[int, int] = (0, 0)  # the (network, host) a lesson step last put on show
        self.net: Network | None = None
        self.focus = 0
        if self.live is not None:  # of_world: the world was built elsewhere and is driven from there too
            self.net, self.kernels = self.live[1], list(self.live[1].hosts)
        elif self.lesson is not None:
            self.runner = engine.Runner(self.lesson, self.seed, trace=True)
            self.kernels = [boot(trace=True)]  # until the first step boots its own: an idle workstation
        elif self.program is None:  # the demo: init runs a few programs from the disk, one after another
            disk = build_image({n: (BIN / f"{n}.elf").read_bytes() for n in DEMO_DISK})
            self.kernels = [boot(init=read_elf(BIN / "init.elf"), argv=DEMO_INIT, disk_image=disk, trace=True)]
        else:
            image = program_image(self.program)
            self.kernels = [boot(init=image, argv=self.argv or [self.program.name], trace=True)]
        self._watch_all()

    @property
    def kernel(self) -> Kernel:
        """The machine the panes look at (``focus`` picks one of several)."""
        return self.kernels[self.focus]

    @property
    def networked(self) -> bool:
        """Several machines on a wire: steps are in virtual time, for all of them."""
        return self.net is not None and self.kernels == self.net.hosts

    @property
    def now(self) -> int:
        """Virtual time (cycles) of the session."""
        return self.net.now if self.net is not None and self.networked else self.kernel.sal.now

    @property
    def host_name(self) -> str:
        return self.net.addresses[self.focus] if self.net is not None and self.networked else "workstation"

    @classmethod
    def of_program(cls, path: str | Path, args: list[str] | None = None) -> Session:
        """A workstation booted with the ELF at ``path`` as init (argv[0] is the
        path as given); a SessionError, and nothing booted, if it is not a program."""
        program_image(path)  # refuse before booting
        return cls(Path(path), [str(path), *(args or [])])

    @classmethod
    def of_world(cls, net: Network, name: str, focus: int = 0) -> Session:
        """The panes on a world someone else built and keeps feeding (``spinwb web
        --tui``: the web world, with the host bridge's real clients): steps run it
        as any network's, but the log does not make it again, so reset, back,
        restore and save are refused. ``focus``: the host shown first."""
        s = cls(live=(name, net))
        s.focus = focus
        return s

    @property
    def name(self) -> str:
        """What runs here, in a word: the demo, a program's name, a live world's name."""
        if self.live is not None:
            return self.live[0]
        return "demo" if self.program is None else self.program.name

    def adopt(self, other: Session) -> None:
        """Become ``other`` (a snapshot opened, a lesson opened): whoever holds
        this session sees the new one; the breakpoints watch for it."""
        self.__dict__.update(other.__dict__)
        self._watch_all()

    @property
    def host_label(self) -> str:
        """The machine in focus as users number them: host 1 is 10.0.0.1 (as in `spinwb net`)."""
        return f"host {self.focus + 1} ({self.host_name})" if self.net is not None and self.networked else "workstation"

    def look_at(self, which: str) -> str:
        """Focus on host N (1 is 10.0.0.1) or the host with that address; a view change, not an action."""
        n = len(self.kernels)
        addresses = self.net.addresses if self.net is not None and self.networked else []
        if which in addresses:
            i = addresses.index(which)
        elif which.isdigit() and 1 <= int(which) <= n:
            i = int(which) - 1
        else:
            if not addresses:
                raise SessionError(f"host {which}: there is one machine here, host 1")
            raise SessionError(f"host {which}: hosts are numbered from 1 to {n} (host 1 is {addresses[0]}), "
                               "or name one by its address")  # fmt: skip
        self.focus = i
        self.generation += 1
        return self.host_label

    def next_host(self) -> str:
        """Look at the next machine (a view change, not an action)."""
        self.focus = (self.focus + 1) % len(self.kernels)
        self.generation += 1
        return self.host_label

    def _watch_all(self) -> None:
        for k in self.kernels:
            k.trace.watch = self._watcher(k)

    def _watcher(self, k: Kernel) -> Callable[[Record], None]:
        def watch(r: Record) -> None:
            for bp in self.breakpoints:
                if bp.matches(r):
                    k.machine.request_stop(f"breakpoint {bp}: {record_text(r)}")

        return watch

    # --- actions (each logged; the log replays) -------------------------------------------

    def apply(self, action: list[Any]) -> str:
        """Do one logged action; a line saying what happened."""
        op = action[0]
        self.generation += 1
        self.last_stop = ""
        if op == "step":
            result = self._step(action[1], action[2])
        elif op == "to":
            result = self._step_to(action[1])
        elif op == "scenario":
            result = self._scenario_step()
        elif op == "break":
            result = self._break(action[1], action[2])
        elif op == "load":
            result = self._load(action[1], action[2])
        elif op == "unload":
            result = self._unload(action[1], action[2])
        elif op == "raise":
            result = self._raise(action[1], action[2], action[3])
        elif op == "input":
            result = self._input(action[1], action[2], action[3])
        else:
            raise SessionError(f"unknown action {op!r}")
        self.log.append(action)
        if self._command is None:
            self.commands.append(Command(len(self.log) - 1, describe_action(action)))
        return result

    @contextmanager
    def command(self, text: str) -> Iterator[Command]:
        """Apply several actions as one command (a shell `run`): `back` undoes
        them together. The yielded Command's ``text`` may be reworded at the end."""
        cmd = Command(len(self.log), text)
        self._command = cmd
        try:
            yield cmd
        finally:
            self._command = None
            if len(self.log) > cmd.start:
                self.commands.append(cmd)

    def step(self, n: int, max_cycles: int | None = None) -> str:
        """Run up to n instructions and at most ``max_cycles`` of virtual time
        (an idle machine runs few instructions but many clock ticks); why it
        stopped: "budget", "cycle", "stop" (a breakpoint) or what ended the run.
        With several machines, a step is n cycles of virtual time for all of them."""
        return self.apply(["step", n, max_cycles])

    def _step(self, n: int, max_cycles: int | None) -> str:
        if self.stopped:
            return self.stopped
        if self.net is not None and self.networked:
            end = self.net.now + min(max(n, 1), max_cycles if max_cycles is not None else 1 << 62)
            hit = self.net.world.run(end)
            if hit is not None:
                self.last_stop = hit[0].stop_detail
                return "stop"
            return "cycle"
        k = self.kernel
        why = k.run(n, None if max_cycles is None else k.sal.now + max_cycles)
        if why in ("stop", "breakpoint", "watchpoint"):
            self.last_stop = k.machine.stop_detail
        elif why not in ("budget", "cycle"):
            self.stopped = why
        elif not k.user_strands() and self.lesson is None:
            self.stopped = why = "all processes exited"
        return why

    def step_to(self, what: str) -> str:
        """Run to the next kernel entry ("entry") or event dispatch ("dispatch")."""
        return self.apply(["to", what])

    def _step_to(self, what: str) -> str:
        if what not in ("entry", "dispatch"):
            raise SessionError(f"step to {what!r}: say entry or dispatch")
        temp = Breakpoint("dispatch", "any")
        if what == "entry":
            for k in self.kernels:
                k.entry_watch = k.machine.request_stop
        else:
            self.breakpoints.append(temp)
        try:
            why = self._step(TO_INSTRUCTIONS, TO_CYCLES)
        finally:
            for k in self.kernels:
                k.entry_watch = None
            if temp in self.breakpoints:
                self.breakpoints.remove(temp)
        if why == "stop":
            return self.last_stop
        return (
            self.stopped
            or f"no {'kernel entry' if what == 'entry' else 'dispatch'} within {TO_INSTRUCTIONS:,} instructions or half a virtual second"
        )

    def scenario_step(self) -> str:
        return self.apply(["scenario"])

    def _scenario_step(self) -> str:
        r = self.runner
        if r is None:
            raise SessionError("no scenario: open one with `spinwb scenario run NAME`")
        if r.done:
            n = len(r.lesson.steps)
            raise SessionError(f"{r.lesson.name}: {'its one step is' if n == 1 else f'all {n} steps are'} done")
        self._world = (r.run.kernel, r.run.net)
        r.run.on_world = self._run_world  # the panes show a step's machines as soon as it makes them
        r.run.observer = self.observer
        try:
            res = r.next()
        finally:
            r.run.observer = None
        self._run_world(r.run)
        self.stopped = ""
        ok = sum(c.ok for c in res.checks)
        return f"step {res.number}: {res.title} — {ok} of {plural(len(res.checks), 'check')} passed" + (
            f"; error: {res.error}" if res.error else "")  # fmt: skip

    def _run_world(self, run: engine.Run) -> None:
        """Look at the machines a scenario step made (when it makes them, and after it)."""
        if run.net is not None and run.net is not self._world[1]:
            self.net, self.kernels, self.focus = run.net, list(run.net.hosts), 0
        elif run.kernel is not None and run.kernel is not self._world[0]:
            self.kernels, self.focus = [run.kernel], 0
        self._world = (run.kernel, run.net)
        asked = (id(run.net), run.shown_host)  # a step put a host on show (engine.Run.show_host); h still moves on
        if run.net is not None and self.kernels == run.net.hosts and asked != self._shown_host:
            self.focus = run.shown_host
        self._shown_host = asked
        self._watch_all()

    def add_break(self, text: str) -> str:
        bp = parse_breakpoint(text)
        if bp in self.breakpoints:
            raise SessionError(f"breakpoint {bp} is already set")
        if bp.kind in ("install", "dispatch") and bp.arg != "any":
            here = {e for k in self.kernels for e in k.dispatcher.events}
            if bp.arg not in here and bp.arg not in workstation_events():
                raise SessionError(f"break {bp.kind}: {no_event(bp.arg, sorted(here | workstation_events()))} "
                                   f"(or `break {bp.kind} any`)")  # fmt: skip
        return self.apply(["break", "add", str(bp)])

    def remove_break(self, text: str) -> str:
        bp = parse_breakpoint(text)
        if bp not in self.breakpoints:
            raise SessionError(f"no breakpoint {bp} (set: {', '.join(map(str, self.breakpoints)) or 'none'})")
        return self.apply(["break", "del", str(bp)])

    def _break(self, how: str, text: str) -> str:
        bp = parse_breakpoint(text)
        if how == "add":
            self.breakpoints.append(bp)
            return f"breakpoint set: {bp}"
        self.breakpoints.remove(bp)
        return f"breakpoint removed: {bp}"

    def load(self, path: str, settings: dict[str, Any] | None = None, importer: str = "user") -> str:
        """Load an extension on the machine in focus, with a user's rights
        unless ``importer`` is ``root`` (kernel/sys/authority.py); a refusal
        is a SessionError (the kernel keeps nothing of it) and is not logged."""
        what: dict[str, Any] = {"path": path, "settings": settings or {}}
        if importer != "user":
            what["importer"] = importer
        return self.apply(["load", self.focus, what])

    def _load(self, host: int, what: dict[str, Any]) -> str:
        path = Path(what["path"])
        if not path.suffix and not path.exists():
            path = engine.EXTENSIONS / f"{path}.py"
        try:
            ext = self.kernels[host].system.load_file(path, settings=what["settings"] or None,
                                                      importer=what.get("importer", "user"))  # fmt: skip
        except SpinError as e:
            raise SessionError(str(e)) from None
        return f"loaded {ext.name} ({plural(len(ext.bindings), 'handler')} installed)"

    def unload(self, name: str) -> str:
        return self.apply(["unload", self.focus, name])

    def _unload(self, host: int, name: str) -> str:
        system = self.kernels[host].system
        ext = system.extensions.get(name)
        if ext is None:
            raise SessionError(
                f"no extension named {name} is loaded (loaded: {', '.join(system.extensions) or 'none'})"
            )
        system.unload(ext)
        return f"unloaded {name}"

    def raise_event(self, event: str, args: str = "") -> str:
        """Raise an event by name with literal arguments, as kernel code would."""
        return self.apply(["raise", self.focus, event, args])

    def _raise(self, host: int, event: str, args: str) -> str:
        k = self.kernels[host]
        ev = k.dispatcher.events.get(event)
        if ev is None:
            raise SessionError(f"raise: {no_event(event, sorted(k.dispatcher.events))}")
        try:
            values = literal_arguments(event, args)
        except SessionError as e:
            raise SessionError(f"{e}; it is {signature(ev)}") from None
        arity = _arity(ev)
        if arity is not None and not arity[0] <= len(values) <= (arity[1] if arity[1] is not None else len(values)):
            want = arity[1] if arity[0] == arity[1] else f"{arity[0]} to {arity[1]}"
            raise SessionError(f"raise {event}: it takes {want} argument{'' if want == 1 else 's'}, "
                               f"{len(values)} given: {signature(ev)}")  # fmt: skip
        try:
            result = ev(*values)
        except SpinError as e:  # the kernel's own refusal says what was wrong
            raise SessionError(f"raise {event}: {e} (it is {signature(ev)})") from None
        except Exception as e:  # noqa: BLE001 - a bad raise from the shell is reported, the kernel goes on
            raise SessionError(f"raise {event}: these arguments do not fit {signature(ev)} "
                               f"({type(e).__name__}: {e})") from None  # fmt: skip
        return f"{event}{tuple(values)!r} returned {result!r}"

    def type_input(self, text: str, eof: bool = False) -> str:
        """Console input for the machine in focus, as typed: the program's
        stdin. ``eof`` is Ctrl-D after it (a read that reaches it returns 0)."""
        if len(text.encode()) > MAX_INPUT:
            raise SessionError(f"that is {len(text.encode()):,} bytes of input; type at most {MAX_INPUT:,} at once")
        return self.apply(["input", self.focus, text, eof])

    def _input(self, host: int, text: str, eof: bool) -> str:
        con = self.kernels[host].machine.console
        con.feed(text.encode())
        if eof:
            con.end_of_input()
        said = f"typed {len(text.encode())} bytes" if text else ""
        return ", then ".join(filter(None, [said, "end of input (Ctrl-D)" if eof else ""]))

    def waiting_for_input(self) -> bool:
        """A program on the machine in focus waits to read the console and nothing is queued."""
        k = self.kernel
        return not k.machine.console.readable and any(
            r.kind == "user" and r.state == "blocked" and r.blocked_on == "console" for r in inspect.strands(k)
        )

    # --- step back, snapshots --------------------------------------------------------------

    def replay(self, log: list[list[Any]], progress: Callable[[int, int], None] | None = None) -> None:
        """Boot again and redo ``log``."""
        self.reset()
        for i, action in enumerate(log):
            try:
                self.apply(action)
            except SessionError:
                pass  # refused actions are never logged, so only a changed program gets here: the hashes will say
            if progress is not None:
                progress(i + 1, len(log))

    def back(self, progress: Callable[[int, int], None] | None = None) -> str:
        """Step back: replay every action but the last command's from a fresh
        boot; say what was undone, in the words of the command that did it."""
        if not self.log:
            raise SessionError("nothing to step back over: this is the session as it booted")
        commands = self.commands or [Command(len(self.log) - 1, describe_action(self.log[-1]))]
        undone, kept = commands[-1], commands[:-1]
        focus, before = self.focus, self.kernel.machine.cpu.icount
        self.replay(self.log[: undone.start], progress)
        self.commands = kept
        self.focus = focus if focus < len(self.kernels) else 0
        self.marks = [m for m in self.marks if m <= len(self.log)]
        after = self.kernel.machine.cpu.icount
        undid = f"undid {plural(before - after, 'instruction')}, now at {after:,}; " if before > after else ""
        return f"stepped back over {undone.text} ({undid}{plural(len(self.log), 'action')} replayed)"

    def mark(self) -> str:
        self.marks.append(len(self.log))
        return f"snapshot {len(self.marks)} taken after {plural(len(self.log), 'action')}"

    def restore_mark(self, progress: Callable[[int, int], None] | None = None) -> str:
        if not self.marks:
            raise SessionError("no snapshot taken yet (take one first)")
        at = self.marks[-1]
        commands = [c for c in self.commands if c.start < at]
        self.replay(self.log[:at], progress)
        self.commands = commands
        return f"restored snapshot {len(self.marks)} ({plural(at, 'action')} replayed)"

    def hashes(self) -> list[str]:
        return [k.state_hash() for k in self.kernels]

    def save(self, path: str | Path) -> str:
        if self.live is not None:
            raise SessionError(f"{self.live[0]}: a live world has no snapshot file: a replay could not make it again")
        doc = {"format": SNAPSHOT_FORMAT, "format_version": SNAPSHOT_VERSION, "spinwb": __version__,
               "source": self.source, "log": self.log, "hashes": self.hashes(), "position": self.position}  # fmt: skip
        try:
            Path(path).write_text(json.dumps(doc, indent=1) + "\n")
        except OSError as e:
            raise SessionError(f"cannot write {path}: {e.strerror}") from None
        return f"saved {plural(len(self.log), 'action')} to {path}"

    @classmethod
    def open(cls, path: str | Path, progress: Callable[[int, int], None] | None = None) -> Session:
        """A session rebuilt from a snapshot file; a SessionError if the file is
        not a snapshot, comes from another version, or does not replay to the
        state it recorded."""
        try:
            doc = json.loads(Path(path).read_text())
        except OSError as e:
            raise SessionError(f"cannot read {path}: {e.strerror}") from None
        except (ValueError, UnicodeDecodeError):
            raise SessionError(f"{path} is not a workbench snapshot (not JSON)") from None
        if not isinstance(doc, dict) or doc.get("format") != SNAPSHOT_FORMAT:
            raise SessionError(f'{path} is not a workbench snapshot (no "format": "{SNAPSHOT_FORMAT}")')
        theirs = (doc.get("spinwb"), doc.get("format_version"))
        if theirs != (__version__, SNAPSHOT_VERSION):
            raise SessionError(f"{path} was saved by spinwb {theirs[0]} (snapshot format {theirs[1]}); this is spinwb "
                             f"{__version__} (format {SNAPSHOT_VERSION}). A snapshot is a replay, exact only on the "
                             "code that made it: open it with that version, or redo the steps here")  # fmt: skip
        src = doc.get("source", {})
        try:
            if "scenario" in src:
                w = cls(scenario=src["scenario"], seed=int(src["seed"]))
            else:
                w = cls(None if src.get("program") is None else Path(src["program"]), src.get("argv"))
            w.replay(list(doc["log"]), progress)
        except (KeyError, TypeError, ValueError, OSError, engine.ScenarioError) as e:
            raise SessionError(f"{path}: cannot replay it: {e}") from None
        if w.hashes() != doc.get("hashes"):
            raise SessionError(f"{path}: replayed {plural(len(w.log), 'action')} but the state differs from the one saved "
                             "(a program, extension or scenario changed since)")  # fmt: skip
        return w

    # --- what panes read ---------------------------------------------------------------------

    @property
    def position(self) -> str:
        """What a student pastes into a help request."""
        if self.runner is not None:
            return self.runner.position
        k = self.kernel
        return f"{self.name} icount {k.machine.cpu.icount} actions {len(self.log)}"

    def strands(self) -> list[inspect.StrandRow]:
        return inspect.strands(self.kernel)

    def switches(self, n: int = 8) -> list[Switch]:
        return [r for r in self.kernel.trace.of(Switch) if isinstance(r, Switch)][-n:]

    def cpu(self) -> CpuView:
        m = self.kernel.machine
        mode = "user" if self.kernel.sal.user_mode else "kernel"
        return CpuView(m.cpu.pc, tuple(m.cpu.r), mode, m.pal.ipl, m.cpu.icount, m.cpu.cycles)

    def console_text(self) -> str:
        return bytes(self.kernel.machine.console.output).decode(errors="replace")

    def console_pieces(self) -> list[tuple[str, bool]]:
        """The console's output as runs of text, each marked True if a process wrote it on stderr."""
        return [(data.decode(errors="replace"), stream == 2) for data, stream in self.kernel.machine.console.pieces()]


def describe_action(a: list[Any]) -> str:
    op = a[0]
    if op == "step":
        return f"a step of {plural(a[1], 'instruction')}"
    if op == "to":
        return f"a step to the next {'kernel entry' if a[1] == 'entry' else 'dispatch'}"
    if op == "scenario":
        return "a scenario step"
    if op == "break":
        return f"{'setting' if a[1] == 'add' else 'removing'} breakpoint {a[2]}"
    if op == "load":
        return f"loading {a[2]['path']}"
    if op == "unload":
        return f"unloading {a[2]}"
    if op == "input":
        return "end of input (Ctrl-D)" if not a[2] else f"typing {a[2][:20]!r}" + (" and Ctrl-D" if a[3] else "")
    return f"raising {a[2]}"
