"""The workbench's named layouts: which panes a big terminal shows side by side.

A layout is columns of panes, each pane filling its share of its column;
"single" is the tabbed view, one pane at a time, which every terminal
smaller than BIG gets by default. ``l`` cycles the layouts at any size.
"""

from __future__ import annotations

from dataclasses import dataclass

BIG = (160, 45)  # at least this: a layout of several panes by default


@dataclass(frozen=True)
class Layout:
    name: str
    about: str
    columns: tuple[tuple[str, ...], ...]  # pane slugs (panes.py's titles, lower case, no spaces; "pace")

    @property
    def slugs(self) -> list[str]:
        return [s for col in self.columns for s in col]


LAYOUTS: list[Layout] = [
    Layout("single", "one pane at a time, in tabs (1…9 and 0 pick one)", ()),
    Layout(
        "overview",
        "strands, events, console, CPU and the machine's pace",
        (("strands", "events", "console"), ("cpu", "pace")),
    ),  # fmt: skip
    Layout("lesson", "the scenario beside strands, console and pace", (("scenario",), ("strands", "console", "pace"))),
    # A lesson step names a pane; on a big terminal it is shown beside the scenario (lesson_for).
    Layout(
        "lesson-dispatch",
        "the scenario beside events, domains and the CPU",
        (("scenario",), ("events", "domains", "cpu")),
    ),  # fmt: skip
    Layout(
        "lesson-memory",
        "the scenario beside page tables, the trace and the CPU",
        (("scenario",), ("pagetables", "trace", "cpu")),
    ),  # fmt: skip
    Layout(
        "lesson-network",
        "the scenario beside packets, events and the CPU",
        (("scenario",), ("packets", "events", "cpu")),
    ),  # fmt: skip
    Layout("memory", "page tables beside the trace and the console", (("pagetables",), ("trace", "console"))),
    Layout("network", "packets beside events and the trace", (("packets",), ("events", "trace"))),
    Layout("video", "the frame buffer beside packets and events (SOSP'95 §5.4)", (("video",), ("packets", "events"))),
]
NAMES = [lay.name for lay in LAYOUTS]


def by_name(name: str) -> Layout:
    return LAYOUTS[NAMES.index(name)]


def default(width: int, height: int, lesson: bool) -> str:
    """The layout a terminal of this size starts in."""
    if width < BIG[0] or height < BIG[1]:
        return "single"
    return "lesson" if lesson else "overview"


def lesson_for(slug: str, current: str) -> str | None:
    """The layout that shows pane ``slug`` beside the scenario: the current one
    if it does, else the first lesson layout that does (None: no layout has it)."""
    for lay in [by_name(current), *(lay for lay in LAYOUTS if lay.name.startswith("lesson"))]:
        if slug in lay.slugs and "scenario" in lay.slugs:
            return lay.name
    return None


def following(name: str) -> str:
    return NAMES[(NAMES.index(name) + 1) % len(NAMES)] if name in NAMES else NAMES[0]
