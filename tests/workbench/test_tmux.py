"""`spinwb` as a user meets it: launched in a real terminal (tmux), its
titled panes on screen, the footer's keys pressed, their effects read back
from the screen. Runs when tmux is installed, and always under CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from workbench.tui import layouts

TMUX = shutil.which("tmux")
if TMUX is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("tmux is required under CI=true (.ci/run installs it)")
    pytest.skip("tmux is not installed", allow_module_level=True)

PANES = ["Strands", "Domains", "Events", "Page tables", "Packets", "Console", "CPU", "Trace", "Scenario"]


class Tmux:
    def __init__(self, command: list[str], width: int = 100, height: int = 30) -> None:
        self.name = f"spinwb-{uuid.uuid4().hex[:8]}"
        subprocess.run([TMUX, "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                        " ".join(command)], check=True, env=dict(os.environ, TERM="xterm-256color"))  # fmt: skip

    def screen(self) -> str:
        p = subprocess.run([TMUX, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return p.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([TMUX, "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen()}")

    def alive(self) -> bool:
        return subprocess.run([TMUX, "has-session", "-t", self.name], capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run([TMUX, "kill-session", "-t", self.name], capture_output=True)


def test_spinwb_in_a_terminal() -> None:
    t = Tmux([sys.executable, "-m", "workbench.cli"])
    try:
        t.wait_for("scenario none (demo) seed 0 step 0 icount 0")
        s = t.wait_for("q Quit")
        for title in PANES:
            assert title in s, title
        for key in ("space Run", "s Step", "e Entry", "d Dispatch", "g Lesson", "b Back", "r Reset", "? Help",
                    "q Quit"):  # fmt: skip
            assert key in s, key
        t.keys("s")
        t.wait_for("(demo) seed 0 step 1 icount 1 ")
        t.keys("n")
        t.wait_for("(demo) seed 0 step 2 icount 10001 ")
        t.keys("e")
        t.wait_for("kernel entry: ")
        t.keys("d")
        t.wait_for("breakpoint dispatch any: Dispatch")
        t.keys("b")
        t.wait_for("stepped back over a step to the")
        t.keys("7")
        t.wait_for("╭─ CPU")
        s = t.wait_for("=> ")
        assert "(demo) seed 0 step 3 icount 36283 " in s and "instructions 36,283" in s and "user mode, IPL 0" in s, s
        t.keys("?")
        t.wait_for("SPIN Workbench — keys")
        t.keys("Escape")
        time.sleep(0.5)  # an Escape followed at once by a key reads as Alt+key
        t.keys("space")
        t.wait_for("running")
        t.keys("space")
        t.wait_for("paused")
        t.keys("r")
        t.wait_for("(demo) seed 0 step 0 icount 0 ")
        t.keys("g")
        t.wait_for("no scenario is open")
        t.keys("q")
        end = time.monotonic() + 20
        while t.alive() and time.monotonic() < end:
            time.sleep(0.2)
        assert not t.alive(), "q quits"
    finally:
        t.close()


def test_a_lesson_in_a_terminal_and_a_terminal_too_small() -> None:
    t = Tmux([sys.executable, "-m", "workbench.cli", "scenario", "run", "boot_tour"], 70, 20)
    try:
        t.wait_for("at least 80×24; this one is 70×20")
        subprocess.run([TMUX, "resize-window", "-t", t.name, "-x", "100", "-y", "30"], check=True)
        t.wait_for("scenario boot_tour seed 0 step 0/")
        t.keys("g")  # the step shows the pane it names (boot_tour's first: the Trace), the lesson a key away
        s = t.wait_for("step 1/")
        assert "━ Trace ━" in s or "─ Trace ─" in s, s
        t.keys("9")
        s = t.wait_for("✓ step 1:")  # the pane scrolls to the newest step (the list of steps is above it)
        assert "[ok]" in s
    finally:
        t.close()


BENCH = ("from workbench.session import BIN, Session; from workbench.tui.app import Workbench; "
         "Workbench(session=Session(BIN / 'bench-ev4.elf', ['bench-ev4', '1000000'])).run()")  # fmt: skip
FOOTER = ["space Run", "s Step", "e Entry", "d Dispatch", "g Lesson", "b Back", "r Reset", "? Help", "q Quit"]


def _titles(screen: str) -> set[str]:
    """The pane titles on the screen's borders ("╭─ CPU ──" or, selected, "┏━ Events ━━")."""
    found = set()
    for title in [*PANES, "Pace"]:
        if f"─ {title} ─" in screen or f"━ {title} ━" in screen:
            found.add(title)
    return found


def _status(screen: str) -> str:
    lines = [ln for ln in screen.splitlines() if ln.strip()]
    return lines[-2]  # the status bar sits above the footer


def test_80x24_every_footer_key_shows_and_layouts_cycle() -> None:
    """At 80×24 the tabs (one pane); every footer key is on screen, not cut
    by the palette's key; l still cycles layouts though the footer leaves it
    out; a notification does not cover the status bar."""
    t = Tmux([sys.executable, "-m", "workbench.cli"], 80, 24)
    try:
        s = t.wait_for("q Quit")
        for key in FOOTER:
            assert key in s, (key, s)
        assert _titles(s) == {"Strands"}, s
        t.keys("l")
        s = t.wait_for("layout overview")
        assert {"Strands", "Events", "Console", "CPU", "Pace"} <= _titles(s), s
        t.keys("l")
        s = t.wait_for("layout lesson")
        assert {"Scenario", "Strands", "Console", "Pace"} <= _titles(s), s
        for _ in range(len(layouts.LAYOUTS) - 2):  # the rest of the cycle: back to the tabs
            t.keys("l")
        s = t.wait_for("layout single")
        assert _titles(s) == {"Strands"}, s
        t.keys("g")  # an error: a toast, and the status bar still readable beneath it
        s = t.wait_for("no scenario is open")
        assert _status(s).startswith(" scenario none (demo) seed 0 step 0"), s
        for key in FOOTER:
            assert key in s, (key, s)
    finally:
        t.close()


def test_200x50_opens_side_by_side_and_the_pace_moves_while_running() -> None:
    """At 200×50 the overview layout opens: five panes side by side; running
    a CPU-bound program, two looks at the Pace pane a second apart show
    different instruction counts and a rate; l cycles to the next layout."""
    t = Tmux([sys.executable, "-c", f'"{BENCH}"'], 200, 50)
    try:
        s = t.wait_for("l Layout")
        assert "^p palette" in s
        assert {"Strands", "Events", "Console", "CPU", "Pace"} <= _titles(s), s
        assert "scenario none (bench-ev4.elf) seed 0 step 0 icount 0" in s
        t.keys("space")
        first = t.wait_for(" instructions/s (guest, per host second) ", timeout=30)
        time.sleep(1.5)
        second = t.wait_for(" instructions/s (guest, per host second) ")
        pick = lambda scr: next(ln for ln in scr.splitlines() if "since boot:" in ln)  # noqa: E731
        assert pick(first) != pick(second), (pick(first), pick(second))
        rate = next(ln for ln in second.splitlines() if "instructions/s (guest" in ln)
        assert " k instructions/s" in rate or " M instructions/s" in rate, rate
        assert "× real time" in second
        t.keys("space")
        t.wait_for("paused")
        t.keys("l")
        s = t.wait_for("layout lesson")
        assert {"Scenario", "Strands", "Console", "Pace"} <= _titles(s) and "Events" not in _titles(s), s
    finally:
        t.close()
