"""The on-disk format of the extent file system, and the host tool's builder.

Each file is one extent -- a contiguous run of 512-byte disk blocks -- as the
SPIN web server's file system laid files out for sequential reads. Block 0
is the superblock; the directory follows it; file data follows the directory.

    superblock  magic "SPINFS01" | u32 nfiles | u32 directory's first block
                | u32 directory's block count | u32 total blocks
    entry (64 B) name[40] NUL-padded | u32 first block | u32 block count
                | u64 size in bytes | u32 mode (0o755 or 0o644) | u32 pad
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

BLOCK = 512
MAGIC = b"SPINFS01"
SUPER = struct.Struct("<8sIIII")
ENTRY = struct.Struct("<40sIIQII")
NAME_MAX = 39


class FsFormatError(Exception):
    """An image or a file list that does not fit the format; says why."""


@dataclass(frozen=True)
class Entry:
    name: str
    block: int
    nblocks: int
    size: int
    mode: int


def build_image(files: dict[str, bytes], modes: dict[str, int] | None = None, spare_blocks: int = 64) -> bytes:
    """An image holding ``files`` (name -> contents), names in sorted order."""
    modes = modes or {}
    names = sorted(files)
    for n in names:
        if not n or len(n.encode()) > NAME_MAX or "/" in n or "\0" in n:
            raise FsFormatError(f"file name {n!r}: 1 to {NAME_MAX} bytes, no '/' or NUL")
    dir_blocks = max(1, (len(names) * ENTRY.size + BLOCK - 1) // BLOCK)
    nxt = 1 + dir_blocks
    entries, data = [], bytearray()
    for n in names:
        body = files[n]
        nb = (len(body) + BLOCK - 1) // BLOCK
        entries.append(ENTRY.pack(n.encode(), nxt, nb, len(body), modes.get(n, 0o644), 0))
        data += body + bytes(nb * BLOCK - len(body))
        nxt += nb
    total = nxt + spare_blocks
    image = bytearray(SUPER.pack(MAGIC, len(names), 1, dir_blocks, total))
    image += bytes(BLOCK - len(image))
    directory = b"".join(entries)
    image += directory + bytes(dir_blocks * BLOCK - len(directory))
    image += data
    image += bytes(total * BLOCK - len(image))
    return bytes(image)


def parse_super(block0: bytes) -> tuple[int, int, int, int]:
    magic, nfiles, dir_block, dir_blocks, total = SUPER.unpack_from(block0)
    if magic != MAGIC:
        raise FsFormatError(f"not an extent file system (magic {magic!r}, expected {MAGIC!r})")
    return nfiles, dir_block, dir_blocks, total


def parse_directory(raw: bytes, nfiles: int, total: int) -> list[Entry]:
    out = []
    for i in range(nfiles):
        name, block, nb, size, mode, _ = ENTRY.unpack_from(raw, i * ENTRY.size)
        text = name.rstrip(b"\0").decode("utf-8", "replace")
        if block + nb > total or size > nb * BLOCK:
            raise FsFormatError(f"directory entry {i} ({text}): extent {block}+{nb} does not fit the disk")
        out.append(Entry(text, block, nb, size, mode))
    return out


def read_image(image: bytes) -> list[Entry]:
    nfiles, dir_block, dir_blocks, total = parse_super(image[:BLOCK])
    return parse_directory(image[dir_block * BLOCK : (dir_block + dir_blocks) * BLOCK], nfiles, total)


def image_from_paths(paths: list[str]) -> bytes:
    """The host tool's input: ``PATH`` or ``NAME=PATH``; ELF files are executable."""
    files: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    for p in paths:
        name, _, path = p.partition("=") if "=" in p else (Path(p).name, "", p)
        try:
            body = Path(path).read_bytes()
        except OSError as e:
            raise FsFormatError(f"{path}: {e.strerror}") from None
        if name in files:
            raise FsFormatError(f"{name}: given twice")
        files[name] = body
        modes[name] = 0o755 if body[:4] == b"\x7fELF" else 0o644
    return build_image(files, modes)
