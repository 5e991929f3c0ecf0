"""Fuel: how the dispatcher bounds an extension's handler without a timer.

The verifier's instrumentation puts ``next(_spin_fuel, 0) or _spin_out()`` at
every loop back-edge and function entry of an extension. ``_spin_fuel`` is a
global of the extension's namespace: a countdown ``range`` iterator, so each
check is one C-level ``next`` that yields 0 once the budget is spent, and
``length_hint`` says how much is left. The
dispatcher gives each bounded call a fresh budget (SOSP'95 §3.3's "time
bound", counted in checks instead of microseconds, so it is deterministic),
and ``_spin_out`` raises ``FuelExhausted``. That is a ``BaseException``, and
the verifier forbids bare ``except:`` and naming ``BaseException``, so an
extension cannot swallow its own abort; a ``finally`` that loops is stopped
at its first back-edge, because the budget stays spent.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Any

UNBOUNDED = 1 << 62  # "no bound": still counted, so the Events pane can show fuel used
FUEL_NAME = "_spin_fuel"
OUT_NAME = "_spin_out"


class FuelExhausted(BaseException):  # noqa: N818 - SPIN's word for it is "exhausted", not an error
    """A bounded handler used up its fuel; the dispatcher aborts it."""


def out() -> None:
    raise FuelExhausted


def grant(namespace: dict[str, Any], n: int | None) -> Iterator[int]:
    """Give the extension ``n`` checks of fuel (None: unbounded); return the
    fuel it had, to hand back with ``restore`` (dispatches nest)."""
    old = namespace.get(FUEL_NAME)
    namespace[FUEL_NAME] = iter(range(UNBOUNDED if n is None else n, 0, -1))
    return old  # type: ignore[return-value]


def used(namespace: dict[str, Any], n: int | None) -> int:
    """Fuel used so far under a grant of ``n`` checks (None: unbounded)."""
    it = namespace.get(FUEL_NAME)
    left = operator.length_hint(it) if it is not None else 0
    return (UNBOUNDED if n is None else n) - left


def restore(namespace: dict[str, Any], old: Iterator[int] | None) -> None:
    namespace[FUEL_NAME] = old if old is not None else iter(range(UNBOUNDED, 0, -1))
