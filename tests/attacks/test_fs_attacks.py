"""An attacker's pass on the writable extent file system (issue 21): a
hostile program must get -errno, never a traceback at the end of the run,
and the image must mount again whatever it did. Each test is an attack and
what must hold after it."""

from __future__ import annotations

from typing import Any

import pytest

from kernel.boot import boot
from kernel.fs import extentfs
from kernel.fs.extentfs import FsError
from kernel.fs.format import BLOCK, build_image, image_tree, read_image
from tests.fs.test_writable import _settle


def _mounts(k: Any) -> dict[str, bytes]:
    """Flush as the end of a run does; the image as a fresh mount and the host read it."""
    k.fs.flush_polled()
    image = bytes(k.machine.disk.data)
    k2 = boot(disk_image=image, unix=False)
    assert k2.fs is not None
    return image_tree(image)[0]


def test_more_files_than_the_directory_holds_get_enospc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: create took any number; the flush then needed a directory no
    mount reads (past MAX_FILES) or no room for one, and raised NoSpace."""
    monkeypatch.setattr(extentfs, "MAX_FILES", 40)
    k = boot(disk_image=build_image({"a": b"x"}, spare_blocks=4096), unix=False)
    made = 0
    with pytest.raises(FsError) as err:
        for i in range(100):
            k.fs.create(f"f{i}", 0o644)
            made += 1
    assert err.value.errno == 28 and made == 39  # ENOSPC; "a" was the 40th
    with pytest.raises(FsError):
        k.fs.mkdir("dd", 0o755)
    assert len(_mounts(k)) == 40


def test_files_created_on_a_full_disk_get_enospc_and_the_image_mounts() -> None:
    """Before: the directory grew only at the flush; with the disk full that raised NoSpace at the end of the run."""
    k = boot(disk_image=build_image({"a": b"x"}, spare_blocks=100), unix=False)
    fs = k.fs
    errnos = set()
    for i in range(400):
        try:
            e = fs.create(f"g{i}", 0o644)
        except FsError as err:
            errnos.add(err.errno)
            continue
        try:
            _settle(k, lambda e=e: fs.write(e, 0, b"z" * (3 * BLOCK), None))
        except extentfs.NoSpace:
            pass
    assert errnos == {28}
    files = _mounts(k)
    assert files["a"] == b"x" and all(v in (b"", b"z" * 3 * BLOCK) for n, v in files.items() if n != "a")


def test_a_rename_to_a_long_name_on_a_full_disk_does_not_break_the_flush() -> None:
    """A long name switches the directory to the larger entry format: it must have room before, not at the flush."""
    k = boot(disk_image=build_image({f"n{i}": b"q" for i in range(12)}, spare_blocks=2), unix=False)
    fs = k.fs
    e = fs.create("filler", 0o644)
    with pytest.raises(extentfs.NoSpace):
        _settle(k, lambda: fs.write(e, 0, bytes(100 * BLOCK), None))
    _settle(k, lambda: fs.write(e, 0, bytes(BLOCK * max(0, fs.free_blocks() - 1)) or b"", None))
    try:
        fs.rename("n0", "x" * 200)
    except FsError as err:
        assert err.errno == 28
    files = _mounts(k)
    assert len(files) == 13


def test_an_old_directory_extent_stays_taken_until_the_new_superblock_is_written() -> None:
    k = boot(disk_image=build_image({"a": b"x"}, spare_blocks=512), unix=False)
    fs = k.fs
    old = (fs.dir_block, fs.dir_blocks)
    for i in range(40):
        fs.create(f"name{i}", 0o644)
    assert (fs.dir_block, fs.dir_blocks) != old
    assert all(not (b <= old[0] < b + n) for b, n in fs.free), "the disk's directory was given back unwritten"
    _mounts(k)
    assert any(b <= old[0] < b + n for b, n in fs.free)


def test_create_over_a_directory_is_refused() -> None:
    """Before: mkdir q, then create q made two entries named q, and the image no longer mounted."""
    k = boot(disk_image=build_image({"a": b"x"}, spare_blocks=64), unix=False)
    k.fs.mkdir("q", 0o755)
    with pytest.raises(FsError) as err:
        k.fs.create("q", 0o644)
    assert err.value.errno == 17
    _mounts(k)


def _direct(k: Any, e: Any, off: int, n: int) -> Any:
    got: list[Any] = []
    k.fs.read_direct(e, off, n, got.append)
    for _ in range(1000):
        if got:
            return got[0]
        k.run(until_cycle=k.sal.now + 200_000)
    raise AssertionError("read_direct never answered")


def test_read_direct_sees_what_a_program_wrote_not_the_disk_s_stale_copy() -> None:
    """The web server's Files.Read reads the disk past the cache: before, a
    file being written read back its old bytes while the new ones were dirty."""
    k = boot(disk_image=build_image({"f": b"old!" * 4096}, spare_blocks=64), unix=False)
    fs = k.fs
    e = fs.lookup("f")
    _settle(k, lambda: fs.write(e, 100, b"NEW" * 1000, None))
    want = _settle(k, lambda: fs.read(e, 0, e.size, None))
    assert _direct(k, e, 0, e.size) == want
    assert _direct(k, e, 50, 200) == want[50:250]


def test_read_direct_reads_zeros_past_a_truncation_not_the_old_blocks() -> None:
    k = boot(disk_image=build_image({"f": b"S" * 20_000}, spare_blocks=64), unix=False)
    fs = k.fs
    e = fs.lookup("f")
    _settle(k, lambda: fs.truncate(e, 10, None))
    fs.flush_polled()
    for key in [key for key in fs.cache if key[0] == e.ino]:  # as if memory pressure took them
        fs._drop_chunks(e, key[1])
    _settle(k, lambda: fs.truncate(e, 20_000, None))
    got = _direct(k, e, 0, 20_000)
    assert got == b"S" * 10 + bytes(19_990)


def test_the_end_of_run_flush_with_memory_exhausted_is_one_line_not_a_traceback() -> None:
    from kernel.core.physaddr import OutOfFrames

    k = boot(disk_image=build_image({"f": b"x"}, spare_blocks=64), unix=False, memory=2 << 20)
    fs = k.fs
    e = fs.lookup("f")
    _settle(k, lambda: fs.write(e, 0, b"y" * 9000, None))
    hog = []
    with pytest.raises(OutOfFrames):
        while True:
            hog.append(k.phys.Allocate("hog"))
    with pytest.raises(extentfs.DiskIOError):
        fs.flush_polled()
    for f in hog:
        k.phys.Deallocate(f)
    assert _mounts(k)["f"] == b"y" * 9000
    assert read_image(bytes(k.machine.disk.data))


def test_lseek_past_off_t_is_einval_not_a_wrapped_offset() -> None:
    """Before: SEEK_CUR by 2**63-1 twice gave an offset of 2**64-2, which the
    program read back as -2 (an errno), and the descriptor kept it."""
    from types import SimpleNamespace

    from kernel.unix.process import OpenFile
    from tests.holes.helpers import start

    k = start("smallfiles", ["1", "/f1.txt"])
    unix = k.personality
    p = unix.procs[1]
    f = OpenFile("file", k.fs.lookup("f1.txt"), 0, True, False)
    p.fds[9] = f
    big = (1 << 63) - 1
    assert unix.sys_lseek(p, SimpleNamespace(a0=9, a1=big, a2=0)) == big
    assert unix.sys_lseek(p, SimpleNamespace(a0=9, a1=big, a2=1)) == -22
    assert f.offset == big
    assert unix.sys_lseek(p, SimpleNamespace(a0=9, a1=(1 << 64) - 1, a2=1)) == big - 1  # -1 from where it is
