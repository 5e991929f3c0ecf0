"""The command palette's lessons (Ctrl-P, then type a lesson's name or title).

Each lesson of scenarios/lessons/ is a command that opens it in the
workbench, as the shell's `scenario open NAME` does; the palette shows
them all before anything is typed, so a student can browse them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from scenarios import engine
from workbench.tui.palette import EntryCommands


def catalogue() -> list[tuple[str, str, str]]:
    """(name, title, summary) of every lesson that loads; one that does not is listed with its error."""
    out = []
    for name in engine.available():
        try:
            lesson = engine.load(name)
        except engine.ScenarioError as e:
            out.append((name, name, f"does not load: {e.message}"))
            continue
        out.append((name, lesson.title, lesson.summary))
    return out


class LessonCommands(EntryCommands):
    """Lessons as commands: "Lesson: A boot tour (boot_tour)"."""

    async def startup(self) -> None:
        self.lessons = catalogue()  # a few ms: each lesson file compiled once a palette opens

    def entries(self) -> list[tuple[str, str, Callable[[], object]]]:
        open_lesson = self.app.open_lesson  # type: ignore[attr-defined]
        return [(f"Lesson: {title} ({name})", summary or "open this lesson", partial(open_lesson, name))
                for name, title, summary in self.lessons]  # fmt: skip
