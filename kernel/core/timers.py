"""Timer: virtual-time callbacks for extensions (issue 20's video sender).

SPIN's extensions had the kernel's clock and alarm interfaces; this
workbench's extensions had only ``Clock.Now``. ``Timer.After(us, handler)``
calls ``handler(tick)`` once, ``us`` virtual microseconds later, in the
network thread -- where UDP handlers run -- under the extension's fuel,
like any handler it installed: a timer is an event, ``Timer.Expired``,
and each (extension, handler) pair is one binding on it, guarded by a
declarative ``key ==`` guard the dispatcher indexes. ``tick.at`` is the
cycle the timer was due, so a pacer can schedule against absolute time
instead of drifting by its own work.

Bounded (kernel/params.py): at most TIMERS_PENDING pending timers and
TIMER_HANDLERS distinct handlers an extension, delays up to TIMER_MAX_US.
The network thread looks at its timers on each clock tick (1024 Hz), so a
timer fires on the first tick at or after its time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from kernel.core.costs import CLOCK_MHZ
from kernel.params import BINDINGS_PER_EXTENSION, TIMER_HANDLERS, TIMER_MAX_US, TIMERS_PENDING
from kernel.sys.dispatcher import Binding, FieldEquals
from kernel.sys.errors import SpinError
from kernel.sys.interface import Interface
from kernel.sys.sandbox import shown

if TYPE_CHECKING:
    from kernel.kernel import Kernel


class Tick(NamedTuple):
    """What a timer's handler is passed: its binding's key, the cycle it was due, the cycle it fired."""

    key: int
    at: int
    now: int


class Timers:
    """The kernel side: one ``Timer.Expired`` event, bindings per (extension, handler)."""

    def __init__(self, k: Kernel) -> None:
        if k.net is None:
            raise SpinError("Timer needs the network thread (a networked kernel)")
        self.k = k
        self.net = k.net
        self.iface = Interface("Timer", "virtual-time callbacks: After(us, handler) calls handler(tick) once")
        self.ev = k.dispatcher.define(self.iface, "Expired", self._nobody, self)
        self.bindings: dict[tuple[int, int], Binding] = {}  # (id of the extension, id of the handler) -> binding
        self.pending: dict[int, int] = {}  # id of the extension -> timers pending
        self.fired = 0
        self._keys = 0
        k.ifaces["Timer"] = self.iface
        k.system.public.exports["Timer"] = lambda ext: _ExtensionTimer(self, ext)

    def _nobody(self, tick: Tick) -> None:
        """Expired's intrinsic: the handler's extension was unloaded; nothing to call."""

    def after(self, ext: Any, us: Any, handler: Any) -> None:
        name = ext.name
        if type(us) is not int or not 0 <= us <= TIMER_MAX_US:
            raise SpinError(f"{name}: Timer.After(us, handler): us is a whole number of microseconds from 0 to "
                            f"{TIMER_MAX_US:,}, not {shown(us)}")  # fmt: skip
        if not callable(handler):
            raise SpinError(f"{name}: Timer.After(us, handler): {shown(handler)} is not a function")
        if not ext.loaded:
            raise SpinError(f"{name}: unloaded; it can set no timer")
        if self.pending.get(id(ext), 0) >= TIMERS_PENDING:
            raise SpinError(f"{name}: Timer.After: at most {TIMERS_PENDING} timers pending an extension")
        b = self.bindings.get((id(ext), id(handler)))
        if b is None or not b.installed:
            mine = sum(1 for (e, _), x in self.bindings.items() if e == id(ext) and x.installed)
            if mine >= TIMER_HANDLERS:
                raise SpinError(f"{name}: Timer.After: at most {TIMER_HANDLERS} different handlers an extension")
            if sum(1 for x in ext.bindings if x.installed) >= BINDINGS_PER_EXTENSION:
                raise SpinError(f"{name}: Timer.After: the extension has {BINDINGS_PER_EXTENSION} handlers already")
            self._keys += 1
            b = self.k.dispatcher.install_handler(self.ev, handler, FieldEquals(0, "key", self._keys), owner=name,
                                                  creator=ext, trusted=False, namespace=ext.namespace)  # fmt: skip
            ext.bindings.append(b)
            self.bindings[id(ext), id(handler)] = b
        key = b.guard.value if isinstance(b.guard, FieldEquals) else 0
        at = self.k.sal.now + us * CLOCK_MHZ
        self.pending[id(ext)] = self.pending.get(id(ext), 0) + 1
        armed = self.k.ticks

        def fire() -> None:
            if self.k.ticks == armed:
                # Armed during this tick: it fires at the next. The network thread runs every timer due
                # before it rests, and a handler's own work moves the clock past a short delay, so a
                # handler that re-armed itself with After(0) would be due again at once, forever, and
                # the thread would never rest (the attack in tests/attacks/test_h20_surfaces.py).
                self.net.timer(1, fire)
                return
            self.pending[id(ext)] -= 1
            self.fired += 1
            self.iface.Expired(Tick(key, at, self.k.sal.now))

        self.net.timer(us * CLOCK_MHZ, fire)


class _ExtensionTimer:
    __name__ = "Timer"

    def __init__(self, timers: Timers, ext: Any) -> None:
        self._timers = timers
        self._ext = ext

    def After(self, us: Any, handler: Any) -> None:  # noqa: N802 - SPIN's names
        """Call ``handler(tick)`` once, ``us`` virtual microseconds from now."""
        self._timers.after(self._ext, us, handler)


def install_timers(k: Kernel) -> Timers:
    """Offer Timer to extensions on a booted, networked kernel (once)."""
    if k.timers is None:
        k.timers = Timers(k)
    return k.timers
