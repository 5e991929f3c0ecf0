"""An NFS version 3 server in the kernel: a read-only subset over the extent FS.

ONC RPC (RFC 5531) over UDP, program 100003 version 3 (RFC 1813), the four
procedures a reader needs -- NULL (0), GETATTR (1), LOOKUP (3), READ (6);
any other is PROC_UNAVAIL, another program PROG_UNAVAIL, another version
PROG_MISMATCH (3..3), arguments that do not decode GARBAGE_ARGS, and a
datagram that is no RPC call at all is dropped and counted. The MOUNT
protocol is left out (applications.md): the root's handle is fixed,
``ROOT_HANDLE``, and a client starts from it, as the spec for this world
says. Directories are synthesized from the '/' in the FS's names.

Handles are ``b"SPNF" + fileid`` (12 bytes); a fileid is the first 8 bytes
of SHA-256 of the path (the root's is 1), so it is stable across boots and
images; a handle of that form whose fileid names no file is NFS3ERR_STALE,
any other handle NFS3ERR_BADHANDLE (RFC 1813 §2.6). Attributes: files 0644
(0755 if executable on the disk), directories 0755; mtime and ctime are the
moment the server started, atime now, on the virtual clock from ``EPOCH``
(1996-01-01, the SPIN web server's year). READ answers at most NFS_RSIZE bytes with eof right and the file's
post-op attributes; it reads through the buffer cache (a real server
caches), and when the chunk is not in yet it answers after the disk, from
the network thread. Everything runs in the network thread and charges
RPC_DECODE and NFS_OP (kernel/core/costs.py) plus the copy of the data.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import TYPE_CHECKING

from kernel.core import costs
from kernel.core.sal import CLOCK_HZ
from kernel.fs.extentfs import DiskIOError
from kernel.net import rpc
from kernel.params import NFS_RSIZE, NFS_SERVER_PENDING

if TYPE_CHECKING:
    from kernel.fs.format import Entry
    from kernel.kernel import Kernel
    from kernel.net.packet import UdpDatagram

NFS_PROGRAM, NFS_V3 = 100003, 3
PROC_NULL, PROC_GETATTR, PROC_LOOKUP, PROC_READ = 0, 1, 3, 6
PROC_NAMES = {PROC_NULL: "NULL", PROC_GETATTR: "GETATTR", PROC_LOOKUP: "LOOKUP", PROC_READ: "READ"}
# nfsstat3 (RFC 1813 §2.6)
NFS3_OK, NFS3ERR_NOENT, NFS3ERR_IO, NFS3ERR_NOTDIR, NFS3ERR_ISDIR, NFS3ERR_INVAL = 0, 2, 5, 20, 21, 22
NFS3ERR_NAMETOOLONG, NFS3ERR_STALE, NFS3ERR_BADHANDLE = 63, 70, 10001
NF3REG, NF3DIR = 1, 2
FHSIZE3 = 64  # the largest handle (RFC 1813 §2.4)
NAME_MAX3 = 255
HANDLE_MAGIC = b"SPNF"
ROOT_FILEID = 1
ROOT_HANDLE = HANDLE_MAGIC + ROOT_FILEID.to_bytes(8, "big")  # the fixed, documented root (no MOUNT)
EPOCH = 820_454_400  # 1996-01-01 00:00:00 UTC: virtual time 0 on the files' clocks
FSID = 0x5350_494E  # "SPIN"
DIR_SIZE = 4096


def fileid_of(path: str) -> int:
    """A path's stable file number (the root, '', is 1)."""
    if not path:
        return ROOT_FILEID
    v = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big")
    return v if v > ROOT_FILEID else v + 2


def handle_of(path: str) -> bytes:
    return HANDLE_MAGIC + fileid_of(path).to_bytes(8, "big")


class NfsServer:
    """The server on one kernel (``serve_nfs``); ``counters`` for the status pages."""

    def __init__(self, k: Kernel, port: int = 2049) -> None:
        if k.net is None or k.fs is None:
            raise ValueError("serve_nfs needs a kernel with a network address and a disk")
        self.k, self.net, self.fs = k, k.net, k.fs
        self.port = port
        self.counters: Counter[str] = Counter()
        self.pending = 0  # READs waiting for the disk
        self.started = k.sal.now
        self.dirs: dict[str, set[str]] = {"": set()}  # directory path -> its children's names
        self.by_id: dict[int, str] = {ROOT_FILEID: ""}
        for name in self.fs.files:
            parts = name.split("/")
            for i in range(len(parts)):
                parent, child = "/".join(parts[:i]), "/".join(parts[: i + 1])
                self.dirs.setdefault(parent, set()).add(parts[i])
                self.by_id[fileid_of(child)] = child
                if i < len(parts) - 1:
                    self.dirs.setdefault(child, set())
        ep = self.net.udp.bind(port, "nfs", self._datagram)
        if isinstance(ep, int):
            raise ValueError(f"serve_nfs: UDP port {port} cannot be bound (error {-ep})")
        self.endpoint = ep

    def stats(self) -> dict[str, int]:
        """Counters as a plain dict: calls per procedure, bytes read, drops and why."""
        return dict(sorted(self.counters.items()))

    # --- attributes ----------------------------------------------------------------------

    def _time(self, cycles: int) -> bytes:
        secs, rem = divmod(cycles, CLOCK_HZ)
        return rpc.u32(EPOCH + secs) + rpc.u32(rem * 1_000_000_000 // CLOCK_HZ)

    def fattr(self, path: str) -> bytes:
        """fattr3 (RFC 1813 §2.6) of a file or synthesized directory."""
        e = self.fs.files.get(path)
        if e is None:
            subdirs = sum(1 for c in self.dirs[path] if self._is_dir(path, c))
            kind, mode, nlink, size, used = NF3DIR, 0o755, 2 + subdirs, DIR_SIZE, DIR_SIZE
        else:
            kind, mode, nlink, size, used = NF3REG, (e.mode & 0o7777) or 0o644, 1, e.size, e.nblocks * 512
        made = self._time(self.started)
        return (rpc.u32(kind) + rpc.u32(mode) + rpc.u32(nlink) + rpc.u32(0) + rpc.u32(0) + rpc.u64(size)
                + rpc.u64(used) + rpc.u32(0) + rpc.u32(0) + rpc.u64(FSID) + rpc.u64(fileid_of(path))
                + self._time(self.k.sal.now) + made + made)  # fmt: skip

    def _is_dir(self, parent: str, child: str) -> bool:
        return (f"{parent}/{child}" if parent else child) in self.dirs

    def post_op(self, path: str | None) -> bytes:
        return rpc.u32(0) if path is None else rpc.u32(1) + self.fattr(path)

    def _path(self, r: rpc.Reader) -> str | int:
        """Decode an nfs_fh3: the path it names, or the nfsstat3 to answer
        (RpcError if it does not even decode: garbage). RFC 1813 §2.6: a
        handle that is not one of ours at all is NFS3ERR_BADHANDLE; one of
        our form whose file id names no file is NFS3ERR_STALE."""
        fh = r.opaque(FHSIZE3, "the file handle")
        if len(fh) != 12 or fh[:4] != HANDLE_MAGIC:
            return NFS3ERR_BADHANDLE
        path = self.by_id.get(int.from_bytes(fh[4:], "big"))
        return NFS3ERR_STALE if path is None else path

    # --- the wire ----------------------------------------------------------------------------

    def _datagram(self, d: UdpDatagram) -> None:
        """One datagram to the port: answer it, or drop it and count why."""
        try:
            self._serve(d)
        except Exception as e:  # noqa: BLE001 - a server bug on one request must not stop the server
            self.counters["dropped: server error"] += 1
            self.k.report(f"nfs: request from {d.src}:{d.src_port} raised {type(e).__name__}: {e}; dropped")

    def _reply(self, d: UdpDatagram, body: bytes) -> None:
        self.k.sal.charge(costs.RPC_DECODE)
        err = self.net.udp.send(self.port, d.src, d.src_port, body, fragment=True)
        if err:
            self.counters["dropped: reply not sent"] += 1
        else:
            self.counters["replies"] += 1
            self.counters["reply bytes"] += len(body)

    def _serve(self, d: UdpDatagram) -> None:
        self.k.sal.charge(costs.RPC_DECODE)
        self.counters["datagrams"] += 1
        try:
            call = rpc.decode_call(d.payload)
        except rpc.BadCall as e:
            self.counters["denied (rpc version or auth)"] += 1
            self._reply(d, e.reply)
            return
        except rpc.RpcError:
            self.counters["dropped: not an RPC call"] += 1
            return
        if call.prog != NFS_PROGRAM:
            self.counters["PROG_UNAVAIL"] += 1
            self._reply(d, rpc.encode_accepted(call.xid, rpc.PROG_UNAVAIL))
            return
        if call.vers != NFS_V3:
            self.counters["PROG_MISMATCH"] += 1
            self._reply(d, rpc.encode_accepted(call.xid, rpc.PROG_MISMATCH, low=NFS_V3, high=NFS_V3))
            return
        name = PROC_NAMES.get(call.proc)
        if name is None:
            self.counters["PROC_UNAVAIL"] += 1
            self._reply(d, rpc.encode_accepted(call.xid, rpc.PROC_UNAVAIL))
            return
        self.counters[f"calls {name}"] += 1
        self.k.sal.charge(costs.NFS_OP)
        r = rpc.Reader(call.args)
        try:
            if call.proc == PROC_NULL:
                r.end("NULL's arguments")
                body: bytes | None = b""
            elif call.proc == PROC_GETATTR:
                body = self._getattr(r)
            elif call.proc == PROC_LOOKUP:
                body = self._lookup(r)
            else:
                body = self._read(r, d, call.xid)
        except rpc.RpcError:
            self.counters["GARBAGE_ARGS"] += 1
            self._reply(d, rpc.encode_accepted(call.xid, rpc.GARBAGE_ARGS))
            return
        if body is not None:  # None: a READ that answers after the disk
            self._reply(d, rpc.encode_accepted(call.xid, rpc.SUCCESS, body))

    # --- procedures (RFC 1813 §3.3) --------------------------------------------------------------

    def _getattr(self, r: rpc.Reader) -> bytes:
        path = self._path(r)
        r.end("GETATTR's arguments")
        if isinstance(path, int):
            return rpc.u32(path)
        return rpc.u32(NFS3_OK) + self.fattr(path)

    def _lookup(self, r: rpc.Reader) -> bytes:
        path = self._path(r)
        raw = r.opaque(1 << 16, "the name")  # a name's length is checked below, as an NFS error
        r.end("LOOKUP's arguments")
        if isinstance(path, int):
            return rpc.u32(path) + self.post_op(None)
        if path not in self.dirs:
            return rpc.u32(NFS3ERR_NOTDIR) + self.post_op(path)
        if len(raw) > NAME_MAX3:
            return rpc.u32(NFS3ERR_NAMETOOLONG) + self.post_op(path)
        try:
            name = raw.decode()
        except UnicodeDecodeError:
            return rpc.u32(NFS3ERR_INVAL) + self.post_op(path)
        if not name or "/" in name or "\0" in name:
            return rpc.u32(NFS3ERR_INVAL) + self.post_op(path)
        if name == ".":
            child = path
        elif name == "..":
            child = path.rpartition("/")[0]
        else:
            child = f"{path}/{name}" if path else name
            if child not in self.dirs and child not in self.fs.files:
                return rpc.u32(NFS3ERR_NOENT) + self.post_op(path)
        return rpc.u32(NFS3_OK) + rpc.opaque(handle_of(child)) + self.post_op(child) + self.post_op(path)

    def _read(self, r: rpc.Reader, d: UdpDatagram, xid: int) -> bytes | None:
        path = self._path(r)
        offset, count = r.u64("the offset"), r.u32("the count")
        r.end("READ's arguments")
        if isinstance(path, int):
            return rpc.u32(path) + self.post_op(None)
        e = self.fs.files.get(path)
        if e is None:
            return rpc.u32(NFS3ERR_ISDIR) + self.post_op(path)
        return self._read_file(e, offset, min(count, NFS_RSIZE), d, xid)

    def _read_file(self, e: Entry, offset: int, count: int, d: UdpDatagram, xid: int) -> bytes | None:
        """READ3resok, or None if it waits for the disk (then answered later)."""
        if offset >= e.size or count == 0:
            data = b""
        else:
            try:
                got = self.fs.read(e, offset, count, None)
            except DiskIOError:
                self.counters["disk errors"] += 1
                return rpc.u32(NFS3ERR_IO) + self.post_op(e.name)
            if got is None:
                if self.pending >= NFS_SERVER_PENDING:
                    self.counters["dropped: too many reads waiting for the disk"] += 1
                    return None
                self.pending += 1
                self.counters["reads waiting for the disk"] += 1
                self.fs.when_cached(e, offset, count, lambda: self.net.defer(lambda: self._again(e, offset, count, d,
                                                                                                   xid)))  # fmt: skip
                return None
            data = got
        self.k.sal.charge(costs.BYTE_COPY_PER_8 * (len(data) // 8 + 1))
        self.counters["bytes read"] += len(data)
        eof = offset + len(data) >= e.size
        return (rpc.u32(NFS3_OK) + self.post_op(e.name) + rpc.u32(len(data)) + rpc.u32(int(eof))
                + rpc.opaque(data))  # fmt: skip

    def _again(self, e: Entry, offset: int, count: int, d: UdpDatagram, xid: int) -> None:
        """The disk is done with the chunk a READ waited for: answer it now."""
        self.pending -= 1
        try:
            body = self._read_file(e, offset, count, d, xid)
        except Exception as ex:  # noqa: BLE001
            self.counters["dropped: server error"] += 1
            self.k.report(f"nfs: READ for {d.src}:{d.src_port} raised {type(ex).__name__}: {ex}; dropped")
            return
        if body is not None:
            self._reply(d, rpc.encode_accepted(xid, rpc.SUCCESS, body))


def serve_nfs(k: Kernel, port: int = 2049) -> NfsServer:
    """Start the NFSv3-subset server on a booted kernel with a network and a disk."""
    server = NfsServer(k, port)
    k.nfs_server = server  # for status pages and the Packets pane
    return server
