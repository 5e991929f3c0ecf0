"""Synthetix's specialized read on the kernel's read path (seed 003 §3.1, §4):
the same bytes as the generic read for every size and offset, a replug back
under each call that falsifies an invariant, and no strand lost inside."""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.boot import boot
from kernel.core.probe import install_probe, parse_tally
from kernel.fs.format import build_image
from kernel.kernel import Kernel
from kernel.sys.trace import Replug
from kernel.unix.fileread import GENERIC, SEQUENTIAL, SPECIALIZED, Reads
from kernel.unix.process import OpenFile, Process
from machine.elf import read_elf
from tests.conftest import BIN

SIZES = (0, 1, 100, 8191, 8192, 8193, 20_000, 40_961)
FILES = {f"f{n}": bytes((i * 31 + (i >> 9) + n) & 0xFF for i in range(n)) for n in SIZES}


@functools.cache
def _world() -> tuple[Kernel, Process]:
    """A kernel with the files all in the buffer cache, and a process to read for (never run)."""
    k = boot(disk_image=build_image(FILES))
    for name in FILES:
        e = k.fs.lookup(name)
        if e.size:
            k.fs.read_all_polled(e)
    p = k.personality.spawn(read_elf(BIN / "readfile.elf"), ["reader"])
    return k, p


def _open(k: Kernel, p: Process, name: str, writable: bool = False) -> OpenFile:
    """What sys_open does with a file (the guard before the descriptor)."""
    f = OpenFile("file", k.fs.lookup(name), writable=writable)
    assert k.personality.reads.opened(p, f, p.strand)
    return f


def _seek(reads: Reads, f: OpenFile, whence: int, off: int) -> None:
    base = {0: 0, 1: f.offset, 2: f.entry.size}[whence]
    if base + off >= 0:
        f.offset = base + off
        reads.seeked(f)


def _level(f: OpenFile) -> str:
    return f.spec.slot.fn.__name__


ops = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.sampled_from([1, 7, 512, 4096, 8192, 8193, 65536]) | st.integers(1, 30_000)),
        st.tuples(st.just("seek"), st.integers(0, 2), st.integers(-9000, 45_000)),
        st.tuples(st.just("open2"), st.booleans()),
        st.tuples(st.just("close2"), st.just(0)),
        st.tuples(st.just("wrote"), st.just(0)),
        st.tuples(st.just("truncated"), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=120, deadline=None)
@given(name=st.sampled_from(sorted(FILES)), script=ops)
def test_the_specialized_read_gives_the_generic_bytes_and_replugs_under_each_guard(name: str, script: list) -> None:
    k, p = _world()
    reads: Reads = k.personality.reads
    data = FILES[name]
    f = _open(k, p, name)
    second: list[OpenFile] = []
    try:
        _script(k, p, reads, f, second, data, script)
    finally:  # the kernel is shared between examples: leave no opener behind
        for g in [*second, f]:
            reads.closed(g)
    assert id(f.entry) not in reads.openers


def _script(k: Kernel, p: Process, reads: Reads, f: OpenFile, second: list, data: bytes, script: list) -> None:
    assert _level(f) == "read_specialized"  # one opener, no writer, on the local disk
    broken = False  # a write or truncation was reported: generic until a guard finds the invariants hold again
    offset = 0
    for op, a, *rest in script:
        if op == "read":
            got = reads.read(p, f, p.strand, a)
            assert got == data[offset : offset + a], (op, a, offset, _level(f))
            offset += len(got)
        elif op == "seek":
            before = f.offset
            _seek(reads, f, a, rest[0])
            offset = f.offset
            if offset > len(data):
                assert _level(f) == "read_generic"
            elif offset != before:
                assert f.spec.level != SEQUENTIAL
        elif op == "open2" and not second:
            second.append(_open(k, p, f.entry.name, writable=a))
            assert _level(f) == "read_generic" and _level(second[0]) == "read_generic"  # two openers
        elif op == "close2" and second:
            reads.closed(second.pop())
            if f.offset <= len(data):
                assert _level(f) == "read_specialized"  # one opener again: the close's guard specializes afresh
                broken = False
            else:
                assert _level(f) == "read_generic"  # past the end: not while the offset is outside the file
        elif op in ("wrote", "truncated"):
            getattr(reads, op)(f.entry)  # as the writing file system calls them, after the change
            assert _level(f) == "read_generic"
            broken = True
        assert f.offset == offset
        if second or broken:
            assert f.spec.level == GENERIC and _level(f) == "read_generic"
        assert f.spec.slot.inside == {} and f.spec.slot.pending is None  # every call left; no replug half done


def test_incremental_specialization_after_two_reads_of_one_size() -> None:
    k, p = _world()
    reads = k.personality.reads
    f = _open(k, p, "f40961")
    data = FILES["f40961"]
    assert reads.read(p, f, p.strand, 1000) == data[:1000] and f.spec.level == SPECIALIZED
    assert reads.read(p, f, p.strand, 1000) == data[1000:2000]
    assert _level(f) == "read_sequential(1000)"
    assert reads.read(p, f, p.strand, 1000) == data[2000:3000]
    assert reads.read(p, f, p.strand, 10) == data[3000:3010]  # another size: the read is its own guard
    assert _level(f) == "read_specialized"
    _seek(reads, f, 0, 50_000)
    assert _level(f) == "read_generic" and reads.read(p, f, p.strand, 10) == b""
    reasons = [r.reason for r in k.trace.of(Replug) if r.slot == f.spec.slot.name]
    assert reasons == ["opened: one opener, no writer, a regular file on the local disk",
                       "two reads of 1000 bytes in a row: specialized on the read size and the position",
                       "read of 10 bytes at 3000 (specialized on 1000 at 3000)",
                       "lseek past the end (50000 > 40961)"]  # fmt: skip
    reads.closed(f)


def test_a_writer_or_a_disk_other_than_the_local_one_is_never_specialized() -> None:
    k, p = _world()
    reads = k.personality.reads
    w = _open(k, p, "f100", writable=True)
    assert _level(w) == "read_generic"
    reads.closed(w)
    reads.specialize = False
    try:
        f = _open(k, p, "f100")
        assert _level(f) == "read_generic" and reads.read(p, f, p.strand, 50) == FILES["f100"][:50]
        reads.closed(f)
    finally:
        reads.specialize = True


# --- whole programs: the guard at open with strands blocked inside ------------------------------

BIG = bytes((i * 13 + (i >> 10)) & 0xFF for i in range(256 * 1024))


def _specread(delay_ms: int, breaks: str = "") -> tuple[Kernel, str]:
    out = bytearray()
    k = boot(init=read_elf(BIN / "specread.elf"), argv=["specread", "/big", str(delay_ms)], halt_when_done=True,
             console_out=out.extend, disk_image=build_image({"big": BIG}))  # fmt: skip
    if breaks == "no-wait":  # a broken guard: it replugs without waiting for the strands inside
        slot_replug = type(k.personality.reads)._generic

        def hasty(self: Reads, g: OpenFile, why: str, s: Any, rejoin: bool = False) -> bool:
            return slot_replug(self, g, why, None, rejoin)

        k.personality.reads._generic = hasty.__get__(k.personality.reads)
    k.run(2_000_000_000)
    return k, out.decode()


def test_a_second_opener_waits_for_the_strand_inside_and_both_read_every_byte() -> None:
    k, out = _specread(3)
    want = f"{len(BIG)} bytes, sum {sum(BIG)}"
    assert sorted(out.splitlines()) == [f"child: {want}", f"parent: {want}"] and k.exit_status == 0
    reps = [r for r in k.trace.of(Replug) if r.new == "read_generic"]
    assert len(reps) == 1 and reps[0].reason == "opened by pid 2: a second opener"
    slot = next(r.slot for r in reps)
    assert slot.startswith("read big (pid 1")
    reads = k.personality.reads
    assert reads.replugs >= 3  # specialized, sequential, generic (and the child's own)
    assert reads.waits == 1  # the child's open parked until the parent's strand, blocked inside, left


def test_the_replug_waits_only_while_a_strand_is_inside() -> None:
    """The same run, watched: when the child's open runs, the parent is
    inside (blocked for the disk); the child parks as the replug's waiter and
    its open restarts; the parent's call ends in the function it entered."""
    out = bytearray()
    k = boot(init=read_elf(BIN / "specread.elf"), argv=["specread", "/big", "3"], halt_when_done=True,
             console_out=out.extend, disk_image=build_image({"big": BIG}))  # fmt: skip
    reads = k.personality.reads
    seen: list[tuple[int, int, str]] = []
    real = reads.opened

    def watch(p: Process, f: OpenFile, s: Any = None) -> bool:
        others = reads.openers.get(id(f.entry), [])
        ok = real(p, f, s)
        for g in others:
            seen.append((len(g.spec.slot.inside), len(g.spec.slot.blocked), "parked" if not ok else "went on"))
        return ok

    reads.opened = watch
    k.run(2_000_000_000)
    assert k.exit_status == 0, out.decode()
    assert seen[0][0] == 1 and seen[0][1] == 1 and seen[0][2] == "parked"  # one strand inside, blocked for the disk
    assert seen[-1] == (0, 0, "went on")  # the restarted open found the swap done
    assert reads.openers == {}  # every open file closed: no slot left behind


def _order(k: Kernel) -> tuple[int, int]:
    """Where in the trace the replug to generic and the child's open (its return) are."""
    recs = list(k.trace)
    swap = next(i for i, r in enumerate(recs) if isinstance(r, Replug) and r.new == "read_generic")
    opened = next(i for i, r in enumerate(recs) if getattr(r, "name", "") == "open" and getattr(r, "pid", 0) == 2)
    return swap, opened


def test_mutation_a_guard_that_does_not_wait_lets_the_open_return_before_the_swap() -> None:
    """Break the guard (replug without waiting): the child's open returns
    while the parent's strand is still inside the specialized read -- what
    the waiting prevents. (A reader cannot make the bytes wrong, so the run
    still reads right; the order, in the trace, is what breaks.)"""
    good, _ = _specread(3)
    swap, opened = _order(good)
    assert swap < opened  # the open returned after the strand inside had left and the swap was done
    broken, _ = _specread(3, breaks="no-wait")
    swap, opened = _order(broken)
    assert opened < swap and broken.personality.reads.waits == 0


def test_fork_makes_another_opener() -> None:
    k, p = _world()
    reads = k.personality.reads
    f = _open(k, p, "f20000")
    p.fds[9] = f
    child = Process(99, p.pid, "child", p.strand, p.aspace)
    child.fds = {9: OpenFile("file", f.entry, f.offset)}
    reads.forked(child)
    assert _level(f) == "read_generic" and _level(child.fds[9]) == "read_generic"
    reads.closed(child.fds.pop(9))
    assert _level(f) == "read_specialized"  # one opener again: specialized again
    reads.closed(p.fds.pop(9))


def test_the_specialized_read_is_more_than_three_times_cheaper_for_small_reads() -> None:
    """The bench's shape, from the mechanism: a program's timed 64-byte reads."""
    data = bytes(range(256)) * 1024
    cycles = {}
    for way in ("", "shared"):
        out = bytearray()
        k = boot(init=read_elf(BIN / "readspec.elf"), argv=["readspec", "/d", "64", "100", *([way] if way else [])],
                 halt_when_done=True, console_out=out.extend, disk_image=build_image({"d": data}))  # fmt: skip
        install_probe(k)
        k.run(2_000_000_000)
        t = parse_tally(bytes(out))
        assert t is not None and k.exit_status == 0, out
        cycles[way or "specialized"] = t.cycles / t.ops
    assert cycles["shared"] > 3 * cycles["specialized"], cycles
