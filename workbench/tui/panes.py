"""The workbench's panes: each renders one view of the session (workbench/views.py).

Every pane marks what changed since the last step in reverse video: it
keeps the cells it showed when the session's ``generation`` last moved and
compares (for a pane that was hidden then, since it was last shown). A pane
with a list keeps a cursor (up/down), so a student can pick an event, a
packet, a mapping or a record type; its keys show in the footer while it
has focus.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text
from rich.tree import Tree
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input, Static

from kernel import inspect
from kernel.inspect import StrandRow
from scenarios import engine
from workbench import views
from workbench.session import Session
from workbench.tui import video

CHANGED = "reverse"


class Pane(Static):
    """A titled pane with change marking and an optional cursor."""

    TITLE = ""
    DEFAULT_CSS = "Pane { height: 1fr; border: round $accent; padding: 0 1; }"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.border_title = self.TITLE
        self._seen = -1
        self._base: dict[Hashable, Any] = {}
        self._now: dict[Hashable, Any] = {}
        self.cursor = 0

    def begin(self, session: Session) -> None:
        """Start a render: if the session moved since, what was shown becomes the baseline."""
        if session.generation != self._seen:
            if self._now:
                self._base = self._now
            self._seen = session.generation
        self._now = {}

    def mark(self, key: Hashable, value: Any) -> str:
        """Record a cell; the style that marks it if it changed since the last step."""
        self._now[key] = value
        return CHANGED if self._base and key in self._base and self._base[key] != value else ""

    def update(self, content: Any = "", *, layout: bool | None = None) -> None:
        """Show new content. A pane whose height its layout sets (not its content) is
        repainted alone: a layout pass re-renders the whole screen, which was most of
        the UI's host time while the machine runs (``spinwb bench ui``)."""
        if layout is None:
            layout = self.styles.height is None or self.styles.height.is_auto
        super().update(content, layout=layout)

    def is_new(self, key: Hashable) -> bool:
        return bool(self._base) and key not in self._base

    def show(self, session: Session) -> None:
        raise NotImplementedError

    def window(self, n: int, reserve: int) -> range:
        """The rows that fit, keeping the cursor in view."""
        room = max(1, self.size.height - 2 - reserve)
        self.cursor = max(0, min(self.cursor, n - 1))
        start = max(0, min(self.cursor - room // 2, n - room))
        return range(start, min(n, start + room))


class ListPane(Pane):
    """A pane with a cursor; the app sends it the arrow keys while it is on show
    (keys are the app's, not the pane's: focusing a pane restyles the whole
    screen, which made switching panes slow)."""

    def action_move(self, by: int) -> None:
        self.cursor = max(0, self.cursor + by)
        self.app.call_later(self.app.refresh_panes)  # type: ignore[attr-defined]


def _table(*cols: tuple[str, str]) -> Table:
    t = Table(box=None, padding=(0, 1), expand=True, show_edge=False, header_style="bold")
    for title, just in cols:
        t.add_column(title, justify=just, no_wrap=True, overflow="ellipsis")  # type: ignore[arg-type]
    return t


# --- Strands ----------------------------------------------------------------------------------------


class StrandsPane(Pane):
    """Every strand; the running one marked; the recent switches below."""

    TITLE = "Strands"
    # (title, justify, the cell, narrowest pane that shows the column)
    COLUMNS: ClassVar[list[tuple[str, str, Callable[[StrandRow], str], int]]] = [
        ("", "left", lambda r: "▶" if r.current else "", 0),
        ("id", "right", lambda r: str(r.id), 0),
        ("name", "left", lambda r: r.name, 0),
        ("owner", "left", lambda r: r.owner, 62),
        ("state", "left", lambda r: r.state, 0),
        ("sched", "left", lambda r: r.group, 62),
        ("pri", "right", lambda r: str(r.priority), 40),
        ("cpu µs", "right", lambda r: f"{r.us:,.0f}", 0),
    ]

    def show(self, session: Session) -> None:
        self.begin(session)
        cols = [c for c in self.COLUMNS if self.size.width >= c[3]]
        t = _table(*((title, just) for title, just, _, _ in cols))
        for r in session.strands():
            cells = []
            for title, _, cell, _ in cols:
                v = cell(r)
                style = self.mark((r.id, title), v) if title in ("state", "cpu µs", "") else ""
                cells.append(Text(v, style=style))
            base = "bold" if r.current else ("dim" if r.state == "done" else "")
            t.add_row(*cells, style=CHANGED if self.is_new(("row", r.id)) else base)
            self.mark(("row", r.id), True)
        sw = session.switches(8)
        line = Text("switches: ", style="italic")
        if not sw:
            line.append("none yet")
        for i, s in enumerate(sw):
            line.append(("" if i == 0 else ", ") + f"{s.old}→{s.new} {s.reason}",
                        style=CHANGED if self.is_new(("sw", s.seq)) else "")  # fmt: skip
            self.mark(("sw", s.seq), True)
        self.update(Group(t, line))


# --- Domains ---------------------------------------------------------------------------------------


class DomainsPane(Pane):
    """Domains as a tree: exports, linked extensions' imports and where they resolved, rights."""

    TITLE = "Domains"

    def show(self, session: Session) -> None:
        self.begin(session)
        tree = Tree(Text("domains (/svc/domains)", style="bold"), guide_style="dim")
        for d in views.domains(session.kernel):
            style = CHANGED if self.is_new(("dom", d.name)) else ""
            self.mark(("dom", d.name), True)
            what = f"{d.kind}, rights {d.rights}"
            if d.kind == "extension":
                what += f", {views.plural(d.bindings, 'handler')}"
            node = tree.add(Text.assemble((d.name, f"bold {style}"), f"  ({what})"))
            if d.authority:
                node.add(f"rights on kernel events: {d.authority}")
            if d.members:
                node.add("combines: " + ", ".join(d.members))
            if d.exports:
                node.add("exports: " + ", ".join(d.exports))
            if d.imports:
                imp = node.add("imports")
                for name, src in d.imports:
                    imp.add(f"{name} ← {src}" if src else Text(f"{name}: unresolved", style="bold red"))
            for r in d.resolutions:
                node.add(Text(f"resolved {r}", style="italic"))
        if len(tree.children) == 2:
            tree.add(Text("no extensions linked yet (load one: the shell's `load`, or a scenario step)", style="dim"))
        self.update(tree)


# --- Events -----------------------------------------------------------------------------------------


class EventsPane(ListPane):
    """Events and, for the one under the cursor, its bindings in dispatch order."""

    TITLE = "Events"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._followed = ""  # the event a lesson step last put under the cursor (engine.Run.show_event)

    def select(self, session: Session, event: str) -> None:
        names = [e.name for e in views.events(session.kernel)]
        if event in names:
            self.cursor = names.index(event)

    def show(self, session: Session) -> None:
        self.begin(session)
        want = getattr(getattr(session.runner, "run", None), "shown_event", "")
        if want and want != self._followed:  # a lesson step names the event to show; the arrows still move
            self._followed = want
            self.select(session, want)
        rows = views.events(session.kernel)
        if not rows:
            self.update("no events")
            return
        sel = rows[min(self.cursor, len(rows) - 1)]
        binds = views.bindings(session.kernel, sel.name)
        t = _table(("event", "left"), ("bindings", "right"), ("calls", "right"), ("last guards", "left"))
        for i in self.window(len(rows), reserve=len(binds) + 5):
            e = rows[i]
            st = self.mark(("ev", e.name), (e.bindings, e.calls, e.last_guards))
            t.add_row(("▶ " if i == self.cursor else "  ") + e.name, str(e.bindings), f"{e.calls:,}", _guards_cell(e.last_guards),
                      style=("bold " if i == self.cursor else "") + st)  # fmt: skip
        b: RenderableType
        if self.size.width >= 120:
            b = _table(("#", "right"), ("owner", "left"), ("guard", "left"), ("handler", "left"), ("closure", "left"),
                       ("options", "left"), ("calls", "right"), ("fuel", "right"), ("guard→", "left"),
                       ("faulted", "left"))  # fmt: skip
            for r in binds:
                st = self.mark(("b", r.id), (r.calls, r.fuel, r.last_guard, r.faulted))
                b.add_row(str(r.id), r.owner, _guard(r), r.handler, r.closure, r.options, f"{r.calls:,}", f"{r.fuel:,}",
                          views.GUARD_RESULT[r.last_guard], r.faulted, style=CHANGED if self.is_new(("b", r.id)) else st)  # fmt: skip
        else:  # narrow: one binding per line
            b = Text()
            for r in binds:
                st = self.mark(("b", r.id), (r.calls, r.fuel, r.last_guard, r.faulted))
                line = (f"#{r.id} {r.owner}: guard {_guard(r)}, handler {r.handler}, {r.options}, closure {r.closure}; "
                        f"calls {r.calls:,} fuel {r.fuel:,}; last guard {views.GUARD_RESULT[r.last_guard]}"
                        + (f"; FAULTED {r.faulted}" if r.faulted else ""))  # fmt: skip
                b.append(line + "\n", style=CHANGED if self.is_new(("b", r.id)) else st)
        head = Text(f"{sel.name}: {sel.path}", style="bold")
        self.update(Group(t, Text(""), head, b))


def _guards_cell(text: str, limit: int = 48) -> str:
    """A dispatch's guard verdicts in the events table: a long list (50 guards) is cut,
    with its counts, so it does not push the bindings and calls columns off the pane."""
    if len(text) <= limit:
        return text
    marks = text.split()
    shown = ""
    for m in marks:
        if len(shown) + len(m) + 1 > limit // 2:
            break
        shown += m + " "
    n = {c: sum(m.endswith(c) for m in marks) for c in "+-·"}
    rest = f"{n['+']} passed, {n['-']} rejected" + (f", {n['·']} not evaluated" if n["·"] else "")
    return f"{shown}… ({rest})"


def _guard(r: views.BindingRow) -> str:
    """A binding's guards as they run: imposed ones (and who imposed them) first, then its own."""
    return f"imposed {r.imposed}, then {r.guard}" if r.imposed else r.guard


# --- Page tables ------------------------------------------------------------------------------------


class PageTablesPane(ListPane):
    """An address space's mappings; the walk of the one under the cursor; the TBs."""

    TITLE = "Page tables"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.space_index = -1  # -1: the current address space

    def action_space(self, by: int) -> None:
        self.space_index = max(0, self.space_index + by) if self.space_index >= 0 else 0
        self.cursor = 0
        self.app.call_later(self.app.refresh_panes)  # type: ignore[attr-defined]

    def show(self, session: Session) -> None:
        self.begin(session)
        k = session.kernel
        spaces = views.spaces(k)
        if not spaces:
            self.update("no address spaces")
            return
        if self.space_index < 0 or self.space_index >= len(spaces):
            cur = [i for i, s in enumerate(spaces) if s.current]
            idx = cur[0] if cur else len(spaces) - 1
        else:
            idx = self.space_index
        sp = spaces[idx]
        names = "  ".join(("[" + s.name + "]") if i == idx else s.name for i, s in enumerate(spaces))
        head = Text(f"spaces ([ ]): {names}\n{sp.name}: asn {sp.asn}, level-1 table at frame {sp.root:#x}, "
                    f"{views.plural(sp.pages, 'page')} mapped" + (" (running)" if sp.current else ""))  # fmt: skip
        maps = views.mappings(k, sp.id)
        tb = views.tbs(k)
        tbt = _table(("TB", "left"), ("entries", "right"), ("hits", "right"), ("misses", "right"), ("fills", "right"),
                     ("newest (vpn/asn→pfn)", "left"))  # fmt: skip
        for r in tb:
            recent = " ".join(f"{v:x}/{'g' if a is None else a}→{p:x}" for v, a, p in r.recent[:4])
            tbt.add_row(r.name, f"{r.entries}/{r.size}", Text(f"{r.hits:,}", style=self.mark(("tbh", r.name), r.hits)),
                        Text(f"{r.misses:,}", style=self.mark(("tbm", r.name), r.misses)), f"{r.fills:,}", recent)  # fmt: skip
        if not maps:
            self.update(Group(head, Text("no user mappings"), tbt))
            return
        sel = maps[min(self.cursor, len(maps) - 1)]
        steps, outcome = views.walk(k, sp.id, sel.va)
        t = _table(("va", "right"), ("pfn", "right"), ("PTE bits", "left"))
        for i in self.window(len(maps), reserve=len(steps) + 9):
            m = maps[i]
            st = self.mark(("m", sp.id, m.va), (m.pfn, m.bits))
            t.add_row(("▶ " if i == self.cursor else "  ") + f"{m.va:#x}", f"{m.pfn:#x}", m.bits,
                      style=CHANGED if self.is_new(("m", sp.id, m.va)) else ("bold " if i == self.cursor else "") + st)  # fmt: skip
        w = _table(("level", "left"), ("PTE at", "right"), ("PTE", "right"), ("bits", "left"))
        for s in steps:
            w.add_row(f"L{s.level} [{(sel.va >> (33 - 10 * (s.level - 1))) & 0x3FF}]", f"{s.pte_address:#x}",
                      f"{s.pte:#018x}", s.bits)  # fmt: skip
        walk_head = Text(f"walk of {sel.va:#x} (vpn {sel.vpn:#x}): {outcome}", style="bold")
        self.update(Group(head, t, walk_head, w, tbt))


# --- Packets ----------------------------------------------------------------------------------------


class PacketsPane(ListPane):
    """Recent packets; the path of the one under the cursor through the protocol graph."""

    TITLE = "Packets"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.follow = True  # the cursor stays on the newest packet until moved

    def action_move(self, by: int) -> None:
        self.follow = False
        super().action_move(by)

    def show(self, session: Session) -> None:
        self.begin(session)
        k = session.kernel
        if k.net is None:
            self.update(Text("this machine has no network (scenarios with several machines have one: "
                             "udp_forwarding, guarded_dispatch, extension_safety)", style="dim"))  # fmt: skip
            return
        rows = views.packets(k)
        if not rows:
            self.update(f"{session.host_name}: no packets yet")
            return
        if self.follow:
            self.cursor = len(rows) - 1
        sel = rows[min(self.cursor, len(rows) - 1)]
        lines = views.path(k, sel.id)
        drops = self._drops(views.drops(k))
        room = max(1, self.size.width - 4)
        t = _table(("#", "right"), ("dir", "left"), ("µs", "right"), ("len", "right"), ("summary", "left"),
                   ("dropped", "left"))  # fmt: skip
        t.columns[-2].ratio, t.columns[-1].ratio = 3, 2  # a long reason is cut, not the packet's number and time
        for i in self.window(len(rows), reserve=len(lines) + 3 + -(-len(drops.plain) // room)):
            r = rows[i]
            new = self.is_new(("p", r.id, r.direction))
            self.mark(("p", r.id, r.direction), True)
            t.add_row(("▶ " if i == self.cursor else "  ") + str(r.id), r.direction, f"{r.us:,.1f}", str(r.length),
                      r.summary, r.dropped, style=CHANGED if new else ("bold" if i == self.cursor else ""))  # fmt: skip
        path = Text(f"packet #{sel.id} on {session.host_name}, its path:\n", style="bold")
        for line in lines:
            path.append("  " + line + "\n")
        self.update(Group(t, drops, path))

    def _drops(self, rows: list[views.DropRow]) -> Text:
        """One line of the stack's drop counters, by layer and reason; a count
        that moved since the last step is marked."""
        out = Text("drops by reason: ", style="bold")
        if not rows:
            out.append("none", style="dim")
        for i, r in enumerate(rows):
            if i:
                out.append(" · ", style="dim")
            out.append(f"{r.layer}: {r.reason} ")
            key = ("d", r.layer, r.reason)
            moved = self.mark(key, r.count) or (CHANGED if self.is_new(key) else "")
            out.append(str(r.count), style=moved or "bold")
        return out


# --- Console, CPU -------------------------------------------------------------------------------------


class ConsoleInput(Input):
    """The program's stdin: Enter sends the line and a newline, Ctrl-D an end
    of file (a terminal's habit, in place of Input's delete-right), Escape
    hands the keys back to the workbench."""

    BINDINGS: ClassVar = [
        Binding("ctrl+d", "end_of_input", "End of input", show=False),
        Binding("escape", "leave", "Leave the console", show=False),
    ]

    def action_end_of_input(self) -> None:
        self.post_message(ConsolePane.Typed(self.value, eof=True))
        self.value = ""

    def action_leave(self) -> None:
        self.screen.set_focus(None)


class ConsolePane(Pane):
    """The console: what the programs wrote, stderr marked (red, with a bar
    in the gutter) as a terminal cannot, and a line to type their stdin into."""

    TITLE = "Console"
    STDERR = "red"
    DEFAULT_CSS = """
    ConsolePane { layout: vertical; }
    ConsolePane > #console-out { height: 1fr; }
    ConsolePane > #console-in { height: 1; border: none; padding: 0; }
    """

    class Typed(Message):
        """A line (or an end of file) typed for the program's stdin."""

        def __init__(self, text: str, eof: bool = False) -> None:
            super().__init__()
            self.text = text
            self.eof = eof

    def compose(self) -> ComposeResult:
        yield Static(id="console-out")
        yield ConsoleInput(placeholder="stdin: type a line, Enter sends it, Ctrl-D ends input (key i)",
                           id="console-in")  # fmt: skip

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()  # the program's input, not a command for the app
        self.post_message(self.Typed(event.value + "\n"))
        event.input.value = ""

    def show(self, session: Session) -> None:
        self.begin(session)
        pieces = session.console_pieces()
        lines = _stream_lines(pieces)
        waiting = session.waiting_for_input()
        box = self.query_one("#console-out", Static)
        room = max(1, (box.size.height or self.size.height - 3) - waiting - bool(session.stopped))
        old = self._base.get("lines", 0)
        self.mark("lines", len(lines))
        out = Text()
        first = max(0, len(lines) - room)
        for i in range(first, len(lines)):
            changed = CHANGED if self._base and i >= old else ""
            err = any(e for _, e in lines[i])
            out.append("▌" if err else " ", style=self.STDERR)
            for text, e in lines[i]:
                out.append(text, style=f"{self.STDERR} {changed}" if e else changed)
            out.append("\n")
        if waiting:
            out.append("the program waits for input: type it below (key i)\n", style="italic")
        if session.stopped:
            out.append(session.stopped, style="bold")
        self.border_subtitle = Text("▌ stderr", style=self.STDERR) if any(e for _, e in pieces) else ""
        box.update(out, layout=False)  # its height is the pane's, not its text's


def _stream_lines(pieces: list[tuple[str, bool]]) -> list[list[tuple[str, bool]]]:
    """Output runs cut at newlines: each line a list of (text, is stderr)."""
    lines: list[list[tuple[str, bool]]] = [[]]
    for text, err in pieces:
        for j, part in enumerate(text.split("\n")):
            if j:
                lines.append([])
            if part:
                lines[-1].append((part, err))
    if not lines[-1]:
        lines.pop()
    return lines


class CpuPane(Pane):
    """Registers (changed ones highlighted), the disassembly around PC, mode, IPL, counters."""

    TITLE = "CPU"

    def show(self, session: Session) -> None:
        self.begin(session)
        cpu = session.cpu()
        head = Text("pc ")
        head.append(f"{cpu.pc:#018x}", style=self.mark("pc", cpu.pc))
        head.append("  ")
        head.append(f"{cpu.mode} mode, IPL {cpu.ipl}", style=self.mark("mode", (cpu.mode, cpu.ipl)))
        c = views.counters(session.kernel)
        lines = [head,
                 Text(f"instructions {cpu.icount:,}   cycles {cpu.cycles:,}   "
                      f"virtual {cpu.cycles / views.CLOCK_HZ * 1e6:,.1f} µs (cycles ÷ {views.CLOCK_HZ // 10**6} MHz)"),
                 self._counts(c, session.kernel.net is not None), Text("")]  # fmt: skip
        per_row = max(1, min(4, (self.size.width + 2) // 23))  # "  v0 0123456789abcdef" + gap
        names = views.register_names(session.kernel)
        for row in range(0, 32, per_row):
            line = Text()
            for n in range(row, min(32, row + per_row)):
                line.append(f"{names[n]:>4} ")
                line.append(f"{cpu.regs[n]:016x}", style=self.mark(("r", n), cpu.regs[n]))
                line.append("  ")
            lines.append(line)
        lines.append(Text(""))
        room = max(3, min(9, self.size.height - 2 - len(lines)))  # the disassembly gets what is left
        before = min(3, (room - 1) // 2)
        for row in views.code(session.kernel, cpu.pc, before, room):
            here = row.pc == cpu.pc
            lines.append(Text(f"{'=>' if here else '  '} {row.pc:x}: {row.text}", style="bold" if here else ""))
        self.update(Group(*lines))

    def _counts(self, c: views.Counters, networked: bool) -> Text:
        """The kernel's counters since boot, each marked when it moved."""
        line = Text()
        cells = [("system calls", c.syscalls), ("crossings", c.crossings), ("faults", c.faults),
                 ("switches", c.switches), ("ticks", c.ticks), ("free frames", c.free_frames)]  # fmt: skip
        if networked:
            cells += [("copies", c.copies), ("forwarded", c.forwarded)]
        for i, (name, v) in enumerate(cells):
            line.append("   " if i else "")
            line.append(f"{name} ")
            line.append(f"{v:,}", style=self.mark(("count", name), v))
        return line


# --- Trace ------------------------------------------------------------------------------------------


class TracePane(ListPane):
    """The kernel's trace records, newest last; ``f`` cycles a filter by record type."""

    TITLE = "Trace"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.kind = ""  # "" shows every record
        self._kinds: list[str] = []

    def action_filter(self) -> None:
        kinds = [""] + self._kinds
        self.kind = kinds[(kinds.index(self.kind) + 1) % len(kinds)] if self.kind in kinds else ""
        self.app.call_later(self.app.refresh_panes)  # type: ignore[attr-defined]

    def show(self, session: Session) -> None:
        self.begin(session)
        k = session.kernel
        recs = []
        kinds = set()
        for r in k.trace:  # one pass: the types on offer, and the records that pass the filter
            name = type(r).__name__
            kinds.add(name)
            if not self.kind or name == self.kind:
                recs.append(r)
        self._kinds = sorted(kinds)
        room = max(1, self.size.height - 3)
        out = Text(f"filter (f): {self.kind or 'all'} — {views.plural(len(recs), 'record')}; types: {' '.join(self._kinds)}\n",
                   style="bold")  # fmt: skip
        last = self._base.get("last", 0)
        for r in recs[-room:]:
            out.append(f"{r.seq:>7} {views.record_text(r)}"[: max(20, self.size.width - 4)] + "\n",
                       style=CHANGED if self._base and r.seq > last else "")  # fmt: skip
        self.mark("last", recs[-1].seq if recs else 0)
        self.update(out)


# --- Scenario ---------------------------------------------------------------------------------------


class ScenarioPane(Pane):
    """The lesson: its steps, then every finished step (title, narration,
    checks with their details, exhibits, questions) to scroll back to, the
    newest at the bottom and in view, then the next step. The workbench puts
    it in a scroller (keys and mouse)."""

    TITLE = "Scenario"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.answers = False  # OSTEP's -c: show the computed answers
        self._shown_steps = -1  # how many finished steps the last paint showed: a new one scrolls into view

    def show(self, session: Session) -> None:
        self.begin(session)
        r = session.runner
        if r is None:
            self.update(Text("No scenario is open. Open one with `spinwb scenario run NAME` "
                             "(`spinwb scenario list` lists them).", style="dim"))  # fmt: skip
            return
        lesson = r.lesson
        parts: list[RenderableType] = [Text(f"{lesson.title} — {lesson.name}, seed {r.seed}", style="bold")]
        if lesson.summary:
            parts.append(Text(lesson.summary, style="italic"))
        steps = Text()
        for i, s in enumerate(lesson.steps, 1):
            if i <= len(r.results):
                res = r.results[i - 1]
                mark = "✓" if res.passed else "✗"
            else:
                mark = "▶" if i == len(r.results) + 1 and not r.halted else " "
            where = f" — {s.pane}" + (", watch" if s.watch else "") if s.pane != "Scenario" or s.watch else ""
            steps.append(f" {mark} {i}. {s.title}{where}\n", style=CHANGED if self.mark(("s", i), mark) else "")
        parts.append(steps)
        for res in r.results:
            parts.extend(self._step(res, len(lesson.steps)))
        nxt = r.upcoming
        if r.halted:
            parts.append(Text(f"the steps after step {len(r.results)} do not run: it exceeded its limit",
                              style="bold red"))  # fmt: skip
        elif nxt is not None:
            n = len(r.results) + 1
            on = f"; watch the {nxt.pane} pane" if nxt.pane != "Scenario" else ""
            parts.append(Text(f"next: step {n}: {nxt.title} (g runs it{on})", style="bold"))
            if nxt.narration:
                parts.append(Markdown(nxt.narration))
        if r.done:
            parts.append(Text(f"all steps done: {'every check passed' if r.passed else 'some checks failed'}",
                              style="bold"))  # fmt: skip
        self.update(Group(*parts))
        if len(r.results) != self._shown_steps:  # a step finished (or the lesson changed): the newest in view
            self._shown_steps = len(r.results)
            box = self.parent
            if box is not None and hasattr(box, "scroll_end"):
                self.call_after_refresh(box.scroll_end, animate=False)

    def _step(self, res: Any, total: int) -> list[RenderableType]:
        """One finished step, as it stays on the pane."""
        mark = "✓" if res.passed else "✗"
        out: list[RenderableType] = [Text(f"{mark} step {res.number}: {res.title}", style="bold underline")]
        if res.narration:
            out.append(Markdown(res.narration))
        for c in res.checks:
            line = Text(f"  [{'ok' if c.ok else 'FAIL'}] {c.text}", style="" if c.ok else "bold red")
            if not c.ok:
                line.append(f" ({c.where})")
            if c.detail:
                line.append(f" — {' | '.join(c.detail.splitlines())}", style="" if c.ok else "bold red")
            out.append(line)
        for ex in res.exhibits:
            t = _table(*((c, "left") for c in ex.columns))
            t.title, t.title_justify, t.title_style = ex.title, "left", "italic"
            for row in ex.rows:
                t.add_row(*row)
            out.append(t)
        if res.error:
            out.append(Text(f"  [ERROR] {res.error}", style="bold red"))
        for q in res.questions:
            out.append(Text(f"  Q: {q.text}" + (f"  A: {q.answer}" if self.answers else "  (a: show answers)")))
        out.append(Text(""))
        return out


# --- Video -----------------------------------------------------------------------------------------


class VideoPane(Pane):
    """The frame buffer's shown frame in half-block pixels, and the video client's counters (workbench/tui/video.py)."""

    TITLE = "Video"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._picture = video.Picture()
        self._rate = video.Rate()

    def show(self, session: Session) -> None:
        self.begin(session)
        view = inspect.framebuffer(session.kernel)
        if view is None:
            label = session.host_label
            self.update(Text(f"{label[:1].upper() + label[1:]} has no frame buffer; to watch one, run the "
                             "video_server lesson (spinwb scenario run video_server), whose viewer has one", style="dim"))  # fmt: skip
            return
        pic = self._picture.of(view, max(1, self.size.width - 4), max(1, self.size.height - 3))
        line = Text()
        for piece, what in video.caption(view, self._rate(view.now_us, view.frames)):
            value = {"frames": view.frames, "refused": view.refused}.get(what)
            line.append(piece, style=self.mark(what, value) if value is not None else "")
        self.update(Group(pic, line))


PANES: list[type[Pane]] = [StrandsPane, DomainsPane, EventsPane, PageTablesPane, PacketsPane, ConsolePane, CpuPane,
                           TracePane, ScenarioPane, VideoPane]  # fmt: skip
if [p.TITLE for p in PANES] != list(engine.PANES):  # the names lesson steps give panes are these panes' titles
    raise ImportError(
        f"scenarios/engine.py PANES {engine.PANES} differ from the workbench's panes {[p.TITLE for p in PANES]}"
    )
