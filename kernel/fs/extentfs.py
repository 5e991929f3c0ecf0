"""The kernel's extent file system: read-only, on the emulated disk.

The directory is read at mount with polled I/O (interrupts are not on yet).
File data comes through a buffer cache of 8 KiB chunks held in reclaimable
frames: a read that misses queues disk transfers, blocks the strand and
returns None; the disk's interrupt fills the chunk and wakes the strand,
whose system call then runs again and finds the data (kernel/core/trap.py,
RESTART). When memory runs short, PhysAddr may reclaim a cached chunk.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from kernel.core.sal import PAGE_SHIFT, PAGE_SIZE
from kernel.fs.format import BLOCK, ENTRY, Entry, FsFormatError, parse_directory, parse_super

if TYPE_CHECKING:
    from kernel.core.physaddr import Frame, PhysAddr
    from kernel.core.sched import Strand
    from kernel.kernel import Kernel

CHUNK = PAGE_SIZE  # a chunk fills one frame
BLOCKS_PER_CHUNK = CHUNK // BLOCK


class DiskIOError(Exception):
    """A transfer failed; the system call answers EIO."""


class ExtentFS:
    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.files: dict[str, Entry] = {}
        self.cache: dict[tuple[str, int], Frame] = {}
        self.queue: deque[tuple[str, int, Frame]] = deque()  # transfers not yet started
        self.busy: tuple[str, int, Frame] | None = None
        self.waiters: dict[tuple[str, int], list[Strand]] = {}
        self.failed: set[tuple[str, int]] = set()
        self.reads = self.hits = self.misses = self.errors = 0

    @property
    def phys(self) -> PhysAddr:
        """The kernel's frames: boot attaches a file system only once PhysAddr exists."""
        phys = self.k.phys
        assert phys is not None, "the file system is attached after PhysAddr"
        return phys

    def mount(self) -> str:
        """Read the superblock and directory (polled); one line for the boot log."""
        sal, phys = self.k.sal, self.phys
        if sal.disk_blocks() == 0:
            return "no disk"
        scratch = phys.Allocate("mount", ("pinned",))
        try:
            pa = scratch.pfn << PAGE_SHIFT
            if sal.disk_read_polled(0, 1, pa):
                raise FsFormatError("cannot read the superblock")
            nfiles, dir_block, dir_blocks, total = parse_super(sal.read_phys(pa, BLOCK), sal.disk_blocks())
            raw = bytearray()
            end = dir_block + min(dir_blocks, -(-nfiles * ENTRY.size // BLOCK))  # only the blocks entries are in
            for b in range(dir_block, end, BLOCKS_PER_CHUNK):
                n = min(BLOCKS_PER_CHUNK, end - b)
                if sal.disk_read_polled(b, n, pa):
                    raise FsFormatError(f"cannot read directory block {b}")
                raw += sal.read_phys(pa, n * BLOCK)
            entries = parse_directory(bytes(raw), nfiles, total)
        finally:
            phys.Deallocate(scratch)
        self.files = {e.name: e for e in entries}
        return f"extent file system: {len(entries)} files, {sum(e.size for e in entries)} bytes"

    def lookup(self, path: str) -> Entry | None:
        name = path[1:] if path.startswith("/") else path
        return self.files.get(name)

    # --- reading ---------------------------------------------------------------------

    def read(self, e: Entry, offset: int, n: int, strand: Strand | None) -> bytes | None:
        """Up to n bytes at offset; None if the strand was blocked for I/O."""
        self.reads += 1
        n = max(0, min(n, e.size - offset))
        if n == 0:
            return b""
        first, last = offset // CHUNK, (offset + n - 1) // CHUNK
        bad = [c for c in range(first, last + 1) if (e.name, c) in self.failed]
        if bad:
            self.failed.discard((e.name, bad[0]))  # report it once; the next read tries the disk again
            raise DiskIOError(f"{e.name}: disk error in chunk {bad[0]}")
        missing = [c for c in range(first, last + 1) if (e.name, c) not in self.cache]
        if missing:
            self.misses += 1
            for c in missing:
                self._fetch(e, c)
            if strand is not None:
                key = (e.name, missing[0])
                self.waiters.setdefault(key, []).append(strand)
                self.k.sched.block_strand(strand, f"disk: {e.name}")
            return None
        self.hits += 1
        out = bytearray()
        for c in range(first, last + 1):
            f = self.cache[(e.name, c)]
            lo = max(offset, c * CHUNK) - c * CHUNK
            hi = min(offset + n, (c + 1) * CHUNK) - c * CHUNK
            out += self.k.sal.read_phys((f.pfn << PAGE_SHIFT) + lo, hi - lo)
        return bytes(out)

    def read_all_polled(self, e: Entry) -> bytes:
        """A whole file with polled I/O (boot loads init this way)."""
        for c in range((e.size + CHUNK - 1) // CHUNK):
            if (e.name, c) not in self.cache:
                f = self._frame(e, c)
                nb = min(BLOCKS_PER_CHUNK, e.nblocks - c * BLOCKS_PER_CHUNK)
                if self.k.sal.disk_read_polled(e.block + c * BLOCKS_PER_CHUNK, nb, f.pfn << PAGE_SHIFT):
                    self.phys.Deallocate(f)
                    raise FsFormatError(f"{e.name}: disk error reading chunk {c}")
                self.cache[(e.name, c)] = f
                self.phys.make_reclaimable(f)
        data = self.read(e, 0, e.size, None)
        assert data is not None
        return data

    def _frame(self, e: Entry, c: int) -> Frame:
        f = self.phys.Allocate(f"cache {e.name}#{c}")  # not reclaimable while the disk is filling it
        f.on_reclaim = lambda fr, key=(e.name, c): self.cache.pop(key, None)
        return f

    def _fetch(self, e: Entry, c: int) -> None:
        if any(q[0] == e.name and q[1] == c for q in self.queue) or (self.busy and self.busy[:2] == (e.name, c)):
            return
        self.queue.append((e.name, c, self._frame(e, c)))
        self._start()

    def _start(self) -> None:
        if self.busy is not None or not self.queue:
            return
        name, c, f = self.busy = self.queue.popleft()
        e = self.files[name]
        nb = min(BLOCKS_PER_CHUNK, e.nblocks - c * BLOCKS_PER_CHUNK)
        self.k.sal.disk_start(e.block + c * BLOCKS_PER_CHUNK, nb, f.pfn << PAGE_SHIFT)

    def interrupt(self, vector: int) -> bool:
        """The disk finished a transfer; False if the interrupt was not the disk's."""
        if not self.k.sal.is_disk(vector):
            return False
        if self.busy is None:
            return True
        done, err = self.k.sal.disk_done()
        if not done:
            return True
        name, c, f = self.busy
        self.busy = None
        if err:
            self.errors += 1
            self.failed.add((name, c))
            self.phys.Deallocate(f)
        else:
            self.cache[(name, c)] = f
            self.phys.make_reclaimable(f)  # filled: now it may be given up
        for s in self.waiters.pop((name, c), []):
            self.k.sched.wake(s)  # a failed read is tried again (and fails again, with EIO, if it must)
        self._start()
        return True
