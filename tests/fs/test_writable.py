"""The writable extent file system against a model: any sequence of
creates, writes, truncations, renames and unlinks reads back as a byte
array model says, before and after the cache is written back and the disk
mounted again by a fresh kernel, and with memory so short that clean chunks
are reclaimed under it. Then the cases a model of bytes does not see: an
unlinked file open, a file that moves to a larger extent, free space that
runs out, and what a crash of the host leaves on the disk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernel.boot import boot
from kernel.fs.extentfs import CHUNK, FsError, NoSpace
from kernel.fs.format import BLOCK, build_image, image_tree, read_image

NAMES = ("a", "b", "d/c")


def _settle(k: Any, call: Callable[[], Any]) -> Any:
    """Call until it stops answering None (waiting for the disk), running the machine between."""
    for _ in range(10_000):
        got = call()
        if got is not None:
            return got
        k.run(until_cycle=k.sal.now + 200_000)
    raise AssertionError("the file system never finished")


def _read_all(k: Any, e: Any) -> bytes:
    return _settle(k, lambda: k.fs.read(e, 0, e.size, None))


def _remount(k: Any, memory: int) -> Any:
    k.fs.flush_polled()
    return boot(disk_image=bytes(k.machine.disk.data), unix=False, memory=memory)


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from(NAMES), st.integers(0, 40_000), st.integers(1, 20_000)),
        st.tuples(st.just("truncate"), st.sampled_from(NAMES), st.integers(0, 50_000)),
        st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
        st.tuples(st.just("unlink"), st.sampled_from(NAMES)),
        st.tuples(
            st.just("remount"),
        ),
    ),
    max_size=14,
)


@pytest.mark.parametrize("memory", [64 << 20, 2 << 20], ids=["roomy", "short of memory"])
@settings(max_examples=40, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, seed=st.binary(min_size=1, max_size=5000))
def test_any_sequence_reads_back_as_the_model_says(memory: int, ops: list[tuple[Any, ...]], seed: bytes) -> None:
    k = boot(disk_image=build_image({"a": seed}, spare_blocks=2048, dirs=("d",)), unix=False, memory=memory)
    model: dict[str, bytearray] = {"a": bytearray(seed)}
    fs = k.fs
    for op in ops:
        kind, args = op[0], op[1:]
        if kind == "write":
            name, off, n = args
            data = bytes((off + i * 7) & 0xFF for i in range(n))
            e = fs.lookup(name) or fs.create(name, 0o644)
            _settle(k, lambda e=e, off=off, data=data, fs=fs: fs.write(e, off, data, None))
            m = model.setdefault(name, bytearray())
            m.extend(bytes(max(0, off - len(m))))
            m[off : off + n] = data
        elif kind == "truncate":
            name, size = args
            e = fs.lookup(name)
            if e is None:
                continue
            _settle(k, lambda e=e, size=size, fs=fs: fs.truncate(e, size, None))
            m = model[name]
            del m[size:]
            m.extend(bytes(size - len(m)))
        elif kind == "rename":
            old, new = args
            if old not in model:
                with pytest.raises(FsError):
                    fs.rename(old, new)
                continue
            fs.rename(old, new)
            model[new] = model.pop(old)
        elif kind == "unlink":
            (name,) = args
            if name in model:
                fs.unlink(name)
                del model[name]
        else:
            k = _remount(k, memory)
            fs = k.fs
        assert sorted(fs.files) == sorted(model)
        for name, body in model.items():
            assert _read_all(k, fs.files[name]) == bytes(body), (name, op)
    k.fs.flush_polled()
    files, _ = image_tree(bytes(k.machine.disk.data))  # the disk itself, as the host reads it
    assert files == {n: bytes(b) for n, b in model.items()}
    used = sorted((e.block, e.nblocks) for e in read_image(bytes(k.machine.disk.data)) if e.nblocks)
    for (b1, n1), (b2, _) in zip(used, used[1:], strict=False):
        assert b1 + n1 <= b2, "two files' extents overlap"


def test_an_unlinked_file_keeps_its_blocks_until_the_last_close() -> None:
    k = boot(disk_image=build_image({"f": b"x" * 9000}, spare_blocks=64), unix=False)
    fs = k.fs
    e = fs.lookup("f")
    free = fs.free_blocks()
    fs.opened(e)
    fs.unlink("f")
    assert fs.lookup("f") is None and fs.free_blocks() == free  # the open file's blocks stay
    assert _read_all(k, e) == b"x" * 9000
    fs.closed(e)
    assert fs.free_blocks() == free + 18  # 9000 bytes: 18 blocks back
    k.fs.flush_polled()
    assert "f" not in image_tree(bytes(k.machine.disk.data))[0]


def test_a_file_that_outgrows_its_extent_moves_to_a_larger_one() -> None:
    k = boot(disk_image=build_image({"f": b"1" * BLOCK, "g": b"2" * BLOCK}, spare_blocks=512), unix=False)
    fs = k.fs
    e = fs.lookup("f")
    first = e.block
    _settle(k, lambda: fs.write(e, BLOCK, b"3" * CHUNK, None))  # g's extent is right after f's
    assert e.block != first and e.nblocks >= (BLOCK + CHUNK) // BLOCK and fs.moves == 1
    assert _read_all(k, e) == b"1" * BLOCK + b"3" * CHUNK
    assert _read_all(k, fs.lookup("g")) == b"2" * BLOCK
    k2 = _remount(k, 64 << 20)
    assert _read_all(k2, k2.fs.lookup("f")) == b"1" * BLOCK + b"3" * CHUNK


def test_a_full_disk_says_so_and_keeps_what_it_had() -> None:
    k = boot(disk_image=build_image({"f": b"a" * 100}, spare_blocks=16), unix=False)
    fs = k.fs
    e = fs.create("big", 0o644)
    with pytest.raises(NoSpace):
        _settle(k, lambda: fs.write(e, 0, bytes(64 * BLOCK), None))
    assert e.size == 0 and _read_all(k, fs.lookup("f")) == b"a" * 100


def test_truncating_shorter_then_longer_reads_zeros_not_the_old_bytes() -> None:
    """The blocks past a shortened end keep their old bytes on the disk; a
    file grown again over them must read zeros (Entry.ondisk), also after
    the chunk left the cache."""
    k = boot(disk_image=build_image({"f": bytes(range(256)) * 64}, spare_blocks=64), unix=False)
    fs = k.fs
    e = fs.lookup("f")
    _settle(k, lambda: fs.truncate(e, 100, None))
    k = _remount(k, 64 << 20)
    e = k.fs.lookup("f")
    _settle(k, lambda: k.fs.truncate(e, 16_384, None))
    assert _read_all(k, e) == bytes(range(100)) + bytes(16_284)


def test_names_are_utf8_and_bytes_that_are_not_name_nothing() -> None:
    from kernel.unix.filecalls import disk_name

    k = boot(disk_image=build_image({"café.txt": b"c"}, spare_blocks=64), unix=False)
    fs = k.fs
    program_bytes = "café.txt".encode().decode("latin-1")  # what copyin_string hands the calls
    assert fs.lookup(disk_name(program_bytes)) is fs.files["café.txt"]
    with pytest.raises(FsError) as e:
        fs.create(disk_name(b"bad\xff".decode("latin-1")), 0o644)
    assert e.value.errno == 22 and "Unicode" in str(e.value)


def test_is_dir_follows_names_as_they_change() -> None:
    k = boot(disk_image=build_image({"a/b/c": b"1"}, spare_blocks=64), unix=False)
    fs = k.fs
    assert fs.is_dir("a") and fs.is_dir("a/b") and not fs.is_dir("a/b/c")
    fs.rename("a", "z")
    assert not fs.is_dir("a") and fs.is_dir("z/b")
    fs.unlink("z/b/c")
    assert not fs.is_dir("z")
