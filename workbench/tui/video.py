"""Drawing for the Video pane (panes.VideoPane): the focused host's frame buffer in half-block pixels.

Each terminal cell shows two pixels, one above the other: the character
▀ with the upper pixel's colour as foreground and the lower one's as
background. The 128 x 96 frame is scaled to fit the pane (nearest
neighbour, square pixels: a cell is about twice as tall as it is wide;
enlarged only by a whole factor, so every pixel is the same size).
A caption gives frames presented, the rate over virtual time, and the
video client extension's counters when it is loaded (SOSP'95 §5.4).

It reads through the inspection API only (kernel.inspect.framebuffer). A
repaint with the same frame and size reuses the last picture; a new one
costs one pass over the cells, with runs of equal cells in a row merged.
"""

from __future__ import annotations

from typing import Any

from rich.text import Span, Text

from kernel.inspect import FrameBufferView

HALF = "▀"
RATE_WINDOW_US = 1_000_000  # the frame rate is measured over the last virtual second or so


def fit(w: int, h: int, cols: int, rows: int) -> tuple[int, int]:
    """The picture's size in pixels for a pane of cols x rows cells (two pixels a cell, height even)."""
    if cols <= 0 or rows <= 0:
        return 0, 0
    scale = min(cols / w, 2 * rows / h)
    if scale >= 1:
        scale = int(scale)  # enlarged by whole pixels: every pixel the same size
    out_w = max(1, int(w * scale))
    out_h = max(2, int(h * scale) // 2 * 2)
    return min(out_w, cols), min(out_h, 2 * rows)


def picture(pixels: bytes, w: int, h: int, palette: tuple[tuple[int, int, int], ...], out_w: int, out_h: int) -> Text:
    """The frame as half-block cells, out_w wide and out_h / 2 tall: one span per run of equal cells."""
    colours = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in palette]
    xs = [x * w // out_w for x in range(out_w)]
    spans: list[Span] = []
    pos = 0
    for cy in range(out_h // 2):
        top = (2 * cy) * h // out_h * w
        bottom = (2 * cy + 1) * h // out_h * w
        upper, lower = pixels[top : top + w], pixels[bottom : bottom + w]
        start, run = pos, (upper[xs[0]], lower[xs[0]])
        for x in xs:
            cell = (upper[x], lower[x])
            if cell != run:
                spans.append(Span(start, pos, f"{colours[run[0]]} on {colours[run[1]]}"))
                start, run = pos, cell
            pos += 1
        spans.append(Span(start, pos, f"{colours[run[0]]} on {colours[run[1]]}"))
        pos += 1  # the newline
    rows = (HALF * out_w + "\n") * (out_h // 2)
    return Text(rows, spans=spans, no_wrap=True, overflow="crop")


class Rate:
    """Frames a virtual second over the last RATE_WINDOW_US of samples (one per repaint)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []  # (virtual µs, frames presented)

    def __call__(self, now_us: float, frames: int) -> float:
        s = self.samples
        if s and (now_us < s[-1][0] or frames < s[-1][1]):
            s.clear()  # time went back: a reset or a restored snapshot
        if not s or s[-1] != (now_us, frames):
            s.append((now_us, frames))
        while len(s) > 2 and now_us - s[1][0] >= RATE_WINDOW_US:
            del s[0]
        t0, f0 = s[0]
        return (frames - f0) * 1_000_000 / (now_us - t0) if now_us > t0 else 0.0


class Picture:
    """The last picture drawn, reused while the frame and the pane's size stay the same."""

    def __init__(self) -> None:
        self.key: tuple[Any, ...] | None = None
        self.text = Text()

    def of(self, view: FrameBufferView, cols: int, rows: int) -> Text:
        out_w, out_h = fit(view.width, view.height, cols, rows)
        key = (view.frames, view.pixels, out_w, out_h)
        if key != self.key:
            self.text = picture(view.pixels, view.width, view.height, view.palette, out_w, out_h)
            self.key = key
        return self.text


def caption(view: FrameBufferView, fps: float) -> list[tuple[str, str]]:
    """The line under the picture, as (text, what it shows) pieces: "frames" is the one a step may change."""
    out = [(f"{view.width}x{view.height} · frames presented ", ""), (f"{view.frames:,}", "frames"),
           (f" · {fps:.1f} fps (virtual)", "")]  # fmt: skip
    c = view.stream
    if c:
        out.append((f" · client: shown {c.get('frames_shown', 0):,}, dropped {c.get('frames_dropped', 0):,}, "
                    f"malformed {c.get('malformed', 0):,}, {c.get('bytes_received', 0):,} bytes", ""))  # fmt: skip
    if view.refused:
        out.append((f" · {view.refused:,} writes refused", "refused"))
    return out
