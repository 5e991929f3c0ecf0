"""The kernel's extent file system: read-only, on the emulated disk.

The directory is read at mount with polled I/O (interrupts are not on yet).
File data comes through a buffer cache of 8 KiB chunks held in reclaimable
frames: a read that misses queues disk transfers, blocks the strand and
returns None; the disk's interrupt fills the chunk and wakes the strand,
whose system call then runs again and finds the data (kernel/core/trap.py,
RESTART). When memory runs short, PhysAddr may reclaim a cached chunk.

Kernel code that does its own caching (the web server's Files.Read,
SOSP'95 §5.4: "no double buffering") reads with ``read_direct`` instead: one
disk transfer for the blocks the range covers, into frames held only for the
transfer, and a callback from the disk's interrupt. Both kinds of transfer
share the disk's one queue, in arrival order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.core.physaddr import OutOfFrames
from kernel.core.sal import EIO, ENOMEM, PAGE_SHIFT, PAGE_SIZE
from kernel.fs.format import BLOCK, Entry, FsFormatError, entry_format, parse_directory, parse_super

if TYPE_CHECKING:
    from kernel.core.physaddr import Frame, PhysAddr
    from kernel.core.sched import Strand
    from kernel.fs.readahead import ReadAhead
    from kernel.kernel import Kernel

CHUNK = PAGE_SIZE  # a chunk fills one frame
BLOCKS_PER_CHUNK = CHUNK // BLOCK


class DiskIOError(Exception):
    """A transfer failed; the system call answers EIO."""


MAX_TRANSFER = 256  # blocks one disk command moves (machine/disk.py)


class _Direct:
    """A read_direct transfer: the frames it fills, where its bytes are in
    them, and whom to tell. ``runs`` are the physically contiguous pieces
    of the frames, one disk command each (the disk's DMA has no
    scatter-gather; the frames PhysAddr hands out in a row are usually
    contiguous, so a read is usually one command)."""

    __slots__ = ("entry", "frames", "skip", "n", "done", "runs", "failed")

    def __init__(self, entry: Entry, frames: list[Frame], skip: int, n: int, done: Callable[[bytes | int], None],
                 runs: list[tuple[int, int, int]]) -> None:  # fmt: skip
        self.entry, self.frames, self.skip, self.n, self.done = entry, frames, skip, n, done
        self.runs = runs  # (disk block, block count, physical address), still to start
        self.failed = False


class ExtentFS:
    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.files: dict[str, Entry] = {}
        self.cache: dict[tuple[str, int], Frame] = {}
        self.queue: deque[Any] = deque()  # transfers not yet started: (name, chunk, frame) or a _Direct
        self.busy: Any = None  # the transfer under way
        self.waiters: dict[tuple[str, int], list[Strand]] = {}
        self.failed: set[tuple[str, int]] = set()
        self.reads = self.hits = self.misses = self.errors = 0
        self.direct_reads = self.direct_bytes = self.direct_errors = 0
        # callbacks waiting for a cache chunk (kernel code with no strand to block: the NFS server)
        self.notify: dict[tuple[str, int], list[Callable[[], None]]] = {}
        self.readahead: ReadAhead | None = None  # off unless boot(readahead=...) turns it on

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
            block0 = sal.read_phys(pa, BLOCK)
            nfiles, dir_block, dir_blocks, total = parse_super(block0, sal.disk_blocks())
            entry = entry_format(block0)
            raw = bytearray()
            end = dir_block + min(dir_blocks, -(-nfiles * entry.size // BLOCK))  # only the blocks entries are in
            for b in range(dir_block, end, BLOCKS_PER_CHUNK):
                n = min(BLOCKS_PER_CHUNK, end - b)
                if sal.disk_read_polled(b, n, pa):
                    raise FsFormatError(f"cannot read directory block {b}")
                raw += sal.read_phys(pa, n * BLOCK)
            entries = parse_directory(bytes(raw), nfiles, total, entry)
        finally:
            phys.Deallocate(scratch)
        self.files = {e.name: e for e in entries}
        from kernel.fs.files_ext import export  # here, not at the top: files_ext builds on this module

        export(self.k, self)
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
        for c in missing:
            self._fetch(e, c)
        if self.readahead is not None:  # the window software feedback sets (kernel/fs/readahead.py)
            self.readahead.read(self, e, offset, n, missing, strand)
        if missing:
            self.misses += 1
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

    def when_cached(self, e: Entry, offset: int, n: int, fn: Callable[[], None]) -> None:
        """After a ``read(..., None)`` that answered None: call ``fn`` once the
        first missing chunk of the range is in (or failed), from the disk's
        interrupt -- the strandless caller's way of waiting (it reads again)."""
        n = max(0, min(n, e.size - offset))
        first, last = offset // CHUNK, (offset + max(n, 1) - 1) // CHUNK
        for c in range(first, last + 1):
            if (e.name, c) not in self.cache:
                if not self._pending(e.name, c):
                    self._fetch(e, c)
                self.notify.setdefault((e.name, c), []).append(fn)
                return
        fn()

    def read_direct(self, e: Entry, offset: int, n: int, done: Callable[[bytes | int], None]) -> None:
        """Read up to ``n`` bytes at ``offset`` straight from the disk, past the
        buffer cache: the blocks the range covers go by one disk transfer
        (one per physically contiguous run of the frames) into frames
        allocated for it and freed after; ``done(data)`` or ``done(-EIO)``
        runs from the disk's interrupt. A range past the end gives b"" and
        no frame to allocate gives -ENOMEM, both at once (before this
        returns). Callers bound ``n`` (Files.Read: FILES_READ_MAX)."""
        n = max(0, min(n, e.size - max(offset, 0)))
        if n == 0 or offset < 0:
            done(b"")
            return
        first = offset // BLOCK
        nblocks = (offset + n + BLOCK - 1) // BLOCK - first
        frames: list[Frame] = []
        try:
            for i in range(-(-nblocks * BLOCK // CHUNK)):
                frames.append(self.phys.Allocate(f"direct {e.name}#{i}"))
        except OutOfFrames:
            for f in frames:
                self.phys.Deallocate(f)
            done(-ENOMEM)
            return
        runs: list[tuple[int, int, int]] = []
        left, block, i = nblocks, e.block + first, 0
        while left > 0:
            j = i + 1  # frames i..j-1 are contiguous
            while j < len(frames) and frames[j].pfn == frames[j - 1].pfn + 1:
                j += 1
            cnt = min(left, (j - i) * BLOCKS_PER_CHUNK, MAX_TRANSFER)
            runs.append((block, cnt, frames[i].pfn << PAGE_SHIFT))
            block += cnt
            left -= cnt
            i += -(-cnt // BLOCKS_PER_CHUNK)
        self.direct_reads += 1
        self.queue.append(_Direct(e, frames, offset - first * BLOCK, n, done, runs))
        self._start()

    def _finish_direct(self, t: _Direct) -> None:
        """The last of a direct read's transfers is in: gather, free, tell."""
        data: bytes | int
        if t.failed:
            self.direct_errors += 1
            data = -EIO
        else:
            out = bytearray()
            need, skip = t.n, t.skip
            for f in t.frames:  # frames in order hold the blocks in order, run by run
                if need <= 0:
                    break
                piece = min(CHUNK - skip, need)
                if piece > 0:
                    out += self.k.sal.read_phys((f.pfn << PAGE_SHIFT) + skip, piece)
                    need -= piece
                skip = max(0, skip - CHUNK)
            data = bytes(out)
            self.direct_bytes += len(data)
        for f in t.frames:
            self.phys.Deallocate(f)
        t.done(data)

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

    def _pending(self, name: str, c: int) -> bool:
        """A transfer of this chunk is queued or under way."""
        b = self.busy
        if type(b) is tuple and b[:2] == (name, c):
            return True
        return any(type(q) is tuple and q[0] == name and q[1] == c for q in self.queue)

    def _fetch(self, e: Entry, c: int) -> None:
        if self._pending(e.name, c):
            return
        self.queue.append((e.name, c, self._frame(e, c)))
        self._start()

    def _start(self) -> None:
        if self.busy is not None or not self.queue:
            return
        if type(self.queue[0]) is _Direct:
            t = self.busy = self.queue[0]
            block, cnt, pa = t.runs.pop(0)
            if not t.runs:
                self.queue.popleft()
            self.k.sal.disk_start(block, cnt, pa)
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
        if type(self.busy) is _Direct:
            t, self.busy = self.busy, None
            if err:
                self.errors += 1
                t.failed = True
            if not t.runs:
                self._finish_direct(t)
            elif t.failed:  # the rest of the read would be thrown away
                self.queue.remove(t)
                self._finish_direct(t)
            self._start()
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
        for fn in self.notify.pop((name, c), []):
            fn()
        return True
