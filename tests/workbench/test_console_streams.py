"""The Console pane as a student meets a program's streams: stderr marked
apart from stdout, and a line typed under the output is the program's stdin
(an action in the session's log, so step back and replays keep it)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot

from tests.conftest import elf
from workbench.session import Session, SessionError
from workbench.tui.app import Workbench
from workbench.tui.panes import ConsolePane

STEP = 133_000_000 // 20  # a twentieth of a virtual second


def until_waiting(w: Session) -> None:
    for _ in range(50):
        if w.waiting_for_input() or w.stopped:
            return
        w.step(2_000_000, STEP)
    raise AssertionError("the program never came to wait for input")


def console_lines(app: Workbench) -> list[str]:
    console = Console(width=100, record=True, file=io.StringIO())
    pane = app.query_one("#console", ConsolePane)  # the tabs' Console pane (a layout's own is another)
    console.print(pane.query_one("#console-out").content)
    return console.export_text().splitlines()


def drive(app: Workbench, body: object, size: tuple[int, int] = (100, 30)) -> None:
    async def go() -> None:
        async with app.run_test(size=size) as pilot:
            await body(pilot)  # type: ignore[operator]

    asyncio.run(go())


def test_stderr_is_marked_in_the_console_pane() -> None:
    """streams writes three lines to each stream, interleaved: each stderr
    line carries the gutter bar and the red style, no stdout line does."""
    w = Session(elf("streams", "ev4"), ["streams", "A", "B"])
    while not w.stopped:
        w.step(2_000_000, STEP)
    app = Workbench(session=w)

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("6")
        lines = console_lines(app)
        errs = [ln for ln in lines if ln.startswith("▌")]
        outs = [ln for ln in lines if ln.startswith(" ") and ln.strip()]
        assert [ln[1:] for ln in errs[:3]] == ["err 1: B", "err 2: B", "err 3: B"]
        assert [ln[1:] for ln in outs[:3]] == ["out 1: A", "out 2: A", "out 3: A"]
        assert "▌a partial stderr line, then stdout, then the rest of stderr" in lines
        pane = app.query_one("#console", ConsolePane)
        text = pane.query_one("#console-out").content
        red = {text.plain[s.start : s.end] for s in text.spans if "red" in str(s.style)}  # type: ignore[union-attr]
        assert "err 1: B" in red and not any("out 1" in r for r in red)
        assert "stderr" in str(pane.border_subtitle)

    drive(app, body)


def test_a_line_typed_into_the_console_is_the_programs_stdin() -> None:
    """upper reads lines and writes them upper-cased: type one, run, and it
    comes back; Ctrl-D ends its input and it exits, its summary on stderr."""
    w = Session(elf("upper", "ev4"), ["upper"])
    until_waiting(w)
    app = Workbench(session=w)

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("i")  # shows the Console pane and focuses its input
        assert app.query_one("#tabs").active == "tab-console"
        assert "waits for input" in "\n".join(console_lines(app))
        before = w.kernel.machine.cpu.icount
        await pilot.press(*"hi s", "enter")  # "s" is the step key: typed here, it is text
        assert w.log[-1] == ["input", 0, "hi s\n", False]
        assert w.kernel.machine.cpu.icount == before, "typing stepped the machine"
        app.set_focus(None)
        await pilot.press("n")  # run 10k instructions: the read wakes on the next tick
        for _ in range(20):
            await pilot.press("n")
        assert "  1 HI S" in w.console_text()
        await pilot.press("i", "ctrl+d")
        assert w.log[-1] == ["input", 0, "", True]
        app.set_focus(None)
        for _ in range(40):
            await pilot.press("n")
            if w.stopped:
                break
        assert w.stopped == "all processes exited"
        await pilot.pause()
        assert any(ln == "▌upper: 1 lines, 0 empty" for ln in console_lines(app))

    drive(app, body)


def test_on_the_big_screen_i_types_into_the_layouts_own_console() -> None:
    """At 200x50 the overview layout has a Console pane of its own beside
    the others: `i` focuses that one's input (not a hidden tab's), and the
    line typed there is the program's stdin."""
    w = Session(elf("upper", "ev4"), ["upper"])
    until_waiting(w)
    app = Workbench(session=w)

    async def body(pilot: Pilot[None]) -> None:
        await pilot.pause()
        assert app.layout_name == "overview"
        await pilot.press("i")
        focused = app.focused
        assert focused is not None and focused.id == "console-in"
        assert focused.parent is app.active_pane() and focused.region.width > 0, "the input on show has the keys"
        await pilot.press(*"big", "enter")
        assert w.log[-1] == ["input", 0, "big\n", False]

    drive(app, body, size=(200, 50))


def typed_session() -> Session:
    w = Session(elf("upper", "ev4"), ["upper"])
    until_waiting(w)
    w.type_input("one\n")
    w.step(2_000_000, STEP)
    w.type_input("\ntwo", eof=True)
    while not w.stopped:
        w.step(2_000_000, STEP)
    return w


def test_the_same_typed_input_gives_the_same_state_hash() -> None:
    a, b = typed_session(), typed_session()
    assert a.hashes() == b.hashes()
    assert a.console_text() == "  1 ONE\nupper: line 2 is empty\n  3 TWO\nupper: 3 lines, 1 empty\n"
    c = Session(elf("upper", "ev4"), ["upper"])
    c.replay(a.log)  # what step back and a snapshot file do
    assert c.hashes() == a.hashes()
    other = Session(elf("upper", "ev4"), ["upper"])
    other.replay([x if x[0] != "input" or x[2] != "one\n" else ["input", 0, "One\n", False] for x in a.log])
    assert other.hashes() != a.hashes(), "the input is part of the state"


def test_typed_input_survives_a_snapshot_file_and_step_back(tmp_path: Path) -> None:
    a = typed_session()
    path = f"{tmp_path}/typed.json"
    a.save(path)
    assert Session.open(path).hashes() == a.hashes()
    while a.log[-1][0] != "input":
        a.back()
    assert a.log[-1] == ["input", 0, "\ntwo", True]
    con = a.kernel.machine.console
    assert bytes(con.input) == b"\ntwo" and con.eofs == [4], "typed, not yet read"
    assert "TWO" not in a.console_text()
    a.back()  # over the typing: the input is gone, the program waits again
    assert not a.kernel.machine.console.readable and a.waiting_for_input()


def test_too_much_typed_at_once_is_refused_and_nothing_changes() -> None:
    w = Session(elf("upper", "ev4"), ["upper"])
    with pytest.raises(SessionError, match="type at most 4,096"):
        w.type_input("x" * 5000)
    assert w.log == []
