"""The kernel's extent file system, on the emulated disk: readable and writable.

The directory is read at mount with polled I/O (interrupts are not on yet).
File data comes through a buffer cache of 8 KiB chunks held in frames: a
read that misses queues disk transfers, blocks the strand and returns None;
the disk's interrupt fills the chunk and wakes the strand, whose system call
then runs again and finds the data (kernel/core/trap.py, RESTART). A clean
chunk is reclaimable: when memory runs short, PhysAddr may take it back.

Writes go to the cache (write-back): a written chunk is *dirty*, kept off
the reclaim list until its transfer to the disk finishes. Dirty chunks go to
the disk on fsync, when too many pile up (DIRTY_HIGH, as bdflush did), and
all of them with the directory when the run ends (``flush_polled``). Each
file is one extent, as the SPIN web server laid files out for sequential
reads: a file that outgrows its extent moves to a free one twice as large
(its chunks all rewritten there), and truncating gives the tail back -- the
block bookkeeping Poking Holes (seed 004, Table 1) found hidden in O_TRUNC.
The free map is built at mount from what the directory does not use.

Directories are entries with S_IFDIR in their mode, or implied by names
holding '/' (images made before directory entries existed): the tree is
the names' components, one flat directory on the disk.

Kernel code that does its own caching (the web server's Files.Read,
SOSP'95 §5.4: "no double buffering") reads with ``read_direct`` instead: one
disk transfer for the blocks the range covers, into frames held only for the
transfer, and a callback from the disk's interrupt. All transfers share the
disk's one queue, in arrival order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.core.physaddr import OutOfFrames
from kernel.core.sal import EIO, ENOMEM, PAGE_SHIFT, PAGE_SIZE
from kernel.fs.format import (
    BLOCK,
    ENTRY,
    ENTRY2,
    MAX_FILES,
    S_IFDIR,
    Entry,
    FsFormatError,
    directory_blocks,
    entry_format,
    fits_v1,
    name_problem,
    pack_directory,
    parse_directory,
    parse_super,
)

if TYPE_CHECKING:
    from kernel.core.physaddr import Frame, PhysAddr
    from kernel.core.sched import Strand
    from kernel.fs.readahead import ReadAhead
    from kernel.kernel import Kernel

CHUNK = PAGE_SIZE  # a chunk fills one frame
BLOCKS_PER_CHUNK = CHUNK // BLOCK
DIRTY_HIGH = 64  # dirty chunks (512 KiB) past which write-back starts without waiting for fsync
Key = tuple[int, int]  # (inode number, chunk)


class DiskIOError(Exception):
    """A transfer failed; the system call answers EIO."""


class NoSpace(Exception):
    """No free extent is large enough; the system call answers ENOSPC."""


class FsError(Exception):
    """A name operation the tree refuses; ``errno`` says which (ENOENT, EEXIST, ...)."""

    def __init__(self, errno: int, why: str) -> None:
        super().__init__(why)
        self.errno = errno


MAX_TRANSFER = 256  # blocks one disk command moves (machine/disk.py)


class _Fill:
    """A chunk being read from the disk into the cache."""

    __slots__ = ("key", "frame", "block", "count", "dead")

    def __init__(self, key: Key, frame: Frame, block: int, count: int) -> None:
        self.key, self.frame, self.block, self.count = key, frame, block, count
        self.dead = False  # truncated or unlinked meanwhile: its data goes nowhere


class _Flush:
    """A write to the disk: a dirty chunk (``key``, its generation when
    queued) or the file system's own metadata (``key`` None, frames its own)."""

    __slots__ = ("key", "gen", "frame", "block", "count", "own", "retire")

    def __init__(self, key: Key | None, gen: int, frame: Frame, block: int, count: int, own: bool) -> None:
        self.key, self.gen, self.frame, self.block, self.count, self.own = key, gen, frame, block, count, own
        self.retire: list[tuple[int, int]] = []  # the superblock's: old directory extents it frees once written


class _Direct:
    """A read_direct transfer: the frames it fills, where its bytes are in
    them, and whom to tell. ``runs`` are the physically contiguous pieces
    of the frames, one disk command each (the disk's DMA has no
    scatter-gather; the frames PhysAddr hands out in a row are usually
    contiguous, so a read is usually one command)."""

    __slots__ = ("entry", "frames", "skip", "n", "done", "runs", "failed", "offset", "block")

    def __init__(self, entry: Entry, frames: list[Frame], skip: int, n: int, done: Callable[[bytes | int], None],
                 runs: list[tuple[int, int, int]]) -> None:  # fmt: skip
        self.entry, self.frames, self.skip, self.n, self.done = entry, frames, skip, n, done
        self.runs = runs  # (disk block, block count, physical address), still to start
        self.failed = False
        self.offset = 0  # the file's byte the read starts at
        self.block = entry.block  # where the file's extent was when the read was queued


class ExtentFS:
    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.files: dict[str, Entry] = {}  # regular files, by path without the leading '/'
        self.dirs: dict[str, Entry] = {}  # directories with an entry of their own
        self.inodes: dict[int, Entry] = {}  # every live file, unlinked-but-open ones too
        self.next_ino = 1
        self.cache: dict[Key, Frame] = {}
        self.dirty: dict[Key, int] = {}  # dirty chunk -> generation (bumped at each write)
        self.gen = 0
        self.queue: deque[Any] = deque()  # transfers not yet started: _Fill, _Flush, _Direct
        self.busy: Any = None  # the transfer under way
        self.filling: dict[Key, _Fill] = {}
        self.flushing: dict[Key, int] = {}  # chunk -> its write transfers queued or under way
        self.waiters: dict[Key, list[Strand]] = {}
        self.sync_waiters: list[Strand] = []  # fsync callers: woken at each finished write, they look again
        self.failed: set[Key] = set()
        self.free: list[list[int]] = []  # free extents [first block, count], sorted, coalesced
        self.total = self.dir_block = self.dir_blocks = 0
        self.meta_dirty = False  # the directory or the superblock differs from the disk's
        self._implied: set[str] | None = None  # the directories names imply (is_dir), None until asked
        self.meta_pending = 0  # metadata writes queued or under way
        self.all_v1: bool | None = None  # every name fits the small entry format (None: not looked at yet)
        self.retired: list[tuple[int, int]] = []  # old directory extents, free once the new superblock is written
        self.reads = self.hits = self.misses = self.errors = 0
        self.writes = self.writebacks = self.moves = self.allocs = self.frees = 0
        self.direct_reads = self.direct_bytes = self.direct_errors = 0
        # callbacks waiting for a cache chunk (kernel code with no strand to block: the NFS server)
        self.notify: dict[Key, list[Callable[[], None]]] = {}
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
        self.total, self.dir_block, self.dir_blocks = total, dir_block, dir_blocks
        used = sorted([(0, 1), (dir_block, dir_blocks)] + [(e.block, e.nblocks) for e in entries if e.nblocks])
        nxt = 0
        for b, n in used:
            if b < nxt:
                raise FsFormatError(f"the extent at block {b} overlaps another (a corrupt directory)")
            if b > nxt:
                self.free.append([nxt, b - nxt])
            nxt = b + n
        if nxt < total:
            self.free.append([nxt, total - nxt])
        for e in entries:
            e.ondisk = e.size
            (self.dirs if e.is_dir else self.files)[e.name] = e
            self.inodes[e.ino] = e
        self.next_ino = len(entries) + 1
        from kernel.fs.files_ext import export  # here, not at the top: files_ext builds on this module

        export(self.k, self)
        nf = len(self.files)
        return f"extent file system: {nf} files, {sum(e.size for e in self.files.values())} bytes"

    # --- names -----------------------------------------------------------------------

    @staticmethod
    def _name(path: str) -> str:
        """A path as the directory names it: no leading, trailing or doubled '/', no '.'."""
        return "/".join(p for p in path.split("/") if p not in ("", "."))

    def lookup(self, path: str) -> Entry | None:
        """The regular file at ``path``, or None."""
        return self.files.get(self._name(path))

    def is_dir(self, name: str) -> bool:
        """A directory: the root, an entry of its own, or implied by a name under it."""
        if name == "" or name in self.dirs:
            return True
        if self._implied is None:  # every directory a name is under: made again after a name changes
            self._implied = {n[:i] for table in (self.files, self.dirs) for n in table
                             for i in range(len(n)) if n[i] == "/"}  # fmt: skip
        return name in self._implied

    def resolve(self, path: str) -> tuple[str, Entry | None]:
        """(name, the file or directory entry there or None); FsError if a
        component on the way is a file (ENOTDIR) or a name is too long."""
        name = self._name(path)
        if ".." in name.split("/"):
            raise FsError(22, f"{path}: '..' is not supported in a path here")  # EINVAL
        for part in name.split("/"):
            if len(part.encode("utf-8", "surrogateescape")) > 255:
                raise FsError(63, f"{path}: a component is longer than 255 bytes")  # ENAMETOOLONG
        if len(name.encode("utf-8", "surrogateescape")) > 255:
            raise FsError(63, f"{path}: longer than the 255 bytes a name on this disk may be")
        parts = name.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in self.files:
                raise FsError(20, f"{path}: {'/'.join(parts[:i])} is a file")  # ENOTDIR
        return name, self.files.get(name) or self.dirs.get(name)

    def _parent_ok(self, name: str) -> None:
        parent = name.rpartition("/")[0]
        if not self.is_dir(parent):
            raise FsError(2, f"/{parent}: no such directory")  # ENOENT

    def _new_ino(self, e: Entry) -> Entry:
        e.ino, self.next_ino = self.next_ino, self.next_ino + 1
        self.inodes[e.ino] = e
        return e

    def _room_for_entry(self, path: str, new: bool = True) -> None:
        """Before a directory entry is added (``new``) or renamed to ``path``:
        the directory has room for it on the disk now, or the call fails
        with ENOSPC -- not the end-of-run flush, which has nobody to tell (a
        hostile program filled the disk, or the directory past MAX_FILES,
        which no mount would read back). A directory that must grow moves
        to an extent twice as large; the old one stays taken until the
        superblock naming the new one is on the disk (_flushed)."""
        if new and len(self.files) + len(self.dirs) >= MAX_FILES:
            raise FsError(28, f"{path}: the directory holds {MAX_FILES} entries at most")  # ENOSPC
        if self.all_v1 is None:
            self.all_v1 = all(fits_v1(e.name) for e in (*self.files.values(), *self.dirs.values()))
        self.all_v1 = self.all_v1 and fits_v1(path)  # (never True again: it only over-reserves)
        n = len(self.files) + len(self.dirs) + 1
        need = max(1, -(-n * (ENTRY if self.all_v1 else ENTRY2).size // BLOCK))  # directory_blocks, in O(1)
        if need <= self.dir_blocks:
            return
        want = max(need, min(2 * self.dir_blocks, directory_blocks([Entry("/", 0, 0, 0, 0)] * MAX_FILES)))
        try:
            nb = self._allocate(want)
        except NoSpace:
            try:
                want, nb = need, self._allocate(need)
            except NoSpace:
                raise FsError(28, f"{path}: no free blocks for the directory to grow into") from None
        self.retired.append((self.dir_block, self.dir_blocks))
        self.dir_block, self.dir_blocks = nb, want
        self.meta_dirty = True

    def create(self, path: str, mode: int) -> Entry:
        """A new empty regular file; EEXIST if the name is taken."""
        name, old = self.resolve(path)
        if old is not None:  # (an implied directory: open_file looked already; is_dir is a scan)
            raise FsError(17, f"{path}: exists")  # EEXIST
        self._parent_ok(name)
        why = name_problem(name)
        if why:
            raise FsError(22, f"{path}: {why}")
        self._room_for_entry(name)
        e = self._new_ino(Entry(name, 0, 0, 0, mode & 0o7777))
        e.ondisk = 0
        self.files[name] = e
        self._meta(costs.FS_DIR_UPDATE)
        return e

    def mkdir(self, path: str, mode: int) -> Entry:
        name, e = self.resolve(path)
        if e is not None or self.is_dir(name):
            raise FsError(17, f"{path}: exists")  # EEXIST
        self._parent_ok(name)
        why = name_problem(name)
        if why:
            raise FsError(22, f"{path}: {why}")
        self._room_for_entry(name)
        d = self._new_ino(Entry(name, 0, 0, 0, S_IFDIR | mode & 0o7777))
        self.dirs[name] = d
        self._meta(costs.FS_DIR_UPDATE)
        return d

    def children(self, name: str) -> list[tuple[str, Entry | None]]:
        """What a directory holds, sorted by name: (component, its entry or
        None for an implied directory)."""
        pre = name + "/" if name else ""
        out: dict[str, Entry | None] = {}
        for table in (self.files, self.dirs):
            for n, e in table.items():
                if n.startswith(pre) and n != name:
                    rest = n[len(pre) :]
                    head, sep, _ = rest.partition("/")
                    if sep:
                        out.setdefault(head, self.dirs.get(pre + head))
                    else:
                        out[head] = e
        return sorted(out.items())

    def rmdir(self, path: str) -> None:
        name, e = self.resolve(path)
        if name == "":
            raise FsError(16, "/: the root cannot be removed")  # EBUSY
        if e is not None and not e.is_dir:
            raise FsError(20, f"{path}: not a directory")
        if not self.is_dir(name):
            raise FsError(2, f"{path}: no such directory")
        if self.children(name):
            raise FsError(66, f"{path}: not empty")  # ENOTEMPTY
        d = self.dirs.pop(name, None)
        if d is not None:
            self.inodes.pop(d.ino, None)
        self._meta(costs.FS_DIR_UPDATE)

    def unlink(self, path: str) -> None:
        name, e = self.resolve(path)
        if e is None:
            raise FsError(
                21 if self.is_dir(name) else 2, f"{path}: {'a directory' if self.is_dir(name) else 'no such file'}"
            )
        if e.is_dir:
            raise FsError(21, f"{path}: a directory")  # EISDIR, as Linux answers
        del self.files[name]
        e.unlinked = True
        self._meta(costs.FS_DIR_UPDATE)
        if e.opens == 0:
            self._destroy(e)

    def rename(self, old: str, new: str) -> None:
        """rename(2): the target, if there, is replaced (a file by a file, an
        empty directory by a directory); a directory moves with what it holds."""
        oname, oe = self.resolve(old)
        nname, ne = self.resolve(new)
        odir = self.is_dir(oname) and (oe is None or oe.is_dir)
        if oe is None and not odir:
            raise FsError(2, f"{old}: no such file or directory")
        if oname == "" or nname == "":
            raise FsError(16, "the root cannot be renamed")
        self._parent_ok(nname)
        if oname == nname:
            return
        self._room_for_entry(nname, new=False)  # a longer name may need the larger entry format
        if odir and (nname + "/").startswith(oname + "/"):
            raise FsError(22, f"{new}: inside {old}, which it would move")  # EINVAL
        ndir = self.is_dir(nname) and (ne is None or ne.is_dir)
        if odir:
            if ne is not None and not ne.is_dir:
                raise FsError(20, f"{new}: not a directory")
            if ndir and self.children(nname):
                raise FsError(66, f"{new}: not empty")
            self.dirs.pop(nname, None)
            pre = oname + "/"
            for table in (self.files, self.dirs):
                for n in [n for n in table if n == oname or n.startswith(pre)]:
                    e = table.pop(n)
                    e.name = nname + n[len(oname) :]
                    table[e.name] = e
        else:
            assert oe is not None
            if ndir:
                raise FsError(21, f"{new}: a directory")
            if ne is not None:
                self.unlink(nname)
            del self.files[oname]
            oe.name = nname
            self.files[nname] = oe
        self._meta(costs.FS_DIR_UPDATE)

    def _meta(self, cost: int) -> None:
        self._implied = None  # a name came, went or moved
        self.meta_dirty = True
        self.k.sal.charge(cost)

    # --- open files ------------------------------------------------------------------

    def opened(self, e: Entry) -> None:
        e.opens += 1

    def closed(self, e: Entry) -> None:
        """One opener (or mapping) less; an unlinked file goes with the last."""
        e.opens -= 1
        if e.opens <= 0 and e.unlinked:
            self._destroy(e)

    def _destroy(self, e: Entry) -> None:
        """An unlinked file nobody holds: its chunks and blocks go back."""
        self._drop_chunks(e, 0)
        self._give_back(e.block, e.nblocks)
        e.block = e.nblocks = e.size = 0
        self.inodes.pop(e.ino, None)

    # --- the free map ----------------------------------------------------------------

    def free_blocks(self) -> int:
        return sum(n for _, n in self.free)

    def _allocate(self, n: int) -> int:
        """First fit: the first block of ``n`` free ones in a row; NoSpace."""
        self.k.sal.charge(costs.FS_BLOCK_ALLOC + costs.FS_PER_BLOCK * n)
        for ext in self.free:
            if ext[1] >= n:
                b = ext[0]
                ext[0] += n
                ext[1] -= n
                if ext[1] == 0:
                    self.free.remove(ext)
                self.allocs += 1
                return b
        raise NoSpace(f"no run of {n} free blocks (the largest is {max((x[1] for x in self.free), default=0)})")

    def _give_back(self, b: int, n: int) -> None:
        if n <= 0:
            return
        self.k.sal.charge(costs.FS_BLOCK_FREE + costs.FS_PER_BLOCK * n)
        self.frees += 1
        free = self.free
        i = 0
        while i < len(free) and free[i][0] < b:
            i += 1
        free.insert(i, [b, n])
        if i + 1 < len(free) and free[i][0] + free[i][1] == free[i + 1][0]:
            free[i][1] += free.pop(i + 1)[1]
        if i > 0 and free[i - 1][0] + free[i - 1][1] == free[i][0]:
            free[i - 1][1] += free.pop(i)[1]

    # --- reading ---------------------------------------------------------------------

    def read(self, e: Entry, offset: int, n: int, strand: Strand | None) -> bytes | None:
        """Up to n bytes at offset; None if the strand was blocked for I/O."""
        self.reads += 1
        n = max(0, min(n, e.size - offset))
        if n == 0:
            return b""
        first, last = offset // CHUNK, (offset + n - 1) // CHUNK
        ino = e.ino
        bad = [c for c in range(first, last + 1) if (ino, c) in self.failed]
        if bad:
            self.failed.discard((ino, bad[0]))  # report it once; the next read tries the disk again
            raise DiskIOError(f"{e.name}: disk error in chunk {bad[0]}")
        missing = self._wait_for(e, range(first, last + 1), strand, zero_fill=True)
        if self.readahead is not None:  # the window software feedback sets (kernel/fs/readahead.py)
            self.readahead.read(self, e, offset, n, missing, strand)
        if missing:
            self.misses += 1
            return None
        self.hits += 1
        out = bytearray()
        for c in range(first, last + 1):
            f = self.cache[(ino, c)]
            lo = max(offset, c * CHUNK) - c * CHUNK
            hi = min(offset + n, (c + 1) * CHUNK) - c * CHUNK
            out += self.k.sal.read_phys((f.pfn << PAGE_SHIFT) + lo, hi - lo)
        return bytes(out)

    def _wait_for(self, e: Entry, chunks: range, strand: Strand | None, zero_fill: bool) -> list[int]:
        """Bring ``chunks`` into the cache: the ones that must come from the
        disk (fetches queued, the strand blocked on the first), empty if
        none must; chunks past what the disk holds of the file become zeroed
        frames at once (with ``zero_fill``)."""
        missing = []
        for c in chunks:
            key = (e.ino, c)
            if key in self.cache:
                continue
            if key not in self.filling and c * CHUNK >= e.valid():
                if zero_fill:
                    self._zero_chunk(e, c)
                continue
            missing.append(c)
        if missing:
            self._await(e, missing, strand)
        return missing

    def _await(self, e: Entry, chunks: list[int], strand: Strand | None) -> None:
        """Fetch ``chunks`` and block ``strand`` (if any) until the first is in:
        its system call runs again then and finds what it waited for."""
        for c in chunks:
            self._fetch(e, c)
        if strand is not None:
            self.waiters.setdefault((e.ino, chunks[0]), []).append(strand)
            self.k.sched.block_strand(strand, f"disk: {e.name}")

    def _zero_chunk(self, e: Entry, c: int) -> Frame:
        """A chunk the disk holds nothing of (past the file's valid bytes): zeros."""
        f = self.phys.Allocate(f"cache {e.name}#{c}", ("zeroed",))
        f.on_reclaim = lambda fr, key=(e.ino, c): self.cache.pop(key, None)
        self.cache[(e.ino, c)] = f
        self.phys.make_reclaimable(f)
        return f

    def when_cached(self, e: Entry, offset: int, n: int, fn: Callable[[], None]) -> None:
        """After a ``read(..., None)`` that answered None: call ``fn`` once the
        first missing chunk of the range is in (or failed), from the disk's
        interrupt -- the strandless caller's way of waiting (it reads again)."""
        n = max(0, min(n, e.size - offset))
        first, last = offset // CHUNK, (offset + max(n, 1) - 1) // CHUNK
        for c in range(first, last + 1):
            if (e.ino, c) not in self.cache:
                if (e.ino, c) not in self.filling:
                    self._fetch(e, c)
                self.notify.setdefault((e.ino, c), []).append(fn)
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
        t = _Direct(e, frames, offset - first * BLOCK, n, done, runs)
        t.offset = offset
        self.queue.append(t)
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
            data = self._as_the_file_is(t, out)
            if isinstance(data, int):
                self.direct_errors += 1
            else:
                self.direct_bytes += len(data)
        for f in t.frames:
            self.phys.Deallocate(f)
        t.done(data)

    def _as_the_file_is(self, t: _Direct, out: bytearray) -> bytes | int:
        """What the disk gave a direct read, made what the file holds now: the
        disk lags the write-back cache, so a chunk in the cache (dirty, or
        being written) is read from there; past the disk's copy of the file
        (Entry.ondisk: a file truncated and grown again, one never yet
        written back) its blocks hold old bytes, which read as zeros; and
        the file may have shrunk meanwhile, or moved (then a chunk no longer
        cached is -EIO: its old blocks may be another file's now). No double
        buffering (SOSP'95 §5.4) must not mean stale bytes."""
        e = t.entry
        end = min(t.offset + len(out), e.size)
        if end <= t.offset:
            return b""
        out = out[: end - t.offset]
        moved, valid = e.block != t.block, e.valid()
        for c in range(t.offset // CHUNK, (end - 1) // CHUNK + 1):
            lo, hi = max(t.offset, c * CHUNK), min(end, (c + 1) * CHUNK)
            f = self.cache.get((e.ino, c))
            if f is not None:
                out[lo - t.offset : hi - t.offset] = self.k.sal.read_phys(
                    (f.pfn << PAGE_SHIFT) + lo - c * CHUNK, hi - lo
                )
            elif moved:
                return -EIO
            elif hi > valid:
                z = max(lo, valid)
                out[z - t.offset : hi - t.offset] = bytes(hi - z)
        return bytes(out)

    def read_all_polled(self, e: Entry) -> bytes:
        """A whole file with polled I/O (boot loads init this way)."""
        for c in range((e.size + CHUNK - 1) // CHUNK):
            if (e.ino, c) not in self.cache:
                f = self._frame(e, c)
                nb = min(BLOCKS_PER_CHUNK, e.nblocks - c * BLOCKS_PER_CHUNK)
                if self.k.sal.disk_read_polled(e.block + c * BLOCKS_PER_CHUNK, nb, f.pfn << PAGE_SHIFT):
                    self.phys.Deallocate(f)
                    raise FsFormatError(f"{e.name}: disk error reading chunk {c}")
                self.cache[(e.ino, c)] = f
                self.phys.make_reclaimable(f)
        data = self.read(e, 0, e.size, None)
        assert data is not None
        return data

    # --- writing ---------------------------------------------------------------------

    def write(self, e: Entry, offset: int, data: bytes, strand: Strand | None) -> int | None:
        """Write ``data`` at ``offset`` into the cache (write-back); the bytes
        written, or None if the strand was blocked for the disk (a chunk only
        partly overwritten is read first; a file that outgrows its extent
        has all its chunks read before it moves). NoSpace, OutOfFrames."""
        n = len(data)
        if n == 0:
            return 0
        end = offset + n
        if end > e.nblocks * BLOCK and self._grow(e, end, strand) is None:
            return None
        first, last = offset // CHUNK, (end - 1) // CHUNK
        ino, valid = e.ino, e.valid()
        if self._hold_edge(e, end, strand):
            return None
        wait = [c for c in range(first, last + 1) if (ino, c) in self.filling or (
                (ino, c) not in self.cache and c * CHUNK < valid         # the disk holds some of it, and
                and not (offset <= c * CHUNK and (c + 1) * CHUNK <= end))]  # it is only partly overwritten  # fmt: skip
        if wait:
            self._await(e, wait, strand)
            return None
        sal = self.k.sal
        for c in range(first, last + 1):  # dirty (so kept) before a frame is taken for the next
            if (ino, c) not in self.cache:
                self._zero_chunk(e, c)
            self._dirty((ino, c))
        for c in range(first, last + 1):
            f = self.cache[(e.ino, c)]
            lo, hi = max(offset, c * CHUNK), min(end, (c + 1) * CHUNK)
            sal.write_phys((f.pfn << PAGE_SHIFT) + lo - c * CHUNK, data[lo - offset : hi - offset])
        sal.charge(costs.FS_WRITE_CHUNK * (last - first + 1) + costs.BYTE_COPY_PER_8 * ((n + 7) // 8))
        if end > e.size:
            e.size = end
            self.meta_dirty = True
        self.writes += 1
        if len(self.dirty) > DIRTY_HIGH:
            self.flush_all()
        return n

    def _offer(self, key: Key, f: Frame) -> None:
        """A chunk the disk holds as the cache does, and no process maps: reclaimable."""
        if f.refs == 0 and key not in self.dirty and self.cache.get(key) is f:
            self.phys.make_reclaimable(f)

    # --- mappings (mmap of a file: kernel/unix/addrspace.py's Pager) -------------------

    def page(self, e: Entry, index: int, strand: Strand | None) -> Frame | None | bool:
        """The cache frame of the file's page ``index``, kept (a process maps
        it); None if the strand was blocked for the disk, False past the end
        (or with no strand to block)."""
        if index * CHUNK >= e.size:
            return False
        key = (e.ino, index)
        if key not in self.cache:
            if key not in self.filling and index * CHUNK >= e.valid():
                self._zero_chunk(e, index)
            else:
                self._await(e, [index], strand)
                return None if strand is not None else False
        f = self.cache[key]
        self.phys.keep(f)
        return f

    def unmapped(self, e: Entry, index: int, f: Frame) -> None:
        """A process's mapping of the frame went away."""
        f.refs -= 1
        if f.refs > 0:
            return
        key = (e.ino, index)
        if self.cache.get(key) is f:
            self._offer(key, f)
        else:
            self._release(f)  # truncated away while mapped

    def _release(self, f: Frame) -> None:
        """A frame no longer in the cache goes back once nothing holds it:
        no process maps it and no write to the disk is reading it."""
        if f.refs > 0 or any(type(q) is _Flush and q.frame is f for q in (self.busy, *self.queue)):
            return
        f.on_reclaim = None
        self.phys.Deallocate(f)

    def _hold_edge(self, e: Entry, end: int, strand: Strand | None) -> bool:
        """Before the file grows to ``end``: the chunk where the disk's copy of
        it stops part-way must stay in the cache (dirty) until it is written,
        so the disk's copy stays a prefix of the file (Entry.ondisk). True if
        the strand waits for it to come in first."""
        v = e.valid()
        if end <= e.size or not v % CHUNK:
            return False
        key = (e.ino, v // CHUNK)
        if key in self.cache:
            self._dirty(key)
            return False
        self._await(e, [key[1]], strand)
        return True

    def _dirty(self, key: Key) -> None:
        self.gen += 1
        self.dirty[key] = self.gen
        self.phys.keep(self.cache[key])

    def mark_dirty(self, e: Entry, c: int) -> None:
        """A shared mapping wrote the chunk (its write fault says so)."""
        if (e.ino, c) in self.cache:
            self._dirty((e.ino, c))

    def _grow(self, e: Entry, size: int, strand: Strand | None) -> bool | None:
        """Give ``e`` an extent of at least ``size`` bytes: the one it has, or
        a free one twice as large with the file moved there. None if the
        strand was blocked reading the chunks to move; NoSpace."""
        need = (size + BLOCK - 1) // BLOCK
        if need <= e.nblocks:
            return True
        if e.nblocks and self._is_free(e.block + e.nblocks, need - e.nblocks):
            self._take(e.block + e.nblocks, need - e.nblocks)  # the blocks after it are free: grow in place
            e.nblocks = need
            self.meta_dirty = True
            return True
        held = (e.valid() + CHUNK - 1) // CHUNK
        if self._wait_for(e, range(held), strand, zero_fill=False):
            return None
        want = max(need, 2 * e.nblocks)
        try:
            nb = self._allocate(want)
        except NoSpace:
            want = need
            nb = self._allocate(want)
        for c in range(held):
            self._dirty((e.ino, c))  # every chunk is rewritten at its new place
        old, oldn = e.block, e.nblocks
        e.block, e.nblocks, e.ondisk = nb, want, 0
        self._give_back(old, oldn)
        self.moves += 1
        self.meta_dirty = True
        return True

    def _is_free(self, b: int, n: int) -> bool:
        """The ``n`` blocks from ``b`` are all free (one free extent holds them)."""
        return any(x[0] <= b and b + n <= x[0] + x[1] for x in self.free)

    def _take(self, b: int, n: int) -> None:
        """Take the free blocks b..b+n-1 (they are free: _is_free said so)."""
        self.k.sal.charge(costs.FS_BLOCK_ALLOC + costs.FS_PER_BLOCK * n)
        for i, x in enumerate(self.free):
            if x[0] <= b and b + n <= x[0] + x[1]:
                tail = [b + n, x[0] + x[1] - b - n]
                head = [x[0], b - x[0]]
                self.free[i : i + 1] = [y for y in (head, tail) if y[1] > 0]
                self.allocs += 1
                return

    def truncate(self, e: Entry, size: int, strand: Strand | None) -> bool | None:
        """Set the file's size: shorter gives its chunks and blocks past the
        end back, longer reads as zeros. None if blocked for the disk."""
        if size > e.nblocks * BLOCK:
            if self._grow(e, size, strand) is None:
                return None
        if self._hold_edge(e, size, strand):
            return None
        if size < e.size:
            c = size // CHUNK
            if size % CHUNK and (e.ino, c) in self.cache:  # what the file held past the end reads as zero again
                f = self.cache[(e.ino, c)]
                self.k.sal.write_phys((f.pfn << PAGE_SHIFT) + size % CHUNK, bytes(CHUNK - size % CHUNK))
                self._dirty((e.ino, c))
            self._drop_chunks(e, -(-size // CHUNK))
            e.ondisk = min(e.valid(), size)
            keep = (size + BLOCK - 1) // BLOCK
            self._give_back(e.block + keep, e.nblocks - keep)
            e.nblocks = keep
            if keep == 0:
                e.block = 0
        if size != e.size:
            e.ondisk = min(e.valid(), e.size)  # the bytes past the old end are zeros, not the disk's
            e.size = size
            self.meta_dirty = True
        return True

    def _drop_chunks(self, e: Entry, first: int) -> None:
        """Forget the file's chunks from ``first`` on, dirty or not."""
        for key in [k for k in self.cache if k[0] == e.ino and k[1] >= first]:
            f = self.cache.pop(key)
            self.dirty.pop(key, None)
            queued = [q for q in self.queue if type(q) is _Flush and q.key == key]
            for q in queued:  # not started: not needed any more
                self.queue.remove(q)
            if queued:
                self.flushing[key] -= len(queued)
                if not self.flushing[key]:
                    del self.flushing[key]
            self._release(f)  # now, or when its mapping or the write under way lets it go
        for key, t in list(self.filling.items()):
            if key[0] == e.ino and key[1] >= first:
                t.dead = True

    # --- write-back ------------------------------------------------------------------

    def _queue_flush(self, e: Entry) -> None:
        """Queue the writes of the file's dirty chunks, in order; the chunks
        from where the disk's copy stops to the end are written too (zeros
        where nothing was written), so that afterwards the disk holds the
        whole file and its copy is always a prefix of it (Entry.ondisk)."""
        if e.valid() < e.size:
            for c in range(e.valid() // CHUNK, -(-e.size // CHUNK)):
                key = (e.ino, c)
                if key not in self.cache and c * CHUNK < e.valid():  # the disk holds part of it: bring it in first
                    self._fetch(e, c)  # (its fill wakes fsync's waiters, who ask again)
                    return
                if key not in self.cache:
                    self._zero_chunk(e, c)
                if key not in self.dirty:  # read as zeros, but the disk's blocks there hold what they held
                    self._dirty(key)
        if not any(k[0] == e.ino for k in self.dirty):
            return
        for key in sorted(k for k in self.dirty if k[0] == e.ino):
            c = key[1]
            nb = min(BLOCKS_PER_CHUNK, -(-(e.size - c * CHUNK) // BLOCK), e.nblocks - c * BLOCKS_PER_CHUNK)
            if nb <= 0:  # past the end: nothing of it is the file's
                self.dirty.pop(key)
                self._offer(key, self.cache[key])
                continue
            if self.flushing.get(key) and self._queued(key):
                continue  # a write not yet started will take the newest bytes
            self.flushing[key] = self.flushing.get(key, 0) + 1
            self.queue.append(_Flush(key, self.dirty[key], self.cache[key], e.block + c * BLOCKS_PER_CHUNK, nb, False))
            self.k.sal.charge(costs.FS_WRITEBACK)
        self._start()

    def _queued(self, key: Key) -> bool:
        return any(type(q) is _Flush and q.key == key for q in self.queue)

    def _queue_meta(self) -> None:
        """Queue the directory and then the superblock (after the data
        already queued): the directory moves to a larger extent if it must."""
        if not self.meta_dirty:
            return
        entries = sorted([*self.files.values(), *self.dirs.values()], key=lambda x: x.name)
        need = directory_blocks(entries)
        if need > self.dir_blocks:  # (create and rename made room already: only a fallback)
            nb = self._allocate(need)
            self.retired.append((self.dir_block, self.dir_blocks))
            self.dir_block, self.dir_blocks = nb, need
        block0, raw = pack_directory(entries, self.total, self.dir_block, self.dir_blocks)
        used = directory_blocks(entries)  # only the blocks entries are in; mount reads no more
        pieces = [(self.dir_block + b, raw[b * BLOCK : min(b + BLOCKS_PER_CHUNK, used) * BLOCK])
                  for b in range(0, used, BLOCKS_PER_CHUNK)]  # fmt: skip
        frames: list[Frame] = []
        try:  # every frame first: out of memory, nothing is queued and the metadata stays dirty
            for _ in range(len(pieces) + 1):
                frames.append(self.phys.Allocate("fs metadata"))
        except OutOfFrames:
            for f in frames:
                self.phys.Deallocate(f)
            raise
        self.meta_dirty = False
        retired, self.retired = self.retired, []
        for f, (block, data) in zip(frames, [*pieces, (0, block0)], strict=True):  # the superblock last
            self.k.sal.write_phys(f.pfn << PAGE_SHIFT, data)
            t = _Flush(None, 0, f, block, len(data) // BLOCK, True)
            if block == 0:
                t.retire = retired
            self.queue.append(t)
            self.meta_pending += 1
        self.k.sal.charge(costs.FS_DIR_UPDATE)
        self._start()

    def pending_for(self, e: Entry | None) -> bool:
        """Writes of the file's (or, for None, any file's) are dirty or under way, or metadata is."""
        if self.meta_dirty or self.meta_pending:
            return True
        if e is None:
            return bool(self.dirty) or any(self.flushing.values())
        return any(k[0] == e.ino for k in self.dirty) or any(k[0] == e.ino and v for k, v in self.flushing.items())

    def fsync(self, e: Entry | None, strand: Strand) -> bool:
        """Start writing the file (None: every file) and the metadata; True
        when nothing is left, else the strand waits (its call restarts)."""
        if e is None:
            for x in list(self.inodes.values()):
                self._queue_flush(x)
        else:
            self._queue_flush(e)
        self._queue_meta()
        if not self.pending_for(e):
            return True
        self.sync_waiters.append(strand)
        self.k.sched.block_strand(strand, "disk: fsync")
        return False

    def flush_all(self) -> None:
        """Queue every dirty chunk's write (too many piled up)."""
        for x in list(self.inodes.values()):
            self._queue_flush(x)

    def flush_polled(self) -> int:
        """Everything to the disk now, with polled I/O (the run has ended,
        or a lesson wants the image): transfers under way finish first. The
        chunks written; raises DiskIOError if a write failed."""
        before = self.writebacks
        try:
            self.flush_all()
            self._queue_meta()
        except (OutOfFrames, NoSpace) as e:  # the run ends with memory or disk full: say so in one line
            raise DiskIOError(f"no room to write the cache back ({e})") from None
        while self.busy is not None:
            if not self.k.sal.disk_poll():
                raise DiskIOError("the disk stopped with a transfer under way")
            self.interrupt(self.k.sal.disk_vector())
        return self.writebacks - before

    # --- the disk's queue ------------------------------------------------------------

    def _frame(self, e: Entry, c: int) -> Frame:
        f = self.phys.Allocate(f"cache {e.name}#{c}")  # not reclaimable while the disk is filling it
        f.on_reclaim = lambda fr, key=(e.ino, c): self.cache.pop(key, None)
        return f

    def pending(self, e: Entry, c: int) -> bool:
        """The chunk is on its way in from the disk."""
        return (e.ino, c) in self.filling

    def _fetch(self, e: Entry, c: int) -> None:
        key = (e.ino, c)
        if key in self.filling or key in self.cache:
            return
        valid = e.valid()
        nb = min(BLOCKS_PER_CHUNK, -(-(valid - c * CHUNK) // BLOCK))
        if nb <= 0:  # the disk holds nothing of it: zeros, no transfer (read-ahead may ask past the disk's copy)
            self._zero_chunk(e, c)
            return
        t = _Fill(key, self._frame(e, c), e.block + c * BLOCKS_PER_CHUNK, nb)
        self.filling[key] = t
        self.queue.append(t)
        self._start()

    def _start(self) -> None:
        if self.busy is not None or not self.queue:
            return
        t = self.queue[0]
        if type(t) is _Direct:
            self.busy = t
            block, cnt, pa = t.runs.pop(0)
            if not t.runs:
                self.queue.popleft()
            self.k.sal.disk_start(block, cnt, pa)
            return
        self.busy = self.queue.popleft()
        self.k.sal.disk_start(t.block, t.count, t.frame.pfn << PAGE_SHIFT, write=type(t) is _Flush)

    def interrupt(self, vector: int) -> bool:
        """The disk finished a transfer; False if the interrupt was not the disk's."""
        if not self.k.sal.is_disk(vector):
            return False
        if self.busy is None:
            return True
        done, err = self.k.sal.disk_done()
        if not done:
            return True
        t, self.busy = self.busy, None
        if err:
            self.errors += 1
        if type(t) is _Direct:
            if err:
                t.failed = True
            if not t.runs:
                self._finish_direct(t)
            elif t.failed:  # the rest of the read would be thrown away
                self.queue.remove(t)
                self._finish_direct(t)
        elif type(t) is _Flush:
            self._flushed(t, err)
        else:
            self._filled(t, err)
        self._start()
        return True

    def _filled(self, t: _Fill, err: int) -> None:
        key, f = t.key, t.frame
        self.filling.pop(key, None)
        e = self.inodes.get(key[0])
        if err or t.dead or e is None:
            if err and not t.dead:
                self.failed.add(key)
            self.phys.Deallocate(f)
        else:
            skip = min(CHUNK, max(0, e.valid() - key[1] * CHUNK))
            if skip < CHUNK:  # past the file's bytes on the disk: zeros, whatever the blocks held
                self.k.sal.write_phys((f.pfn << PAGE_SHIFT) + skip, bytes(CHUNK - skip))
            self.cache[key] = f
            self.phys.make_reclaimable(f)  # filled: now it may be given up
        for s in [*self.waiters.pop(key, []), *self.sync_waiters]:
            self.k.sched.wake(s)  # a failed read is tried again (and fails again, with EIO, if it must)
        self.sync_waiters = []
        for fn in self.notify.pop(key, []):
            fn()

    def _flushed(self, t: _Flush, err: int) -> None:
        if t.key is None:
            self.meta_pending -= 1
            self.phys.Deallocate(t.frame)
            if err:
                self.meta_dirty = True  # tried again at the next sync
                self.retired += t.retire  # still named by the disk's superblock
            else:
                for b, n in t.retire:
                    self._give_back(b, n)
        else:
            key = t.key
            self.flushing[key] -= 1
            if not self.flushing[key]:
                del self.flushing[key]
            e = self.inodes.get(key[0])
            live = self.cache.get(key) is t.frame
            if not live:
                self._release(t.frame)  # dropped (truncated, unlinked) while it was being written
            elif not err:
                self.writebacks += 1
                if e is not None:
                    c = key[1]
                    if c * CHUNK <= e.valid():
                        e.ondisk = max(e.valid(), min(e.size, (c + 1) * CHUNK))
                if self.dirty.get(key) == t.gen:  # not written again since: clean, and may be given up
                    del self.dirty[key]
                    self._offer(key, t.frame)
        waiters, self.sync_waiters = self.sync_waiters, []
        for s in waiters:
            self.k.sched.wake(s)
