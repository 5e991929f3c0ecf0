"""The workbench's key bindings, driven through Textual's Pilot, on a booted
kernel (the demo world: init runs programs from the disk)."""

from __future__ import annotations

import asyncio
import io

from rich.console import Console

from workbench.app import Workbench
from workbench.world import World


def pane_text(app: Workbench, pane: str) -> str:
    """What a pane shows, as plain text (its content through rich)."""
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(app.query_one(f"#{pane}").content)
    return console.export_text()


def test_step_run_pause_and_reset_keys() -> None:
    async def go() -> None:
        app = Workbench()
        async with app.run_test(size=(120, 36)) as pilot:
            cpu = app.world.kernel.machine.cpu
            await pilot.press("s")
            assert cpu.icount == 1
            await pilot.press("s", "n")
            assert cpu.icount == 10_002
            await pilot.press("space")  # runs in slices on a timer; keys stay live
            assert app.runner is not None
            for _ in range(400):
                await pilot.pause(0.05)
                if "init: /forkcow exited with 0" in app.world.console_text():
                    break
            await pilot.press("space")
            assert app.runner is None
            paused_at = cpu.icount
            await pilot.pause(0.2)
            assert cpu.icount == paused_at, "paused means paused"
            assert "child: page[0]=101" in app.world.console_text()
            strands = pane_text(app, "strands")
            assert "init" in strands and "idle" in strands
            await pilot.press("r")
            assert cpu is not app.world.kernel.machine.cpu and app.world.kernel.machine.cpu.icount == 0
            assert app.world.console_text() == ""
            await pilot.press("q")

    asyncio.run(go())


def test_the_running_strand_is_marked_and_switches_are_listed() -> None:
    async def go() -> None:
        app = Workbench()
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.press(*["n"] * 40)
            await pilot.pause()
            rows = app.world.strands()
            assert sum(r.running for r in rows) == 1
            text = pane_text(app, "strands")
            assert "▶" in text and "switches:" in text and "→" in text

    asyncio.run(go())


def test_the_demo_world_runs_to_its_end_in_bounded_slices() -> None:
    """Slices are capped in virtual time too: once only the idle loop is left
    a slice is a few clock ticks, not millions of idle iterations (the TUI
    froze on that). When the last process exits the world says so and stays
    stopped."""
    from workbench.app import SLICE_CYCLES
    from workbench.world import World

    w = World()
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
    """The panes read snapshots: rendering the CPU pane's disassembly must not
    fill a TB or charge a cycle, or a run watched in the workbench would
    differ from the same run headless."""
    w = World()  # fresh, as the workbench first shows it: nothing in the TBs yet
    before = w.kernel.state_hash()
    w.cpu()
    w.strands()
    for va in range(w.kernel.machine.cpu.pc - 32, w.kernel.machine.cpu.pc + 32, 4):
        w.fetch_word(va)
    assert w.kernel.state_hash() == before
