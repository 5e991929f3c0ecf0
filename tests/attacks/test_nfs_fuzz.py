"""10,000 malformed RPC datagrams at the NFS server (seeded): each is
answered or dropped, the server never raises, and a correct request after
the storm still works. The codec alone, on the same inputs, raises only
RpcError."""

from __future__ import annotations

import random

from kernel.fs.nfs_server import ROOT_HANDLE, handle_of
from kernel.net import packet as P
from kernel.net import rpc
from tests.fs.nfsworld import SERVER, NfsWorld

N = 10_000
FILES = {"a.txt": b"A" * 5000, "d/b.bin": bytes(range(256)) * 100}


def _valid(rng: random.Random) -> bytes:
    xid = rng.getrandbits(32)
    cred = rpc.auth_sys(rpc.AuthSys(1, "fuzz", 0, 0, (1, 2))) if rng.random() < 0.5 else None
    fh = rng.choice([ROOT_HANDLE, handle_of("a.txt"), handle_of("d"), handle_of("d/b.bin")])
    proc, args = rng.choice([
        (0, b""), (1, rpc.opaque(fh)), (3, rpc.opaque(fh) + rpc.string(rng.choice(["a.txt", "d", "b.bin", "x"]))),
        (6, rpc.opaque(fh) + rpc.u64(rng.randrange(0, 30_000)) + rpc.u32(rng.choice([0, 1, 8192, 1 << 31]))),
    ])  # fmt: skip
    return rpc.encode_call(xid, 100003, 3, proc, args, cred)


def _word(m: bytearray, at: int, v: int) -> None:
    if at + 4 <= len(m):
        m[at : at + 4] = rpc.u32(v)


def mutate(rng: random.Random) -> bytes:
    m = bytearray(_valid(rng))
    kind = rng.randrange(10)
    if kind == 0:
        del m[rng.randrange(len(m) + 1) :]  # truncated
    elif kind == 1:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(m))
            m[i] ^= 1 << rng.randrange(8)
    elif kind == 2:
        _word(m, 12, rng.choice([0, 100005, 100003 + rng.randint(1, 9), rng.getrandbits(32)]))  # program
    elif kind == 3:
        _word(m, 16, rng.choice([2, 4, 0, rng.getrandbits(32)]))  # version
    elif kind == 4:
        _word(m, 20, rng.choice([2, 4, 5, 7, 21, rng.getrandbits(32)]))  # procedure
    elif kind == 5:
        _word(m, 4 * rng.randrange(len(m) // 4), rng.choice([0xFFFF_FFFF, 0x7FFF_FFFF, 0xFFFF_FFF0, 1 << 20]))
    elif kind == 6:
        _word(m, 24, rng.choice([2, 3, 6, 390003, rng.getrandbits(32)]))  # credential flavor
        _word(m, 28, rng.choice([401, 3, rng.getrandbits(32)]))  # and length
    elif kind == 7:
        m = bytearray(rng.randbytes(rng.randrange(0, 1400)))
    elif kind == 8:
        _word(m, 4, rng.choice([1, 2, rng.getrandbits(32)]))  # message type
        _word(m, 8, rng.choice([1, 3, 0]))  # rpc version
    else:
        m += rng.randbytes(rng.randrange(1, 64))  # trailing garbage
    return bytes(m[:1400])


def test_the_codec_raises_only_rpc_error() -> None:
    rng = random.Random(1)
    for _ in range(N):
        m = mutate(rng)
        for decode in (rpc.decode_call, rpc.decode_reply):
            try:
                decode(m)
            except rpc.RpcError:
                pass


def test_ten_thousand_malformed_datagrams() -> None:
    w = NfsWorld(FILES)
    assert w.fetch("a.txt")[0] == FILES["a.txt"]  # ARP warm, the client's port known
    sk = w.server_k.net
    assert sk is not None
    client_mac = w.client_k.net.mac  # type: ignore[union-attr]
    rng = random.Random(2024)
    sent = 0
    while sent < N:
        for _ in range(min(400, N - sent)):
            body = P.udp("10.0.0.1", SERVER, 700 + rng.randrange(300), 2049, mutate(rng))
            sk.inject(P.ether(sk.mac, client_mac, P.ETH_IP, P.ip("10.0.0.1", SERVER, P.PROTO_UDP, body, sent)))
            sent += 1
        w.net.run_us(40_000)
    w.net.run_until(lambda: w.server.pending == 0, 5_000_000)
    c = w.server.stats()
    dropped = sum(v for k, v in c.items() if k.startswith("dropped"))
    assert c["datagrams"] == N + 3  # the fetch's LOOKUP, GETATTR and READ, and every fuzzed one
    assert c.get("dropped: server error", 0) == 0 and not w.server_k.reports
    assert c["replies"] - 3 + dropped == N, c  # the fetch's three replies; each fuzzed one answered or dropped
    for kind in ("PROG_UNAVAIL", "PROG_MISMATCH", "PROC_UNAVAIL", "GARBAGE_ARGS", "denied (rpc version or auth)",
                 "dropped: not an RPC call"):  # fmt: skip
        assert c.get(kind, 0) > 50, (kind, c)
    assert w.fetch("d/b.bin")[0] == FILES["d/b.bin"]  # still serving
