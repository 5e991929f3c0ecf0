"""The workbench's key bindings, driven through Textual's Pilot."""

from __future__ import annotations

import asyncio

from workbench.app import Workbench


def test_step_run_and_reset_keys() -> None:
    async def go() -> None:
        app = Workbench()
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("s")
            assert app.proc.cpu.icount == 1
            await pilot.press("s", "n")
            assert app.proc.cpu.icount == 10_002
            await pilot.pause()
            console = str(app.query_one("#console").render())
            assert "hello from alpha" in console
            await pilot.press("r")
            assert app.proc.cpu.icount == 0
            await pilot.press("n", "n", "n", "n", "n", "n", "n", "n", "n", "n", "n", "n", "n")
            assert app.proc.exited is not None and app.proc.exited.status == 0
            await pilot.press("q")

    asyncio.run(go())
