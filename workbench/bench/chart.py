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


def _ranges(points: Sequence[tuple[float, float]], x_end: float, cols: int) -> list[tuple[float, float] | None]:
    """For each of ``cols`` equal stretches of [0, x_end), the lowest and highest value a step function
    takes there (it holds each point's value until the next point); None before its first point."""
    out: list[tuple[float, float] | None] = []
    i, current = 0, None
    for col in range(cols):
        lo_x, hi_x = x_end * col / cols, x_end * (col + 1) / cols
        seen = [] if current is None else [current]
        while i < len(points) and points[i][0] < hi_x:
            current = points[i][1]
            if points[i][0] >= lo_x or not seen:
                seen.append(current)
            else:
                seen = [current]
            i += 1
        out.append((min(seen), max(seen)) if seen else None)
    return out


def timeline(title: str, series: Sequence[tuple[str, Sequence[tuple[float, float]]]], x_end: float, x_unit: str,
             marks: Sequence[tuple[float, str]] = (), height: int = 8, width: int = WIDTH) -> list[str]:  # fmt: skip
    """Lines of a chart of step functions over time, one panel per series, on one scale: each column
    fills the cells from the lowest to the highest value the series took in its stretch of time, so a
    value that holds is a thin line and one that swings is a tall band. ``marks`` label times below
    the last panel (where a workload's phases begin)."""
    top = max((y for _, pts in series for _, y in pts), default=1.0)
    step = max(1, -(-(int(top) + 1) // height))  # whole values a row stands for: one each when they fit
    rows = -(-(int(top) + 1) // step)
    label_w = len(f"{top:.0f}")
    cols = max(10, width - 4 - label_w - 2)
    out = [title]
    for name, pts in series:
        out.append(f"  {name}")
        ranges = _ranges(sorted(pts), x_end, cols)
        for r in range(rows - 1, -1, -1):  # row r holds the values in [r, r + 1) x step
            lo_v, hi_v = r * step, (r + 1) * step
            cells = "".join("█" if g is not None and g[0] < hi_v and g[1] >= lo_v else " " for g in ranges)
            out.append(f"  {lo_v:>{label_w}.0f} │{cells.rstrip()}")
    axis = [" "] * cols
    for x, text in marks:
        at = min(cols - 1, max(0, int(x / x_end * cols))) if x_end > 0 else 0
        axis[at] = "|"
        for j, ch in enumerate(text, at + 1):
            if j < cols and axis[j] == " ":
                axis[j] = ch
    out.append(f"  {'':>{label_w}} └{'─' * cols}")
    out.append(f"  {'':>{label_w}}  {''.join(axis).rstrip()}")
    out.append(f"  {'':>{label_w}}  0{f'{x_end:,.0f} {x_unit}':>{cols - 1}}")
    return out
