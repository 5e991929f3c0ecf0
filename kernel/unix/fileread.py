"""The read path of an open file, and the guards that watch its invariants.

Every ``read`` of a regular file goes through here, so that Synthetix's
specialized read (seed 003 §3.1) has one place to be plugged in: the
personality calls ``read`` for the data and the ``opened``/``closed``/
``wrote``/``truncated``/``seeked`` guards at each place that can falsify a
quasi-invariant a specialization relies on (another opener, a writer, a
size change, a seek).

Today this is the generic read alone and the guards do nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel.core.physaddr import OutOfFrames
from kernel.core.sal import EIO, ENOMEM
from kernel.fs.extentfs import DiskIOError

if TYPE_CHECKING:
    from kernel.core.sched import Strand
    from kernel.unix.process import OpenFile, Process


class Reads:
    """The kernel's read of regular files, for one UNIX personality."""

    def __init__(self, unix: Any) -> None:
        self.unix = unix
        self.k = unix.k

    def read(self, p: Process, f: OpenFile, s: Strand, n: int) -> bytes | int | None:
        """Up to ``n`` bytes at ``f.offset``, advancing it: the data, -errno,
        or None when the strand was blocked for the disk (the call restarts)."""
        try:
            data = self.k.fs.read(f.entry, f.offset, n, s)
        except DiskIOError:
            return -EIO
        except OutOfFrames:
            return -ENOMEM  # no frame for the buffer cache, as filemap_read answers
        if data is None:
            return None
        f.offset += len(data)
        return data

    # --- the guards: each place that may falsify an invariant calls one -----------------

    def opened(self, p: Process, f: OpenFile) -> None:
        """A file was opened (another opener, or a writer)."""

    def closed(self, f: OpenFile) -> None:
        """An open file's last descriptor went away."""

    def wrote(self, entry: Any) -> None:
        """The file's bytes changed (write, pwrite, a shared mapping's write-back)."""

    def truncated(self, entry: Any) -> None:
        """The file's size changed by ftruncate or O_TRUNC."""

    def seeked(self, f: OpenFile) -> None:
        """``f.offset`` was moved by lseek."""
