"""The kernel survives its programs (issue 15): running out of physical
memory kills the process that asked, never the kernel, and leaks no frame;
fork answers ENOMEM; execve of a malformed file answers ENOEXEC (or EACCES,
ENOMEM as Linux would) and the caller runs on."""

from __future__ import annotations

import re
import struct

import pytest

from kernel.boot import boot
from kernel.core.physaddr import OutOfFrames
from kernel.core.sal import READ, WRITE
from kernel.fs.format import build_image
from kernel.kernel import Kernel
from kernel.unix.addrspace import AddressSpace
from machine.elf import read_elf
from tests.conftest import BIN

SMALL = 4 << 20  # 512 frames: a hog fills it in a fraction of a second
OOM = BIN / "oom.elf"
OTHER = [b"other: line 0", b"other: line 1", b"other: line 2", b"other: line 3", b"other: exited 3"]


def free_after_boot(memory: int = SMALL) -> int:
    """Frames free on a booted kernel with no process: what must come back."""
    k = boot(memory=memory)
    assert k.phys is not None
    return k.phys.nfree


def run_ms(k: Kernel, ms: int) -> str:
    """Run for ms of virtual time (an idle machine burns no budget waiting)."""
    return k.run(until_cycle=k.sal.now + ms * 133_000)


def fill(k: Kernel) -> list:
    """Take every free frame, as if other work had filled memory."""
    assert k.phys is not None
    held = []
    while True:
        try:
            held.append(k.phys.Allocate("test"))
        except OutOfFrames:
            return held


def test_a_hog_is_killed_out_of_memory_and_the_others_go_on() -> None:
    out = bytearray()
    k = boot(init=read_elf(OOM), argv=["oom"], halt_when_done=True, console_out=out.extend, memory=SMALL)
    why = k.run(200_000_000)
    assert why == "all processes exited" and k.exit_status == 0, (why, k.reports)
    lines = bytes(out).splitlines()
    assert [ln for ln in lines if ln.startswith(b"other:")] == OTHER, "the sibling's output is unchanged"
    assert b"hog: killed by signal 9" in lines
    assert lines[-1] == b"after: a child touched 64 pages and exited 0", "memory came back for a new process"
    assert b"hog: not reached" not in out
    [line] = [r for r in k.reports if "out of memory" in r]
    assert re.fullmatch(
        r"pid 3 \(oom\): out of memory: killed process 3 \(oom\), asking for a page at 0x2[0-9a-f]{10} "
        r"\(it held \d+ pages\)",
        line,
    ), line
    assert k.personality.oom_kills == 1
    assert k.phys.nfree == free_after_boot(), "every frame of every process came back"


def test_fork_with_memory_full_is_enomem_and_the_caller_goes_on() -> None:
    out = bytearray()
    k = boot(init=read_elf(OOM), argv=["oom", "fork"], halt_when_done=True, console_out=out.extend, memory=SMALL)
    assert run_ms(k, 50) == "cycle" and out == b"ready\n", "the program waits for its first line"
    held = fill(k)
    k.machine.console.feed(b"go\n")
    run_ms(k, 50)
    assert out == b"ready\nfork with memory full: errno 12\n"
    assert k.phys.nfree == 0 and k.personality.oom_kills == 0
    for f in held:
        k.phys.Deallocate(f)
    k.machine.console.feed(b"go\n")
    assert run_ms(k, 200) == "all processes exited"
    assert out.endswith(b"fork with memory back: child exited 5\n")
    assert k.exit_status == 0
    assert k.phys.nfree == free_after_boot(), "the half-made child gave back its page tables and kernel stack"


def test_a_system_call_that_needs_a_page_kills_only_the_caller() -> None:
    """read() into a page never touched: the copy faults in the kernel, no
    frame is left, and the caller dies in the call, as with a user fault."""
    out = bytearray()
    k = boot(init=read_elf(OOM), argv=["oom", "read"], halt_when_done=True, console_out=out.extend, memory=SMALL)
    run_ms(k, 50)
    held = fill(k)
    k.machine.console.feed(b"go\n")
    assert run_ms(k, 50) == "all processes exited"
    assert out == b"ready\n", "the call never returned to the program"
    assert k.exit_status == 128 + 9
    assert re.search(r"out of memory: killed process 1 \(oom\), asking for a page at 0x20000000000", k.exit_message)
    for f in held:
        k.phys.Deallocate(f)
    assert k.phys.nfree == free_after_boot()


def test_a_frame_goes_back_when_the_page_table_cannot_grow() -> None:
    k = boot(memory=SMALL)
    a = AddressSpace(k.translation, k.phys, "probe")
    far = 0x300_0000_0000  # an L1 slot no table covers yet: the page needs an L2 and an L3 table too
    a.add_region(far, 8192, READ | WRITE, "mmap")
    held = fill(k)
    k.phys.Deallocate(held.pop())  # one frame: enough for the page, not for its tables
    with pytest.raises(OutOfFrames):
        a.fix(far, 1, "PageNotPresent")
    assert k.phys.nfree == 1 and a.pages() == 0, "the page's frame went back; nothing is mapped"
    for f in held[:3]:
        k.phys.Deallocate(f)
    assert a.fix(far, 1, "PageNotPresent") and a.pages() == 1


def test_a_fork_that_runs_out_halfway_leaves_the_parent_whole() -> None:
    k = boot(memory=SMALL)
    a = AddressSpace(k.translation, k.phys, "parent")
    bases = [0x200_0000_0000 + i * (8 << 20) for i in range(4)]  # four pages, each under its own L3 table
    for b in bases:
        a.add_region(b, 8192, READ | WRITE, "mmap")
        assert a.fix(b, 1, "PageNotPresent")
    a.poke(bases[0], b"parent's")
    held = fill(k)
    for f in held[:4]:  # the child's L1, L2 and two L3 tables, not all four
        k.phys.Deallocate(f)
    with pytest.raises(OutOfFrames):
        a.fork("child")
    assert k.phys.nfree == 4, "the half-made child gave back every frame it took"
    assert [k.phys.frames[pfn].refs for pfn in a.space.mapped.values()] == [1, 1, 1, 1]
    assert a.fix(bases[0], 1, "ProtectionFault"), "a write finds the page unshared and just remaps it"
    assert k.phys.nfree == 4
    pa = a.space.mapped[bases[0] >> 13] << 13
    assert k.sal.read_phys(pa, 8) == b"parent's"


def test_a_path_that_lets_out_of_frames_escape_ends_the_process_not_the_kernel() -> None:
    """The last line in Kernel.on_trap: a system call whose code raises
    OutOfFrames (here write, made to) ends its process as out of memory."""
    out = bytearray()
    k = boot(init=read_elf(BIN / "hello-ev4.elf"), argv=["hello"], halt_when_done=True, console_out=out.extend)

    def no_memory(p: object, st: object) -> int:
        raise OutOfFrames("out of physical memory")

    k.personality.table[4] = no_memory
    assert k.run(10_000_000) == "all processes exited"
    assert k.exit_status == 128 + 9 and out == b""
    assert "out of memory: killed process 1 (hello), asking for memory" in k.exit_message


def _patch(data: bytes, off: int, fmt: str, value: int) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, off, value)
    return bytes(b)


def test_execve_of_malformed_files_fails_and_the_caller_runs_on() -> None:
    hello = (BIN / "hello-ev4.elf").read_bytes()
    phoff = struct.unpack_from("<Q", hello, 32)[0]
    files = {
        "notes.txt": b"plain text\n",
        "truncated": hello[:100],
        "x86": _patch(hello, 18, "<H", 62),  # e_machine EM_X86_64
        "high": _patch(hello, phoff + 16, "<Q", (1 << 42) - 8192),  # p_vaddr: the segment crosses 2^42
        "onstack": _patch(hello, phoff + 16, "<Q", 0x1_1FF0_0000),
        "zeros": bytes(65536),  # what /dev/zero reads as
        "empty": b"",
        "huge": bytes(9 << 20),  # bigger than the machine's memory
        "hello": hello,
    }
    bad = ["/notes.txt", "/truncated", "/x86", "/high", "/onstack", "/zeros", "/empty", "/huge", "/", "/dev/tty"]
    out = bytearray()
    k = boot(init=read_elf(BIN / "badexec.elf"), argv=["badexec", *bad, "/hello"], halt_when_done=True,
             console_out=out.extend, disk_image=build_image(files), memory=8 << 20)  # fmt: skip
    assert k.run(100_000_000) == "all processes exited"
    errnos = {"/huge": 12, "/": 13, "/dev/tty": 13}  # ENOMEM; EACCES: not a regular file (execve(2))
    expect = b"".join(f"{p}: errno {errnos.get(p, 8)}\n".encode() for p in bad)
    assert out.startswith(expect), bytes(out)
    assert out[len(expect) :].startswith(b"hello from alpha"), "the good file ran, in the same process"
    assert k.exit_status == 0
    reports = "\n".join(k.reports)
    for what in ("not an ELF file", "truncated", "not Alpha", "/high", "overlaps the stack", "do not fit in memory"):
        assert what in reports, what
