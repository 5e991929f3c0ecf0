"""Inspect: the kernel's inspection API as extensions import it
(``from spin import Inspect``; issue 20's spec).

Seed 000's web server "exports commands that show the running SPIN OS":
threads, domains, the heap. This is the interface it reads them through:
plain data -- tuples of dicts of str/int/float/bool, copied from the rows
of kernel/inspect.py -- so an extension holds no kernel object. Seeing the
whole system is a right: only an extension holding ``all-processes``
(kernel/sys/authority.py; loaded by ``root`` or ``kernel``) may call it, a
user's extension gets a SpinError saying so.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from kernel import inspect as I
from kernel.sys.authority import ALL_PROCESSES
from kernel.sys.errors import SpinError

if TYPE_CHECKING:
    from kernel.kernel import Kernel

ROWS_MAX = 1000  # rows one call returns at most: a page shows a system, not a dump


def install(k: Kernel) -> None:
    """Export Inspect to SpinPublic (with the network: kernel/net/tcp_ext.py's install)."""
    k.system.public.exports["Inspect"] = lambda ext: ExtensionInspect(k, ext)


def _row(r: Any) -> dict[str, Any]:
    return {f.name: _plain(getattr(r, f.name)) for f in dataclasses.fields(r)}


def _plain(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (tuple, list)):
        return tuple(_plain(x) for x in v)
    return str(v)


class ExtensionInspect:
    __name__ = "Inspect"

    def __init__(self, k: Kernel, ext: Any) -> None:
        self._k = k
        self._ext = ext

    def _check(self, what: str) -> None:
        if ALL_PROCESSES not in self._ext.rights:
            raise SpinError(f"{self._ext.name}: Inspect.{what}: seeing the whole system needs the right "
                            f"{ALL_PROCESSES}, which extensions loaded by a user do not hold (load it as the "
                            f"machine's owner: `load FILE --root`)")  # fmt: skip

    def Threads(self) -> tuple[dict[str, Any], ...]:  # noqa: N802 - SPIN's names
        """Every strand: id, name, owner, kind, state, priority, group, us, blocked_on, pid."""
        self._check("Threads")
        return tuple(_row(r) for r in I.strands(self._k)[:ROWS_MAX])

    def Domains(self) -> tuple[dict[str, Any], ...]:  # noqa: N802
        """The kernel's domains and each linked extension's: exports, imports, rights."""
        self._check("Domains")
        return tuple(_row(r) for r in I.domains(self._k)[:ROWS_MAX])

    def Events(self) -> tuple[dict[str, Any], ...]:  # noqa: N802
        """Every event: name, bindings, calls, dispatch path."""
        self._check("Events")
        return tuple(_row(r) for r in I.events(self._k)[:ROWS_MAX])

    def Heap(self) -> dict[str, Any]:  # noqa: N802
        """Frames (total, free), the memory rows (physical, processes, extensions' kept heaps),
        and the buffer cache if the file system keeps one."""
        self._check("Heap")
        k = self._k
        c = I.counters(k)
        cache = getattr(getattr(k, "fs", None), "cache", None)
        cached = len(cache) if isinstance(cache, (dict, list)) else 0
        return {"frames": c.frames, "free_frames": c.free_frames, "page_bytes": 1 << k.sal.page_shift,
                "buffer_cache_blocks": cached, "memory": tuple(_row(r) for r in I.memory(k)[:ROWS_MAX])}  # fmt: skip

    def Counters(self) -> dict[str, Any]:  # noqa: N802
        """The kernel's counters: cycles, instructions, crossings, syscalls, faults, switches, copies..."""
        self._check("Counters")
        return _row(I.counters(self._k))
