"""Domains, the name server and capabilities (spin-reference.md §2; SOSP'95 §3.2)."""

from __future__ import annotations

import pytest

from kernel.sys.capability import ExternalRefs, revoke, unwrap, wrap
from kernel.sys.domain import IMPORT, MODIFY, Domain, combine, resolve
from kernel.sys.errors import AuthError, BadCapability, InvalidName, NameExists, NameNotFound, Unauthorized
from kernel.sys.nameserver import NameServer


def test_resolve_binds_only_what_the_source_exports_and_records_it() -> None:
    net = Domain.create_from_module("Net", {"UDP": "udp-iface", "IP": "ip-iface"})
    vm = Domain.create_from_module("VM", {"Translation": "tr-iface"})
    ext = Domain.create("ext", [("UDP", 1), ("Translation", 2), ("Missing", 3)])
    assert resolve(ext, net) == ["UDP"]
    assert resolve(ext, combine("Public", vm)) == ["Translation"]
    assert ext.unresolved == ["Missing"]
    assert ext.bound["UDP"] == ("udp-iface", "Net") and ext.bound["Translation"] == ("tr-iface", "VM")
    assert ext.resolutions == ["ext <- Net: UDP", "ext <- Public: Translation"]


def test_resolve_needs_modify_on_the_target_and_import_on_the_source() -> None:
    src = Domain.create_from_module("Src", {"A": 1})
    locked = Domain.create("locked", [("A", 1)])
    locked.rights.discard(MODIFY)
    with pytest.raises(AuthError, match="domain locked may not be modified"):
        resolve(locked, src)
    src.rights.discard(IMPORT)
    with pytest.raises(AuthError, match="domain Src may not be imported from"):
        resolve(Domain.create("t", [("A", 1)]), src)


def test_the_name_server_asks_the_exporters_authorizer_with_the_importers_identity() -> None:
    ns = NameServer()
    asked = []
    ns.export("/svc/domains/Secret", "secret", authorizer=lambda who, path: asked.append((who, path)) or who == "root")
    ns.export("/svc/domains/Open", "open")
    assert ns.lookup("/svc/domains/Open", "anyone") == "open"
    assert ns.lookup("/svc/domains/Secret", "root") == "secret"
    with pytest.raises(Unauthorized, match="student may not import /svc/domains/Secret"):
        ns.lookup("/svc/domains/Secret", "student")
    assert asked == [("root", "/svc/domains/Secret"), ("student", "/svc/domains/Secret")]
    assert ns.lookup_soft("/svc/domains/Secret", "student") is None
    assert ns.entries("/svc/domains") == ["Open", "Secret"]
    with pytest.raises(NameExists):
        ns.export("/svc/domains/Open", "again")
    with pytest.raises(NameNotFound, match="/svc/nothing: no such name"):
        ns.lookup("/svc/nothing", "root")
    with pytest.raises(InvalidName, match="an absolute path"):
        ns.lookup("svc", "root")


def test_handles_are_checked_for_kind_and_revocation() -> None:
    h = wrap({"frame": 7}, "frame")
    assert unwrap(h, "frame") == {"frame": 7}
    with pytest.raises(BadCapability, match="expected a translation handle, got a frame handle"):
        unwrap(h, "translation")
    with pytest.raises(BadCapability, match="got int: a forged reference"):
        unwrap(42, "frame")
    revoke(h)
    with pytest.raises(BadCapability, match="was revoked"):
        unwrap(h, "frame")


def test_externalized_references_reject_forged_stale_and_foreign_indices() -> None:
    a, b = ExternalRefs(tag=1), ExternalRefs(tag=2)
    ref = a.externalize("file-object", "file")
    assert a.internalize(ref, "file") == "file-object"
    with pytest.raises(BadCapability, match="belongs to another address space"):
        b.internalize(ref, "file")
    with pytest.raises(BadCapability, match="a forged index"):
        a.internalize(ref + 5, "file")  # a slot never handed out
    with pytest.raises(BadCapability, match="names a file, not a socket"):
        a.internalize(ref, "socket")
    a.release(ref)
    again = a.externalize("other-object", "file")  # the same slot, a new generation
    assert again != ref
    with pytest.raises(BadCapability, match="is stale"):
        a.internalize(ref, "file")
    assert a.internalize(again, "file") == "other-object"
    with pytest.raises(BadCapability, match="is not an index"):
        a.internalize(-1, "file")
