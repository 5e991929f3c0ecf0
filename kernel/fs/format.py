"""The on-disk format of the extent file system, and the host tool's builder.

Each file is one extent -- a contiguous run of 512-byte disk blocks -- as the
SPIN web server's file system laid files out for sequential reads. Block 0
is the superblock; the directory follows it; file data follows the directory.

    superblock  magic "SPINFS01" | u32 nfiles | u32 directory's first block
                | u32 directory's block count | u32 total blocks
    entry (64 B) name[40] NUL-padded | u32 first block | u32 block count
                | u64 size in bytes | u32 mode (0o755 or 0o644) | u32 pad

Version 2, magic "SPINFS02", is the same but for the entry: name[256]
(280 bytes an entry), so a name may be up to 255 bytes of UTF-8 and hold
'/' between components -- a nested tree in one flat directory, as the SPIN
web server's file names were paths (the NFS server synthesizes the
directories from the '/'s). ``build_image`` writes version 1 whenever every
name fits it, so the images existing runs boot stay byte-identical, and
version 2 only when a name needs it. Both mount.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from machine.hostfile import DISK_MAX, HostFileError, read_bytes, size_text

BLOCK = 512
MAGIC = b"SPINFS01"
MAGIC2 = b"SPINFS02"
SUPER = struct.Struct("<8sIIII")
ENTRY = struct.Struct("<40sIIQII")  # version 1
ENTRY2 = struct.Struct("<256sIIQII")  # version 2
NAME_MAX = 39  # version 1's names: one component
NAME_MAX2 = 255  # version 2's: a path of components
FORMATS = {MAGIC: ENTRY, MAGIC2: ENTRY2}
MAX_FILES = 65536  # a directory of 8 MiB


class FsFormatError(Exception):
    """An image or a file list that does not fit the format; says why."""


S_IFMT, S_IFDIR, S_IFREG = 0o170000, 0o040000, 0o100000  # the mode's file type bits, as stat(2) has them


@dataclass(eq=False)
class Entry:
    """A file or a directory: its extent, size and mode on the disk, and what
    the mounted file system keeps beside it (an entry is one object for as
    long as it lives, so open files, the cache and renames share it).

    A directory is an entry whose mode has S_IFDIR, with no extent; images
    without directory entries still make a tree of their names' '/'s."""

    name: str
    block: int
    nblocks: int
    size: int
    mode: int
    ino: int = 0  # given at mount, in directory order; new files take the next
    opens: int = 0  # open files (and mappings) of it: unlinked, its blocks go only when the last goes
    ondisk: int = -1  # bytes of the extent known to hold the file's data (-1: all of size); beyond, zeros
    unlinked: bool = False

    @property
    def is_dir(self) -> bool:
        return self.mode & S_IFMT == S_IFDIR

    def valid(self) -> int:
        """Bytes from the extent's start that may be read from the disk."""
        return self.size if self.ondisk < 0 else min(self.ondisk, self.size)


def name_problem(name: str) -> str:
    """Why ``name`` cannot be a file's name (version 2's rules), or ''."""
    try:
        raw = name.encode()
    except UnicodeEncodeError:
        return "not valid Unicode text (a lone surrogate)"
    if not raw:
        return "empty"
    if len(raw) > NAME_MAX2:
        return f"{len(raw)} bytes, more than {NAME_MAX2}"
    if "\0" in name:
        return "holds a NUL"
    if name.startswith("/") or name.endswith("/"):
        return "starts or ends with '/'"
    for part in name.split("/"):
        if part in ("", ".", ".."):
            return f"has an {'empty' if not part else repr(part)} component"
    return ""


def fits_v1(name: str) -> bool:
    return "/" not in name and len(name.encode()) <= NAME_MAX


def _tree_conflict(names: list[str]) -> str:
    """A name that is both a file and a directory another name is under, or ''
    (``names``: the regular files; directory entries may be parents)."""
    files = set(names)
    for n in names:
        parts = n.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d in files:
                return f"{d!r} is a file, and {n!r} would put it to use as a directory"
    return ""


def pack_directory(entries: list[Entry], total: int, dir_block: int, dir_blocks: int) -> tuple[bytes, bytes]:
    """(superblock, directory) for ``entries``, the one place both are laid
    out: by the host's builder and by the mounted file system's sync. Version
    1 when every name fits it (so images stay byte-identical), else 2."""
    v1 = all(fits_v1(e.name) for e in entries)
    magic, entry = (MAGIC, ENTRY) if v1 else (MAGIC2, ENTRY2)
    raw = b"".join(entry.pack(e.name.encode(), e.block, e.nblocks, e.size, e.mode, 0) for e in entries)
    if len(raw) > dir_blocks * BLOCK:
        raise FsFormatError(f"a directory of {len(entries)} entries does not fit its {dir_blocks} blocks")
    block0 = SUPER.pack(magic, len(entries), dir_block, dir_blocks, total)
    return block0 + bytes(BLOCK - len(block0)), raw + bytes(dir_blocks * BLOCK - len(raw))


def directory_blocks(entries: list[Entry]) -> int:
    """The blocks a directory of these entries takes, at least one."""
    entry = ENTRY if all(fits_v1(e.name) for e in entries) else ENTRY2
    return max(1, (len(entries) * entry.size + BLOCK - 1) // BLOCK)


def build_image(files: dict[str, bytes], modes: dict[str, int] | None = None, spare_blocks: int = 64,
                dirs: tuple[str, ...] = ()) -> bytes:  # fmt: skip
    """An image holding ``files`` (name -> contents) and the directories
    ``dirs`` (entries of their own, so an empty one exists), names in sorted
    order, ``spare_blocks`` free after the data: version 1 if every name fits
    it, else version 2."""
    modes = modes or {}
    names = sorted(files)
    for n in [*names, *dirs]:
        why = name_problem(n)
        if why:
            raise FsFormatError(f"file name {n!r}: {why} (a name is 1 to {NAME_MAX2} bytes of components "
                                "joined by '/', none empty, '.' or '..', no NUL)")  # fmt: skip
    conflict = _tree_conflict(names) or next((f"{d!r} is both a file and a directory" for d in dirs if d in files), "")
    if conflict:
        raise FsFormatError(f"file names: {conflict}")
    entries = [Entry(n, 0, (len(files[n]) + BLOCK - 1) // BLOCK, len(files[n]), modes.get(n, 0o644)) for n in names]
    entries += [Entry(d, 0, 0, 0, S_IFDIR | 0o755) for d in sorted(set(dirs))]
    entries.sort(key=lambda e: e.name)
    dir_blocks = directory_blocks(entries)
    nxt = 1 + dir_blocks
    data = bytearray()
    for e in entries:
        if e.is_dir:
            continue
        e.block = nxt
        body = files[e.name]
        data += body + bytes(e.nblocks * BLOCK - len(body))
        nxt += e.nblocks
    total = nxt + spare_blocks
    if total * BLOCK > DISK_MAX:
        raise FsFormatError(f"the image would be {size_text(total * BLOCK)}, more than the {size_text(DISK_MAX)} a "
                            "disk may be")  # fmt: skip
    block0, directory = pack_directory(entries, total, 1, dir_blocks)
    image = bytearray(block0 + directory + data)
    image += bytes(total * BLOCK - len(image))
    return bytes(image)


def entry_format(block0: bytes) -> struct.Struct:
    """The directory entry's layout the superblock's magic names (call after parse_super)."""
    return FORMATS[bytes(block0[:8])]


def parse_super(block0: bytes, disk_blocks: int | None = None) -> tuple[int, int, int, int]:
    """(nfiles, directory's first block, its block count, total blocks), each
    checked to fit: the directory inside the file system, the file system on
    the disk (``disk_blocks``, when known), the entries in the directory."""
    if len(block0) < SUPER.size:
        raise FsFormatError(f"not an extent file system (the image is {len(block0)} bytes, too short for a superblock)")
    magic, nfiles, dir_block, dir_blocks, total = SUPER.unpack_from(block0)
    if magic not in FORMATS:
        raise FsFormatError(f"not an extent file system (magic {magic!r}, expected {MAGIC!r} or {MAGIC2!r})")
    entry = FORMATS[magic]
    if disk_blocks is not None and total > disk_blocks:
        raise FsFormatError(f"the superblock says {total} blocks, but the disk has only {disk_blocks}")
    if not 1 <= dir_block or dir_block + dir_blocks > total:
        raise FsFormatError(f"the directory (blocks {dir_block}..{dir_block + dir_blocks - 1}) does not fit the "
                            f"file system's {total} blocks")  # fmt: skip
    if nfiles > MAX_FILES:
        raise FsFormatError(f"the superblock says {nfiles} files, more than the {MAX_FILES} this file system holds")
    if nfiles * entry.size > dir_blocks * BLOCK:
        raise FsFormatError(f"a directory of {nfiles} files does not fit its {dir_blocks} blocks")
    return nfiles, dir_block, dir_blocks, total


def parse_directory(raw: bytes, nfiles: int, total: int, entry: struct.Struct = ENTRY) -> list[Entry]:
    """The entries, each checked; a version 2 directory's names also follow
    its rules (``name_problem``) and make a tree (no file is also a directory)."""
    if len(raw) < nfiles * entry.size:
        raise FsFormatError(f"the directory of {nfiles} files is cut short ({len(raw)} bytes of "
                            f"{nfiles * entry.size})")  # fmt: skip
    out = []
    seen: set[str] = set()
    for i in range(nfiles):
        name, block, nb, size, mode, _ = entry.unpack_from(raw, i * entry.size)
        text = name.rstrip(b"\0").decode("utf-8", "replace")
        if mode & S_IFMT == S_IFDIR and (nb or size):
            raise FsFormatError(
                f"directory entry {i} ({text}): a directory with an extent ({block}+{nb}, {size} bytes)"
            )
        if block + nb > total or size > nb * BLOCK:
            raise FsFormatError(f"directory entry {i} ({text}): extent {block}+{nb} does not fit the disk")
        if not text or text in seen:
            raise FsFormatError(
                f"directory entry {i}: {'an empty name' if not text else f'a second file named {text}'}"
            )
        if entry is ENTRY2:
            why = name_problem(text)
            if why:
                raise FsFormatError(f"directory entry {i} ({text!r}): the name {why}")
        seen.add(text)
        out.append(Entry(text, block, nb, size, mode, ino=i + 1))
    if entry is ENTRY2:
        conflict = _tree_conflict(sorted(e.name for e in out if not e.is_dir))
        if conflict:
            raise FsFormatError(f"the directory: {conflict}")
    return out


def read_image(image: bytes) -> list[Entry]:
    nfiles, dir_block, dir_blocks, total = parse_super(image[:BLOCK], len(image) // BLOCK)
    raw = image[dir_block * BLOCK : (dir_block + dir_blocks) * BLOCK]
    return parse_directory(raw, nfiles, total, entry_format(image[:BLOCK]))


def image_tree(image: bytes) -> tuple[dict[str, bytes], set[str]]:
    """What an image holds, as the host would see it unpacked: each regular
    file's bytes by name, and every directory (its own entry or implied)."""
    files: dict[str, bytes] = {}
    dirs: set[str] = set()
    for e in read_image(image):
        if e.is_dir:
            dirs.add(e.name)
        else:
            files[e.name] = image[e.block * BLOCK : e.block * BLOCK + e.size]
        parts = e.name.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return files, dirs


def tree_files(root: str | Path) -> tuple[dict[str, bytes], dict[str, int]]:
    """(files, modes) of every regular file under the host directory ``root``,
    named by relative POSIX path. Symbolic links are followed only when they
    stay inside ``root`` (a link out of it would put host files on the disk
    the tree did not name); anything else that is not a regular file or a
    directory is refused, as is what cannot be read or would not fit."""
    base = Path(root)
    try:
        top = base.resolve(strict=True)
    except (OSError, RuntimeError) as e:
        raise FsFormatError(f"{root}: cannot read the directory ({getattr(e, 'strerror', None) or e})") from None
    if not top.is_dir():
        raise FsFormatError(f"{root}: not a directory")
    files: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    total = 0

    def walk(d: Path, rel: PurePosixPath, depth: int) -> None:
        nonlocal total
        if depth > 64:
            raise FsFormatError(f"{d}: directories nested more than 64 deep")
        try:
            names = sorted(os.listdir(d))
        except OSError as e:
            raise FsFormatError(f"{d}: cannot list the directory ({e.strerror})") from None
        for n in names:
            p, r = d / n, rel / n
            try:
                st = os.lstat(p)
                if stat.S_ISLNK(st.st_mode):
                    target = p.resolve(strict=True)
                    if target != top and top not in target.parents:
                        raise FsFormatError(f"{p}: a symbolic link to {target}, outside {root}")
                    st = os.stat(p)
            except (OSError, RuntimeError) as e:
                raise FsFormatError(f"{p}: cannot follow it ({getattr(e, 'strerror', None) or e})") from None
            if stat.S_ISDIR(st.st_mode):
                walk(p, r, depth + 1)
                continue
            if not stat.S_ISREG(st.st_mode):
                raise FsFormatError(f"{p}: not a regular file or a directory")
            name = str(r)
            why = name_problem(name)
            if why:
                raise FsFormatError(f"{p}: the name {name!r} cannot be a file's on the disk: {why}")
            try:
                body = read_bytes(p, DISK_MAX - total, "a file on the disk")
            except HostFileError as e:
                raise FsFormatError(str(e) if "too large" not in e.why else
                                    f"{p}: the tree passes the {size_text(DISK_MAX)} a disk may hold") from None  # fmt: skip
            total += len(body)
            files[name] = body
            modes[name] = 0o755 if body[:4] == b"\x7fELF" or st.st_mode & 0o111 else 0o644
            if len(files) > MAX_FILES:
                raise FsFormatError(f"{root}: more than the {MAX_FILES} files a directory holds")

    walk(top, PurePosixPath(), 0)
    return files, modes


def image_from_tree(root: str | Path, spare_blocks: int = 64) -> bytes:
    """An image of every regular file under the host directory ``root``
    (relative POSIX paths as names; version 2 when a name needs it)."""
    files, modes = tree_files(root)
    return build_image(files, modes, spare_blocks)


def image_from_paths(paths: list[str], spare_blocks: int = 64) -> bytes:
    """The host tool's input: ``PATH`` or ``NAME=PATH``; ELF files are
    executable. A directory's tree goes in at the top, or under NAME."""
    files: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    total = 0
    for p in paths:
        name, _, path = p.partition("=") if "=" in p else (Path(p).name, "", p)
        if not path:
            raise FsFormatError(f"{p}: no file after the '=' (write NAME=PATH)")
        if os.path.isdir(path):
            tf, tm = tree_files(path)
            pre = f"{name}/" if "=" in p else ""
            for n, body in tf.items():
                if pre + n in files:
                    raise FsFormatError(f"{pre + n}: given twice")
                files[pre + n], modes[pre + n] = body, tm[n]
                total += len(body)
            continue
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
    return build_image(files, modes, spare_blocks)
