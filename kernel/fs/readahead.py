"""Read-ahead in the buffer cache, its window set by software feedback (Synthetix §3.2).

A read of a chunk the cache lacks blocks its strand for the disk: about 14
ms when the reader computes between reads, because the next chunk has just
turned past the head and the disk waits a revolution for it. Reading ahead
-- asking for the next chunks while the reader computes -- hides that, if
the *window* (how many chunks past a read to fetch) suits the stream: too
small and reads still wait; too large and the disk is busy with chunks
nobody reads (a random stream), which the next demand read waits behind.

The window is set per stream by a feedback loop, the way Synthetix §3.2
adapts its video player (after the Synthesis kernel's fine-grain adaptive
scheduling, Massalin and Pu '90, and Pu and Fuhrer's toolbox of feedback
components '93): the file system observes each read -- a ``Sample``: did
it wait, how many chunks were already in ahead of it (the *lead*), how much
read-ahead went unused (*waste*: abandoned when the stream jumped away, or
reclaimed before the reader came), was it sequential -- and a
``Controller`` turns the samples into the window. In Synthetix's terms the
controller keeps a quasi-invariant, "reads do not wait, and read-ahead is
neither wasted nor far ahead of the reader"; a sample that violates it is
the guard firing, and the feedback action moves the window.

Damping. The loop has a delay: a window raised now shows in the samples
only once the disk has delivered what it asked for, and one lowered now
only once the reader has used up what was already read ahead. An
*undamped* controller reacts to every sample, so it keeps raising while
its first raise is still in flight and keeps lowering while the old lead
drains: the window swings between too small and too large. The *damped*
one smooths each measurement (an exponentially weighted average), acts
only outside a band (hysteresis), moves the window a step at a time, and
-- Synthetix §4's own prescription -- ignores further violations for a
while after each change, longer than twice the loop's delay, "so as to
allow the system to adapt to the replugging action that has just been
applied".

Off by default: ``ExtentFS.readahead`` is None and the cache reads on
demand only, as before (every state hash unchanged). ``boot(readahead=...)``
or ``enable`` turns it on with a policy: "none" (observe, never read
ahead), "fixed[:N]", "undamped" or "damped". ``Controller`` and ``Fixed``
are pure: samples in, a window out, virtual time only.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kernel.core.costs import CLOCK_MHZ, READAHEAD_SAMPLE
from kernel.core.physaddr import OutOfFrames
from kernel.core.sal import PAGE_SIZE
from kernel.params import READAHEAD_FIXED, READAHEAD_HISTORY, READAHEAD_MAX_WINDOW, READAHEAD_STREAMS
from kernel.sys.trace import Record

if TYPE_CHECKING:
    from kernel.core.sched import Strand
    from kernel.fs.extentfs import ExtentFS
    from kernel.fs.format import Entry

CHUNK = PAGE_SIZE  # extentfs's chunk (not imported: extentfs imports this module)
LEAD_SCAN = READAHEAD_MAX_WINDOW  # chunks past a read looked at to measure the lead


@dataclass(frozen=True, slots=True)
class Sample:
    """What the file system saw at one read of one stream."""

    cycle: int  # virtual time of the read
    sequential: bool  # it began where the stream's last read ended
    waited: bool  # its data was not all in the cache: the strand blocked for the disk
    lead: int  # chunks past it already in the cache: how far ahead read-ahead is
    wasted: int  # read-ahead chunks found unused since the last sample (abandoned, or reclaimed unread)


@dataclass(frozen=True, slots=True)
class Tuning:
    """How a feedback controller reacts. ``alpha`` is the newest sample's weight
    in each average (1: no smoothing); the ``*_hi`` are the quasi-invariant's
    tolerances; ``up``/``down`` the largest step (0: double or halve)."""

    alpha: float
    wait_hi: float  # raise while the share of sequential reads that waited is above this
    lead_hi: float  # lower while the lead is above this: more read-ahead than the reader needs
    waste_hi: float  # lower while wasted chunks per read are above this
    random_hi: float  # lower while the share of non-sequential reads is above this
    up: int
    down: int
    hold_us: int  # after a change, no action for this long (virtual µs): Synthetix §4's damping


# Reacts to each sample as it comes: a read that waited doubles the window, a lead of more than one
# chunk halves it. The tolerances are as tight as they can be.
UNDAMPED = Tuning(alpha=1.0, wait_hi=0.0, lead_hi=1.0, waste_hi=0.0, random_hi=0.5, up=0, down=0, hold_us=0)
# Averages over about two reads; acts only outside a band of [0.3 waits, 4 chunks of lead], so a window
# that keeps 2-4 chunks in ahead holds (the undamped one halves at 2); raises one chunk a step (and lowers
# by halving, as the undamped one does: waste, a random stream, a lead past the band); and holds 30 ms after
# each change: twice the longest a raise takes to show on a sequential stream (a chunk asked for just
# after its first sector passed the head: the disk's revolution, 11.1 ms, plus the transfer, 2.5 ms).
# A band that ignored a lone wait (0.6) settles at 3 chunks, where lone waits recur: 6% slower on the bench.
DAMPED = Tuning(alpha=0.5, wait_hi=0.3, lead_hi=4.0, waste_hi=0.5, random_hi=0.5, up=1, down=0, hold_us=30_000)


class Policy(Protocol):
    window: int
    reason: str

    def feed(self, s: Sample) -> int: ...


class Fixed:
    """A window that never changes (0: observe only, never read ahead)."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.reason = ""

    def feed(self, s: Sample) -> int:
        return self.window


class Controller:
    """One stream's window under software feedback: pure and deterministic.
    ``feed`` takes a sample and answers the window; ``reason`` says why it
    last moved. The averages are updated by every sample, held or not."""

    def __init__(self, tuning: Tuning, start: int = 1, top: int = READAHEAD_MAX_WINDOW) -> None:
        self.t = tuning
        self.top = top
        self.window = max(0, min(start, top))
        self.wait = self.lead = self.waste = self.random = 0.0
        self.quiet_until = 0  # cycle before which violations are ignored
        self.reason = ""

    def _avg(self, old: float, new: float) -> float:
        return old + self.t.alpha * (new - old)

    def feed(self, s: Sample) -> int:
        t = self.t
        self.wait = self._avg(self.wait, 1.0 if s.waited and s.sequential else 0.0)  # read-ahead cannot help a jump
        self.lead = self._avg(self.lead, float(s.lead))
        self.waste = self._avg(self.waste, float(s.wasted))
        self.random = self._avg(self.random, 0.0 if s.sequential else 1.0)
        if s.cycle < self.quiet_until:
            return self.window
        w = self.window
        if self.random > t.random_hi:
            new, why = self._down(w), f"random {self.random:.2f} > {t.random_hi}"
        elif self.waste > t.waste_hi:
            new, why = self._down(w), f"wasted {self.waste:.2f}/read > {t.waste_hi}"
        elif self.wait > t.wait_hi:
            new, why = self._up(w), f"waited {self.wait:.2f} > {t.wait_hi}"
        elif self.lead > t.lead_hi:
            new, why = self._down(w), f"lead {self.lead:.2f} > {t.lead_hi}"
        else:
            return w
        if new != w:
            self.window, self.reason = new, why
            self.quiet_until = s.cycle + t.hold_us * CLOCK_MHZ
        return self.window

    def _up(self, w: int) -> int:
        return min(self.top, w + self.t.up if self.t.up else max(1, 2 * w))

    def _down(self, w: int) -> int:
        return max(0, w - self.t.down if self.t.down else w // 2)


POLICIES = ("none", "fixed[:N]", "undamped", "damped")


def make_policy(spec: str) -> Policy:
    """A fresh per-stream policy from its name; ValueError in one line for a bad one."""
    name, _, arg = spec.partition(":")
    if name == "none" and not arg:
        return Fixed(0)
    if name == "fixed":
        n = READAHEAD_FIXED if not arg else int(arg) if arg.isdigit() else -1
        if 1 <= n <= READAHEAD_MAX_WINDOW:
            return Fixed(n)
        raise ValueError(f"read-ahead policy {spec!r}: the fixed window is 1 to {READAHEAD_MAX_WINDOW} chunks")
    if name in ("undamped", "damped") and not arg:
        return Controller(UNDAMPED if name == "undamped" else DAMPED)
    raise ValueError(f"read-ahead policy {spec!r}: one of {', '.join(POLICIES)}")


@dataclass(frozen=True, slots=True)
class Window(Record):
    """A stream's read-ahead window moved, and why (the trace pane shows these)."""

    cycle: int = 0
    stream: str = ""  # "pid 1 data": the reading strand's process (or strand) and the file
    old: int = 0
    new: int = 0
    reason: str = ""
    kind = "window"


class _Stream:
    """One strand reading one file: the file system's stand-in for an open
    file's read-ahead state (the open file itself is the personality's)."""

    __slots__ = ("label", "policy", "next", "issued", "pending", "blocked_at", "blocked_seq", "last_move")

    def __init__(self, label: str, policy: Policy) -> None:
        self.label = label
        self.policy = policy
        self.next: int | None = None  # the offset just past the last read: a read there is sequential
        self.issued: set[int] = set()  # chunks read ahead, not yet read
        self.pending: int | None = None  # the offset of a read that blocked: its restart is no new sample
        self.blocked_at = 0
        self.blocked_seq = False  # the read that blocked was sequential: its wait is the loop's delay
        self.last_move = 0  # +1 or -1: the window's last direction (for counting direction changes)


class ReadAhead:
    """The file system's read-ahead: a stream per (strand, file), each with
    its own policy, and what they counted (the bench and lesson read these)."""

    def __init__(self, spec: str) -> None:
        make_policy(spec)  # the name is checked now, at boot, not at the first read
        self.spec = spec
        self.streams: dict[tuple[int, int], _Stream] = {}  # (strand, inode)
        self.reads = self.waited = self.wasted = self.prefetched = 0
        self.moves = self.turns = 0  # window changes, and changes of direction among them
        self.wait_cycles = 0  # time reads spent blocked
        self.longest_wait = 0  # the longest a sequential read waited: the feedback loop's delay
        self.history: deque[tuple[int, str, int]] = deque(maxlen=READAHEAD_HISTORY)  # (cycle, stream, window)

    def _stream(self, strand: Strand, e: Entry) -> _Stream:
        key = (strand.id, e.ino)
        st = self.streams.pop(key, None)
        if st is None:
            if len(self.streams) >= READAHEAD_STREAMS:
                del self.streams[next(iter(self.streams))]  # the least recently read
            who = f"pid {strand.pid}" if strand.pid else strand.name
            st = _Stream(f"{who} {e.name}", make_policy(self.spec))
        self.streams[key] = st  # most recent last
        return st

    def read(self, fs: ExtentFS, e: Entry, offset: int, n: int, missing: list[int], strand: Strand | None) -> None:
        """After extentfs's read found the chunks ``missing`` from the cache
        (and queued them): take the sample, feed the stream's policy, queue
        the read-ahead behind the demand chunks. Strandless reads (the NFS
        server, boot's polled loads) are not streams: they read on demand."""
        if strand is None or n <= 0:
            return
        k = fs.k
        now = k.sal.now
        st = self._stream(strand, e)
        if st.pending == offset:  # the same call, restarted after the disk
            if not missing:
                st.pending = None
                waited = now - st.blocked_at
                self.wait_cycles += waited
                if st.blocked_seq:
                    self.longest_wait = max(self.longest_wait, waited)
            return
        k.sal.charge(READAHEAD_SAMPLE)
        first, last = offset // CHUNK, (offset + n - 1) // CHUNK
        sequential = offset == (st.next if st.next is not None else 0)
        st.issued.difference_update(range(first, last + 1))
        if sequential:
            gone = [c for c in st.issued if _key(e, c) not in fs.cache and not fs.pending(e, c)]
            st.issued.difference_update(gone)  # reclaimed before the reader got to them
            wasted = len(gone)
        else:
            wasted = len(st.issued)  # the stream jumped away from what was read ahead
            st.issued.clear()
        lead = 0
        while lead < LEAD_SCAN and _key(e, last + 1 + lead) in fs.cache:
            lead += 1
        sample = Sample(now, sequential, bool(missing), lead, wasted)
        old = st.policy.window
        window = st.policy.feed(sample)
        if st.next is None:
            self.history.append((now, st.label, old))  # where the stream's line starts
        if window != old:
            move = 1 if window > old else -1
            self.moves += 1
            self.turns += st.last_move not in (0, move)
            st.last_move = move
            self.history.append((now, st.label, window))
            k.trace.add(Window(cycle=now, stream=st.label, old=old, new=window, reason=st.policy.reason))
        self.reads += 1
        self.waited += bool(missing)
        self.wasted += wasted
        st.next = offset + n
        if missing:
            st.pending, st.blocked_at, st.blocked_seq = offset, now, sequential
        end = -(-e.size // CHUNK)
        for c in range(last + 1, min(last + 1 + window, end)):
            if _key(e, c) in fs.cache or fs.pending(e, c):
                continue
            try:
                fs._fetch(e, c)
            except OutOfFrames:
                break  # read-ahead never fails a read: no frame, no read-ahead
            st.issued.add(c)
            self.prefetched += 1

    def figures(self) -> dict[str, Any]:
        """The totals, for a bench's table or a lesson's check."""
        return {"policy": self.spec, "reads": self.reads, "waited": self.waited, "wasted": self.wasted,
                "prefetched": self.prefetched, "moves": self.moves, "turns": self.turns,
                "wait_cycles": self.wait_cycles, "longest_wait": self.longest_wait}  # fmt: skip


def _key(e: Entry, c: int) -> tuple[int, int]:
    """The buffer cache's key for chunk ``c`` of ``e`` (extentfs.py's; one place here)."""
    return (e.ino, c)


def enable(fs: ExtentFS, spec: str) -> ReadAhead:
    """Turn read-ahead on for ``fs`` with the policy ``spec`` (ValueError for a bad one)."""
    fs.readahead = ReadAhead(spec)
    return fs.readahead
