"""ONC RPC refusals (RFC 5531 §9) as kernel/net/rpc.py encodes them: each
decodes back to the auth_stat the RFC gives the case."""

from __future__ import annotations

import pytest

from kernel.net import rpc


def _refusal(msg: bytes) -> rpc.Reply:
    with pytest.raises(rpc.BadCall) as e:
        rpc.decode_call(msg)
    return rpc.decode_reply(e.value.reply)


def _call(cred: bytes, verf: bytes | None = None) -> bytes:
    head = rpc.u32(7) + rpc.u32(rpc.CALL) + rpc.u32(2) + rpc.u32(100003) + rpc.u32(3) + rpc.u32(0)
    return head + cred + (verf if verf is not None else rpc.auth_none())


@pytest.mark.parametrize("flavor", [2, 3, 6, 390003, 0xFFFF_FFFF])  # AUTH_SHORT, AUTH_DH, RPCSEC_GSS, ...
def test_an_unknown_credential_flavor_is_badcred_not_rejectedcred(flavor: int) -> None:
    rep = _refusal(_call(rpc.u32(flavor) + rpc.opaque(b"\1\2\3\4")))
    assert (rep.xid, rep.accepted, rep.stat) == (7, False, rpc.AUTH_ERROR)
    assert rep.detail == (rpc.AUTH_BADCRED,)  # REJECTEDCRED (2) would ask the client for a new session


def test_a_malformed_auth_sys_is_badcred_and_a_verifier_badverf() -> None:
    assert _refusal(_call(rpc.u32(rpc.AUTH_SYS) + rpc.opaque(b"\0\0\0\1"))).detail == (rpc.AUTH_BADCRED,)
    verf = rpc.u32(rpc.AUTH_SYS) + rpc.opaque(b"")
    assert _refusal(_call(rpc.auth_none(), verf)).detail == (rpc.AUTH_BADVERF,)


def test_a_message_of_the_wrong_type_names_it() -> None:
    reply = rpc.encode_accepted(9)
    with pytest.raises(rpc.RpcError, match=r"message type 1: not a CALL \(0\)"):
        rpc.decode_call(reply)
    with pytest.raises(rpc.RpcError, match=r"message type 0: not a REPLY \(1\)"):
        rpc.decode_reply(_call(rpc.auth_none()))
    assert rpc.decode_reply(reply).xid == 9 and rpc.decode_call(_call(rpc.auth_none())).xid == 7
