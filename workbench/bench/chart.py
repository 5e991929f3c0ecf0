"""Horizontal bar charts in Unicode block characters, for the benches' comparisons with the paper.

Plain text (no colour, no dependency): the bars go below a bench's table of
numbers, which stays as it was for the tests and lessons that parse it, and
fit 80 columns. Each group is one operation; each bar one system's figure,
scaled to the group's largest, so a bar's length reads as "how much slower".
"""

from __future__ import annotations

from collections.abc import Sequence

EIGHTHS = " ▏▎▍▌▋▊▉█"
WIDTH = 80


def bar(value: float, top: float, cells: int) -> str:
    """A bar of value/top of ``cells`` cells, to an eighth of a cell; at least a sliver for a value above 0."""
    if top <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / top * cells * 8))
    full, part = divmod(min(eighths, cells * 8), 8)
    return "█" * full + (EIGHTHS[part] if part else "")


def chart(title: str, groups: Sequence[tuple[str, Sequence[tuple[str, float | None]]]], unit: str,
          width: int = WIDTH) -> list[str]:  # fmt: skip
    """Lines of a chart: for each (operation, [(system, value)]), a bar per system (None: the system has no such figure)."""
    label_w = max((len(name) for _, bars in groups for name, _ in bars), default=4)
    value_w = max((len(f"{v:,.1f}") for _, bars in groups for _, v in bars if v is not None), default=3)
    cells = max(10, width - 4 - label_w - 1 - 1 - value_w - 1 - len(unit))
    out = [title]
    for op, bars in groups:
        out.append(f"  {op}")
        top = max((v for _, v in bars if v is not None), default=0.0)
        for name, v in bars:
            if v is None:
                out.append(f"    {name:<{label_w}} {'n/a':>{value_w}}")
                continue
            out.append(f"    {name:<{label_w}} {bar(v, top, cells):<{cells}} {v:>{value_w},.1f} {unit}".rstrip())
    return out
