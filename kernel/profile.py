"""A program's system calls as a profile: strace's lines, strace -c's table,
and the call sequences worth turning into macro calls (Poking Holes §4-5).

The paper found Squid's open-write-close with strace and timed it with
hrprof; here both come from the kernel's Syscall records
(kernel/sys/trace.py): each call's arguments, result, first entry and
return in virtual time, and how many kernel entries it took. Everything
is modeled time at the machine's clock, read-only over the records, so a
profile never changes the run it describes.

A *sequence* is a run of n contiguous calls of one process (n = 2..4).
Made into one macro call it would cross the user/kernel boundary twice
instead of 2n times; ``ENTRY_CYCLES`` is what each crossing pair it saves
costs in the model (the PAL entry and return, the trap's bookkeeping, the
dispatch to Trap.SystemCall) -- an upper bound, since a macro call run as
an extension pays its own calls into the kernel and its fuel. A data round
trip through user memory (a read into a buffer, then a write or send from
it) is two copies a macro call need not make. A sequence is
*self-contained* when every descriptor it opens it also closes and it
closes none it did not open: those are the candidates for a macro call
(a loop's rotations, read-close-open, are not).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from kernel.core import costs, sal
from kernel.core.sal import PAL_ENTRY_CYCLES
from kernel.sys.trace import Record, Syscall

ENTRY_CYCLES = 2 * PAL_ENTRY_CYCLES + costs.TRAP_ENTRY + costs.SYSCALL_DISPATCH  # one call's entry and return
SEQUENCE_LENGTHS = range(2, 5)
ERRNO_NAMES = {v: n for n, v in vars(sal).items()
               if n[:1] == "E" and n.isupper() and "_" not in n and n != "EXECUTE" and type(v) is int}  # fmt: skip
O_FLAGS = ((0o1000, "O_CREAT"), (0o2000, "O_TRUNC"), (0o4000, "O_EXCL"), (0o10, "O_APPEND"), (0o4, "O_NONBLOCK"))
OPENERS = ("open", "socket", "accept")  # calls whose result is a new descriptor
FD_FIRST = ("read", "write", "close", "lseek", "fstat", "send", "recv", "sendto", "recvfrom", "connect", "bind",
            "listen", "shutdown", "read_fixed_bind")  # fmt: skip
READS = ("read", "recv", "recvfrom")
WRITES = ("write", "send", "sendto")
# The macro calls extensions/macro_calls.py offers for a sequence (its calls in order, repeats aside).
KNOWN = {("open", "read", "close"): "open_read_close (0x7600, extensions/macro_calls.py)",
         ("read", "send"): "file_to_socket (0x7601, extensions/macro_calls.py), with the open and close around it",
         ("open", "read", "send"): "file_to_socket (0x7601, extensions/macro_calls.py)"}  # fmt: skip


@dataclass(frozen=True)
class Call:
    """One system call that returned."""

    pid: int
    strand: int
    number: int
    name: str
    args: tuple[int, ...]
    result: int
    start: int  # cycle of its first entry
    end: int  # cycle it returned
    entries: int  # kernel entries: more than 1 when it blocked and restarted
    text: str  # what its handler read from user memory (a path)

    @property
    def cycles(self) -> int:
        return max(0, self.end - self.start)

    @property
    def micros(self) -> float:
        return costs.micros(self.cycles)


def calls(records: Iterable[Record]) -> list[Call]:
    return [Call(r.pid, r.strand, r.number, r.name, r.args, r.result, r.start, r.cycle, r.entries, r.text)
            for r in records if isinstance(r, Syscall)]  # fmt: skip


def _errno(result: int) -> str:
    return f"-1 {ERRNO_NAMES.get(-result, 'E?')} (errno {-result})"


def _flags(v: int) -> str:
    mode = ("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")[v & 3]
    return "|".join([mode] + [name for bit, name in O_FLAGS if v & bit])


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def arguments(c: Call) -> str:
    """The call's arguments as strace shows them, decoded where the trace can."""
    a = (*c.args, 0, 0, 0, 0, 0, 0)[:6]
    path = _q(c.text) if c.text else f"{a[0]:#x}"  # a path the handler could not read: its pointer
    n = c.name
    if n == "open":
        return f"{path}, {_flags(a[1])}"
    if n == "execve":
        return f"{path}, {a[1]:#x}, {a[2]:#x}"
    if n in READS or n in WRITES:
        return f"{a[0]}, {a[1]:#x}, {a[2]}"
    if n == "close":
        return f"{a[0]}"
    if n in ("unlink", "rmdir"):
        return path
    if n in ("stat", "lstat"):
        return f"{path}, {a[1]:#x}"
    if n == "mkdir":
        return f"{path}, 0{a[1]:o}"
    if n == "truncate":
        return f"{path}, {a[1] - (1 << 64) if a[1] >> 63 else a[1]}"
    if n == "rename":  # the handler notes the first path only
        return f"{path}, {a[1]:#x}"
    if n == "fstat":
        return f"{a[0]}, {a[1]:#x}"
    if n == "ftruncate":
        return f"{a[0]}, {a[1] - (1 << 64) if a[1] >> 63 else a[1]}"
    if n in ("fsync", "fdatasync"):
        return f"{a[0]}"
    if n == "getdents64":
        return f"{a[0]}, {a[1]:#x}, {a[2]}"
    if n == "lseek":
        whence = ("SEEK_SET", "SEEK_CUR", "SEEK_END")[a[2]] if a[2] < 3 else str(a[2])
        return f"{a[0]}, {a[1] - (1 << 64) if a[1] >> 63 else a[1]}, {whence}"
    if n in ("exit", "exit_group"):
        return f"{a[0] & 0xFF}"
    if n in ("brk", "getxpid", "sched_yield"):
        return f"{a[0]:#x}" if n == "brk" else ""
    if n == "mmap":
        return f"{a[0]:#x}, {a[1]}, {a[2]}, {a[3]:#x}, {a[4] - (1 << 64) if a[4] >> 63 else a[4]}, {a[5]}"
    if n == "munmap":
        return f"{a[0]:#x}, {a[1]}"
    if n == "open_read_close":
        return f"{path}, {a[1]:#x}, {a[2]}"
    if n == "file_to_socket":
        return f"{path}, {a[1]}"
    return ", ".join(f"{v:#x}" if v > 9 else str(v) for v in a[:3])


def strace_line(c: Call, pid: bool = False) -> str:
    """``open("/a.txt", O_RDONLY) = 3   [12.3 µs]``, as strace -T prints it."""
    result = _errno(c.result) if c.result < 0 else (f"{c.result:#x}" if c.name in ("mmap", "brk") else str(c.result))
    if c.name in ("exit", "exit_group"):
        result = "?"
    head = f"[pid {c.pid}] " if pid else ""
    line = f"{head}{c.name}({arguments(c)}) = {result}"
    more = f", {c.entries} entries" if c.entries > 1 else ""
    return f"{line:<56} [{c.micros:.1f} µs{more}]"


@dataclass(frozen=True)
class CallSummary:
    """strace -c's row: one call's count and modeled time."""

    name: str
    count: int
    errors: int
    entries: int
    cycles: int
    micros: float
    mean_micros: float
    share: float  # of all the calls' modeled time


def summary(cs: list[Call]) -> list[CallSummary]:
    total = sum(c.cycles for c in cs) or 1
    by: dict[str, list[Call]] = defaultdict(list)
    for c in cs:
        by[c.name].append(c)
    rows = []
    for name, group in by.items():
        cyc = sum(c.cycles for c in group)
        rows.append(CallSummary(name, len(group), sum(c.result < 0 for c in group), sum(c.entries for c in group),
                                cyc, costs.micros(cyc), costs.micros(cyc) / len(group), cyc / total))  # fmt: skip
    return sorted(rows, key=lambda r: (-r.cycles, r.name))


@dataclass(frozen=True)
class Sequence:
    """n contiguous calls of one process, counted without overlap."""

    calls: tuple[str, ...]
    count: int
    pids: tuple[int, ...]
    self_contained: bool  # opens only what it closes, closes only what it opened
    copies: int  # data round trips through user memory in one occurrence, 2 copies each
    cycles: int = 0  # modeled cycles the occurrences took, all told
    known: str = ""  # the macro call that does it, if one exists

    @property
    def n(self) -> int:
        return len(self.calls)

    @property
    def crossings_saved(self) -> int:
        """Per occurrence: 2n crossings become 2."""
        return 2 * (self.n - 1)

    @property
    def score(self) -> int:
        return self.count * self.crossings_saved

    @property
    def micros_saved(self) -> float:
        """At most, all occurrences: the entries and returns a macro call need not make."""
        return costs.micros(self.count * (self.n - 1) * ENTRY_CYCLES)

    @property
    def name(self) -> str:
        return "_".join(self.calls)


def _contained(window: list[Call]) -> tuple[bool, int]:
    opened: set[int] = set()
    ok = True
    buffers: set[tuple[int, int]] = set()
    copies = 0
    for c in window:
        fd = c.args[0] if c.args else -1
        if c.name == "close" and fd not in opened:
            ok = False
        if c.name == "close":
            opened.discard(fd)
        if c.name in READS and c.result > 0:
            buffers.add((c.args[1], c.result))
        if c.name in WRITES and len(c.args) > 2 and any(b == c.args[1] for b, _ in buffers):
            copies += 1
        if c.name in OPENERS and c.result >= 0:
            opened.add(c.result)
    return ok and not opened, copies


def sequences(cs: list[Call], lengths: range = SEQUENCE_LENGTHS) -> list[Sequence]:
    """Every sequence that occurs at least twice, best first (count x crossings saved)."""
    per: dict[int, list[Call]] = defaultdict(list)
    for c in cs:
        if c.name not in ("exit", "exit_group"):
            per[c.pid].append(c)
    counts: Counter[tuple[str, ...]] = Counter()
    last: dict[tuple[int, tuple[str, ...]], int] = {}
    pids: dict[tuple[str, ...], set[int]] = defaultdict(set)
    contained: dict[tuple[str, ...], bool] = {}
    copies: dict[tuple[str, ...], int] = {}
    cycles: Counter[tuple[str, ...]] = Counter()
    for pid, seq in per.items():
        for n in lengths:
            for i in range(len(seq) - n + 1):
                key = tuple(c.name for c in seq[i : i + n])
                if last.get((pid, key), -n) > i - n:  # overlaps the occurrence counted last
                    continue
                last[(pid, key)] = i
                counts[key] += 1
                pids[key].add(pid)
                window = seq[i : i + n]
                cycles[key] += sum(c.cycles for c in window)
                ok, cp = _contained(window)
                contained[key] = contained.get(key, True) and ok
                copies[key] = max(copies.get(key, 0), cp)
    out = [Sequence(k, v, tuple(sorted(pids[k])), contained[k], copies[k], cycles[k], _known(k))
           for k, v in counts.items() if v >= 2]  # fmt: skip
    return sorted(out, key=lambda s: (-s.score, -s.self_contained, s.calls))


def _known(key: tuple[str, ...]) -> str:
    squeezed = tuple(name for i, name in enumerate(key) if i == 0 or key[i - 1] != name)
    return KNOWN.get(squeezed, "")


def candidates(seqs: list[Sequence], top: int = 5) -> list[Sequence]:
    """The self-contained sequences, best first, none a part of a better one
    or a better one with calls added."""
    out: list[Sequence] = []
    for s in seqs:
        if not s.self_contained or any(_within(s.calls, o.calls) or _within(o.calls, s.calls) for o in out):
            continue
        out.append(s)
        if len(out) >= top:
            break
    return out


def _within(small: tuple[str, ...], big: tuple[str, ...]) -> bool:
    k = len(small)
    return any(big[i : i + k] == small for i in range(len(big) - k + 1))


@dataclass
class Profile:
    """Everything ``spinwb profile`` prints, from one run's calls."""

    calls: list[Call]
    run_cycles: int = 0  # the whole run's modeled cycles
    crossings: int = 0  # the whole run's boundary crossings
    dropped: int = 0  # calls past the profile's bound, counted but not kept
    rows: list[CallSummary] = field(default_factory=list)
    seqs: list[Sequence] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rows = summary(self.calls)
        self.seqs = sequences(self.calls)

    @property
    def syscall_cycles(self) -> int:
        return sum(c.cycles for c in self.calls)


__all__ = ["ENTRY_CYCLES", "Call", "CallSummary", "Profile", "Sequence", "calls", "candidates", "sequences",
           "strace_line", "summary"]  # fmt: skip
