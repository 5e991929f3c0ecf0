"""The terminal workbench (Textual) on a booted workstation or a scenario.

Nine panes in tabs (Strands, Domains, Events, Page tables, Packets,
Console, CPU, Trace, Scenario) or, on a big terminal, several side by side
in a named layout (workbench/tui/layouts.py, ``l`` cycles them) with the
dashboard of the machine's pace; a status bar with what a student pastes
into a help request (scenario, seed, step), and the footer's keys. The
machine advances in bounded slices on a timer while running, so keys stay
live; only the panes on show repaint, at most 20 times a second (fewer while
drawing would take more than a tenth of the host's time). Long
actions (a scenario step, step back, opening a snapshot) run in a worker
thread while the panes wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.theme import Theme
from textual.widgets import Footer, Header, Input, Markdown, Static, TabbedContent, TabPane
from textual.worker import Worker

from scenarios import engine
from workbench.session import Session, SessionError
from workbench.shell.commands import execute
from workbench.tui import layouts
from workbench.tui.benches import BenchCommands
from workbench.tui.dashboard import Dashboard, Meter
from workbench.tui.dashboard import status as pace_status
from workbench.tui.lessons import LessonCommands
from workbench.tui.panes import PANES, ConsolePane, ListPane, PageTablesPane, Pane, ScenarioPane, TracePane
from workbench.views import plural

Shown = Pane | Dashboard  # what a layout shows: each has show(session)
MAKERS: dict[str, type[Shown]] = {cls.TITLE.lower().replace(" ", ""): cls for cls in PANES} | {"pace": Dashboard}

DEFAULT_PACE_US = 100.0  # a watch step's virtual µs per host second: forkcow's boot and fork (263 µs) take ~3 s
MIN_PACE_US, MAX_PACE_US = 1.0, 10_000_000.0
# A long watch step speeds up: after PACE_STEADY_S at the set pace, the pace doubles every PACE_DOUBLING_S
# (a step of 150 ms virtual at 100 µs/s ends in ~22 s instead of 25 minutes).
PACE_STEADY_S, PACE_DOUBLING_S = 5.0, 2.0
TICK = 0.05  # seconds between repaints while running: at most 20 a second (one pane; fewer with several)
SLICE_SECONDS = 0.035  # host time a slice aims for, so a key waits at most about one slice
# Running flat out, repaints slow down until drawing takes at most this share of the host's time
# (the UI thread's CPU per repaint, Textual's compositor included, is measured), but not below
# MAX_TICK apart: drawing competes with the machine for the one interpreter (the GIL).
UI_SHARE = 0.1
MAX_TICK = 0.25
POLL = 0.02  # seconds between turns of a poll callback (spinwb web --tui)
SLICE_CYCLES = 133_000_000 // 20  # and at most 50 ms of virtual time: idle, a slice is clock ticks
MIN_SIZE = (80, 24)
WIDE_FOOTER = 100  # narrower: the footer leaves out l and ctrl+p (the help, ?, lists them) so the rest fit

HIGH_CONTRAST = Theme(name="spinwb-high-contrast", primary="#ffff00", secondary="#00ffff", accent="#ffffff",
                      warning="#ffff00", error="#ff5555", success="#00ff00", foreground="#ffffff",
                      background="#000000", surface="#000000", panel="#000000", dark=True)  # fmt: skip
THEMES = ["textual-dark", "textual-light", HIGH_CONTRAST.name]

HELP = """\
# SPIN Workbench — keys

| key | what it does |
|---|---|
| `space` | run / pause (the machine runs in slices; keys stay live) |
| `s` | step one instruction (several machines: one µs) |
| `n` | run 10,000 instructions |
| `e` | step to the next kernel entry (trap, system call, interrupt) |
| `d` | step to the next event dispatch |
| `g` | run the scenario's next step (it shows the pane the step names; during a watch step, finish it at full speed) |
| `+` / `-` | a watch step's pace: twice / half the virtual time per host second (the status bar shows it) |
| `b` | step back: replay every action but the last from a fresh boot |
| `m` / `u` | take a snapshot / restore the last one (replayed) |
| `r` | reset: boot again |
| `h` | look at the next machine (scenarios with several) |
| `a` | show or hide the scenario's answers |
| `:` | a command line: `break install UDP.PacketArrived`, `break fault 0x0`, `break switch 3`, `break packet 7`, `load udp_echo`, `snapshot save FILE`, `help` … |
| `1`…`9` | show a pane: Strands, Domains, Events, Page tables, Packets, Console, CPU, Trace, Scenario (in a layout of several: pick the pane the arrow keys move in, or go to the tabs) |
| `l` | layout: single (tabs), overview, lesson, memory, network — a terminal of 160×45 or more starts with several panes side by side |
| `↑` `↓` | move the cursor in a pane with a list (Events, Page tables, Packets, Trace); scroll the Scenario pane's steps |
| `[` `]` | Page tables: the previous / next address space |
| `f` | Trace: filter by record type |
| `t` | theme: dark, light, high contrast |
| `ctrl+p` | command palette: every action, and the lessons (type "lesson") |
| `?` | this help; `escape` closes it |
| `q` | quit |

What changed since the last step is shown in reverse video in every pane.
The status bar shows the scenario, seed and step: paste it into a help request.
The Pace pane (in the overview and lesson layouts) shows how fast the machine runs on this host.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = "HelpScreen { align: center middle; } HelpScreen > VerticalScroll { width: 90%; height: 90%; border: round $primary; background: $surface; }"  # fmt: skip

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(HELP)


class OutputScreen(ModalScreen[None]):
    """A command's table or long answer."""

    BINDINGS: ClassVar = [Binding("escape,enter,q", "dismiss", "Close")]
    DEFAULT_CSS = "OutputScreen { align: center middle; } OutputScreen > VerticalScroll { width: 95%; height: 90%; border: round $primary; background: $surface; }"  # fmt: skip

    def __init__(self, body: RenderableType) -> None:
        super().__init__()
        self.body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.body)


class Workbench(App[None]):
    TITLE = "SPIN Workbench"
    COMMANDS = App.COMMANDS | {LessonCommands, BenchCommands}
    CSS = """
    #main { height: 1fr; }
    #tabs { height: 1fr; }
    TabPane { height: 1fr; padding: 0; }
    #tabs.off { display: none; }
    .layout { display: none; height: 1fr; }
    .layout.on { display: block; }
    .layout > Vertical { width: 1fr; height: 1fr; }
    .layout .selected { border: heavy $primary; }
    .scenario-box { height: 1fr; border: round $accent; }
    .scenario-box > ScenarioPane { height: auto; border: none; }
    ToastRack { margin-bottom: 2; }
    #status { height: 1; background: $boost; padding: 0 1; }
    #command { display: none; }
    #command.open { display: block; }
    #small { display: none; content-align: center middle; height: 1fr; }
    Screen.too-small #small { display: block; }
    Screen.too-small #main { display: none; }
    """
    BINDINGS: ClassVar = [
        Binding("space", "toggle_run", "Run"),
        Binding("s", "step", "Step"),
        Binding("e", "to('entry')", "Entry"),
        Binding("d", "to('dispatch')", "Dispatch"),
        Binding("g", "scenario_step", "Lesson"),
        Binding("b", "back", "Back"),
        Binding("r", "reset", "Reset"),
        Binding("l", "layout", "Layout"),  # in the footer when it fits (check_action)
        Binding("l", "cycle_layout", "Layout", show=False),  # and the key works when it does not
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("n", "run_some", "Run 10k", show=False),
        Binding("m", "mark", "Snapshot", show=False),
        Binding("u", "restore", "Restore", show=False),
        Binding("h", "host", "Next host", show=False),
        Binding("a", "answers", "Answers", show=False),
        Binding("t", "theme", "Theme", show=False),
        Binding("colon", "command", "Command", show=False),
        *(Binding(str((i + 1) % 10), f"pane({i})", p.TITLE, show=False) for i, p in enumerate(PANES)),  # 0: the tenth
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", show=False),
        Binding("pagedown", "cursor(10)", show=False),
        Binding("left_square_bracket", "space(-1)", "Prev space", show=False),
        Binding("right_square_bracket", "space(1)", "Next space", show=False),
        Binding("f", "filter", "Filter", show=False),
        Binding("i", "type_input", "Type stdin", show=False),
        Binding("plus,equals_sign", "pace(2)", "Faster", show=False),
        Binding("minus", "pace(0.5)", "Slower", show=False),
    ]

    def __init__(self, program: Path | None = None, argv: list[str] | None = None, scenario: str | None = None,
                 seed: int = 0, session: Session | None = None, poll: Callable[[], bool] | None = None,
                 start_layout: str | None = None) -> None:  # fmt: skip
        super().__init__()
        # Someone else's loop to turn (a host bridge's: workbench/web/bridge.py), called with the machine
        # lock held, on the UI thread, every POLL seconds; True if it ran the world (the panes repaint).
        self.poll = poll
        self._polled = False  # the world ran since the last repaint
        self.start_layout = start_layout  # shown first if the terminal fits it; else its first pane's tab
        self.session = session if session is not None else Session(program, argv, scenario, seed)
        self.runner: Worker[None] | None = None  # the running machine's worker thread
        self.running = False  # the worker's go-on flag
        self.lock = threading.Lock()  # held while a slice runs; panes draw only when they can take it
        self.dirty = False  # a repaint was asked for during a slice
        self.slice = 20_000  # instructions per slice while running, adapted to the host's speed
        self.busy = ""  # a long action in a worker: panes wait, keys that change the session are refused
        self.message = self.session.last_stop  # a session handed over stopped at a breakpoint says so
        self.register_theme(HIGH_CONTRAST)
        self.theme = THEMES[0]
        self.painted = 0.0  # host time the last repaint ended (`spinwb bench ui`)
        self.machine_cpu = 0.0  # CPU seconds the worker's slices took (`spinwb bench ui`: the UI's share is the rest)
        self.meter = Meter()  # the machine's pace, host-timed (the dashboard and the status bar read it)
        self.layout_name = "single"
        self.tick = TICK
        self.run_tick = TICK  # the running machine's repaint interval: tick, longer if drawing is dear
        self._ui_cpu = 0.0  # the UI thread's CPU time at the last repaint
        self._switched: tuple[int, int] | None = None  # (pane, generation) action_pane drew on a tab switch
        self.layout_chosen = False  # the user picked a layout: a resize keeps it
        self.pace = DEFAULT_PACE_US  # a watch step's speed when it names none: virtual µs per host second
        self.pace_factor = 1.0  # + / - : twice / half every watch step's pace, live
        self._step_pace = DEFAULT_PACE_US  # the running watch step's own pace (its pace_us, else self.pace)
        self.watching = False  # a watch step runs, paced: its panes repaint as the machine runs
        self.full_speed = False  # g during a watch step: finish it at full speed
        self._watch_painting = False  # the worker asked for this repaint, the machine paused meanwhile
        self._pace_mark = (0.0, 0.0)  # (virtual s, host s) at the last pacing point
        self._watch_started = 0.0  # host time the watch step began (its pace rises from there)
        self._watch_painted = 0.0
        self.watch_paints = 0  # repaints of panes during watch steps (the tests count them)
        self.selected = {lay.name: next((s for s in lay.slugs if s in ("events", "pagetables", "packets", "trace")),
                                        lay.slugs[0] if lay.slugs else "") for lay in layouts.LAYOUTS}  # fmt: skip

    # --- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="main"):
            with TabbedContent(id="tabs", initial="tab-scenario" if self.session.runner else "tab-strands"):
                for cls in PANES:
                    slug = cls.TITLE.lower().replace(" ", "")
                    with TabPane(cls.TITLE, id=f"tab-{slug}"):
                        yield from _made(slug, slug)
            for lay in layouts.LAYOUTS[1:]:  # each layout its own panes: a widget is mounted in one place
                with Horizontal(id=f"layout-{lay.name}", classes="layout"):
                    for col in lay.columns:
                        with Vertical():
                            for slug in col:
                                yield from _made(slug, f"{lay.name}-{slug}")
            yield Input(placeholder="command (help lists them; escape closes)", id="command")
            yield Static(id="status")
        yield Static(id="small")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._check_size()
        w, h = self.size
        self._fit_footer(w)
        self.set_layout(layouts.default(w, h, self.session.runner is not None))
        if self.start_layout is not None:
            lay = layouts.by_name(self.start_layout)
            if w >= layouts.BIG[0] and h >= layouts.BIG[1]:
                self.layout_chosen = True  # the first resize keeps it
                self.set_layout(lay.name)
            elif lay.slugs:
                self.query_one("#tabs", TabbedContent).active = f"tab-{lay.slugs[0]}"
        if self.poll is not None:
            self.set_interval(POLL, self._turn_poll)
        self.call_after_refresh(self.refresh_panes)  # pane sizes are known after the first layout

    def _turn_poll(self) -> None:
        """Turn ``poll`` for up to SLICE_SECONDS while it runs the world: one thread drives the world
        at a time, so the turn is skipped while a slice (the lock) or a long action (busy) has it."""
        assert self.poll is not None
        if self.busy or not self.lock.acquire(blocking=False):
            return
        try:
            t0 = time.perf_counter()
            while self.poll() and time.perf_counter() - t0 < SLICE_SECONDS:
                self._polled = True
        except Exception as e:  # noqa: BLE001 - shown in the status bar; the app and the world go on
            self.message = f"the poll failed: {type(e).__name__}: {e}"
            self._polled = True
        finally:
            self.lock.release()
        if self._polled and time.perf_counter() - self.painted >= self.tick:
            self._polled = False
            self.refresh_panes()

    def on_unmount(self) -> None:
        self.running = False  # the machine's worker thread ends after its slice

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)
        self._fit_footer(event.size.width)
        if not self.layout_chosen:
            self.set_layout(layouts.default(event.size.width, event.size.height, self.session.runner is not None))
        self.call_after_refresh(self.refresh_panes)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "layout" and self.size.width < WIDE_FOOTER:
            return False  # the hidden binding of the same key runs instead
        return True

    def _fit_footer(self, width: int) -> None:
        footer = self.query_one(Footer)
        footer.show_command_palette = width >= WIDE_FOOTER
        self.refresh_bindings()

    def set_layout(self, name: str) -> None:
        """Show a layout: the tabs, or one of the side-by-side ones."""
        self.layout_name = name
        # Several panes cost several times one to draw, and drawing takes the machine's thread's turns.
        self.tick = TICK * max(1.0, len(layouts.by_name(name).slugs) / 2)
        self.query_one("#tabs", TabbedContent).set_class(name != "single", "off")
        for lay in layouts.LAYOUTS[1:]:
            box = self.query_one(f"#layout-{lay.name}", Horizontal)
            box.set_class(lay.name == name, "on")
            for slug in lay.slugs:
                box = f"#{lay.name}-{slug}" + ("-box" if slug == "scenario" else "")  # its border is its scroller's
                self.query_one(box).set_class(slug == self.selected[lay.name], "selected")
        self.call_after_refresh(self.refresh_panes)  # panes newly shown have their sizes after the next layout

    def _check_size(self, w: int | None = None, h: int | None = None) -> None:
        if w is None or h is None:
            w, h = self.size
        small = w < MIN_SIZE[0] or h < MIN_SIZE[1]
        self.screen.set_class(small, "too-small")
        if small:
            self.query_one("#small", Static).update(
                f"The workbench needs a terminal of at least {MIN_SIZE[0]}×{MIN_SIZE[1]}; this one is {w}×{h}.\n"
                "Enlarge the window or make the font smaller. The machine keeps its state meanwhile.")  # fmt: skip

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = self.active_pane()
        if not pane.size.height:
            # A pane shown for the first time has no height until the next layout, and its rows are
            # windowed to its height: paint it once it has one (a page-tables pane once showed one row).
            self.call_after_refresh(self.refresh_panes)
        elif self._switched != (id(pane), self.session.generation):  # else action_pane has just drawn it
            self.refresh_panes()
        self._switched = None

    # --- repainting ---------------------------------------------------------------------

    def active_pane(self) -> Shown:
        """The pane the arrow keys, [ ] and f act on: the tab on show, or a layout's selected pane."""
        if self.layout_name == "single":
            tabs = self.query_one("#tabs", TabbedContent)
            return self.query_one(f"#{tabs.active.removeprefix('tab-')}", Pane)
        return self.query_one(f"#{self.layout_name}-{self.selected[self.layout_name]}", Shown)  # type: ignore[arg-type]

    def shown_panes(self) -> list[Shown]:
        if self.layout_name == "single":
            return [self.active_pane()]
        return [self.query_one(f"#{self.layout_name}-{s}", Shown) for s in layouts.by_name(self.layout_name).slugs]  # type: ignore[arg-type]

    def refresh_panes(self) -> None:
        """Repaint the pane on show and the status bar from the session's views
        (later, after the slice, if the machine is mid-slice)."""
        if not self.lock.acquire(blocking=False):
            self.dirty = True
            return
        try:
            self._paint()
        finally:
            self.lock.release()

    def _paint(self) -> None:
        self.dirty = False
        pace = False
        if not self.busy or self._watch_painting:  # during a watch step, the worker's own repaints
            self.meter.take(self.session, self.runner is not None)
            for pane in self.shown_panes():
                pace = pace or isinstance(pane, Dashboard)
                try:
                    pane.show(self.session)
                except Exception as e:  # noqa: BLE001 - a view's bug shows in the status bar, the app goes on
                    self.message = f"could not draw the {pane.TITLE} pane: {type(e).__name__}: {e}"
            self.painted = time.perf_counter()
            self._pace_repaints()
        w = self.session
        state = self.busy or ("running" if self.runner else "paused")
        bps = f" | {plural(len(w.breakpoints), 'breakpoint')}" if w.breakpoints else ""
        host = f" | {w.host_name}" if len(w.kernels) > 1 else ""
        text = Text(f"{position(w)}{host}{bps} | {state}", no_wrap=True, overflow="ellipsis")
        if self.message:
            text.append(f" | {self.message}", style="bold")
        if not pace and self.runner is not None and pace_status(self.meter):
            text.append(f" | {pace_status(self.meter)}")
        self.query_one("#status", Static).update(text, layout=False)  # one line, always
        self.sub_title = state + (f" — {w.stopped}" if w.stopped else "")

    def _pace_repaints(self) -> None:
        """While the worker runs the machine, space repaints so that drawing (the UI
        thread's CPU since the last repaint) is at most UI_SHARE of the time between them."""
        cpu = time.thread_time()
        spent, self._ui_cpu = cpu - self._ui_cpu, cpu
        if self.runner is not None and self.poll is None:
            self.run_tick = min(MAX_TICK, max(self.tick, spent / UI_SHARE))
        else:
            self.run_tick = self.tick

    def say(self, message: str, error: bool = False) -> None:
        self.message = message.splitlines()[0] if message else ""
        if error:
            self.notify(message, severity="error", timeout=6, markup=False)
        self.refresh_panes()

    # --- driving ------------------------------------------------------------------------

    def _refuse_if_busy(self) -> bool:
        if self.busy:
            self.say(f"wait: {self.busy}")
            return True
        return False

    def _advance(self, n: int, max_cycles: int | None = None) -> str:
        why = self.session.step(n, max_cycles)
        if why == "stop":
            self.message = self.session.last_stop
        self.refresh_panes()
        return why

    def _run_loop(self) -> None:
        """The running machine, in a worker thread: slices sized to about
        SLICE_SECONDS of host time, a repaint at most every run_tick (a key's
        repaint, asked for during a slice, comes right after it)."""
        last = 0.0
        why = ""
        while self.running:
            with self.lock:
                t0, c0 = time.perf_counter(), time.thread_time()
                why = self.session.step(self.slice, SLICE_CYCLES)
                dt = max(time.perf_counter() - t0, 1e-4)
                self.machine_cpu += time.thread_time() - c0
                self.slice = int(min(2_000_000, max(5_000, self.slice * SLICE_SECONDS / dt)))
            if why == "stop" or self.session.stopped:
                break
            if self.dirty or time.perf_counter() - last >= self.run_tick:
                self.call_from_thread(self.refresh_panes)
                last = time.perf_counter()
        self.call_from_thread(self._run_ended, why)

    def _run_ended(self, why: str) -> None:
        self.runner = None
        self.running = False
        if why == "stop":
            self.message = self.session.last_stop
        self.refresh_panes()

    def _stop_runner(self) -> None:
        """Pause, and wait for the slice in progress (the session is ours after)."""
        if self.runner is not None:
            self.running = False
            with self.lock:
                pass
            self.runner = None

    def _long(self, label: str, work: Callable[[], str]) -> None:
        """Run a long action in a worker thread; the panes wait for it."""
        if self._refuse_if_busy():
            return
        self._stop_runner()
        self.busy = label
        self.refresh_panes()

        def run() -> None:
            try:
                msg, err = work(), False
            except SessionError as e:
                msg, err = str(e), True
            except Exception as e:  # noqa: BLE001 - reported in the UI, never a traceback
                msg, err = f"{label} failed: {type(e).__name__}: {e}", True
            self.call_from_thread(self._finish, msg, err)

        self.run_worker(run, thread=True, group="session", exit_on_error=False)

    def _finish(self, msg: str, err: bool) -> None:
        self.busy = ""
        self.say(msg, err)

    def _progress(self, label: str) -> Callable[[int, int], None]:
        def report(i: int, n: int) -> None:
            if i % 50 == 0 or i == n:
                self.busy = f"{label}: {i}/{n} actions"
                self.call_from_thread(self.refresh_panes)

        return report

    # --- actions ------------------------------------------------------------------------

    def action_toggle_run(self) -> None:
        if self._refuse_if_busy():
            return
        if self.runner is not None:
            self._stop_runner()
        elif self.session.stopped:
            self.message = f"{self.session.stopped}: r resets"
        else:
            self.message = ""
            self.running = True
            self.runner = self.run_worker(self._run_loop, thread=True, group="machine", exit_on_error=False)
        self.refresh_panes()

    def action_step(self) -> None:
        if not self._refuse_if_busy():
            self._stop_runner()
            self.message = ""
            self._advance(133 if self.session.networked else 1)

    def action_run_some(self) -> None:
        if not self._refuse_if_busy():
            self._stop_runner()
            self.message = ""
            self._advance(133_000 if self.session.networked else 10_000)

    def action_to(self, what: str) -> None:
        self._long(f"running to the next {'kernel entry' if what == 'entry' else 'dispatch'}",
                   lambda: self.session.step_to(what))  # fmt: skip

    def action_scenario_step(self) -> None:
        if self.watching:  # g again: the rest of the watch step at full speed
            self.full_speed = True
            self.say("finishing the step at full speed")
            return
        r = self.session.runner
        if r is None:
            self.say("no scenario is open: ctrl+p and a lesson's name opens one (or spinwb scenario run NAME)",
                     error=True)  # fmt: skip
            return
        step = r.upcoming
        if step is None:
            self.say(f"all {len(r.lesson.steps)} steps are done ({'passed' if r.passed else 'some checks failed'})")
            return
        if self._refuse_if_busy():
            return
        n = len(r.results) + 1
        self.show_pane(step.pane)
        self.watching, self.full_speed = step.watch, False
        self._step_pace = step.pace_us or self.pace
        self._pace_mark = (0.0, time.perf_counter())
        self._watch_started = time.perf_counter()
        label = self._watch_label(n) if step.watch else f"running scenario step {n}"

        def work() -> str:
            self.session.observer = self._observe if step.watch else None
            run = self.session.runner.run if self.session.runner is not None else None
            if run is not None:
                run.slice_cycles = self._slice_cycles() if step.watch else None
            try:
                msg = self.session.scenario_step()
            finally:
                self.session.observer = None
                if run is not None:
                    run.slice_cycles = None
                self.watching = False
            done = self.session.runner.results if self.session.runner is not None else []
            return _step_message(done[-1], step.pane) if done and done[-1].number == n else msg

        self._long(label, work)

    def show_pane(self, title: str) -> None:
        """Put the pane a lesson step names on show: its tab, or in a layout of
        several that pane selected (a layout beside the Scenario pane if this one lacks it)."""
        slug = title.lower().replace(" ", "")
        w, h = self.size
        big = layouts.default(w, h, lesson=True) != "single"
        if big and (self.layout_name != "single" or not self.layout_chosen):
            name = layouts.lesson_for(slug, self.layout_name)
            if name is not None:
                self.selected[name] = slug
                self.set_layout(name)
                return
        if self.layout_name != "single":
            self.set_layout("single")
        self.query_one("#tabs", TabbedContent).active = f"tab-{slug}"

    # --- watch steps: the machine paced, the panes repainting ---------------------------

    def current_pace(self) -> float:
        """The pace now: the set pace for PACE_STEADY_S, then doubled every
        PACE_DOUBLING_S, so a short step is seen at the set pace and a long one
        still ends in seconds, not minutes."""
        watched = max(0.0, time.perf_counter() - self._watch_started - PACE_STEADY_S) if self.watching else 0.0
        return min(MAX_PACE_US, self._step_pace * self.pace_factor * 2 ** (watched / PACE_DOUBLING_S))

    def _watch_label(self, n: int) -> str:
        return f"watching step {n} at {pace_text(self.current_pace())} (+ faster, - slower, g full speed)"

    def _slice_cycles(self) -> int:
        """A slice of a paced run: the virtual time one repaint interval shows."""
        return max(1, int(self.current_pace() * engine.CLOCK_MHZ * TICK))

    def _observe(self, run: engine.Run) -> None:
        """In the worker, on each clock tick and slice of a watch step: keep the
        machine to the pace (sleeping) and repaint synchronously (the machine
        waits while the main thread paints)."""
        if not self.watching or self.full_speed:
            run.slice_cycles = None
            return
        with run.hold():
            v0, t0 = self._pace_mark
            v = run.virtual_seconds()
            while not self.full_speed and self.watching:
                due = t0 + (v - v0) * 1e6 / self.current_pace()
                now = time.perf_counter()
                if now - self._watch_painted >= self.tick:
                    self._repaint_from_worker()
                    continue
                if now >= due:
                    break
                time.sleep(min(due - now, self.tick))
            self._pace_mark = (v, max(time.perf_counter(), t0))
            run.slice_cycles = None if self.full_speed else self._slice_cycles()

    def _repaint_from_worker(self) -> None:
        self._watch_painted = time.perf_counter()
        try:
            self.call_from_thread(self._watch_paint)
        except RuntimeError:  # the app is closing
            self.full_speed = True

    def _watch_paint(self) -> None:
        self._watch_painting = True
        r = self.session.runner
        if self.watching and r is not None:
            self.busy = self._watch_label(len(r.results) + 1)  # the pace rises as the step goes on
        try:
            self.refresh_panes()
            self.watch_paints += 1
        finally:
            self._watch_painting = False

    def action_pace(self, factor: float) -> None:
        """Watch steps' speed, live: + twice as fast, - half (this step's and the later ones')."""
        lo, hi = MIN_PACE_US / self.pace, MAX_PACE_US / self.pace
        self.pace_factor = min(hi, max(lo, self.pace_factor * factor))
        if self.watching:  # the new pace from now: the rise starts again from it
            self._watch_started = time.perf_counter()
        r = self.session.runner
        if self.watching and r is not None:  # the status bar's state says the new pace
            self.busy = self._watch_label(len(r.results) + 1)
            self.say("")
        else:
            self.say(f"pace: {pace_text(self.pace * self.pace_factor)} for watch steps"
                     + (f" (×{self.pace_factor:g} a step's own pace)" if self.pace_factor != 1 else ""))  # fmt: skip

    def open_lesson(self, name: str) -> None:
        """Open a lesson in place of what is open (the palette's lessons; the shell's `scenario open`)."""

        def work() -> str:
            try:
                opened = Session(scenario=name)
            except engine.ScenarioError as e:
                raise SessionError(str(e)) from e
            self.session.adopt(opened)
            self.call_from_thread(self._lesson_opened)
            return f"opened {self.session.position}: g runs its first step"

        self._long(f"opening the lesson {name}", work)

    def _lesson_opened(self) -> None:
        self.meter.clear()
        if not self.layout_chosen:
            w, h = self.size
            self.set_layout(layouts.default(w, h, lesson=True))
        if self.layout_name == "single":
            self.query_one("#tabs", TabbedContent).active = "tab-scenario"

    def action_back(self) -> None:
        self._long("stepping back (replaying)", lambda: self.session.back(self._progress("stepping back")))

    def action_mark(self) -> None:
        if not self._refuse_if_busy():
            self._stop_runner()
            self.say(self.session.mark())

    def action_restore(self) -> None:
        self._long("restoring the snapshot", lambda: self.session.restore_mark(self._progress("restoring")))

    def action_reset(self) -> None:
        if not self._refuse_if_busy():
            self._stop_runner()
            try:
                self.session.reset()
            except SessionError as e:
                self.say(str(e), error=True)
                return
            self.say("reset: booted again")

    def action_host(self) -> None:
        if not self._refuse_if_busy():
            with self.lock:
                host = self.session.next_host()
            self.say(f"looking at {host}")

    def action_answers(self) -> None:
        if self.session.runner is None:
            self.say("no scenario is open, so no answers to show: ctrl+p and a lesson's name opens one")
            return
        show = not self.query_one("#scenario", ScenarioPane).answers
        for pane in self.query(ScenarioPane):  # the tab's and each layout's
            pane.answers = show
        self.say("answers shown" if show else "answers hidden")

    def action_cycle_layout(self) -> None:
        self.action_layout()

    def action_layout(self) -> None:
        self.layout_chosen = True
        self.set_layout(layouts.following(self.layout_name))
        self.say(f"layout {self.layout_name}: {layouts.by_name(self.layout_name).about} (l: the next)")

    def action_theme(self) -> None:
        self.theme = THEMES[(THEMES.index(self.theme) + 1) % len(THEMES)] if self.theme in THEMES else THEMES[0]
        self.say(f"theme: {self.theme}")

    def action_pane(self, index: int) -> None:
        slug = PANES[index].TITLE.lower().replace(" ", "")
        if self.layout_name != "single":
            if slug in layouts.by_name(self.layout_name).slugs:  # pick it: the arrow keys move in it
                self.selected[self.layout_name] = slug
                self.set_layout(self.layout_name)
                self.refresh_panes()
                return
            self.layout_chosen = True  # not in this layout: the tabs show it
            self.set_layout("single")
        self.query_one("#tabs", TabbedContent).active = f"tab-{slug}"
        self.refresh_panes()  # now, not after the tab's message has queued behind a slice
        pane = self.active_pane()
        if not self.dirty and pane.size.height:  # drawn at its size: the tab's message need not draw it again
            self._switched = (id(pane), self.session.generation)

    def action_cursor(self, by: int) -> None:
        pane = self.active_pane()
        if isinstance(pane, ListPane):
            pane.action_move(by)
        elif isinstance(pane, ScenarioPane) and isinstance(pane.parent, VerticalScroll):  # scroll back through steps
            pane.parent.scroll_relative(y=by, animate=False)

    def action_space(self, by: int) -> None:
        pane = self.active_pane()
        if isinstance(pane, PageTablesPane):
            pane.action_space(by)

    def action_filter(self) -> None:
        pane = self.active_pane()
        if isinstance(pane, TracePane):
            pane.action_filter()

    def action_type_input(self) -> None:
        self.action_pane(PANES.index(ConsolePane))
        pane = self.active_pane()  # each layout has its own Console pane: type into the one on show
        if isinstance(pane, ConsolePane):
            pane.query_one("#console-in", Input).focus()

    def on_console_pane_typed(self, event: ConsolePane.Typed) -> None:
        """A line for the program's stdin: an action in the log, so step back and replays keep it."""
        if not self._refuse_if_busy():
            with self.lock:  # between two slices of a running machine, which reads it on its next tick
                try:
                    self.message = self.session.type_input(event.text, event.eof)
                except SessionError as e:
                    self.notify(str(e), severity="error", timeout=6, markup=False)
            self.refresh_panes()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_command(self) -> None:
        box = self.query_one("#command", Input)
        box.add_class("open")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        box = event.input
        line = box.value
        box.value = ""
        box.remove_class("open")
        self.run_command(line)

    def on_key(self, event: object) -> None:
        box = self.query_one("#command", Input)
        if getattr(event, "key", "") == "escape" and box.has_class("open"):
            box.remove_class("open")
            self.active_pane().focus()

    def run_command(self, line: str) -> None:
        """One command of the shell's language (workbench/shell/commands.py)."""
        if self._refuse_if_busy():
            return
        if line.split()[:1] == ["quit"]:
            self.exit()
            return
        self._stop_runner()
        reply = execute(self.session, line)
        if reply.error or (isinstance(reply.body, str) and "\n" not in reply.body and len(reply.body) < 200):
            self.say(str(reply.body), reply.error)
        else:
            self.push_screen(OutputScreen(reply.body))
            self.refresh_panes()

    # --- the command palette ------------------------------------------------------------

    def _choose_layout(self, name: str) -> None:
        self.layout_chosen = True
        self.set_layout(name)
        self.say(f"layout {name}: {layouts.by_name(name).about}")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Run / pause", "Run the machine in slices, or pause it", self.action_toggle_run)
        yield SystemCommand("Step one instruction", "Execute one instruction", self.action_step)
        yield SystemCommand("Step to the next kernel entry", "Run until a trap, system call or interrupt",
                            lambda: self.action_to("entry"))  # fmt: skip
        yield SystemCommand("Step to the next dispatch", "Run until an event is raised",
                            lambda: self.action_to("dispatch"))  # fmt: skip
        yield SystemCommand("Scenario: next step", "Run the lesson's next step", self.action_scenario_step)
        yield SystemCommand("Scenario: show or hide answers", "OSTEP's -c", self.action_answers)
        yield SystemCommand("Step back", "Replay every action but the last from a fresh boot", self.action_back)
        yield SystemCommand("Snapshot: take", "Remember this position", self.action_mark)
        yield SystemCommand("Snapshot: restore", "Replay to the last snapshot", self.action_restore)
        yield SystemCommand("Reset", "Boot again", self.action_reset)
        yield SystemCommand("Next machine", "Look at the next machine of several", self.action_host)
        yield SystemCommand("Command line", "Type a command (break, load, snapshot save …)", self.action_command)
        for lay in layouts.LAYOUTS:
            yield SystemCommand(f"Layout: {lay.name}", lay.about, lambda n=lay.name: self._choose_layout(n))  # type: ignore[misc]
        for i, cls in enumerate(PANES):
            yield SystemCommand(f"Show the {cls.TITLE} pane", f"key {i + 1}", lambda i=i: self.action_pane(i))  # type: ignore[misc]
        for name, label in zip(THEMES, ("dark", "light", "high contrast"), strict=True):
            yield SystemCommand(f"Theme: {label}", f"Textual theme {name}", lambda n=name: setattr(self, "theme", n))  # type: ignore[misc]


def _step_message(res: engine.StepResult, pane: str) -> str:
    """The status bar after a step, shortest first (a 100-column bar cuts the rest): the checks,
    where a failure is, the pane to look at. A step whose action raised is an error (a toast too)."""
    where = " — 9: the lesson" if pane == "Scenario" else f" — see the {pane} pane (9: the lesson)"
    if res.error:
        raise SessionError(f"step {res.number} stopped: {res.error}{where}")
    ok = sum(c.ok for c in res.checks)
    failed = [c.where for c in res.checks if not c.ok]
    fails = f"; FAIL at {failed[0]}" + (f" and {len(failed) - 1} more" if len(failed) > 1 else "") if failed else ""
    return f"step {res.number} done: {ok} of {plural(len(res.checks), 'check')} passed{fails}{where}"


def pace_text(us: float) -> str:
    """A pace as the status bar says it: virtual time per host second."""
    if us >= 1000:
        return f"{us / 1000:.3g} ms/s"
    return f"{us:.3g} µs/s"


def _made(slug: str, ident: str) -> Iterable[Shown | VerticalScroll]:
    """A pane for a tab or a layout; the Scenario pane in a scroller of its own, which keeps
    every finished step to scroll back to (keys and mouse), the newest at the bottom."""
    if slug != "scenario":
        yield MAKERS[slug](id=ident)
        return
    box = VerticalScroll(ScenarioPane(id=ident), id=f"{ident}-box", classes="scenario-box")
    box.border_title = ScenarioPane.TITLE
    yield box


def position(w: Session) -> str:
    """Scenario, seed and step, always (a demo or a program is no scenario; each action is a step)."""
    if w.runner is not None:
        return w.runner.position
    return f"scenario none ({w.name}) seed {w.seed} step {len(w.log)} icount {w.kernel.machine.cpu.icount}"


def run_app(scenario: str | None = None, seed: int = 0, pace: float | None = None) -> int:
    """The workbench; ``pace`` (virtual µs per host second) for a lesson's watch steps."""
    if scenario is not None:
        try:
            engine.load(scenario)
        except engine.ScenarioError as e:
            print(f"spinwb: {e}")
            return 2
    app = Workbench(scenario=scenario, seed=seed)
    if pace is not None:
        app.pace = pace
    app.run()
    return 0
