"""The core interfaces as one extension sees them: Sched, VirtAddr and
Translation with the checks a kernel caller does not need.

Kernel code calls the services directly; an extension gets these
per-extension views instead (boot.py exports them as factories), which
take only handles the kernel issued (an address space is a ``translation``
handle, kernel/sys/capability.py), bound what one call may ask of the
kernel, and keep a user's extension to its own processes (SOSP'95 §3.3:
the module that owns a service decides what each client may do with it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel.core.sal import USER_LIMIT
from kernel.core.sched import DEFAULT_PRIORITY, GroupView, Scheduler, StrandView, group_of
from kernel.core.translation import Space, Translation, VirtAddr
from kernel.params import GROUP_NAME_MAX, GROUPS_PER_EXTENSION, RANGES_PER_EXTENSION
from kernel.sys import authority, capability
from kernel.sys.errors import SpinError
from kernel.sys.sandbox import shown


class ExtensionSched:
    """Sched for one extension: its groups run no higher than user programs,
    and it adopts only strands of processes it serves."""

    __name__ = "Sched"

    def __init__(self, sched: Scheduler, ext: Any, serves: Callable[[frozenset[int], Any], bool],
                 registry: dict[str, ExtensionSched]) -> None:  # fmt: skip
        self._sched = sched
        self._ext = ext
        self._serves = serves
        self._groups = 0
        self.mine: set[int] = set()  # ids of the groups it made: what its Sched.Choose handlers may decide
        registry[ext.name] = self

    def GetPriority(self, s: Any) -> int:  # noqa: N802 - SPIN's name
        if not isinstance(s, StrandView):
            raise SpinError(f"{self._ext.name}: Sched.GetPriority takes a strand an event passed you")
        return s.priority

    def NewGroup(self, name: Any, priority: Any = DEFAULT_PRIORITY) -> GroupView:  # noqa: N802
        if not isinstance(name, str) or not 0 < len(name) <= GROUP_NAME_MAX:
            raise SpinError(
                f"{self._ext.name}: Sched.NewGroup({shown(name)}): a name of 1..{GROUP_NAME_MAX} characters"
            )
        if type(priority) is not int or not 0 <= priority <= DEFAULT_PRIORITY:
            raise SpinError(f"{self._ext.name}: Sched.NewGroup: priority {shown(priority)}: an extension's group "
                            f"runs at 0..{DEFAULT_PRIORITY}, no higher than user programs")  # fmt: skip
        if self._groups >= GROUPS_PER_EXTENSION:
            raise SpinError(f"{self._ext.name}: Sched.NewGroup: at most {GROUPS_PER_EXTENSION} groups an extension")
        self._groups += 1
        g = self._sched.new_group_view(f"{self._ext.name}: {name}", priority)
        self.mine.add(id(group_of(g)))
        return g

    def Adopt(self, g: Any, s: Any) -> None:  # noqa: N802
        if isinstance(s, StrandView) and authority.ALL_PROCESSES not in self._ext.rights:
            if not self._serves(frozenset(self._ext.clients), s):
                raise SpinError(f"{self._ext.name}: Sched.Adopt: strand {s.id} belongs to a process this extension "
                                f"was not loaded for")  # fmt: skip
        self._sched.adopt_view(g, s)


def _space(h: Any, what: str) -> Space:
    sp = capability.unwrap(h, "translation", what)
    if not isinstance(sp, Space):
        raise SpinError(f"{what}: not an address space")
    return sp


class ExtensionVirtAddr:
    """VirtAddr for one extension: ranges in a space it holds a handle for."""

    __name__ = "VirtAddr"

    def __init__(self, virt: VirtAddr, ext: Any) -> None:
        self._virt = virt
        self._ext = ext
        self._ranges = 0

    def Allocate(self, space: Any, size: Any, base: Any = 0x100_0000_0000) -> int:  # noqa: N802
        sp = _space(space, "VirtAddr.Allocate")
        if type(size) is not int or not 0 < size <= 1 << 32 or type(base) is not int or not 0 <= base < USER_LIMIT:
            raise SpinError(f"{self._ext.name}: VirtAddr.Allocate: a size of 1..4 GiB and a base below 2^42")
        if self._ranges >= RANGES_PER_EXTENSION:
            raise SpinError(f"{self._ext.name}: VirtAddr.Allocate: at most {RANGES_PER_EXTENSION} ranges")
        self._ranges += 1
        return self._virt.Allocate(sp, size, base)

    def Deallocate(self, space: Any, start: Any) -> None:  # noqa: N802
        if type(start) is not int:
            raise SpinError(f"{self._ext.name}: VirtAddr.Deallocate: the start address is a number")
        self._virt.Deallocate(_space(space, "VirtAddr.Deallocate"), start)


class ExtensionTranslation:
    """Translation for one extension: protections of spaces it holds a
    handle for, never the kernel's own soft bits (copy-on-write lives there)."""

    __name__ = "Translation"

    def __init__(self, tr: Translation, ext: Any) -> None:
        self._tr = tr
        self._ext = ext

    def Protect(self, space: Any, va: Any, size: Any, prot: Any) -> int:  # noqa: N802
        if type(va) is not int or type(size) is not int or not 0 <= va < 1 << 43:
            raise SpinError(f"{self._ext.name}: Translation.Protect: an address and a size, as numbers")
        return self._tr.Protect(_space(space, "Translation.Protect"), va, size, prot)

    def ExamineMapping(self, space: Any, va: Any) -> int:  # noqa: N802
        if type(va) is not int or not 0 <= va < 1 << 64:
            raise SpinError(f"{self._ext.name}: Translation.ExamineMapping: an address, as a number")
        return self._tr.ExamineMapping(_space(space, "Translation.ExamineMapping"), va)


def authorize_choose(d: Any, ev: Any, registry: dict[str, ExtensionSched]) -> None:
    """Sched.Choose asks a group's scheduler which strand runs: an
    extension's handler decides only for groups it made (an imposed guard),
    unless it holds the all-processes right."""
    before = ev.authorizer

    def authorize(b: Any, key: Any) -> bool:
        if before is not None and not before(b, key):
            return False
        if authority.ALL_PROCESSES in authority.rights(b):
            return True
        view = registry.get(getattr(b.creator, "name", ""))
        mine = view.mine if view is not None else set()

        def own_group(g: Any, ready: Any) -> bool:
            return isinstance(g, GroupView) and id(group_of(g)) in mine

        own_group.__name__ = "one of its own groups"
        d.impose_guard(b, own_group, by=ev.authority)
        return True

    d.install_authorizer(ev, authorize, ev.authority)
