"""The extent FS's names (SPINFS01 and SPINFS02), image_from_tree, and the
non-caching read_direct path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kernel.boot import boot
from kernel.fs import format as F
from kernel.kernel import Kernel

NESTED = {
    "index.html": b"<h1>hi</h1>",
    "docs/a b.txt": b"spaces",
    "docs/deep/er/x%20y.bin": bytes(range(256)) * 3,
    "caf\u00e9/\u65e5\u672c.txt": b"unicode",
    "l" * 200 + "/" + "m" * 54: b"long",
    "empty": b"",
}


def test_v1_images_stay_byte_identical() -> None:
    """Names that fit SPINFS01 still get SPINFS01, laid out as before (what existing runs' hashes rest on)."""
    files = {"init": b"\x7fELF" + bytes(100), "data": bytes(range(256)) * 40}
    image = F.build_image(files, {"init": 0o755})
    assert image[:8] == F.MAGIC
    assert len(image) == (1 + 1 + 1 + 20 + 64) * 512
    ent = F.ENTRY.unpack_from(image, 512)  # sorted: data first
    assert ent[0].rstrip(b"\0") == b"data" and ent[1:4] == (2, 20, 10240)
    assert {e.name: e.size for e in F.read_image(image)} == {"data": 10240, "init": 104}


def test_v2_round_trip_nested_long_unicode_percent() -> None:
    image = F.build_image(NESTED)
    assert image[:8] == F.MAGIC2
    entries = F.read_image(image)
    assert sorted(e.name for e in entries) == sorted(NESTED)
    for e in entries:
        assert image[e.block * 512 : e.block * 512 + e.size] == NESTED[e.name]


@pytest.mark.parametrize("name, why", [
    ("/abs", "starts or ends"), ("dir/", "starts or ends"), ("a//b", "empty component"),
    ("a/./b", "'.' component"), ("../x", "'..' component"), ("nul\0", "NUL"), ("x" * 256, "more than 255"),
    ("", "empty"),
])  # fmt: skip
def test_bad_names_are_refused_with_a_reason(name: str, why: str) -> None:
    with pytest.raises(F.FsFormatError, match=why):
        F.build_image({name: b"x"})


def test_a_file_cannot_also_be_a_directory() -> None:
    with pytest.raises(F.FsFormatError, match="is a file"):
        F.build_image({"a": b"1", "a/b": b"2"})


def test_image_from_tree(tmp_path: Path) -> None:
    for name, body in NESTED.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
    os.symlink(tmp_path / "index.html", tmp_path / "link.html")  # inside the tree: followed
    entries = {e.name: e for e in F.read_image(F.image_from_tree(tmp_path))}
    assert set(entries) == set(NESTED) | {"link.html"}
    assert entries["link.html"].size == len(NESTED["index.html"])


def test_image_from_tree_refusals(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    os.symlink("/etc/passwd", tmp_path / "t" / "out")
    with pytest.raises(F.FsFormatError, match="outside"):
        F.image_from_tree(tmp_path / "t")
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / ("n" * 250)).mkdir()
    (tmp_path / "u" / ("n" * 250) / "abcdef").write_bytes(b"x")
    with pytest.raises(F.FsFormatError, match="more than 255"):
        F.image_from_tree(tmp_path / "u")
    with pytest.raises(F.FsFormatError, match="not a directory|cannot read"):
        F.image_from_tree(tmp_path / "nope")
    if os.geteuid() != 0:
        (tmp_path / "v").mkdir()
        (tmp_path / "v" / "secret").write_bytes(b"x")
        (tmp_path / "v" / "secret").chmod(0)
        with pytest.raises(F.FsFormatError, match="secret"):
            F.image_from_tree(tmp_path / "v")


def test_mkfs_still_builds_from_files(tmp_path: Path) -> None:
    from workbench.cli.main import main

    (tmp_path / "f.txt").write_bytes(b"flat")
    out = tmp_path / "d.img"
    assert main(["mkfs", str(out), f"a={tmp_path / 'f.txt'}", str(tmp_path / "f.txt")]) == 0
    assert [(e.name, e.size) for e in F.read_image(out.read_bytes())] == [("a", 4), ("f.txt", 4)]


# --- read_direct ----------------------------------------------------------------------------

BIG = bytes((i * 7 + i // 251) & 0xFF for i in range(200_000))


def _kernel(files: dict[str, bytes]) -> Kernel:
    return boot(disk_image=F.build_image(files), unix=False)


def _direct(k: Kernel, name: str, offset: int, n: int) -> bytes | int:
    assert k.fs is not None
    got: list[bytes | int] = []
    k.fs.read_direct(k.fs.files[name], offset, n, got.append)
    for _ in range(2000):
        if got:
            break
        k.run(until_cycle=k.sal.now + 200_000)
    assert len(got) == 1
    return got[0]


def test_v2_image_mounts_and_reads() -> None:
    k = _kernel(NESTED)
    assert k.fs is not None and set(k.fs.files) == set(NESTED)
    assert _direct(k, "docs/deep/er/x%20y.bin", 0, 10_000) == NESTED["docs/deep/er/x%20y.bin"]


@pytest.mark.parametrize("offset, n", [(0, 1), (0, 8192), (1, 8192), (511, 2), (8191, 8194), (100_000, 65536),
                                       (199_999, 10), (0, 200_000), (200_000, 5), (123_457, 1)])  # fmt: skip
def test_read_direct_gives_the_files_bytes(offset: int, n: int) -> None:
    k = _kernel({"big": BIG, "small": b"abc"})
    assert k.fs is not None
    free = k.phys.nfree if k.phys else 0
    assert _direct(k, "big", offset, n) == BIG[offset : offset + n]
    assert k.fs.cache == {}  # past the buffer cache
    assert k.phys is not None and k.phys.nfree == free  # its frames were given back


def test_read_direct_disk_error_gives_eio() -> None:
    k = _kernel({"big": BIG})
    assert k.fs is not None and k.machine.disk is not None
    e = k.fs.files["big"]
    k.machine.disk.bad_blocks.add(e.block + 3)
    assert _direct(k, "big", 0, 4096) == -5
    assert _direct(k, "big", 4096, 4096) == BIG[4096:8192]  # the blocks past the bad one still read
    assert k.fs.direct_errors == 1
