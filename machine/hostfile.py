"""Reading and writing the host files a user names, with limits.

Every loader starts from a path a student typed: it may not exist, be a
directory, a device that never ends (``/dev/zero``), a FIFO with no writer,
unreadable, or far larger than anything the machine could use. One reader
tells these apart before anything big is allocated and says which in the
``PATH: what is wrong`` form the loaders' own errors use; each loader wraps
the message in its own error class (ElfError, DiskImageError, ...).

The limits on what a user may hand the workbench live here, in one place.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

MIB = 1 << 20
ELF_MAX = 64 * MIB  # an executable must fit the DEC 3000/400's 64 MiB of memory
DISK_MAX = 256 * MIB  # a quarter of an RZ26; a disk image is held in host memory whole
STATE_MAX = 512 * MIB  # a machine with a full disk and full memory, compressed
HOST_TEXT_MAX = 16 * MIB  # assembler sources, extensions, snapshots of a session
_CHUNK = MIB


class HostFileError(Exception):
    """``PATH: what is wrong``; loaders re-raise it as their own error
    (``path`` and ``why`` let one say ``PATH: cannot read disk image: why``)."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path, self.why = path, why


def size_text(n: int) -> str:
    """``64 MiB``, ``1.5 KiB``, ``12 bytes``: sizes as a person reads them."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} byte{'s' if n != 1 else ''}"


def _open_error(path: str, e: OSError, what: str) -> HostFileError:
    if isinstance(e, FileNotFoundError):
        return HostFileError(path, "no such file")
    if isinstance(e, IsADirectoryError):
        return HostFileError(path, f"is a directory, not {what}")
    if isinstance(e, NotADirectoryError):
        return HostFileError(path, "no such file (a part of the path is not a directory)")
    if isinstance(e, PermissionError):
        return HostFileError(path, "cannot read: permission denied")
    return HostFileError(path, f"cannot read: {e.strerror or e}")


def read_bytes(path: str | Path, limit: int, what: str = "a file") -> bytes:
    """The file's bytes, at most ``limit`` of them, or a HostFileError.

    Opened non-blocking, so a FIFO with no writer reads as empty instead of
    waiting forever; a regular file's size is checked before reading; any
    other file (a device, a pipe) is read at most ``limit + 1`` bytes, so
    ``/dev/zero`` is "too large" rather than a hang that eats memory."""
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise _open_error(name, e, what) from None
    except ValueError:  # a NUL in the path
        raise HostFileError(repr(name), "not a usable path (it holds a NUL character)") from None
    too_large = HostFileError(name, f"too large for {what}: more than {size_text(limit)}")
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise HostFileError(name, f"is a directory, not {what}")
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise too_large
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            try:
                b = os.read(fd, min(_CHUNK, limit + 1 - total))
            except BlockingIOError:  # pragma: no cover - set_blocking above
                break
            if not b:
                break
            chunks.append(b)
            total += len(b)
        if total > limit:
            raise too_large
        return b"".join(chunks)
    except OSError as e:
        raise _open_error(name, e, what) from None
    finally:
        os.close(fd)


def read_text(path: str | Path, limit: int, what: str = "a text file") -> str:
    """A UTF-8 text file, bounded as read_bytes is; an error names the first
    byte that is not UTF-8 (a binary handed where source was expected)."""
    data = read_bytes(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise HostFileError(f"{os.fspath(path)}:{line}", f"not UTF-8 text (byte {data[e.start]:#04x} at offset "
                            f"{e.start}); is it {what}?") from None  # fmt: skip


def write_error(path: str | Path, e: OSError) -> str:
    """``PATH: cannot write: why`` for an OSError from creating an output file."""
    return f"{os.fspath(path)}: {_write_why(os.fspath(path), e)}"


def _write_why(name: str, e: OSError) -> str:
    if isinstance(e, FileNotFoundError):
        return f"cannot write: no such directory {os.path.dirname(name) or '.'}"
    if isinstance(e, IsADirectoryError):
        return "cannot write: is a directory"
    if isinstance(e, NotADirectoryError):
        return "cannot write: a part of the path is not a directory"
    if isinstance(e, PermissionError):
        return "cannot write: permission denied"
    return f"cannot write: {e.strerror or e}"


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write an output file; an OSError becomes a HostFileError saying why."""
    name = os.fspath(path)
    try:
        Path(name).write_bytes(data)
    except OSError as e:
        raise HostFileError(name, _write_why(name, e)) from None
    except ValueError:
        raise HostFileError(repr(name), "not a usable path (it holds a NUL character)") from None


def replace_bytes(path: str | Path, data: bytes) -> None:
    """Write a file in place of the old one at once: a new file beside it,
    then a rename, so a reader (or a crash) sees the old bytes or the new,
    never half of each. An OSError becomes a HostFileError saying why."""
    name = os.fspath(path)
    tmp = f"{name}.spinwb-new"
    try:
        Path(tmp).write_bytes(data)
        os.replace(tmp, name)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise HostFileError(name, _write_why(name, e)) from None
