"""ONC RPC version 2 (RFC 5531) and the XDR it is written in (RFC 4506):
encoders, and decoders safe against any input.

Pure functions over bytes, used by both ends of NFS (kernel/fs/nfs_server.py,
nfs_client.py). Every decoder raises ``RpcError`` -- and only it -- with a
message saying what and where, on input that is short, overlong, unaligned
or out of range; nothing else (IndexError, struct.error) escapes. What is
decoded is bounded: an opaque or string may not claim more bytes than the
message holds, nor more than its declared maximum.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CALL, REPLY = 0, 1
MSG_TYPE_NAMES = {CALL: "CALL", REPLY: "REPLY"}
RPC_VERSION = 2
MSG_ACCEPTED, MSG_DENIED = 0, 1
# accept_stat (RFC 5531 §9)
SUCCESS, PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR = 0, 1, 2, 3, 4, 5
# reject_stat and auth_stat
RPC_MISMATCH, AUTH_ERROR = 0, 1
AUTH_BADCRED, AUTH_REJECTEDCRED, AUTH_BADVERF, AUTH_REJECTEDVERF, AUTH_TOOWEAK = 1, 2, 3, 4, 5
# auth flavors
AUTH_NONE, AUTH_SYS = 0, 1
MAX_AUTH_BYTES = 400  # RFC 5531 §8.2: the body of a credential or verifier
AUTH_SYS_MACHINE_MAX = 255  # RFC 5531 Appendix A
AUTH_SYS_GIDS_MAX = 16

_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")


class RpcError(Exception):
    """A message that is not well-formed XDR/RPC; says what and where."""


# --- XDR encoding ---------------------------------------------------------------------------


def u32(v: int) -> bytes:
    return _U32.pack(v & 0xFFFF_FFFF)


def u64(v: int) -> bytes:
    return _U64.pack(v & 0xFFFF_FFFF_FFFF_FFFF)


def opaque(data: bytes) -> bytes:
    """Variable-length opaque: length, bytes, zero padding to 4 (RFC 4506 §4.10)."""
    return u32(len(data)) + bytes(data) + bytes(-len(data) % 4)


def fixed_opaque(data: bytes) -> bytes:
    return bytes(data) + bytes(-len(data) % 4)


def string(s: str) -> bytes:
    return opaque(s.encode())


# --- XDR decoding ---------------------------------------------------------------------------


class Reader:
    """A cursor over an XDR message; every read is bounds-checked."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes | bytearray | memoryview, pos: int = 0) -> None:
        self.data = bytes(data)
        self.pos = pos

    def left(self) -> int:
        return len(self.data) - self.pos

    def _need(self, n: int, what: str) -> None:
        if n > len(self.data) - self.pos:
            raise RpcError(f"{what} at byte {self.pos}: needs {n} bytes, {len(self.data) - self.pos} left")

    def u32(self, what: str = "uint32") -> int:
        self._need(4, what)
        v = _U32.unpack_from(self.data, self.pos)[0]
        self.pos += 4
        return int(v)

    def u64(self, what: str = "uint64") -> int:
        self._need(8, what)
        v = _U64.unpack_from(self.data, self.pos)[0]
        self.pos += 8
        return int(v)

    def boolean(self, what: str = "bool") -> bool:
        v = self.u32(what)
        if v > 1:
            raise RpcError(f"{what} at byte {self.pos - 4}: {v} is not a boolean (0 or 1)")
        return v == 1

    def fixed(self, n: int, what: str = "opaque") -> bytes:
        padded = n + (-n % 4)
        self._need(padded, what)
        out = self.data[self.pos : self.pos + n]
        self.pos += padded
        return out

    def opaque(self, limit: int, what: str = "opaque") -> bytes:
        at = self.pos
        n = self.u32(f"{what}'s length")
        if n > limit:
            raise RpcError(f"{what} at byte {at}: {n} bytes, more than its maximum of {limit}")
        return self.fixed(n, what)

    def string(self, limit: int, what: str = "string") -> str:
        at = self.pos
        raw = self.opaque(limit, what)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise RpcError(f"{what} at byte {at}: not UTF-8") from None

    def end(self, what: str = "the message") -> None:
        if self.pos != len(self.data):
            raise RpcError(f"{what}: {len(self.data) - self.pos} bytes after its end")


# --- RPC messages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthSys:
    """AUTH_SYS's credential body (RFC 5531 Appendix A)."""

    stamp: int
    machine: str
    uid: int
    gid: int
    gids: tuple[int, ...]


def auth_none() -> bytes:
    return u32(AUTH_NONE) + u32(0)


def auth_sys(cred: AuthSys) -> bytes:
    body = (u32(cred.stamp) + string(cred.machine) + u32(cred.uid) + u32(cred.gid) + u32(len(cred.gids))
            + b"".join(u32(g) for g in cred.gids))  # fmt: skip
    return u32(AUTH_SYS) + opaque(body)


@dataclass(frozen=True)
class Call:
    xid: int
    prog: int
    vers: int
    proc: int
    cred_flavor: int
    cred: AuthSys | bytes  # AuthSys for AUTH_SYS, else the raw body
    verf_flavor: int
    args: bytes  # the procedure's arguments, still XDR


def encode_call(xid: int, prog: int, vers: int, proc: int, args: bytes, cred: bytes | None = None) -> bytes:
    """A CALL message (RFC 5531 §9); ``cred``: an encoded opaque_auth (default AUTH_NONE)."""
    return (u32(xid) + u32(CALL) + u32(RPC_VERSION) + u32(prog) + u32(vers) + u32(proc)
            + (cred if cred is not None else auth_none()) + auth_none() + args)  # fmt: skip


def _auth(r: Reader, what: str) -> tuple[int, bytes]:
    flavor = r.u32(f"{what}'s flavor")
    body = r.opaque(MAX_AUTH_BYTES, f"{what}'s body")
    return flavor, body


def decode_auth_sys(body: bytes) -> AuthSys:
    r = Reader(body)
    stamp = r.u32("AUTH_SYS stamp")
    machine = r.string(AUTH_SYS_MACHINE_MAX, "AUTH_SYS machine name")
    uid, gid = r.u32("AUTH_SYS uid"), r.u32("AUTH_SYS gid")
    n = r.u32("AUTH_SYS gids' count")
    if n > AUTH_SYS_GIDS_MAX:
        raise RpcError(f"AUTH_SYS credential: {n} groups, more than {AUTH_SYS_GIDS_MAX}")
    gids = tuple(r.u32("AUTH_SYS gid") for _ in range(n))
    r.end("the AUTH_SYS credential")
    return AuthSys(stamp, machine, uid, gid, gids)


def _header(r: Reader, want: int) -> int:
    """The xid of a message that opens as every RPC message does (RFC 5531
    §9: xid, then its type); RpcError unless the type is ``want``."""
    xid = r.u32("xid")
    mtype = r.u32("message type")
    if mtype != want:
        raise RpcError(f"message type {mtype}: not a {MSG_TYPE_NAMES[want]} ({want})")
    return xid


class BadCall(RpcError):
    """A CALL whose header is readable but that the server must refuse with a
    reply (RFC 5531 §9): ``reply`` is the encoded refusal."""

    def __init__(self, message: str, reply: bytes) -> None:
        super().__init__(message)
        self.reply = reply


def decode_call(data: bytes | bytearray | memoryview) -> Call:
    """A CALL message. RpcError if it cannot be read as one (drop it);
    BadCall if it can but must be refused (send ``.reply``): a wrong RPC
    version (MSG_DENIED RPC_MISMATCH), an unknown or malformed credential
    (MSG_DENIED AUTH_ERROR, AUTH_BADCRED: RFC 5531 §9's AUTH_REJECTEDCRED
    would tell the client to begin a new session, which neither flavor has),
    a verifier other than AUTH_NONE (AUTH_BADVERF)."""
    r = Reader(data)
    xid = _header(r, CALL)
    rpcvers = r.u32("RPC version")
    if rpcvers != RPC_VERSION:
        raise BadCall(f"RPC version {rpcvers}, not 2", encode_denied_mismatch(xid))
    prog, vers, proc = r.u32("program"), r.u32("version"), r.u32("procedure")
    cflavor, cbody = _auth(r, "the credential")
    vflavor, _vbody = _auth(r, "the verifier")
    cred: AuthSys | bytes
    if cflavor == AUTH_NONE:
        cred = cbody
    elif cflavor == AUTH_SYS:
        try:
            cred = decode_auth_sys(cbody)
        except RpcError as e:
            raise BadCall(f"a malformed AUTH_SYS credential: {e}", encode_denied_auth(xid, AUTH_BADCRED)) from None
    else:  # AUTH_BADCRED, as Linux's svc_authenticate answers a flavor it has no handler for
        raise BadCall(f"credential flavor {cflavor}: only AUTH_NONE and AUTH_SYS",
                      encode_denied_auth(xid, AUTH_BADCRED))  # fmt: skip
    if vflavor != AUTH_NONE:
        raise BadCall(f"verifier flavor {vflavor}: only AUTH_NONE", encode_denied_auth(xid, AUTH_BADVERF))
    return Call(xid, prog, vers, proc, cflavor, cred, vflavor, r.data[r.pos :])


def encode_accepted(xid: int, stat: int = SUCCESS, body: bytes = b"", low: int = 0, high: int = 0) -> bytes:
    """A MSG_ACCEPTED reply: ``body`` follows SUCCESS; PROG_MISMATCH carries (low, high)."""
    head = u32(xid) + u32(REPLY) + u32(MSG_ACCEPTED) + auth_none() + u32(stat)
    if stat == SUCCESS:
        return head + body
    if stat == PROG_MISMATCH:
        return head + u32(low) + u32(high)
    return head


def encode_denied_mismatch(xid: int) -> bytes:
    return u32(xid) + u32(REPLY) + u32(MSG_DENIED) + u32(RPC_MISMATCH) + u32(RPC_VERSION) + u32(RPC_VERSION)


def encode_denied_auth(xid: int, why: int) -> bytes:
    return u32(xid) + u32(REPLY) + u32(MSG_DENIED) + u32(AUTH_ERROR) + u32(why)


@dataclass(frozen=True)
class Reply:
    xid: int
    accepted: bool
    stat: int  # accept_stat if accepted, else reject_stat
    detail: tuple[int, ...]  # PROG_MISMATCH's or RPC_MISMATCH's (low, high), AUTH_ERROR's auth_stat
    body: bytes  # after SUCCESS: the procedure's results, still XDR


def decode_reply(data: bytes | bytearray | memoryview) -> Reply:
    r = Reader(data)
    xid = _header(r, REPLY)
    rstat = r.u32("reply status")
    if rstat == MSG_ACCEPTED:
        _auth(r, "the verifier")
        stat = r.u32("accept status")
        if stat == SUCCESS:
            return Reply(xid, True, stat, (), r.data[r.pos :])
        if stat == PROG_MISMATCH:
            lo, hi = r.u32("lowest version"), r.u32("highest version")
            r.end("the PROG_MISMATCH reply")
            return Reply(xid, True, stat, (lo, hi), b"")
        if stat > SYSTEM_ERR:
            raise RpcError(f"accept status {stat}: not one RFC 5531 defines")
        r.end("the reply")
        return Reply(xid, True, stat, (), b"")
    if rstat == MSG_DENIED:
        why = r.u32("reject status")
        if why == RPC_MISMATCH:
            detail: tuple[int, ...] = (r.u32("lowest version"), r.u32("highest version"))
        elif why == AUTH_ERROR:
            detail = (r.u32("auth status"),)
        else:
            raise RpcError(f"reject status {why}: not RPC_MISMATCH or AUTH_ERROR")
        r.end("the MSG_DENIED reply")
        return Reply(xid, False, why, detail, b"")
    raise RpcError(f"reply status {rstat}: not MSG_ACCEPTED or MSG_DENIED")
