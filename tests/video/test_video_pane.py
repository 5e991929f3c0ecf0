"""The Video pane draws the frame buffer in half-block pixels: rendered headless in the workbench,
its cells carry the upper pixel's colour as foreground and the lower one's as background."""

from __future__ import annotations

import asyncio
import time

from rich.color import Color
from textual.pilot import Pilot

from kernel import inspect
from kernel.video.format import PALETTE, color
from workbench.session import Session
from workbench.tui import video
from workbench.tui.app import Workbench

RED, YELLOW, GREEN, BLUE = color(255, 0, 0), color(255, 255, 0), color(0, 255, 0), color(0, 0, 255)


def known_frame() -> bytes:
    """Left half: red rows over yellow rows; right half: green over blue."""
    rows = []
    for y in range(96):
        left, right = (RED, GREEN) if y % 2 == 0 else (YELLOW, BLUE)
        rows.append(bytes((left,)) * 64 + bytes((right,)) * 64)
    return b"".join(rows)


def rgb(c: Color | None) -> tuple[int, int, int]:
    assert c is not None
    t = c.get_truecolor()
    return (t.red, t.green, t.blue)


def test_the_pane_renders_a_known_frame_in_half_blocks() -> None:
    session = Session()
    m = session.kernel.machine
    fb = m.attach_framebuffer()
    fb.store(0, known_frame())
    fb.present()
    app = Workbench(session=session)
    cells: list[tuple[str, tuple[int, int, int], tuple[int, int, int]]] = []
    caption: list[str] = []

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("0")  # the tenth pane
        await pilot.pause(0.1)
        pane = app.query_one("#video")
        assert pane.size.width >= 132, pane.size
        app.refresh_panes()  # type: ignore[attr-defined]
        await pilot.pause(0.1)
        for y in range(pane.size.height):
            segs = [s for s in pane.render_line(y) if s.style is not None and "▀" in s.text]
            if segs:
                for s in segs:
                    assert s.style is not None
                    cells.extend((ch, rgb(s.style.color), rgb(s.style.bgcolor)) for ch in s.text)
                caption.append("")
            else:
                caption.append("".join(s.text for s in pane.render_line(y)))
        assert any("frames presented 1" in line for line in caption), caption

    async def go() -> None:
        async with app.run_test(size=(150, 62)) as pilot:
            await body(pilot)

    asyncio.run(go())
    assert len(cells) == 128 * 48, "the whole frame at one cell per two pixels"
    row0 = cells[:128]
    assert all(c[0] == "▀" for c in cells)
    assert row0[0][1:] == (PALETTE[RED], PALETTE[YELLOW]), "fg = the upper pixel, bg = the lower"
    assert row0[127][1:] == (PALETTE[GREEN], PALETTE[BLUE])
    assert cells[47 * 128 + 63][1:] == (PALETTE[RED], PALETTE[YELLOW])


def test_scaled_down_nearest_neighbour_and_cheap() -> None:
    frame = bytes(x % 256 for x in range(128 * 96))
    assert video.fit(128, 96, 64, 24) == (64, 48)
    assert video.fit(128, 96, 300, 200) == (256, 192), "enlarged by a whole factor"
    assert video.fit(128, 96, 200, 60) == (128, 96)
    text = video.picture(frame, 128, 96, PALETTE, 64, 48)
    lines = text.plain.splitlines()
    assert len(lines) == 24 and all(len(line) == 64 for line in lines)
    span = text.spans[0]
    assert str(span.style) == "{} on {}".format(*(f"#{r:02x}{g:02x}{b:02x}" for r, g, b in (PALETTE[0], PALETTE[0])))
    start = time.perf_counter()
    for _ in range(10):
        video.picture(bytes(range(256)) * 48, 128, 96, PALETTE, 128, 96)  # no two neighbours alike: the worst case
    assert (time.perf_counter() - start) / 10 < 0.1, "a repaint must keep up with the TUI's rate"


def test_the_inspection_api_gives_the_frame_and_the_pane_says_when_there_is_none() -> None:
    session = Session()
    assert inspect.framebuffer(session.kernel) is None
    fb = session.kernel.machine.attach_framebuffer()
    fb.store(10, b"\x05")
    view = inspect.framebuffer(session.kernel)
    assert view is not None and view.pixels[10] == 0 and view.frames == 0, "the shown frame, not pixel memory"
    fb.present()
    view = inspect.framebuffer(session.kernel)
    assert view is not None and view.pixels[10] == 5 and view.frames == 1 and view.palette == PALETTE
    assert view.stream == {}
