"""The workbench's command language, shared by `spinwb shell` and the TUI's `:` line.

``execute(session, line)`` does one command and returns a ``Reply``: text or a
rich table, and whether it was refused. Nothing here raises for bad input:
an unknown command, a missing argument or a refusal from the kernel comes
back as a Reply with ``error`` set and a message saying what was wrong, and
the session is as it was. ``complete(session, text)`` offers the words that can
come next: commands, event names, extension names, strand ids, breakpoint
kinds.
"""

from __future__ import annotations

import ast
import os
import shlex
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import RenderableType
from rich.table import Table

from machine.hostfile import HOST_TEXT_MAX, HostFileError, read_text
from scenarios import engine
from workbench import views
from workbench.session import BREAK_KINDS, Session, SessionError, break_kinds_text
from workbench.shell import snapfile

STEP_MAX = 10_000_000  # one step is one uninterruptible call into the machine
RUN_MAX = 10_000_000_000
CLASSROOM_ENV = "SPINWB_CLASSROOM"  # set by `spinwb serve` for the workbenches it runs: no --root loads


@dataclass
class Reply:
    body: RenderableType
    error: bool = False
    quit: bool = False


RUN_CYCLES = 10 * views.CLOCK_HZ  # `run` stops after 10 s of virtual time: an idle machine would never reach N


class Usage(Exception):
    """Bad arguments; the message is the command's usage."""


def _table(title: str, cols: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold")
    for c in cols:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*(str(x) for x in r))
    return t


# --- the commands ---------------------------------------------------------------------------------


def _help(session: Session, args: list[str]) -> RenderableType:
    if args and args[0] in COMMANDS:
        return f"{args[0]}: {COMMANDS[args[0]][1]}"
    return _table("commands (help CMD for one)", ["command", "what it does"],
                  [[name, usage] for name, (_, usage) in COMMANDS.items()])  # fmt: skip


def _load(session: Session, args: list[str]) -> str:
    if not args:
        raise Usage
    if os.path.exists(args[0]):  # a file: bounded, so a FIFO or device named by mistake is refused, not read forever
        if not stat.S_ISREG(os.stat(args[0]).st_mode):
            raise SessionError(f"{args[0]}: not a regular file, so not an extension")
        try:
            read_text(args[0], HOST_TEXT_MAX, "an extension (Python source)")
        except HostFileError as e:
            raise SessionError(str(e)) from None
    settings: dict[str, Any] = {}
    importer = "user"
    for a in args[1:]:
        if a == "--root":
            if os.environ.get(CLASSROOM_ENV):
                raise SessionError("load --root: this workbench is served to a classroom; extensions load with a "
                                 "user's rights here (see docs/extensions.md)")  # fmt: skip
            importer = "root"
            continue
        key, eq, value = a.partition("=")
        if not eq:
            raise SessionError(f"load: settings are KEY=VALUE, not {a!r}")
        try:
            settings[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            settings[key] = value
    return session.load(args[0], settings, importer)


def _unload(session: Session, args: list[str]) -> str:
    if len(args) != 1:
        raise Usage
    return session.unload(args[0])


def _raise(session: Session, args: list[str]) -> str:
    if not args:
        raise Usage
    return session.raise_event(args[0], " ".join(args[1:]))


def _step(session: Session, args: list[str]) -> str:
    if args and args[0] in ("entry", "dispatch"):
        return session.step_to(args[0])
    try:
        n = int(args[0].replace(",", "").replace("_", "")) if args else 1
    except ValueError:
        raise Usage from None
    if not 1 <= n <= STEP_MAX:
        raise SessionError(f"step N: N is 1..{STEP_MAX:,} instructions (run goes further, in slices)")
    why = session.step(n)
    return _where(session, why)


def _run(session: Session, args: list[str]) -> str:
    try:
        n = int(args[0].replace(",", "").replace("_", "")) if args else 50_000_000
    except ValueError:
        raise Usage from None
    if not 1 <= n <= RUN_MAX:
        raise SessionError(f"run N: N is 1..{RUN_MAX:,} instructions")
    start, began = session.kernel.machine.cpu.icount, session.now
    why = "budget"
    with session.command(f"run {n:,}"):  # its slices are one command: `back` undoes the whole run
        while why in ("budget", "cycle"):  # slices bounded in virtual time: an idle machine is ticks, not spins
            left = n - (session.kernel.machine.cpu.icount - start)
            if left <= 0 or session.now - began >= RUN_CYCLES:
                break
            why = session.step(min(left, 1_000_000), views.CLOCK_HZ // 10)
    return _where(session, why)


def _where(session: Session, why: str) -> str:
    cpu = session.cpu()
    at = f"pc {cpu.pc:#x}, {views.plural(cpu.icount, 'instruction')}, {views.plural(cpu.cycles, 'cycle')}"
    if why == "stop":
        return f"stopped: {session.last_stop} ({at})"
    if session.stopped:
        return f"{session.stopped} ({at})"
    return f"at {at}"


def _break(session: Session, args: list[str]) -> RenderableType:
    if not args or args == ["list"]:
        if not session.breakpoints:
            return "no breakpoints. They stop on " + break_kinds_text()
        return _table("breakpoints", ["kind", "argument"], [[b.kind, b.arg] for b in session.breakpoints])
    if args[0] in ("del", "delete", "clear"):
        return session.remove_break(" ".join(args[1:]))
    return session.add_break(" ".join(args))


def _snapshot(session: Session, args: list[str]) -> str:
    if not args:
        raise Usage
    if args[0] == "take":
        return session.mark()
    if args[0] == "restore":
        return session.restore_mark()
    if args[0] == "save" and len(args) == 2:
        return session.save(args[1])
    if args[0] == "load" and len(args) == 2:
        snapfile.check_file(args[1], bool(os.environ.get(CLASSROOM_ENV)))  # bounded, of Session.save's shape
        try:
            opened = Session.open(args[1])
        except SessionError:
            raise
        except Exception as e:  # noqa: BLE001 - a replay failing in a way the checks did not foresee
            raise SessionError(f"{args[1]}: cannot replay it: {type(e).__name__}: {e}") from None
        session.adopt(opened)  # only now: a refused file leaves the session in use as it was
        return f"restored {args[1]}: {session.position}"
    raise Usage


def _back(session: Session, args: list[str]) -> str:
    return session.back()


def _scenario(session: Session, args: list[str]) -> RenderableType:
    if args[:1] == ["open"]:
        if len(args) != 2:
            raise Usage
        try:
            session.adopt(Session(scenario=args[1]))
        except engine.ScenarioError as e:
            raise SessionError(str(e)) from None
        return f"opened {session.position}"
    r = session.runner
    if r is None:
        raise SessionError("no scenario is open: start with `spinwb shell --scenario NAME` "
                         f"(one of: {', '.join(engine.available())})")  # fmt: skip
    if not args or args[0] == "status":
        rows = [[res.number, res.title, "passed" if res.passed else "FAILED"] for res in r.results]
        rows += [[i, s.title, "to do"] for i, s in enumerate(r.lesson.steps[len(r.results) :], len(r.results) + 1)]
        return _table(f"{r.lesson.title}: {r.position}", ["step", "title", "result"], rows)
    if args[0] == "step":
        msg = session.scenario_step()
        res = r.results[-1]
        lines = [msg]
        lines += [f"  [{'ok' if c.ok else 'FAIL'}] {c.text}" + ("" if c.ok else f" ({c.where})") for c in res.checks]
        lines += [f"  Q: {q.text}" for q in res.questions]
        return "\n".join(lines)
    if args[0] == "answers":
        rows = [[res.number, q.text, q.answer] for res in r.results for q in res.questions]
        return _table("answers (computed from this run)", ["step", "question", "answer"], rows)
    raise Usage


def _open(session: Session, args: list[str]) -> str:
    """A fresh workstation whose init is the ELF named (the session in use stays if it is refused)."""
    if not args:
        raise Usage
    session.adopt(Session.of_program(args[0], args[1:]))
    return f"opened {args[0]}: booted with it as init (pid 1); step or run it"


def _host(session: Session, args: list[str]) -> str:
    n = len(session.kernels)
    if len(args) > 1:
        raise Usage
    if args:
        session.look_at(args[0])
    if n == 1:
        return f"looking at {session.host_label}, the only machine"
    return f"looking at {session.host_label} of {n}"


def _reset(session: Session, args: list[str]) -> str:
    session.reset()
    return "reset: booted again"


def _inspect(session: Session, args: list[str]) -> RenderableType:
    if not args:
        raise Usage
    what, rest = args[0], args[1:]
    k = session.kernel
    if what == "strands":
        return _table("strands", ["", "id", "name", "owner", "state", "pri", "sched", "cpu µs"],
                      [["▶" if r.current else "", r.id, r.name, r.owner, r.state, r.priority, r.group,
                        f"{r.us:,.0f}"] for r in session.strands()])  # fmt: skip
    if what == "domains":
        return _table("domains", ["domain", "kind", "rights", "exports", "imports ← from"],
                      [[d.name, d.kind, d.rights, ", ".join(d.exports),
                        ", ".join(f"{n} ← {s or 'unresolved'}" for n, s in d.imports)] for d in views.domains(k)])  # fmt: skip
    if what == "events" and not rest:
        return _table("events", ["event", "bindings", "calls", "dispatch", "last guards"],
                      [[e.name, e.bindings, e.calls, e.path, e.last_guards] for e in views.events(k)])  # fmt: skip
    if what in ("events", "event"):
        if not rest or rest[0] not in k.dispatcher.events:
            raise SessionError(f"inspect event: no event named {rest[0] if rest else '(none given)'}")
        return _table(f"{rest[0]}: bindings in dispatch order", ["#", "owner", "guard", "handler", "closure",
                      "options", "calls", "fuel", "last guard", "faulted"],
                      [[b.id, b.owner, b.guard, b.handler, b.closure, b.options, b.calls, b.fuel,
                        views.GUARD_RESULT[b.last_guard], b.faulted]
                       for b in views.bindings(k, rest[0])])  # fmt: skip
    if what == "spaces":
        return _table("address spaces", ["id", "name", "asn", "L1 frame", "pages", "running"],
                      [[s.id, s.name, s.asn, hex(s.root), s.pages, "yes" if s.current else ""]
                       for s in views.spaces(k)])  # fmt: skip
    if what == "mappings":
        sid = int(rest[0]) if rest else next((s.id for s in views.spaces(k) if s.current), 0)
        return _table(f"mappings of space {sid}", ["va", "pfn", "PTE bits"],
                      [[hex(m.va), hex(m.pfn), m.bits] for m in views.mappings(k, sid)])  # fmt: skip
    if what == "walk":
        if len(rest) != 2:
            raise Usage
        steps, outcome = views.walk(k, int(rest[0]), int(rest[1], 0))
        return _table(f"walk: {outcome}", ["level", "PTE at", "PTE", "bits"],
                      [[f"L{s.level}", hex(s.pte_address), f"{s.pte:#018x}", s.bits] for s in steps])  # fmt: skip
    if what == "tlb":
        return _table("translation buffers", ["TB", "entries", "hits", "misses", "fills"],
                      [[t.name, f"{t.entries}/{t.size}", t.hits, t.misses, t.fills] for t in views.tbs(k)])  # fmt: skip
    if what == "packets":
        return _table(f"packets on {session.host_name}", ["#", "dir", "µs", "len", "summary", "dropped"],
                      [[p.id, p.direction, f"{p.us:,.1f}", p.length, p.summary, p.dropped]
                       for p in views.packets(k, 40)])  # fmt: skip
    if what == "packet":
        if len(rest) != 1 or not rest[0].isdigit():
            raise Usage
        return "\n".join(views.path(k, int(rest[0]))) or f"no record of packet {rest[0]} on {session.host_name}"
    if what == "trace":
        kind = rest[0] if rest and not rest[0].isdigit() else ""
        n = int(rest[-1]) if rest and rest[-1].isdigit() else 20
        recs = [r for r in k.trace if not kind or type(r).__name__.lower() == kind.lower()][-n:]
        return "\n".join(f"{r.seq:>7} {views.record_text(r)}" for r in recs) or "no such records"
    if what == "cpu":
        c = session.cpu()
        return (
            f"pc {c.pc:#x} {c.mode} mode IPL {c.ipl}, {views.plural(c.icount, 'instruction')}, "
            f"{views.plural(c.cycles, 'cycle')}"
        )
    if what == "console":
        return session.console_text()[-4000:] or "(nothing written to the console yet)"
    raise Usage


def _quit(session: Session, args: list[str]) -> str:
    return "bye"


INSPECT = ["strands", "domains", "events", "event", "spaces", "mappings", "walk", "tlb", "packets", "packet", "trace",
           "cpu", "console"]  # fmt: skip

COMMANDS: dict[str, tuple[Callable[[Session, list[str]], RenderableType], str]] = {
    "load": (
        _load,
        "load NAME|FILE.py [--root] [KEY=VALUE...] — verify, link and initialize an extension on this "
        "machine, with a user's rights (--root: the owner's; not when served to a classroom)",
    ),
    "unload": (_unload, "unload NAME — uninstall an extension's handlers and unlink it"),
    "raise": (
        _raise,
        "raise EVENT [ARGS...] — raise an event with literal arguments (comma- or space-separated), as kernel "
        "code would; `inspect events` lists them",
    ),
    "inspect": (_inspect, "inspect " + "|".join(INSPECT) + " — tables of what the panes show"),
    "step": (_step, "step [N] | step entry | step dispatch — N instructions, or to the next kernel entry or dispatch"),
    "run": (
        _run,
        "run [N] — run up to N instructions (default 50,000,000) or 10 virtual seconds, stopping at a "
        "breakpoint or the end",
    ),
    "break": (_break, "break [list] | break KIND ARG | break del KIND ARG — KIND: " + ", ".join(BREAK_KINDS)),
    "snapshot": (_snapshot, "snapshot take|restore|save FILE|load FILE — remember or replay a position"),
    "back": (_back, "back — undo the last command (a whole run too): replay the ones before it from a fresh boot"),
    "scenario": (_scenario, "scenario [status]|step|answers|open NAME|FILE — the lesson"),
    "open": (_open, "open FILE.elf [ARGS...] — boot a fresh workstation running that program as init"),
    "host": (_host, "host [N|10.0.0.N] — which machine the commands look at, of several (host 1 is 10.0.0.1)"),
    "reset": (_reset, "reset — boot again"),
    "help": (_help, "help [CMD] — the commands"),
    "quit": (_quit, "quit — leave the shell"),
}


def execute(session: Session, line: str) -> Reply:
    """Do one command line; never raises for bad input."""
    try:
        words = shlex.split(line)
    except ValueError as e:
        return Reply(f"cannot read that line: {e}", error=True)
    if not words:
        return Reply("")
    name, args = words[0], words[1:]
    entry = COMMANDS.get(name)
    if entry is None:
        near = [c for c in COMMANDS if c.startswith(name[:2])]
        hint = f" — did you mean {' or '.join(near)}?" if near else ""
        return Reply(f"unknown command {name!r}{hint} (help lists the commands)", error=True)
    fn, usage = entry
    try:
        return Reply(fn(session, args), quit=name == "quit")
    except Usage:
        return Reply(f"usage: {usage}", error=True)
    except SessionError as e:
        return Reply(str(e), error=True)
    except ValueError as e:
        return Reply(f"{name}: {e} (usage: {usage})", error=True)


def _elf_paths(prefix: str) -> list[str]:
    """Directories and .elf files that complete ``prefix`` as a path."""
    head, _, _ = prefix.rpartition("/")
    try:
        names = sorted(os.listdir(head or "."))
    except OSError:
        return []
    out = []
    for name in names:
        path = f"{head}/{name}" if head else name
        if os.path.isdir(path):
            out.append(path + "/")
        elif name.endswith(".elf"):
            out.append(path)
    return out


def complete(session: Session, text: str) -> list[str]:
    """Words that can follow ``text`` (what the shell's completer offers)."""
    words = text.split()
    if text.endswith(" ") or not text:
        words.append("")
    if len(words) <= 1:
        return [c for c in COMMANDS if c.startswith(words[0] if words else "")]
    cmd, prefix, n = words[0], words[-1], len(words)
    k = session.kernel
    options: list[str] = []
    if cmd == "load" and n == 2:
        options = sorted(p.stem for p in engine.EXTENSIONS.glob("*.py") if not p.name.startswith("_"))
    elif cmd == "unload" and n == 2:
        options = sorted(k.system.extensions)
    elif cmd == "raise" and n == 2:
        options = sorted(k.dispatcher.events)
    elif cmd == "inspect" and n == 2:
        options = INSPECT
    elif cmd == "inspect" and words[1] in ("event", "events") and n == 3:
        options = sorted(k.dispatcher.events)
    elif cmd == "step" and n == 2:
        options = ["entry", "dispatch"]
    elif cmd == "break" and n == 2:
        options = [*BREAK_KINDS, "list", "del"]
    elif cmd == "break" and n == 3:
        kind = words[1]
        if kind in ("install", "dispatch"):
            options = ["any", *sorted(k.dispatcher.events)]
        elif kind == "switch":
            options = [str(r.id) for r in session.strands()]
        elif kind == "fault":
            options = ["any", "0x0"]
        elif kind == "del":
            options = list(BREAK_KINDS)
    elif cmd == "snapshot" and n == 2:
        options = ["take", "restore", "save", "load"]
    elif cmd == "scenario" and n == 2:
        options = ["status", "step", "answers", "open"]
    elif cmd == "scenario" and n == 3 and words[1] == "open":
        options = list(engine.available())
    elif cmd == "open" and n == 2:
        options = _elf_paths(prefix)
    elif cmd == "host" and n == 2:
        options = [str(i) for i in range(1, len(session.kernels) + 1)]
    elif cmd == "help" and n == 2:
        options = list(COMMANDS)
    return [o for o in options if o.startswith(prefix)]
