"""Fuel: how the dispatcher bounds an extension without a timer.

The verifier's instrumentation puts ``_spin_next(_spin_fuel, 0) or _spin_out()``
at every function entry (lambdas included), loop back-edge and comprehension
step of an extension. ``_spin_fuel`` is a global of the extension's
namespace: a countdown ``range`` iterator, so a check is one C-level
``next``. SOSP'95 §3.3 bounds a handler's *time*; counting checks instead
of microseconds keeps the kernel deterministic.

Each extension has one ``Meter``. Between calls its fuel is ``EMPTY``, so
extension code the kernel never granted fuel to -- a closure kept by someone,
anything run implicitly -- stops at its first check. A grant hands out fuel
in chunks of ``CHECKPOINT`` checks; when a chunk is spent ``out`` either
stops the extension (``FuelExhausted``) or refills the chunk after a
checkpoint: a look at how much the host grew during this call (``CALL_MEMORY``)
and at the host-time watchdog, the last line of defense for C-level work the
fuel cannot see. A call made while the extension is already running (it
raised an event it also handles) shares the outer call's fuel, so nesting
cannot buy more. Both stops are ``BaseException``: the verifier forbids bare
``except:`` and naming ``BaseException``, so an extension cannot swallow them.
"""

from __future__ import annotations

import operator
import resource
import time
from typing import Any

from kernel.sys.language import CALL_MEMORY, CHECKPOINT, WATCHDOG_SECONDS

FUEL_NAME = "_spin_fuel"
OUT_NAME = "_spin_out"
EMPTY: Any = iter(())  # no fuel: the state between calls
SPENT: Any = iter(())  # no fuel left in this call
UNBOUNDED = 1 << 62  # trusted callers that only want fuel counted


class FuelExhausted(BaseException):  # noqa: N818 - SPIN's word for it is "exhausted", not an error
    """A bounded handler used up its fuel; the dispatcher aborts it."""


class QuotaExceeded(BaseException):  # noqa: N818
    """An extension went past a memory limit or the host-time watchdog."""


def _host_kib() -> int:
    """The host process's resident size in KiB now (Linux /proc/self/statm;
    elsewhere the peak, ru_maxrss, which misses growth below an old peak)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * (_PAGE >> 10)
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


_PAGE = resource.getpagesize()


class Meter:
    """One extension's fuel: granted per call, spent by its checks."""

    __slots__ = ("ns", "left", "granted", "kib0", "t0", "probe", "since", "due", "charged")

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.ns = namespace
        self.left = 0  # fuel not yet handed out in a chunk
        self.granted = 0
        self.kib0 = 0
        self.t0 = 0.0
        self.probe = _host_kib
        self.since = 0  # fuel spent since the owner last measured what it keeps (the quota)
        self.due = 0  # or: the clock's cycle count at which to measure next
        self.charged = 0  # fuel charged at once since the last checkpoint (it brings the next one)
        namespace[FUEL_NAME] = EMPTY
        namespace[OUT_NAME] = self.out

    @property
    def running(self) -> bool:
        return self.ns[FUEL_NAME] is not EMPTY

    def start(self, n: int) -> bool:
        """Grant ``n`` checks for one call; False (and nothing granted) if the
        extension is already running: the inner call spends the outer's fuel."""
        ns = self.ns
        if ns[FUEL_NAME] is not EMPTY:
            return False
        first = n if n < CHECKPOINT else CHECKPOINT
        self.left = n - first
        self.granted = n
        self.kib0 = 0
        ns[FUEL_NAME] = iter(range(first, 0, -1))
        return True

    def stop(self) -> int:
        """End the outermost call; the fuel it used. (``left`` may stay: with
        the fuel EMPTY, ``out`` refuses to refill.)"""
        ns = self.ns
        used = self.granted - self.left - operator.length_hint(ns[FUEL_NAME])
        ns[FUEL_NAME] = EMPTY
        return used

    def used(self) -> int:
        return self.granted - self.left - operator.length_hint(self.ns[FUEL_NAME])

    def out(self) -> bool:
        """The current chunk is spent: stop, or look around and refill."""
        if self.left <= 0 or self.ns[FUEL_NAME] is EMPTY:
            self.ns[FUEL_NAME] = SPENT  # stays spent: a finally that loops stops at its first back-edge
            raise FuelExhausted
        self.checkpoint()
        n = self.left if self.left < CHECKPOINT else CHECKPOINT
        self.left -= n
        self.ns[FUEL_NAME] = iter(range(n, 0, -1))
        return True

    def charge(self, n: int) -> None:
        """Spend ``n`` checks at once (a metered builtin's C-level work)."""
        if n <= 0:
            return
        if self.ns[FUEL_NAME] is EMPTY:
            raise FuelExhausted
        if n <= self.left:
            self.left -= n
            self.charged += n
            if self.charged >= CHECKPOINT:  # work charged in bulk is looked at as often as work counted
                self.charged = 0
                self.checkpoint()
            return
        self.left = 0
        self.ns[FUEL_NAME] = SPENT
        raise FuelExhausted

    def checkpoint(self) -> None:
        kib = self.probe()
        now = time.monotonic()  # host-time ok: the watchdog is a backstop and never fires in a fair run
        if not self.kib0:  # the first checkpoint of this call: the baseline
            self.kib0, self.t0 = kib, now
            return
        if (kib - self.kib0) * 1024 > CALL_MEMORY:
            raise QuotaExceeded(f"the host grew by {(kib - self.kib0) >> 10} MiB during one call "
                                f"(limit {CALL_MEMORY >> 20} MiB)")  # fmt: skip
        if now - self.t0 > WATCHDOG_SECONDS:
            raise QuotaExceeded(f"one call ran {now - self.t0:.1f} host seconds (watchdog {WATCHDOG_SECONDS:g} s)")


def meter(namespace: dict[str, Any]) -> Meter:
    """The meter of an extension's namespace."""
    return namespace[OUT_NAME].__self__
