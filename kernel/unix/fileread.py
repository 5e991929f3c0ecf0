"""The read path of an open file: a per-open-file slot, Synthetix's
specialized read in it, and the guards that watch its invariants (seed 003
§3.1, §4).

Every ``read`` of a regular file goes through the open file's slot
(kernel/sys/replug_restart.py: a user strand's read blocks for the disk by
returning, and its call restarts). The slot holds one of:

- ``read_generic``: the layers an HP-UX-like kernel walks on every call --
  file table, vnode layer, file system, buffer cache, then the copy-out --
  each charged its modeled cost (kernel/core/costs.py READ_*);
- ``read_specialized``: built at open when the quasi-invariants hold -- one
  opener, no writer, a regular file on the local extent file system. The
  layers' work is done once (SPEC_BUILD) and what it found is fixed in a
  closure: the file's inode number in the cache's keys, its first disk block, its
  size, the chunk shift. No locks: nobody else has the file open;
- ``read_sequential(N)``: incremental specialization. After two reads of the
  same size N, each starting where the last ended, the read is specialized
  on N and the position as well: the range arithmetic is fixed and the
  chunk last read is held, so a read inside it needs no lookup.

The guards, at each place that can falsify an invariant:

- ``opened`` (open, and ``forked`` for fork's copies): another opener. The
  specialized read of the file's other open files is replugged generic
  before the open goes on; with strands blocked inside, the opener parks
  and its open restarts once they have left (the guard runs before open's
  side effects, so the restart is the same open);
- ``wrote`` / ``truncated`` (called by a writing file system after it
  changed the bytes or the size): replug generic at once; the strands
  blocked inside rejoin the new path when their calls restart;
- ``seeked``: a seek past the end replugs generic; any other seek that
  moves the offset drops the sequential level (back to read_specialized);
- a read of another size, or not where the last one ended, drops the
  sequential level too (the read itself is the guard);
- ``closed``: the file's last close drops its slot; if one opener is left
  and it may be specialized, it is specialized again.

``spinwb bench specialize`` measures the two paths; docs/synthetix.md is the user's account.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.core.physaddr import OutOfFrames
from kernel.core.sal import EIO, ENOMEM, PAGE_SHIFT
from kernel.fs.extentfs import CHUNK, DiskIOError, ExtentFS
from kernel.sys.replug_restart import RestartableSlot

if TYPE_CHECKING:
    from kernel.core.sched import Strand
    from kernel.unix.process import OpenFile, Process

SHIFT = CHUNK.bit_length() - 1  # a chunk is 2**SHIFT bytes
GENERIC, SPECIALIZED, SEQUENTIAL = 0, 1, 2  # the levels of specialization


class ReadState:
    """One open file's read: its slot, and what the guards look at."""

    __slots__ = ("slot", "pid", "level", "last_end", "last_n", "reads", "specialized_reads")

    def __init__(self, slot: RestartableSlot, pid: int) -> None:
        self.slot = slot
        self.pid = pid
        self.level = GENERIC  # of the function plugged in or pending
        self.last_end = -1  # where the last read ended (the sequential invariant)
        self.last_n = -1  # and its size
        self.reads = 0  # calls that returned bytes
        self.specialized_reads = 0  # of those, through a specialized function


class Reads:
    """The kernel's read of regular files, for one UNIX personality."""

    def __init__(self, unix: Any) -> None:
        self.unix = unix
        self.k = unix.k
        self.specialize = True  # install specialized reads when the invariants hold
        self.openers: dict[int, list[OpenFile]] = {}  # id(entry) -> its open files (the "one opener" invariant)
        self.slots = 0  # slots made, for their names
        self.replugs = self.guard_checks = self.generic_calls = self.specialized_calls = 0
        self.waits = 0  # guards that parked until the strands inside had left (their calls restarted)
        self.observer: Callable[[str], None] | None = None  # told "replug" and "wait" (a lesson stops the machine)
        self.layers = self.copies = 0  # layers the generic read walked; copy-outs (the personality's)

    # --- the read ------------------------------------------------------------------------

    def read(self, p: Process, f: OpenFile, s: Strand, n: int) -> bytes | int | None:
        """Up to ``n`` bytes at ``f.offset``, advancing it: the data, -errno,
        or None when the strand was blocked (for the disk, or in a replug's
        holding tank) and the call restarts."""
        st = self.state(f, p)
        self.k.sal.charge(costs.REPLUG_CALL)  # through the slot: Synthetix §4.3's fast path
        try:
            got = st.slot.call(s, p, f, s, n)
        except DiskIOError:
            return -EIO
        except OutOfFrames:
            return -ENOMEM  # no frame for the buffer cache, as filemap_read answers
        if got is not None:
            self.copies += 1
            st.reads += 1
        return got

    def state(self, f: OpenFile, p: Process | None = None) -> ReadState:
        """The open file's read state, made generic if nobody made it (an
        open file that did not come through ``opened``)."""
        st = f.spec
        if st is None:
            st = f.spec = self._new_state(f, p.pid if p is not None else 0)
        return st

    def _new_state(self, f: OpenFile, pid: int) -> ReadState:
        self.slots += 1
        slot = RestartableSlot(f"read {f.entry.name} (pid {pid}, #{self.slots})", self.read_generic, self.k.sched,
                               self.k.trace, self._swapped)  # fmt: skip
        return ReadState(slot, pid)

    def _swapped(self) -> None:
        self.replugs += 1
        self.k.sal.charge(costs.REPLUG_SWAP)
        if self.observer is not None:
            self.observer("replug")

    def read_generic(self, p: Process, f: OpenFile, s: Strand, n: int) -> bytes | None:
        """The read every call interprets afresh: descriptor to file-table
        entry, vnode type and lock, inode lock and block map, a buffer-cache
        lookup per chunk, the uio (Synthetix §3.1's "numerous data structures")."""
        charge = self.k.sal.charge
        self.generic_calls += 1
        charge(costs.READ_FILE_TABLE + costs.READ_VNODE + costs.READ_FS)
        self.layers += 3
        e = f.entry
        end = min(f.offset + n, e.size)
        if end > f.offset:
            chunks = ((end - 1) >> SHIFT) - (f.offset >> SHIFT) + 1
            charge(costs.READ_BUFFER * chunks)
            self.layers += 1
        data = self.k.fs.read(e, f.offset, n, s)
        if data is None:
            return None
        charge(costs.READ_UIO)
        f.offset += len(data)
        return data

    def build_specialized(self, f: OpenFile) -> Callable[..., bytes | None]:
        """The read for this file alone, with what the layers would find fixed
        (Synthetix §3.1): built at open, charged SPEC_BUILD once."""
        self.k.sal.charge(costs.SPEC_BUILD)
        return self._specialized(f)

    def _specialized(self, f: OpenFile) -> Callable[..., bytes | None]:
        """read_specialized itself; the levels above fall back to it at no new cost (the facts are known)."""
        k, fs, reads = self.k, self.k.fs, self
        e = f.entry
        ino, size = e.ino, e.size
        cache = fs.cache
        charge, read_phys = k.sal.charge, k.sal.read_phys

        def read_specialized(p: Process, f: OpenFile, s: Strand, n: int) -> bytes | None:
            charge(costs.SPEC_READ)
            reads.specialized_calls += 1
            off = f.offset
            end = off + n if off + n < size else size
            if end <= off:
                return b""
            out = bytearray()
            for c in range(off >> SHIFT, ((end - 1) >> SHIFT) + 1):
                charge(costs.SPEC_CHUNK)
                fr = cache.get((ino, c))
                if fr is None:  # a miss: the file system fetches and blocks the strand
                    data = fs.read(e, off, end - off, s)
                    if data is None:
                        return None
                    out = bytearray(data)
                    break
                lo = off - (c << SHIFT) if off > c << SHIFT else 0
                hi = end - (c << SHIFT) if end < (c + 1) << SHIFT else CHUNK
                out += read_phys((fr.pfn << PAGE_SHIFT) + lo, hi - lo)
            else:
                fs.reads += 1  # a buffer-cache hit, counted as the file system counts its own
                fs.hits += 1
            f.offset = end
            reads.after(f, off, n)
            return bytes(out)

        return read_specialized

    def build_sequential(self, f: OpenFile, n0: int) -> Callable[..., bytes | None]:
        """The read specialized further on its size ``n0`` and on reading on
        from where the last read ended (incremental specialization, §2)."""
        k, fs, reads = self.k, self.k.fs, self
        e = f.entry
        ino, size = e.ino, e.size
        cache = fs.cache
        charge, read_phys = k.sal.charge, k.sal.read_phys
        fallback = self._specialized(f)  # the level below, for a call that breaks the pattern
        held: list[Any] = [-1, None]  # the chunk last read and its frame

        def read_sequential(p: Process, f: OpenFile, s: Strand, n: int) -> bytes | None:
            st = f.spec
            reads.guard_checks += 1
            if n != n0 or f.offset != st.last_end:  # the incremental invariant is falsified: this read is its guard
                reads.drop_level(f, f"read of {n} bytes at {f.offset} (specialized on {n0} at {st.last_end})")
                return fallback(p, f, s, n)
            charge(costs.SPEC_SIZED)
            reads.specialized_calls += 1
            off = f.offset
            end = off + n0 if off + n0 < size else size
            if end <= off:
                return b""
            c0, c1 = off >> SHIFT, (end - 1) >> SHIFT
            fr = held[1]
            if c0 != c1 or c0 != held[0] or cache.get((ino, c0)) is not fr:  # the held chunk was given up
                out = bytearray()
                for c in range(c0, c1 + 1):
                    charge(costs.SPEC_CHUNK)
                    fr = cache.get((ino, c))
                    if fr is None:
                        held[0], held[1] = -1, None
                        data = fs.read(e, off, end - off, s)
                        if data is None:
                            return None
                        f.offset = st.last_end = end
                        return data
                    lo = off - (c << SHIFT) if off > c << SHIFT else 0
                    hi = end - (c << SHIFT) if end < (c + 1) << SHIFT else CHUNK
                    out += read_phys((fr.pfn << PAGE_SHIFT) + lo, hi - lo)
                held[0], held[1] = c1, fr
                data = bytes(out)
            else:
                base = (fr.pfn << PAGE_SHIFT) - (c0 << SHIFT)
                data = read_phys(base + off, end - off)
            fs.reads += 1  # a buffer-cache hit, counted as the file system counts its own
            fs.hits += 1
            f.offset = st.last_end = end
            return data

        read_sequential.__name__ = f"read_sequential({n0})"
        return read_sequential

    def after(self, f: OpenFile, off: int, n: int) -> None:
        """After a specialized read: two reads of one size in a row, each where
        the last ended, make the sequential level (incremental specialization)."""
        st = f.spec
        self.guard_checks += 1
        if st.level == SPECIALIZED and n == st.last_n and off == st.last_end and n > 0:
            st.level = SEQUENTIAL
            st.slot.request(self.build_sequential(f, n), f"two reads of {n} bytes in a row: specialized on the "
                            "read size and the position")  # fmt: skip
        st.last_n, st.last_end = n, f.offset

    def drop_level(self, f: OpenFile, why: str) -> None:
        """Back from the sequential level to the open-time specialized read."""
        st = f.spec
        if st.level == SEQUENTIAL:
            st.level = SPECIALIZED
            st.last_n = -1
            st.slot.request(self._specialized(f), why)

    # --- the invariants ----------------------------------------------------------------

    def eligible(self, f: OpenFile) -> bool:
        """May ``f``'s read be specialized: the quasi-invariants of §3.1 (and
        the offset inside the file, which a seek past the end falsifies)."""
        fs = self.k.fs  # read-ahead's feedback loop samples every read: a read that skipped it would starve it
        return (self.specialize and f.kind == "file" and isinstance(fs, ExtentFS) and fs.readahead is None
                and f.offset <= f.entry.size and fs.lookup(f.entry.name) is f.entry and f.readable and not f.writable
                and len(self.openers.get(id(f.entry), ())) == 1)  # fmt: skip

    def _generic(self, g: OpenFile, why: str, s: Strand | None, rejoin: bool = False) -> bool:
        """Replug ``g``'s read generic; False if ``s`` must wait (then blocked)."""
        st = self.state(g)
        self.guard_checks += 1
        if st.level == GENERIC and st.slot.pending is None:
            return True
        st.level = GENERIC
        if s is None or rejoin:
            st.slot.request(self.read_generic, why, rejoin=rejoin)
            return True
        if st.slot.replug(self.read_generic, why, s):
            return True
        self.waits += 1
        if self.observer is not None:
            self.observer("wait")
        return False

    def _settle(self, f: OpenFile, why: str) -> None:
        """Specialize ``f``'s read if the invariants hold now."""
        st = self.state(f)
        if st.level == GENERIC and self.eligible(f):
            st.level = SPECIALIZED
            st.last_n, st.last_end = -1, -1
            st.slot.request(self.build_specialized(f), why)

    # --- the guards: each place that may falsify an invariant calls one -----------------

    def opened(self, p: Process, f: OpenFile, s: Strand | None = None) -> bool:
        """A file is being opened: call before the open's side effects. The
        other open files of the same file lose their specialized reads; False
        if one has strands inside and ``s`` waits for them (its call restarts)."""
        if f.kind != "file":
            return True
        others = self.openers.get(id(f.entry), [])
        for g in others:
            if not self._generic(g, f"opened by pid {p.pid}: a second opener", s):
                return False
        self.openers.setdefault(id(f.entry), []).append(f)
        f.spec = self._new_state(f, p.pid)
        self._settle(f, "opened: one opener, no writer, a regular file on the local disk")
        return True

    def forked(self, child: Process) -> None:
        """Fork copied the parent's descriptors: each is another opener. A
        reader cannot make the specialized read's bytes wrong, so fork does
        not wait: the replug is done when the strands inside have left."""
        for f in child.fds.values():
            if f.kind == "file":
                for g in self.openers.get(id(f.entry), []):
                    self._generic(g, f"fork: pid {child.pid} has the file open too", None)
                self.openers.setdefault(id(f.entry), []).append(f)
                f.spec = self._new_state(f, child.pid)

    def closed(self, f: OpenFile) -> None:
        """An open file's last descriptor went away: its slot goes; a lone
        opener left may be specialized again."""
        if f.kind != "file":
            return
        if f.spec is not None:
            f.spec.slot.drop()
        f.spec = None
        mine = self.openers.get(id(f.entry), [])
        mine[:] = [g for g in mine if g is not f]  # by identity: open files of one file can be equal as values
        if not mine:
            self.openers.pop(id(f.entry), None)
        elif len(mine) == 1:
            self._settle(mine[0], "the other opener closed: one opener again")

    def wrote(self, entry: Any) -> None:
        """The file's bytes changed (write, pwrite, a shared mapping's write-back)."""
        for g in self.openers.get(id(entry), []):
            self._generic(g, "the file was written", None, rejoin=True)

    def truncated(self, entry: Any) -> None:
        """The file's size changed by ftruncate or O_TRUNC."""
        for g in self.openers.get(id(entry), []):
            self._generic(g, f"the file's size changed to {entry.size}", None, rejoin=True)

    def seeked(self, f: OpenFile) -> None:
        """``f.offset`` was moved by lseek."""
        st = f.spec
        if st is None or st.level == GENERIC:
            return
        self.guard_checks += 1
        if f.offset > f.entry.size:
            self._generic(f, f"lseek past the end ({f.offset} > {f.entry.size})", None)
        elif f.offset != st.last_end:
            self.drop_level(f, f"lseek to {f.offset}: not sequential")
            st.last_end = f.offset
