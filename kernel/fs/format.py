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

from machine.hostfile import DISK_MAX, HostFileError, read_bytes, size_text

BLOCK = 512
MAGIC = b"SPINFS01"
SUPER = struct.Struct("<8sIIII")
ENTRY = struct.Struct("<40sIIQII")
NAME_MAX = 39
MAX_FILES = 65536  # a directory of 8 MiB


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
    if len(image) > DISK_MAX:
        raise FsFormatError(f"the image would be {size_text(len(image))}, more than the {size_text(DISK_MAX)} a disk "
                            "may be")  # fmt: skip
    return bytes(image)


def parse_super(block0: bytes, disk_blocks: int | None = None) -> tuple[int, int, int, int]:
    """(nfiles, directory's first block, its block count, total blocks), each
    checked to fit: the directory inside the file system, the file system on
    the disk (``disk_blocks``, when known), the entries in the directory."""
    if len(block0) < SUPER.size:
        raise FsFormatError(f"not an extent file system (the image is {len(block0)} bytes, too short for a superblock)")
    magic, nfiles, dir_block, dir_blocks, total = SUPER.unpack_from(block0)
    if magic != MAGIC:
        raise FsFormatError(f"not an extent file system (magic {magic!r}, expected {MAGIC!r})")
    if disk_blocks is not None and total > disk_blocks:
        raise FsFormatError(f"the superblock says {total} blocks, but the disk has only {disk_blocks}")
    if not 1 <= dir_block or dir_block + dir_blocks > total:
        raise FsFormatError(f"the directory (blocks {dir_block}..{dir_block + dir_blocks - 1}) does not fit the "
                            f"file system's {total} blocks")  # fmt: skip
    if nfiles > MAX_FILES:
        raise FsFormatError(f"the superblock says {nfiles} files, more than the {MAX_FILES} this file system holds")
    if nfiles * ENTRY.size > dir_blocks * BLOCK:
        raise FsFormatError(f"a directory of {nfiles} files does not fit its {dir_blocks} blocks")
    return nfiles, dir_block, dir_blocks, total


def parse_directory(raw: bytes, nfiles: int, total: int) -> list[Entry]:
    if len(raw) < nfiles * ENTRY.size:
        raise FsFormatError(f"the directory of {nfiles} files is cut short ({len(raw)} bytes of "
                            f"{nfiles * ENTRY.size})")  # fmt: skip
    out = []
    seen: set[str] = set()
    for i in range(nfiles):
        name, block, nb, size, mode, _ = ENTRY.unpack_from(raw, i * ENTRY.size)
        text = name.rstrip(b"\0").decode("utf-8", "replace")
        if block + nb > total or size > nb * BLOCK:
            raise FsFormatError(f"directory entry {i} ({text}): extent {block}+{nb} does not fit the disk")
        if not text or text in seen:
            raise FsFormatError(
                f"directory entry {i}: {'an empty name' if not text else f'a second file named {text}'}"
            )
        seen.add(text)
        out.append(Entry(text, block, nb, size, mode))
    return out


def read_image(image: bytes) -> list[Entry]:
    nfiles, dir_block, dir_blocks, total = parse_super(image[:BLOCK], len(image) // BLOCK)
    return parse_directory(image[dir_block * BLOCK : (dir_block + dir_blocks) * BLOCK], nfiles, total)


def image_from_paths(paths: list[str]) -> bytes:
    """The host tool's input: ``PATH`` or ``NAME=PATH``; ELF files are executable."""
    files: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    total = 0
    for p in paths:
        name, _, path = p.partition("=") if "=" in p else (Path(p).name, "", p)
        if not path:
            raise FsFormatError(f"{p}: no file after the '=' (write NAME=PATH)")
        try:
            body = read_bytes(path, DISK_MAX - total, "a file on the disk")
        except HostFileError as e:
            raise FsFormatError(str(e) if total == 0 or "too large" not in e.why else
                                f"{path}: the files passed the {size_text(DISK_MAX)} a disk may hold") from None  # fmt: skip
        if name in files:
            raise FsFormatError(f"{name}: given twice")
        total += len(body)
        files[name] = body
        modes[name] = 0o755 if body[:4] == b"\x7fELF" else 0o644
    if len(files) > MAX_FILES:
        raise FsFormatError(f"{len(files)} files, more than the {MAX_FILES} a directory holds")
    return build_image(files, modes)
