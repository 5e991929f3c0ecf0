"""The file system calls of the UNIX personality, on the extent file system.

open's flags and modes, pread/pwrite, stat, truncation, fsync, the name
calls and getdents64, with Linux/Alpha's numbers, flag values and struct
layouts (asm/fcntl.h, asm/stat.h, linux/dirent.h), so that the same program
gives the same answers here and under qemu-alpha on a host directory
(tests/fs_diff). The read of a regular file's bytes stays in
kernel/unix/fileread.py, where Synthetix's specialized read plugs in; every
call here that changes a file's bytes or size tells its guards.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel.core import costs
from kernel.core.physaddr import OutOfFrames
from kernel.core.sal import (
    CLOCK_HZ,
    EBADF,
    EEXIST,
    EFAULT,
    EINVAL,
    EIO,
    EISDIR,
    EMFILE,
    ENOENT,
    ENOMEM,
    ENOSPC,
    ENOTDIR,
)
from kernel.core.trap import RESTART, SyscallState, caller
from kernel.fs.extentfs import DiskIOError, FsError, NoSpace
from kernel.fs.format import S_IFDIR, S_IFMT, S_IFREG
from kernel.params import MAX_FDS, MAX_IO
from kernel.unix.process import OpenFile, Process

if TYPE_CHECKING:
    from kernel.core.sched import Strand
    from kernel.fs.format import Entry

O_ACCMODE, O_WRONLY, O_RDWR = 3, 1, 2
O_APPEND, O_CREAT, O_TRUNC, O_EXCL, O_DIRECTORY = 0o10, 0o1000, 0o2000, 0o4000, 0o100000  # Alpha's values
UMASK = 0o022  # every process's: there is no umask(2) yet, and a shell's default is this
S_IFCHR, S_IFSOCK = 0o020000, 0o140000
DT_DIR, DT_REG = 4, 8
STAT = struct.Struct("<IIIIIIIxxxxqQQQIIII")  # asm/stat.h's struct stat on Alpha: 80 bytes
DIRENT = struct.Struct("<QqHB")  # linux_dirent64's head: d_ino, d_off, d_reclen, d_type; the name follows
BLKSIZE = 8192  # st_blksize: a cache chunk, the transfer the file system prefers
DEV = 0x0801  # st_dev of the one disk


def disk_name(path: str) -> str:
    """A path as the program's bytes (copyin_string gives them one char each)
    read as the disk's names are kept: UTF-8. Bytes that are not UTF-8 stay
    as lone surrogates, which no name on the disk holds, so such a path
    names nothing and cannot be created (EINVAL)."""
    return path.encode("latin-1").decode("utf-8", "surrogateescape")


def _signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


class FilePager:
    """The file system as a process's file mappings see it (addrspace.Pager):
    the mappings hold the file open, and a store through a shared one is a
    write the read path's guards hear of."""

    def __init__(self, unix: Any) -> None:
        self.unix = unix

    @property
    def fs(self) -> Any:
        return self.unix.k.fs

    def hold(self, e: Entry) -> None:
        self.fs.opened(e)

    def let_go(self, e: Entry) -> None:
        self.fs.closed(e)

    def page(self, e: Entry, index: int, strand: Any) -> Any:
        return self.fs.page(e, index, strand)

    def unmapped(self, e: Entry, index: int, f: Any) -> None:
        self.fs.unmapped(e, index, f)

    def wrote(self, e: Entry, index: int) -> None:
        self.fs.mark_dirty(e, index)
        self.unix.reads.wrote(e)


class FileCalls:
    """The calls, for one UNIX personality (``unix.table`` points at them)."""

    def __init__(self, unix: Any) -> None:
        self.unix = unix
        self.k = unix.k
        self.dir_inos: dict[str, int] = {}  # inode numbers for directories only names imply

    # --- open ------------------------------------------------------------------------

    def open_file(self, p: Process, path: str, flags: int, mode: int, guard: Callable[[OpenFile], bool]) -> Any:
        """The open file ``open(path, flags, mode)`` makes, -errno, or RESTART
        when ``guard`` (the read path's, called once a regular file's open
        file exists and before O_TRUNC or the open counts) asks to wait."""
        acc = flags & O_ACCMODE  # 3 opens for neither reading nor writing, as Linux allows
        fs = self.k.fs
        if fs is None:
            return -ENOENT
        try:
            name, e = fs.resolve(disk_name(path))
        except FsError as err:
            return -err.errno
        writing = acc in (O_WRONLY, O_RDWR)  # (3: neither)
        if (e is None and fs.is_dir(name)) or (e is not None and e.is_dir):
            if writing or flags & O_CREAT:
                return -EEXIST if flags & O_CREAT and flags & O_EXCL else -EISDIR
            return OpenFile("dir", name, 0, True, False)
        if flags & O_DIRECTORY:
            return -ENOTDIR if e is not None else -ENOENT
        if e is None:
            if not flags & O_CREAT:
                return -ENOENT
            try:
                e = fs.create(name, mode & ~UMASK)
            except FsError as err:
                return -err.errno
        elif flags & O_CREAT and flags & O_EXCL:
            return -EEXIST
        f = OpenFile("file", e, 0, acc == 0 or acc == O_RDWR, writing, append=bool(flags & O_APPEND))
        if not guard(f):
            return RESTART
        if flags & O_TRUNC and writing and e.size:
            fs.truncate(e, 0, None)  # never blocks: shrinking reads nothing
            self.unix.reads.truncated(e)
        fs.opened(e)
        return f

    def install(self, p: Process, f: OpenFile) -> int:
        """The lowest free descriptor for ``f``, or -EMFILE (and ``f`` let go)."""
        fd = next((i for i in range(MAX_FDS) if i not in p.fds), None)
        if fd is None:
            self.release(f)
            return -EMFILE
        p.fds[fd] = f
        return fd

    def release(self, f: OpenFile) -> None:
        if f.kind == "file" and self.k.fs is not None:
            self.k.fs.closed(f.entry)

    # --- bytes -------------------------------------------------------------------------

    def write_file(self, p: Process, f: OpenFile, s: Strand, buf: int, n: int, at: int | None) -> Any:
        """write/pwrite to a regular file: at ``at``, or at the offset (the
        end, with O_APPEND) and move it; the bytes written, -errno or RESTART."""
        n = min(n, MAX_IO)
        data = self.k.copyin(s, buf, n)
        if data is None:
            return -EFAULT
        e = f.entry
        off = at if at is not None else e.size if f.append else f.offset
        if off + n > 1 << 40:
            return -27  # EFBIG
        try:
            got = self.k.fs.write(e, off, data, s)
        except NoSpace:
            return -ENOSPC
        except OutOfFrames:
            return -ENOMEM
        except DiskIOError:
            return -EIO
        if got is None:
            return RESTART
        if at is None:
            f.offset = off + got
        self.unix.reads.wrote(e)
        return got

    def sys_pread64(self, p: Process, st: SyscallState) -> Any:
        f, off = p.fds.get(st.a0), _signed(st.a3)
        if f is None or not f.readable:
            return -EBADF
        if f.kind == "dir":
            return -EISDIR
        if f.kind != "file":
            return -29  # ESPIPE
        if off < 0:
            return -EINVAL
        n, s = min(st.a2, MAX_IO), caller(st)
        if not self.k.user_writable(s, st.a1, n):
            return -EFAULT
        try:
            data = self.k.fs.read(f.entry, off, n, s)
        except DiskIOError:
            return -EIO
        except OutOfFrames:
            return -ENOMEM
        if data is None:
            return RESTART
        return len(data) if self.k.copyout(s, st.a1, data) else -EFAULT

    def sys_pwrite64(self, p: Process, st: SyscallState) -> Any:
        f, off = p.fds.get(st.a0), _signed(st.a3)
        if f is None or not f.writable:
            return -EBADF
        if f.kind != "file":
            return -29  # ESPIPE
        if off < 0:
            return -EINVAL
        return self.write_file(p, f, caller(st), st.a1, st.a2, off)  # Linux ignores O_APPEND here too

    # --- size and sync -------------------------------------------------------------------

    def _truncate(self, e: Entry, length: int, s: Strand) -> Any:
        if length < 0:
            return -EINVAL
        if length > 1 << 40:
            return -27  # EFBIG
        try:
            done = self.k.fs.truncate(e, length, s)
        except NoSpace:
            return -ENOSPC
        except OutOfFrames:
            return -ENOMEM
        if done is None:
            return RESTART
        self.unix.reads.truncated(e)
        return 0

    def sys_ftruncate(self, p: Process, st: SyscallState) -> Any:
        f = p.fds.get(st.a0)
        if f is None:
            return -EBADF
        if f.kind != "file" or not f.writable:
            return -EINVAL  # Linux's answer for both (do_sys_ftruncate)
        return self._truncate(f.entry, _signed(st.a1), caller(st))

    def sys_truncate(self, p: Process, st: SyscallState) -> Any:
        e = self._path_entry(st, st.a0)
        if type(e) is int:
            return e
        if e.is_dir:
            return -EISDIR
        return self._truncate(e, _signed(st.a1), caller(st))

    def sys_fsync(self, p: Process, st: SyscallState) -> Any:
        f = p.fds.get(st.a0)
        if f is None:
            return -EBADF
        if f.kind == "socket":
            return -EINVAL
        if f.kind == "tty" or self.k.fs is None:
            return 0
        try:
            done = self.k.fs.fsync(f.entry if f.kind == "file" else None, caller(st))
        except NoSpace:
            return -ENOSPC
        return 0 if done else RESTART

    sys_fdatasync = sys_fsync

    # --- names ---------------------------------------------------------------------------

    def _path(self, st: SyscallState, va: int) -> str | int:
        path = self.k.copyin_string(caller(st), va)
        if path is None:
            return -EFAULT
        self.k.note(path)  # for the call's trace record (spinwb profile)
        if path == "":
            return -ENOENT
        if self.k.fs is None:
            return -ENOENT
        return disk_name(path)

    def _path_entry(self, st: SyscallState, va: int) -> Any:
        """The entry at the path in ``va`` (a synthesized one for an implied directory), or -errno."""
        path = self._path(st, va)
        if type(path) is int:
            return path
        try:
            name, e = self.k.fs.resolve(path)
        except FsError as err:
            return -err.errno
        if e is None:
            if not self.k.fs.is_dir(name):
                return -ENOENT
            return self._implied(name)
        return e

    def _implied(self, name: str) -> Any:
        from kernel.fs.format import Entry

        ino = self.dir_inos.setdefault(name, (1 << 20) + len(self.dir_inos))
        return Entry(name, 0, 0, 0, S_IFDIR | 0o755, ino=ino)

    def _name_call(self, st: SyscallState, op: str, *vas: int, **kw: Any) -> int:
        """A call on names: the paths at ``vas``, then ``fs.op(*paths, **kw)``."""
        paths = []
        for va in vas:
            path = self._path(st, va)
            if type(path) is int:
                return path
            paths.append(path)
        try:
            getattr(self.k.fs, op)(*paths, **kw)  # _path answered ENOENT if there is no file system
        except FsError as err:
            return -err.errno
        except NoSpace:
            return -ENOSPC
        return 0

    def sys_unlink(self, p: Process, st: SyscallState) -> int:
        return self._name_call(st, "unlink", st.a0)

    def sys_rmdir(self, p: Process, st: SyscallState) -> int:
        return self._name_call(st, "rmdir", st.a0)

    def sys_mkdir(self, p: Process, st: SyscallState) -> int:
        return self._name_call(st, "mkdir", st.a0, mode=st.a1 & 0o7777 & ~UMASK)

    def sys_rename(self, p: Process, st: SyscallState) -> int:
        return self._name_call(st, "rename", st.a0, st.a1)

    # --- stat and directories --------------------------------------------------------------

    def _stat(self, st: SyscallState, f: OpenFile | None, e: Any, buf: int) -> int:
        now = self.k.sal.now // CLOCK_HZ
        if f is not None and f.kind == "tty":
            raw = STAT.pack(DEV, 0, S_IFCHR | 0o620, 1, 0, 0, 0x0501, 0, 0, now, now, now, 1024, 0, 0, 0)
        elif f is not None and f.kind == "socket":
            raw = STAT.pack(DEV, 0, S_IFSOCK | 0o777, 1, 0, 0, 0, 0, 0, now, now, now, 1024, 0, 0, 0)
        else:
            kind = S_IFDIR if e.is_dir else S_IFREG
            size = e.size if not e.is_dir else BLKSIZE
            raw = STAT.pack(DEV, e.ino & 0xFFFFFFFF, kind | e.mode & ~S_IFMT, 2 if e.is_dir else 1, 0, 0, 0, size,
                            0, 0, 0, BLKSIZE, e.nblocks, 0, 0)  # fmt: skip
        self.k.sal.charge(costs.FILE_OP)
        return 0 if self.k.copyout(caller(st), buf, raw) else -EFAULT

    def sys_fstat(self, p: Process, st: SyscallState) -> int:
        f = p.fds.get(st.a0)
        if f is None:
            return -EBADF
        if f.kind == "dir":
            e = self.k.fs.dirs.get(f.entry) or self._implied(f.entry)
            return self._stat(st, None, e, st.a1)
        return self._stat(st, f, f.entry, st.a1)

    def sys_stat(self, p: Process, st: SyscallState) -> int:
        e = self._path_entry(st, st.a0)
        return e if type(e) is int else self._stat(st, None, e, st.a1)

    sys_lstat = sys_stat  # no symbolic links on this disk

    def sys_getdents64(self, p: Process, st: SyscallState) -> int:
        f = p.fds.get(st.a0)
        if f is None:
            return -EBADF
        if f.kind != "dir":
            return -ENOTDIR
        fs, name = self.k.fs, f.entry
        own = fs.dirs.get(name) or self._implied(name)
        parent = name.rpartition("/")[0]
        up = fs.dirs.get(parent) or self._implied(parent)
        listing = [(".", own.ino, DT_DIR), ("..", up.ino, DT_DIR)]
        for part, e in fs.children(name):
            full = f"{name}/{part}" if name else part
            if e is None:
                e = self._implied(full)
            listing.append((part, e.ino, DT_DIR if e.is_dir else DT_REG))
        out = bytearray()
        i = f.offset
        while i < len(listing):
            part, ino, dtype = listing[i]
            raw = part.encode()
            reclen = (DIRENT.size + len(raw) + 1 + 7) & ~7
            if len(out) + reclen > st.a2:
                if not out:
                    return -EINVAL  # the buffer cannot hold even one entry
                break
            out += DIRENT.pack(ino, i + 1, reclen, dtype) + raw + bytes(reclen - DIRENT.size - len(raw))
            i += 1
        if out and not self.k.copyout(caller(st), st.a1, bytes(out)):
            return -EFAULT
        f.offset = i
        self.k.sal.charge(costs.FILE_OP + costs.BYTE_COPY_PER_8 * (len(out) // 8))
        return len(out)
