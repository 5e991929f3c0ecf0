"""Fuel: how the dispatcher bounds an extension without a timer.

The verifier's instrumentation puts ``_spin_next(_spin_fuel, 0) or _spin_out()``
at every function entry (lambdas included), loop back-edge and comprehension
step of an extension. ``_spin_fuel`` is a global of the extension's
namespace: an iterator over the call's grant (``grant_of``), so a check
is one C-level ``next``. SOSP'95 §3.3 bounds a handler's *time*; counting checks instead
of microseconds keeps the kernel deterministic.

Each extension has one ``Meter``. Between calls its fuel is ``EMPTY``, so
extension code the kernel never granted fuel to -- a closure kept by someone,
anything run implicitly -- stops at its first check. A grant is a tuple of
the numbers 1..n with a 0 after every ``CHECKPOINT`` of them; a check that
draws a 0 calls ``out``, which either stops the extension
(``FuelExhausted``: the grant is spent) or, at a checkpoint, goes on after
a look around: a look at how much the host grew during this call (``CALL_MEMORY``)
and at the host-time watchdog, the last line of defense for C-level work the
fuel cannot see. A call made while the extension is already running (it
raised an event it also handles) shares the outer call's fuel, so nesting
cannot buy more. Both stops are ``BaseException``: the verifier forbids bare
``except:`` and naming ``BaseException``, so an extension cannot swallow them.
"""

from __future__ import annotations

import itertools
import operator
import resource
import time
from typing import Any

from kernel.params import CALL_MEMORY, CHECKPOINT, WATCHDOG_SECONDS

FUEL_NAME = "_spin_fuel"
OUT_NAME = "_spin_out"
EMPTY: Any = iter(())  # no fuel: the state between calls
SPENT: Any = iter(())  # no fuel left in this call


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


_GRANTS: dict[int, tuple[int, ...]] = {}


def grant_of(n: int) -> tuple[int, ...]:
    """The fuel of one call of ``n`` checks, as the tuple a call iterates:
    ``1, 2, ..., n`` (a check's value is how many checks it is), with a 0 after
    every CHECKPOINT of them, where ``out`` looks around. Shared by every
    call with the same bound, so granting fuel is one ``iter``."""
    t = _GRANTS.get(n)
    if t is None:
        if len(_GRANTS) >= 64:
            _GRANTS.pop(next(iter(_GRANTS)))
        t = tuple(x for k in range(1, n + 1) for x in ((k, 0) if _looks(k) and k < n else (k,)))
        _GRANTS[n] = t
    return t


_ENTERED: dict[int, tuple[int, ...]] = {}


def entered_grant_of(n: int) -> tuple[int, ...]:
    """``grant_of(n)`` with its first check already drawn: the grant of a
    handler compiled into its containment wrapper, whose entry is the grant
    itself (kernel/sys/contain.py), so it uses and is charged the same fuel
    as the same handler called through a wrapper."""
    t = _ENTERED.get(n)
    if t is None:
        if len(_ENTERED) >= 64:
            _ENTERED.pop(next(iter(_ENTERED)))
        t = _ENTERED[n] = grant_of(n)[1:]
    return t


FIRST_LOOK = 64  # the first checkpoint comes early: it takes the call's baseline (memory, host time)


def _looks(k: int) -> bool:
    return k == FIRST_LOOK or k % CHECKPOINT == 0


def used_of(it: Any, n: int) -> int:
    """Checks used so far from a call's grant of ``n`` (``it`` iterates grant_of(n))."""
    v = next(it, -1)
    if v == 0:  # a checkpoint's slot
        v = next(it, -1)
    return n if v < 0 else v - 1


class Meter:
    """One extension's fuel: granted per call, spent by its checks."""

    __slots__ = ("ns", "kib0", "t0", "base", "probe", "since", "due", "charged", "granted")

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.ns = namespace
        self.kib0 = 0
        self.t0 = 0.0
        self.base: Any = None  # the grant the baseline (kib0, t0) belongs to
        self.probe = _host_kib
        self.since = 0  # fuel spent since the owner last measured what it keeps (the quota)
        self.due = 0  # or: the clock's cycle count at which to measure next
        self.charged = 0  # fuel charged at once since the last checkpoint (it brings the next one)
        self.granted = 0
        namespace[FUEL_NAME] = EMPTY
        namespace[OUT_NAME] = self.out

    def start(self, n: int) -> bool:
        """Grant ``n`` checks for one call; False (and nothing granted) if the
        extension is already running: the inner call spends the outer's fuel."""
        ns = self.ns
        if ns[FUEL_NAME] is not EMPTY:
            return False
        self.granted = n
        ns[FUEL_NAME] = iter(grant_of(n))
        return True

    def stop(self) -> int:
        """End the outermost call; the fuel it used."""
        ns = self.ns
        used = used_of(ns[FUEL_NAME], self.granted)
        ns[FUEL_NAME] = EMPTY
        return used

    def out(self) -> bool:
        """A check found no fuel: a checkpoint (look around, go on) or the end."""
        it = self.ns[FUEL_NAME]
        if it is EMPTY:  # code run outside any call: it stops, and the next grant starts a call as usual
            raise FuelExhausted
        if it is SPENT or operator.length_hint(it) == 0:
            self.ns[FUEL_NAME] = SPENT  # stays spent: a finally that loops stops at its first back-edge
            raise FuelExhausted
        self.checkpoint()
        return True

    def charge(self, n: int) -> None:
        """Spend ``n`` checks at once (a metered builtin's C-level work)."""
        if n <= 0:
            return
        it = self.ns[FUEL_NAME]
        if it is EMPTY or it is SPENT:
            raise FuelExhausted
        if next(itertools.islice(it, n - 1, None), -1) < 0:
            self.ns[FUEL_NAME] = SPENT
            raise FuelExhausted
        self.charged += n
        if self.charged >= CHECKPOINT:  # work charged in bulk is looked at as often as work counted
            self.charged = 0
            self.checkpoint()

    def checkpoint(self) -> None:
        kib = self.probe()
        now = time.monotonic()  # host-time ok: the watchdog is a backstop and never fires in a fair run
        it = self.ns[FUEL_NAME]
        if self.base is not it:  # the first checkpoint of this call: the baseline
            self.base, self.kib0, self.t0 = it, kib, now
            return
        # A stop spends the grant first: were the stop caught (it cannot be named, but a kernel
        # path could swallow it), the call has no fuel left to go on with.
        if (kib - self.kib0) * 1024 > CALL_MEMORY:
            self.ns[FUEL_NAME] = SPENT
            raise QuotaExceeded(f"the host grew by {(kib - self.kib0) >> 10} MiB during one call "
                                f"(limit {CALL_MEMORY >> 20} MiB)")  # fmt: skip
        if now - self.t0 > WATCHDOG_SECONDS:
            self.ns[FUEL_NAME] = SPENT
            raise QuotaExceeded(f"one call ran {now - self.t0:.1f} host seconds (watchdog {WATCHDOG_SECONDS:g} s)")
