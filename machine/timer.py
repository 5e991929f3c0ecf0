"""The interval timer: 1024 Hz, entInt type 1 at IPL 5.

Tick n falls at cycle floor(n * 133e6 / 1024) of the CPU's cycle counter,
so the timer needs no scheduled events: ``tick`` raises every tick that is
due by now, and ``next_event`` tells the machine where its next run slice
must end, so interrupts arrive at the same cycle on every run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from machine.alpha.constants import CLOCK_HZ
from machine.fields import COUNT, Part, integer, obj

if TYPE_CHECKING:
    from machine.alpha.pal import OsfPal

TIMER_HZ = 1024
CLOCK_IPL = 5
CLOCK_INT = 1  # entInt a0 for the interval clock
CLOCK_VECTOR = 0x600
MAX_OWED = CLOCK_HZ  # cycles of ticks a saved timer may owe: no run leaves a second of them unraised


def tick_cycle(n: int) -> int:
    """The cycle at which tick n (from 1) is raised."""
    return n * CLOCK_HZ // TIMER_HZ


class Timer(Part):
    STATE_NAME = "timer"
    STATE_FIELDS = ("ticks",)
    NOT_STATE = {"pal": "a link to the PAL it interrupts"}

    def __init__(self, pal: OsfPal) -> None:
        self.pal = pal
        self.ticks = 0  # interrupts raised so far

    def next_event(self) -> int:
        return tick_cycle(self.ticks + 1)

    def tick(self, now: int) -> None:
        """Raise every tick due by cycle ``now`` (one pending interrupt
        stands for all of them, as on the real machine)."""
        while now >= tick_cycle(self.ticks + 1):
            self.ticks += 1
            self.pal.post_interrupt(CLOCK_IPL, CLOCK_INT, CLOCK_VECTOR)

    def save_state(self) -> dict[str, Any]:
        return {"ticks": self.ticks}

    def check_state(self, saved: object) -> dict[str, Any]:
        s = obj(saved, "timer", self.STATE_FIELDS)
        integer(s["ticks"], "timer.ticks", COUNT)
        return s

    def apply_state(self, checked: dict[str, Any]) -> None:
        self.ticks = checked["ticks"]
