"""The writable file system calls the specialized read's guards: a reader's
read, specialized at open and then on its size, is replugged generic when
another process truncates the file by name (without opening it), and the
reader sees the new size; a writer's open makes it generic too, and the
reader sees the written bytes. fs_guard also runs under qemu-alpha in
tests/fs_diff, where Linux says what the reader must see."""

from __future__ import annotations

from kernel.boot import boot
from kernel.fs.format import build_image
from kernel.sys.trace import Replug
from machine.elf import read_program
from tests.fs_diff.test_fs_programs import BIN


def test_a_truncate_by_name_replugs_the_readers_specialized_read() -> None:
    out: list[bytes] = []
    k = boot(init=read_program(str(BIN / "fs_guard.elf")), argv=["fs_guard"], halt_when_done=True,
             disk_image=build_image({}, spare_blocks=512), console_out=out.append, trace=True)  # fmt: skip
    assert k.run(100_000_000) == "all processes exited"
    text = b"".join(out).decode()
    reps = [(r.old, r.new, r.reason) for r in k.trace.of(Replug) if r.slot.startswith("read guarded.bin (pid 1")]
    assert [(a, b) for a, b, _ in reps[:3]] == [("read_generic", "read_specialized"),
                                               ("read_specialized", "read_sequential(4096)"),
                                               ("read_sequential(4096)", "read_generic")]  # fmt: skip
    assert "size changed to 6000" in reps[2][2]
    assert "after the truncate, at 8192: 0 bytes" in text and "at 4096: 1904 bytes" in text
    assert "after the child's write: CHANGED!, 16 bytes" in text
