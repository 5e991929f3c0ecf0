"""Lessons in the workbench (issue 19): the pane a step names is put on show
when it starts, a watch step runs at the instructor's pace with the panes
repainting as the machine runs, the Scenario pane keeps every finished step
to scroll back to, and a lesson's program gets its stdin."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual import events
from textual.containers import VerticalScroll
from textual.pilot import Pilot

from scenarios import engine
from tests.workbench.test_app import pane_text, settle, status
from workbench.tui import panes
from workbench.tui.app import Workbench
from workbench.tui.pane_text import on_pane, slug, step_texts

HEAD = "from scenarios.engine import Lesson\n\nlesson = Lesson('t', 'A test lesson')\n\n"

PANED = """
@lesson.step("Events", pane="Events")
def one(run):
    run.boot(init="hello-ev4")


@lesson.step("CPU", pane="CPU")
def two(run):
    run.run_until_exit(run.kernel)


@lesson.step("Console", pane="Console")
def three(run):
    run.check("hello printed", "ello" in run.console(run.kernel))


@lesson.step("Page tables", pane="Page tables")
def four(run):
    pass


@lesson.step("Back to the lesson")
def five(run):
    pass
"""

FORK = """
@lesson.step("Fork, watched", pane="Strands", watch=True)
def watched(run):
    k = run.boot(init="forkcow")
    run.state["seen"] = run.run_until_exit(k)
    run.check("every process exited", run.state["seen"] == "all processes exited", run.state["seen"])


@lesson.step("Fork, not watched", pane="Strands")
def unwatched(run):
    k = run.boot(init="forkcow")
    run.check("every process exited", run.run_until_exit(k) == "all processes exited")
"""

STDIN = """
@lesson.step("Its input", pane="Console", watch=True)
def given(run):
    k = run.boot(init="upper-ev4", stdin="one\\ntwo\\n")
    run.check("upper exited", run.run_until_exit(k) == "all processes exited")
    run.ask("What is line 2, upper-cased?", "TWO")
"""


def lesson_file(tmp_path: Path, body: str) -> str:
    f = tmp_path / "t.py"
    f.write_text(HEAD + body)
    return str(f)


def drive(app: Workbench, body: Callable[[Pilot[None]], Awaitable[None]], size: tuple[int, int] = (120, 36)) -> None:
    async def go() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await body(pilot)

    asyncio.run(go())


def test_every_pane_a_step_may_name_is_a_pane_of_the_workbench() -> None:
    assert [p.TITLE for p in panes.PANES] == list(engine.PANES)


def test_the_workbench_shows_the_pane_each_step_names(tmp_path: Path) -> None:
    texts = step_texts(lesson_file(tmp_path, PANED), size=(120, 36))
    assert [st.shown for st in texts] == ["events", "cpu", "console", "pagetables", "scenario"]
    assert all(st.result.passed for st in texts)


def test_in_a_layout_of_several_the_named_pane_is_shown_beside_the_scenario(tmp_path: Path) -> None:
    app = Workbench(scenario=lesson_file(tmp_path, PANED))

    async def body(pilot: Pilot[None]) -> None:
        assert app.layout_name == "lesson"  # a big terminal opens a lesson beside strands, console, pace
        await pilot.press("g")  # Events: not in the lesson layout: the layout with events beside the scenario
        await settle(app, pilot)
        assert app.layout_name == "lesson-dispatch" and app.selected["lesson-dispatch"] == "events"
        assert app.query_one("#lesson-dispatch-events").has_class("selected")
        await pilot.press("g")  # CPU is in this layout too: it stays, with the CPU pane selected
        await settle(app, pilot)
        assert app.layout_name == "lesson-dispatch" and app.selected["lesson-dispatch"] == "cpu"
        await pilot.press("g")  # Console is in the lesson layout: back beside the Scenario pane, selected
        await settle(app, pilot)
        assert app.layout_name == "lesson" and app.selected["lesson"] == "console"
        assert app.query_one("#lesson-console").has_class("selected")
        await pilot.press("9")  # the Scenario pane stays a key away
        assert app.selected["lesson"] == "scenario" and app.query_one("#lesson-scenario-box").has_class("selected")
        assert "step 3: Console" in pane_text(app, "lesson-scenario")

    drive(app, body, size=(200, 50))


def headless(file: str) -> tuple[list[engine.StepResult], str]:
    r = engine.Runner(engine.load(file))
    results = r.run_all()
    assert r.run.kernel is not None
    return results, r.run.kernel.state_hash()


def test_a_watch_step_runs_at_the_pace_set_with_the_panes_repainting(tmp_path: Path) -> None:
    f = lesson_file(tmp_path, FORK)
    app = Workbench(scenario=f)
    app.pace = 150.0  # virtual µs per host second: forkcow's ~263 µs take nearly two seconds
    seen: dict[str, object] = {}

    async def body(pilot: Pilot[None]) -> None:
        r = app.session.runner
        assert r is not None
        await pilot.press("g")
        for _ in range(60):  # the step takes ~1.75 s once it starts; a loaded host may start it late
            await pilot.pause(0.05)
            if app.watching:
                break
        assert app.watching and "watching step 1 at 150 µs/s" in status(app)
        seen["mid"] = app.session.kernel is r.run.kernel  # the step's machine on show while it runs
        seen["strands"] = "forkcow" in pane_text(app, "strands")
        await settle(app, pilot)
        seen["paints"] = app.watch_paints
        await pilot.press("g")  # not a watch step: full speed, no repaints of its own
        await settle(app, pilot)
        seen["paints_after"] = app.watch_paints

    drive(app, body)
    r = app.session.runner
    assert r is not None
    watched, unwatched = r.results
    assert watched.passed and unwatched.passed
    assert watched.host_seconds >= 0.9 * watched.virtual_us / app.pace, (watched.host_seconds, watched.virtual_us)
    assert seen["mid"] is True and seen["strands"] is True
    assert isinstance(seen["paints"], int) and seen["paints"] >= 5  # painted as it ran, not once at the end
    assert seen["paints_after"] == seen["paints"]
    # Paced in slices, the run is the same run: the same checks and the same machine as headless.
    results, state = headless(f)
    assert [(c.text, c.ok, c.detail) for c in results[1].checks] == [(c.text, c.ok, c.detail) for c in unwatched.checks]
    watched_headless = engine.Runner(engine.load(f))
    watched_headless.next()
    assert watched_headless.run.kernel is not None and r.run.kernel is not None
    assert [(c.text, c.ok, c.detail) for c in watched_headless.results[0].checks] == [
        (c.text, c.ok, c.detail) for c in watched.checks
    ]


def test_the_same_machine_state_paced_or_not(tmp_path: Path) -> None:
    f = lesson_file(tmp_path, FORK.split('@lesson.step("Fork, not watched"')[0])
    app = Workbench(scenario=f)
    app.pace = 2000.0

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("g")
        await settle(app, pilot)

    drive(app, body)
    r = app.session.runner
    assert r is not None and r.run.kernel is not None
    plain = engine.Runner(engine.load(f), trace=True)
    plain.run_all()
    assert plain.run.kernel is not None
    assert r.run.kernel.state_hash() == plain.run.kernel.state_hash()


def test_pace_keys_change_it_live_and_g_finishes_at_full_speed(tmp_path: Path) -> None:
    app = Workbench(scenario=lesson_file(tmp_path, FORK))
    app.pace = 4.0  # forkcow would take a minute

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("g")
        await pilot.pause(0.3)
        await pilot.press("plus")
        assert app.pace_factor == 2.0 and "watching step 1 at 8 µs/s" in status(app)
        await pilot.press("minus", "minus")
        assert app.pace_factor == 0.5 and "at 2 µs/s" in status(app)
        t0 = time.perf_counter()
        await pilot.press("g")  # the rest at full speed
        await settle(app, pilot)
        assert time.perf_counter() - t0 < 10
        r = app.session.runner
        assert r is not None and len(r.results) == 1 and r.results[0].passed

    drive(app, body)


def test_the_scenario_pane_keeps_every_step_and_scrolls(tmp_path: Path) -> None:
    long = "\n\n".join(f"Paragraph {i} of the narration, long enough to take a line of its own." for i in range(8))
    body_src = "".join(f'''
@lesson.step("Step number {n}", narration="""{long}""")
def s{n}(run):
    run.check("check of step {n}", True, "detail of step {n}")
    run.ask("Question of step {n}?", {n})
''' for n in range(1, 4))  # fmt: skip
    app = Workbench(scenario=lesson_file(tmp_path, body_src))

    async def body(pilot: Pilot[None]) -> None:
        for _ in range(3):
            await pilot.press("g")
            await settle(app, pilot)
        await pilot.pause()
        text = pane_text(app, "scenario")
        for n in range(1, 4):  # every finished step stays: title, checks with details, questions
            assert f"step {n}: Step number {n}" in text
            assert f"[ok] check of step {n} — detail of step {n}" in text
            assert f"Q: Question of step {n}?" in text
        assert text.index("step 1: Step number 1") < text.index("step 3: Step number 3")
        box = app.query_one("#scenario-box", VerticalScroll)
        assert box.max_scroll_y > 0 and box.scroll_y == box.max_scroll_y  # the newest at the bottom, in view
        bottom = box.scroll_y
        await pilot.press("pageup")
        await pilot.pause()
        assert box.scroll_y < bottom
        up = box.scroll_y
        await pilot.press("down")
        await pilot.pause()
        assert box.scroll_y == up + 1
        x, y = box.region.x + 5, box.region.y + 5
        for _ in range(2):  # the mouse wheel, as the terminal sends it, over the pane
            app.post_message(events.MouseScrollUp(None, x, y, 0, -1, 0, False, False, False, screen_x=x, screen_y=y))
            await pilot.pause()
        assert box.scroll_y < up + 1

    drive(app, body, size=(80, 24))


def test_a_lesson_gives_its_program_stdin_in_the_workbench(tmp_path: Path) -> None:
    (st,) = step_texts(lesson_file(tmp_path, STDIN), size=(120, 36))
    assert st.result.passed, st.result.checks
    assert st.shown == slug("Console") and "1 ONE" in st.text and "2 TWO" in st.text


OWN_PACE = """
@lesson.step("Fork, at its own pace", pane="Strands", watch=True, pace_us=300)
def watched(run):
    k = run.boot(init="forkcow")
    run.check("every process exited", run.run_until_exit(k) == "all processes exited")
"""


def test_a_step_with_its_own_pace_runs_at_it_not_the_workbench_default(tmp_path: Path) -> None:
    app = Workbench(scenario=lesson_file(tmp_path, OWN_PACE))
    app.pace = 10_000.0  # the workbench's default would finish forkcow in a few hundredths of a second
    seen: dict[str, str] = {}

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("g")
        for _ in range(500):  # up to ten seconds: a loaded machine starts the step late
            await pilot.pause(0.02)
            if app.watching and "watching" in status(app):
                seen["status"] = status(app)
                break
        await settle(app, pilot)

    drive(app, body)
    r = app.session.runner
    assert r is not None and r.results[0].passed
    res = r.results[0]
    assert "watching step 1 at 300 µs/s" in seen["status"]
    assert res.host_seconds >= 0.9 * res.virtual_us / 300, (res.host_seconds, res.virtual_us)


def test_a_pace_that_is_not_a_positive_number_is_refused_where_it_is_written(tmp_path: Path) -> None:
    for bad in ("0", "-5", "'fast'", "True"):
        f = tmp_path / f"pace_{len(bad)}.py"
        f.write_text(HEAD + f'@lesson.step("s", watch=True, pace_us={bad})\ndef s(run):\n    pass\n')
        try:
            engine.load(str(f))
        except engine.ScenarioError as e:
            assert e.where.endswith(f"{f.name}:5") and "pace_us must be a positive number" in e.message, e
        else:
            raise AssertionError(f"pace_us={bad} was accepted")


# --- a newcomer's keys and messages --------------------------------------------------------

MISTAKES = """
@lesson.step("A failing check", pane="CPU")
def failing(run):
    run.boot(init="hello-ev4")
    run.check("it never holds", False, "the evidence")


@lesson.step("A wrong argument", pane="Console")
def wrong(run):
    run.check("it worked", "yes")


@lesson.step("The end")
def end(run):
    run.check("the lesson went on", True)
"""


def test_after_a_step_the_status_bar_says_the_checks_and_where_a_failure_is_first(tmp_path: Path) -> None:
    f = lesson_file(tmp_path, MISTAKES)
    fail_line = next(i for i, s in enumerate(Path(f).read_text().splitlines(), 1) if "it never holds" in s)
    wrong_line = next(i for i, s in enumerate(Path(f).read_text().splitlines(), 1) if "'yes'" in s or '"yes"' in s)
    app = Workbench(scenario=f)

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("g")
        await settle(app, pilot)
        # shortest first: a 100-column status bar keeps the checks and the failure's FILE:LINE
        assert app.message.startswith(f"step 1 done: 0 of 1 check passed; FAIL at {engine._short(f)}:{fail_line}")
        assert app.message.endswith("see the CPU pane (9: the lesson)"), app.message
        await pilot.press("g")
        await settle(app, pilot)
        assert app.message.startswith(f"step 2 stopped: {engine._short(f)}:{wrong_line}: TypeError: run.check"), (
            app.message
        )
        assert "ok is str 'yes'" in app.message
        await pilot.press("g")  # the workbench and the lesson go on
        await settle(app, pilot)
        assert app.message == "step 3 done: 1 of 1 check passed — 9: the lesson", app.message
        await pilot.press("g")
        await pilot.pause()
        assert app.message == "all 3 steps are done (some checks failed)"
        await pilot.press("plus")  # after the last step: the pace for the next time, no error
        await pilot.pause()
        assert app.message.startswith("pace: 200 µs/s")

    drive(app, body, size=(100, 30))


def test_lesson_keys_with_no_lesson_open_say_how_to_open_one() -> None:
    app = Workbench()

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("g")
        await pilot.pause()
        assert app.message.startswith("no scenario is open: ctrl+p and a lesson's name opens one"), app.message
        await pilot.press("a")
        await pilot.pause()
        assert app.message.startswith("no scenario is open, so no answers to show"), app.message
        await pilot.press("9")
        await pilot.pause()
        assert "No scenario is open" in pane_text(app, "scenario")

    drive(app, body, size=(100, 30))


LONG = """
@lesson.step("A long exhibit", pane="Scenario")
def long(run):
    run.exhibit("rows", ["row"], [[f"row-{i}"] for i in range(120)])
    run.ask("Which row comes first?", "row-0")
    run.ask("Which row comes last?", "row-119")
"""


def test_pane_text_reads_only_what_is_in_view(tmp_path: Path) -> None:
    """An answer scrolled out of the pane is not 'on the pane': the lesson
    tests read what the screen shows, not the pane's whole content."""
    (st,) = step_texts(lesson_file(tmp_path, LONG), size=(120, 36))
    assert "row-0" in st.whole and "row-119" in st.whole
    assert not on_pane("row-0", st.text) and on_pane("row-119", st.text)
