"""What a student reads on the pane each lesson step names, as plain text.

Drives the real workbench (Textual's headless test driver, a terminal of
SIZE): opens the lesson, runs each step as `g` does, and after it reads the
pane the step names as the workbench shows it. The lesson tests use it to
check that every question's answer is on that pane; an instructor writing a
lesson runs it to see the same::

    python -m workbench.tui.pane_text boot_tour [--seed N] [--size 200x60]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import sys
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from textual.widget import Widget
from textual.widgets import Static, TabbedContent

from scenarios import engine

SIZE = (200, 50)  # a projected terminal: the size the lessons are written for


@dataclass
class StepText:
    result: engine.StepResult
    pane: str  # the pane the step names
    text: str  # that pane's text after the step as the screen shows it: only the rows in view
    shown: str  # the pane the workbench itself put on show for the step (its tab, in the single layout)
    whole: str = ""  # all the pane's content, in view or not (for a lesson writer's eyes)


def _text(widget: Static, width: int) -> str:
    """A Static's current content rendered to plain text at its width."""
    console = Console(width=max(20, width), file=io.StringIO(), record=True, color_system=None, legacy_windows=False)
    content = getattr(widget, "renderable", None)
    if content is None:
        content = getattr(widget, "content", "")
    console.print(content)
    return console.export_text()


def _on_screen(app: Any, widget: Widget) -> str:
    """The characters the terminal shows inside ``widget``'s region: what a
    student can read without scrolling (Textual's compositor, as the screen draws it)."""
    strips = app.screen._compositor.render_strips()  # the whole screen, line by line
    geometry = app.screen.find_widget(widget)  # where it is drawn, and the clip of the scroller it is in
    r = geometry.region.intersection(geometry.clip)
    return "\n".join(strip.crop(r.x, r.x + r.width).text for strip in strips[r.y : r.y + r.height])


def _plain(text: str) -> str:
    """Digits without thousands separators, one space between words: 8,117 and 8117 read the same."""
    return " ".join(re.sub(r"(?<=\d),(?=\d{3})", "", text).split())


def on_pane(answer: str, text: str) -> bool:
    """Whether ``answer`` can be read off ``text``: as a whole word or number, not inside a longer one."""
    a = _plain(answer)
    return bool(a) and re.search(rf"(?<![\w.]){re.escape(a)}(?![\w]|\.\d)", _plain(text)) is not None


def slug(pane: str) -> str:
    """The workbench's id for a pane title ("Page tables" -> "pagetables")."""
    return pane.lower().replace(" ", "")


async def _collect(name: str, seed: int, size: tuple[int, int]) -> list[StepText]:
    from workbench.tui.app import Workbench  # lazy: Textual's app is only for this

    app = Workbench(scenario=name, seed=seed)
    out: list[StepText] = []
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.set_layout("single")
        app.layout_chosen = True
        runner = app.session.runner
        assert runner is not None
        while not runner.done:
            before = len(runner.results)
            app.action_scenario_step()
            app.full_speed = True  # a watch step unpaced: this reads the panes, nobody watches them
            while len(runner.results) == before or app.busy:
                await asyncio.sleep(0.02)
            await pilot.pause()
            res = runner.results[-1]
            tabs = app.query_one("#tabs", TabbedContent)
            shown = tabs.active.removeprefix("tab-")
            if shown != slug(res.pane):  # read the named pane as the student would, on show
                tabs.active = f"tab-{slug(res.pane)}"
                await pilot.pause()
            app.refresh_panes()
            await pilot.pause()
            pane = app.query_one(f"#{slug(res.pane)}")
            texts = [_text(w, pane.size.width) for w in [pane, *pane.query(Static)] if isinstance(w, Static)]
            out.append(StepText(res, res.pane, _on_screen(app, pane), shown, "\n".join(texts)))
    return out


def step_texts(name: str, seed: int = 0, size: tuple[int, int] = SIZE) -> list[StepText]:
    """Run lesson ``name`` in the workbench; each step's result and its pane's text."""
    return asyncio.run(_collect(name, seed, size))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m workbench.tui.pane_text", description=__doc__.split("\n\n")[0])
    p.add_argument("lesson", help="a lesson's name or a scenario file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", default=f"{SIZE[0]}x{SIZE[1]}", help="the terminal, COLSxROWS")
    args = p.parse_args(argv)
    try:
        cols, rows = (int(x) for x in args.size.lower().split("x"))
        engine.load(args.lesson)
    except ValueError:
        print(f"--size {args.size}: say COLSxROWS, e.g. 200x60", file=sys.stderr)
        return 2
    except engine.ScenarioError as e:
        print(e, file=sys.stderr)
        return 2
    for st in step_texts(args.lesson, args.seed, (cols, rows)):
        r = st.result
        print(f"=== step {r.number}: {r.title} — pane {st.pane}" + (f" (on show: {st.shown})" if st.shown else ""))
        print(st.text.rstrip())
        for q in r.questions:
            found = "on the pane" if on_pane(q.answer, st.text) else "NOT on the pane"
            print(f"--- Q: {q.text}  A: {q.answer}  ({found})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
