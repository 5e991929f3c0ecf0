"""The ``Files`` interface extensions import: the local extent file system,
read past the buffer cache.

SOSP'95 §5.4's web server did its own caching, so it read files straight
from the disk ("no double buffering"): ``Files.Read`` is ExtentFS's
``read_direct`` -- one disk transfer into frames held only for it -- and its
handler runs from the disk's interrupt, under the extension's fuel, like
UDP.Listen's handlers (kernel/net/udp.py). A handler that faults or runs out
of fuel is reported as any contained handler is (the dispatcher's reports)
and the kernel goes on.

    Files.Size(name) -> int size, or -1 if no such file
    Files.Read(name, offset, n, handler) -> None; later handler(name, offset, data),
        data = bytes (b"" past the end) or -errno (ENOENT 2, EIO 5, ENOMEM 12)
    Files.List() -> tuple of names (the first FILES_LIST_MAX, sorted)

Bounds (kernel/params.py): FILES_READ_MAX bytes a read, FILES_READS_PER_EXTENSION
reads waiting at once. ``Callbacks`` is how the kernel keeps an extension's
procedure ready to call later, contained (the NFS client's handlers too).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.core.sal import ENOENT
from kernel.params import CALLBACKS_PER_EXTENSION, FILES_LIST_MAX, FILES_READ_MAX, FILES_READS_PER_EXTENSION
from kernel.sys import fuel
from kernel.sys.dispatcher import Binding, Event
from kernel.sys.errors import SpinError
from kernel.sys.interface import Interface
from kernel.sys.sandbox import shown

if TYPE_CHECKING:
    from kernel.fs.extentfs import ExtentFS
    from kernel.kernel import Kernel


def _files_read(name: str, offset: int, data: Any) -> None:
    """The shape of a Files.Read handler: (name, offset, data)."""


def _nfs_done(path: str, result: Any) -> None:
    """The shape of an NFS.Read or NFS.Stat handler: (path, data or size)."""


def _slot_fn(arg: Any) -> Any:
    """The shape of a function in a Replug slot, and of a specializer: one argument, a result
    (kernel/sys/replug_ext.py)."""


NESTED_MAX = 4  # a completion handler runs at most this deep inside its own extension's call

SHAPES: dict[str, Callable[..., Any]] = {"FilesRead": _files_read, "NfsDone": _nfs_done, "SlotFn": _slot_fn}


class Callbacks:
    """Extension procedures the kernel calls back later, each contained as a
    binding's handler is (kernel/sys/contain.py): under the dispatch bound of
    fuel, its faults reported, never raised into the kernel. The events
    (``Completion.FilesRead``, ``Completion.NfsDone``) are never raised: they
    give the handler's shape and the Events pane a line; they are defined on
    first use, so a kernel that never calls back has no more events."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.iface = Interface("Completion", "extension handlers the kernel calls when an I/O it started is done")
        self.events: dict[str, Event] = {}
        self.kept: dict[int, OrderedDict[tuple[str, Any], Binding]] = {}  # id(ext) -> (shape, handler) -> binding
        self.calls = self.faults = self.skipped = 0
        self.depth: dict[int, int] = {}  # id(ext) -> its handlers running now, one inside another
        self.nested = 0  # answers dropped: the handler would have run NESTED_MAX deep inside itself

    def _event(self, shape: str) -> Event:
        ev = self.events.get(shape)
        if ev is None:
            ev = self.k.dispatcher.define(self.iface, shape, SHAPES[shape], self, policy="keep")
            ev.authorizer = None  # the kernel makes these bindings itself, guard-less by design
            self.events[shape] = ev
        return ev

    def prepare(self, ext: Any, shape: str, handler: Any, what: str) -> Binding:
        """The binding that calls ``handler`` for ``ext``; a SpinError naming
        ``what`` if it is no procedure of the right shape."""
        if not callable(handler):
            raise SpinError(f"{ext.name}: {what}: the handler {shown(handler)} is not a procedure")
        kept = self.kept.setdefault(id(ext), OrderedDict())
        try:
            key: tuple[str, Any] | None = (shape, handler)
            b = kept.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable callable: made afresh each time
            key, b = None, None
        if b is not None:
            kept.move_to_end(key)  # type: ignore[arg-type]
            return b
        d = self.k.dispatcher
        try:
            b = d.create(self._event(shape), handler, owner=ext.name, creator=ext, trusted=False,
                         namespace=ext.namespace)  # fmt: skip
        except SpinError as e:
            raise SpinError(f"{ext.name}: {what}: {e}") from None
        if key is not None:
            kept[key] = b
            while len(kept) > CALLBACKS_PER_EXTENSION:
                kept.popitem(last=False)
        return b

    def call(self, ext: Any, b: Binding, *args: Any) -> None:
        """Run the handler now, contained; nothing it does reaches the caller.

        An answer given at once (a missing file) runs the handler inside the
        extension's own call; a handler that asks again from there would
        recurse until Python's stack gave out, somewhere in the kernel. So
        a handler is called at most NESTED_MAX deep inside its own extension;
        deeper, the answer is dropped, counted and reported."""
        self.ask(ext, b, *args)

    def ask(self, ext: Any, b: Binding, *args: Any, depth_max: int = NESTED_MAX) -> tuple[bool, Any]:
        """``call``, keeping what the handler returned: (True, result), or
        (False, None) if it was not called or faulted (a Replug slot's
        function answers this way, kernel/sys/replug_ext.py)."""
        if not getattr(ext, "loaded", True):
            self.skipped += 1  # unloaded or evicted since it asked: nobody to tell
            return False, None
        depth = self.depth.get(id(ext), 0)
        if depth >= depth_max and ext.namespace.get(fuel.FUEL_NAME, fuel.EMPTY) is not fuel.EMPTY:
            self.skipped += 1
            self.nested += 1
            self.k.dispatcher.report(f"{ext.name}: handler on {b.event.name} not called: it asked again from "
                                     f"inside its own answer, {depth_max} deep")  # fmt: skip
            return False, None
        self.calls += 1
        self.k.sal.charge(costs.EXT_CALL)
        before = b.faulted
        self.depth[id(ext)] = depth + 1
        result: Any = None
        try:
            result = self.k.dispatcher.call_outside(b, *args)
        except Exception as e:  # noqa: BLE001 - the wrapper contains the handler; this is the last guard
            self.k.dispatcher.report(f"{ext.name}: handler on {b.event.name} raised {type(e).__name__}: {e}")
            b.faulted = f"raised {type(e).__name__}"
        finally:
            if depth:
                self.depth[id(ext)] = depth
            else:
                del self.depth[id(ext)]
        if b.faulted is not None and b.faulted is not before:
            self.faults += 1
            b.faulted = None  # the next call is a fresh one: the report line stays
            return False, None
        return True, result


def callbacks(k: Kernel) -> Callbacks:
    """The kernel's one Callbacks (made on first use)."""
    if k.completion_callbacks is None:
        k.completion_callbacks = Callbacks(k)
    return k.completion_callbacks


class ExtensionFiles:
    """Files as one extension sees it."""

    __name__ = "Files"

    def __init__(self, k: Kernel, fs: ExtentFS, ext: Any) -> None:
        self._k = k
        self._fs = fs
        self._ext = ext
        self._waiting = 0  # reads queued for the disk, not yet answered

    def _name(self, name: Any, what: str) -> str:
        if not isinstance(name, str):
            raise SpinError(f"{self._ext.name}: Files.{what}: the name must be a str, not {shown(name)}")
        return name

    def Size(self, name: Any) -> int:  # noqa: N802 - SPIN's names
        """The file's size in bytes, or -1 if there is no such file."""
        self._k.sal.charge(costs.FILES_OP)
        e = self._fs.lookup(self._name(name, "Size(name)"))
        return -1 if e is None else e.size

    def List(self) -> tuple[str, ...]:  # noqa: N802
        """The files' names, sorted (at most FILES_LIST_MAX)."""
        self._k.sal.charge(costs.FILES_OP)
        return tuple(sorted(self._fs.files)[:FILES_LIST_MAX])

    def Read(self, name: Any, offset: Any, n: Any, handler: Any) -> None:  # noqa: N802
        """Queue a read of ``n`` bytes at ``offset``; ``handler(name, offset,
        data)`` runs when the disk is done (at once for a missing file, an
        empty range or no memory)."""
        ext = self._ext
        what = "Read(name, offset, n, handler)"
        self._name(name, what)
        if type(offset) is not int or type(n) is not int or offset < 0 or n < 0:
            raise SpinError(f"{ext.name}: Files.{what}: offset and n are ints >= 0, not {shown(offset)} and "
                            f"{shown(n)}")  # fmt: skip
        if n > FILES_READ_MAX:
            raise SpinError(f"{ext.name}: Files.Read: {n} bytes is more than the {FILES_READ_MAX} one read may "
                            f"ask for (read in pieces)")  # fmt: skip
        if self._waiting >= FILES_READS_PER_EXTENSION:
            raise SpinError(f"{ext.name}: Files.Read: {FILES_READS_PER_EXTENSION} reads are already waiting for "
                            f"the disk; read more when one is answered")  # fmt: skip
        cb = callbacks(self._k)
        b = cb.prepare(ext, "FilesRead", handler, f"Files.{what}")
        self._k.sal.charge(costs.FILES_OP)
        e = self._fs.lookup(name)
        if e is None:
            cb.call(ext, b, name, offset, -ENOENT)
            return
        self._waiting += 1

        def done(data: bytes | int) -> None:
            self._waiting -= 1
            cb.call(ext, b, name, offset, data)

        self._fs.read_direct(e, offset, n, done)


def export(k: Kernel, fs: ExtentFS) -> None:
    """Offer Files to extensions (ExtentFS.mount calls this once the disk is read)."""
    k.system.public.exports["Files"] = lambda ext: ExtensionFiles(k, fs, ext)


class NoFiles:
    """Files on a host without a disk: nothing is there (Size -1, List empty),
    so an extension written for a disk links everywhere and looks elsewhere
    (the web server goes to NFS). Issue 20's web helper added it."""

    __name__ = "Files"

    def __init__(self, ext: Any) -> None:
        self._ext = ext

    def Size(self, name: Any) -> int:  # noqa: N802 - SPIN's names
        return -1

    def List(self) -> tuple[str, ...]:  # noqa: N802
        return ()

    def Read(self, name: Any, offset: Any, n: Any, handler: Any) -> None:  # noqa: N802
        raise SpinError(f"{self._ext.name}: Files.Read: this host has no disk")


def export_none(k: Kernel) -> None:
    """Offer the disk-less Files if no disk did (the network's bring-up calls it, kernel/net/tcp_ext.py)."""
    k.system.public.exports.setdefault("Files", NoFiles)
