"""The workbench's keys, driven through Textual's Pilot: each test presses
what a user would and checks the session and the panes (the SVG pictures are
in test_snapshots.py)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console
from textual.pilot import Pilot

from scenarios import engine
from workbench.session import BIN, Session
from workbench.tui.app import THEMES, HelpScreen, OutputScreen, Workbench


def pane_text(app: Workbench, pane: str) -> str:
    """What a pane shows, as plain text (its content through rich)."""
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(app.query_one(f"#{pane}").content)
    return console.export_text()


def status(app: Workbench) -> str:
    return str(app.query_one("#status").content)


def drive(app: Workbench, body: Callable[[Pilot[None]], Awaitable[None]], size: tuple[int, int] = (120, 36)) -> None:
    async def go() -> None:
        async with app.run_test(size=size) as pilot:
            await body(pilot)

    asyncio.run(go())


async def settle(app: Workbench, pilot: Pilot[None]) -> None:
    """Wait for a worker's long action (scenario step, step back) to finish."""
    for _ in range(600):
        await pilot.pause(0.05)
        if not app.busy:
            return
    raise AssertionError(f"still busy: {app.busy}")


def long_running() -> Workbench:
    return Workbench(session=Session(BIN / "bench-ev4.elf", ["bench-ev4", "1000000"]))


def test_step_run_pause_and_reset_keys() -> None:
    app = long_running()

    async def body(pilot: Pilot[None]) -> None:
        cpu = app.session.kernel.machine.cpu
        await pilot.press("s")
        assert cpu.icount == 1
        await pilot.press("s", "n")
        assert cpu.icount == 10_002
        await pilot.press("space")  # runs in slices in a worker; keys stay live
        await pilot.pause(0.5)
        assert app.runner is not None and "running" in status(app)
        await pilot.press("7")  # a pane switch while running
        assert app.query_one("#tabs").active == "tab-cpu"
        await pilot.press("space")
        assert app.runner is None
        paused_at = cpu.icount
        assert paused_at > 1_000_000
        await pilot.pause(0.2)
        assert cpu.icount == paused_at, "paused means paused"
        await pilot.press("r")
        assert cpu is not app.session.kernel.machine.cpu and app.session.kernel.machine.cpu.icount == 0
        await pilot.press("q")

    drive(app, body)


def test_entry_and_dispatch_keys_stop_where_they_say() -> None:
    app = Workbench()

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("e")
        await settle(app, pilot)
        assert "kernel entry: " in status(app)
        await pilot.press("d")
        await settle(app, pilot)
        assert "breakpoint dispatch any: Dispatch" in status(app)
        assert app.session.log[-1] == ["to", "dispatch"]

    drive(app, body)


def test_a_breakpoint_from_the_command_line_stops_the_running_machine() -> None:
    app = Workbench()

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("colon")
        await pilot.press(*"break fault 0x0", "enter")
        assert [str(b) for b in app.session.breakpoints] == ["fault 0x0"]
        assert "breakpoint set" in status(app)
        await pilot.press("space")
        for _ in range(400):
            await pilot.pause(0.05)
            if app.runner is None:
                break
        assert "breakpoint fault 0x0: MemFault" in status(app) and "address=0x0" in status(app)
        assert not app.session.stopped, "a breakpoint pauses; the machine goes on after"
        await pilot.press("colon")
        await pilot.press(*"frobnicate", "enter")
        assert "unknown command 'frobnicate'" in status(app)
        await pilot.press("colon")
        await pilot.press(*"inspect strands", "enter")
        assert isinstance(app.screen, OutputScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, OutputScreen)

    drive(app, body)


def test_step_back_snapshot_and_restore_keys() -> None:
    app = Workbench()

    async def body(pilot: Pilot[None]) -> None:
        w = app.session
        await pilot.press("n", "n")
        at = (w.hashes(), w.kernel.machine.cpu.icount)
        await pilot.press("m")  # snapshot
        await pilot.press("n", "s")
        await pilot.press("b")  # back over the single step
        await settle(app, pilot)
        assert w.kernel.machine.cpu.icount == 30_000
        await pilot.press("u")  # restore the snapshot
        await settle(app, pilot)
        assert (w.hashes(), w.kernel.machine.cpu.icount) == at
        assert "restored snapshot 1" in status(app)

    drive(app, body)


def test_a_snapshot_file_from_another_version_is_refused_in_the_ui(tmp_path: Path) -> None:
    f = tmp_path / "old.json"
    f.write_text('{"format": "spinwb-snapshot", "format_version": 0, "spinwb": "0.0.1", "source": {}, "log": []}')
    app = Workbench()

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("n")
        before = app.session.hashes()
        app.run_command(f"snapshot load {f}")
        await pilot.pause()
        assert "saved by spinwb 0.0.1" in status(app)
        assert app.session.hashes() == before and app.session.kernel.machine.cpu.icount == 10_000, "nothing lost"
        await pilot.press("s")
        assert app.session.kernel.machine.cpu.icount == 10_001

    drive(app, body)


def test_help_theme_and_pane_keys() -> None:
    app = Workbench()

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        assert app.theme == THEMES[0]
        await pilot.press("t")
        assert app.theme == "textual-light"
        await pilot.press("t")
        assert app.theme == "spinwb-high-contrast"
        for i, tab in enumerate(["strands", "domains", "events", "pagetables", "packets", "console", "cpu", "trace",
                                 "scenario"], 1):  # fmt: skip
            await pilot.press(str(i))
            assert app.query_one("#tabs").active == f"tab-{tab}"
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Step to the next kernel entry", "Step back", "Snapshot: take", "Theme: high contrast",
                "Show the Page tables pane"} <= titles  # fmt: skip

    drive(app, body)


def test_cursor_keys_pick_an_event_and_the_trace_filter() -> None:
    app = Workbench()

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("n", "n", "3")
        first = pane_text(app, "events")
        await pilot.press("down", "down")
        assert pane_text(app, "events") != first
        assert "▶ Strand.Block" in pane_text(app, "events")
        await pilot.press("8", "f")
        assert "filter (f): Boot" in pane_text(app, "trace")

    drive(app, body)


def test_a_terminal_too_small_gets_a_message_and_loses_nothing() -> None:
    app = Workbench()

    async def body(pilot: Pilot[None]) -> None:
        assert app.screen.has_class("too-small")
        assert "at least 80×24; this one is 60×20" in str(app.query_one("#small").content)
        await pilot.press("n")
        assert app.session.kernel.machine.cpu.icount == 10_000, "keys still work"
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not app.screen.has_class("too-small")

    drive(app, body, size=(60, 20))


def test_changes_since_the_last_step_are_marked() -> None:
    """After a step, the CPU pane marks (reverse video) the registers that
    changed and the pc, and not the zero register; a step that changes
    nothing marks nothing."""
    app = Workbench()

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("7", "n", "n")
        pane = app.query_one("#cpu")

        def marked() -> set[object]:
            return {k for k, v in pane._now.items() if k in pane._base and pane._base[k] != v}

        regs = {k for k in marked() if isinstance(k, tuple)}
        assert "pc" in marked() and regs and ("r", 31) not in regs
        before = app.session.cpu().regs
        assert all(before[n] != pane._base[("r", n)] for _, n in regs), "exactly the registers that changed"
        await pilot.press("2", "7")  # looking elsewhere and back is not a step
        assert "pc" in marked()

    drive(app, body)


def run_tui_scenario(name: str) -> list[tuple[object, ...]]:
    """A lesson stepped in the workbench with `g`, step by step."""
    app = Workbench(scenario=name)
    seen: list[tuple[object, ...]] = []

    async def body(pilot: Pilot[None]) -> None:
        r = app.session.runner
        assert r is not None
        for n in range(1, len(r.lesson.steps) + 1):
            await pilot.press("g")
            await settle(app, pilot)
            res = r.results[-1]
            assert res.number == n and f"step {n}/{len(r.lesson.steps)}" in status(app)
            await pilot.press("9")  # the step showed the pane it names; the lesson is a key away
            await pilot.pause()
            assert f"step {n}: {res.title}" in pane_text(app, "scenario")
            seen.append((res.number, res.title, [(c.text, c.ok, c.detail) for c in res.checks],
                         [(q.text, q.answer) for q in res.questions], res.error))  # fmt: skip

    drive(app, body)
    return seen


def test_the_tui_and_headless_agree_step_by_step() -> None:
    """The same engine: each step's checks and computed answers in the TUI
    (tracing on, for the panes) equal those of `scenario run --headless`."""
    for name in ("boot_tour", "extension_safety"):
        runner = engine.Runner(engine.load(name), 0)
        headless = []
        for _ in runner.lesson.steps:
            res = runner.next()
            headless.append((res.number, res.title, [(c.text, c.ok, c.detail) for c in res.checks],
                             [(q.text, q.answer) for q in res.questions], res.error))  # fmt: skip
        assert run_tui_scenario(name) == headless


def test_a_scenario_step_that_fails_is_reported_and_the_workbench_goes_on(tmp_path: Path) -> None:
    f = tmp_path / "broken.py"
    f.write_text('from scenarios.engine import Lesson\nlesson = Lesson("broken", "Broken")\n\n\n'
                 '@lesson.step("Boom")\ndef boom(run):\n    run.boot(init="hello-ev4")\n    1 / 0\n\n\n'
                 '@lesson.step("After")\ndef after(run):\n    run.check("still here", True)\n')  # fmt: skip
    app = Workbench(scenario=str(f))

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("g")
        await settle(app, pilot)
        text = pane_text(app, "scenario")
        assert "[ERROR]" in text and "broken.py:8: ZeroDivisionError" in text
        await pilot.press("g")
        await settle(app, pilot)
        assert "[ok] still here" in pane_text(app, "scenario")
        await pilot.press("s")
        assert app.session.kernel.machine.cpu.icount == 1

    drive(app, body)


def test_opening_a_scenario_with_a_syntax_error_keeps_the_workbench(tmp_path: Path) -> None:
    f = tmp_path / "typo.py"
    f.write_text(
        "from scenarios.engine import Lesson\nlesson = Lesson('typo', 'Typo')\n\n@lesson.step('x'\ndef x(run): pass\n"
    )
    app = Workbench()

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("n")
        app.run_command(f"scenario open {f}")
        await pilot.pause()
        assert "typo.py:4: syntax error" in status(app)
        assert app.session.runner is None and app.session.kernel.machine.cpu.icount == 10_000, "nothing lost"
        app.run_command("scenario open boot_tour")
        await pilot.pause()
        assert "opened scenario boot_tour seed 0 step 0/" in status(app)
        await pilot.press("g")
        await settle(app, pilot)
        assert app.session.runner is not None and len(app.session.runner.results) == 1

    drive(app, body)


def test_the_demo_world_runs_to_its_end_in_bounded_slices() -> None:
    """Slices are capped in virtual time too: once only the idle loop is left
    a slice is a few clock ticks, not millions of idle iterations. When the
    last process exits the session says so and stays stopped."""
    from workbench.tui.app import SLICE_CYCLES

    w = Session()
    for _ in range(200):
        before = w.kernel.sal.now
        why = w.step(2_000_000, SLICE_CYCLES)
        assert w.kernel.sal.now - before <= SLICE_CYCLES + 200_000  # one event past the cap at most
        if w.stopped:
            break
    assert why == w.stopped == "all processes exited"
    assert w.console_text().endswith("init: /nullderef exited with 0\n")
    assert w.step(1000) == "all processes exited"


def test_looking_at_the_world_does_not_change_it() -> None:
    """The panes read snapshots: drawing every pane must not fill a TB or
    charge a cycle, or a run watched in the workbench would differ from the
    same run headless."""
    app = Workbench()

    async def body(pilot: Pilot[None]) -> None:
        before = app.session.hashes()
        for i in range(1, 10):
            await pilot.press(str(i))
        assert app.session.hashes() == before

    drive(app, body)
