"""The o_trunc lesson (Poking Holes §4.2): it passes unbroken, and fails a
named check when truncation keeps the file's blocks, or when a private file
mapping writes through to the file."""

from __future__ import annotations

from typing import Any

import pytest

from kernel.fs.extentfs import ExtentFS
from kernel.unix.addrspace import AddressSpace
from scenarios import engine


def failed() -> set[str]:
    r = engine.Runner(engine.load("o_trunc"))
    r.run_all()
    assert len(r.results) == 5
    return {c.text for res in r.results for c in res.checks if not c.ok}


def test_the_unbroken_lesson_passes() -> None:
    assert failed() == set()


def test_a_truncate_that_keeps_the_blocks_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ExtentFS, "_give_back", lambda self, b, n: None)  # blocks never go back to the free map
    bad = failed()
    assert "every iteration freed the file's blocks and allocated them again" in bad


def test_a_private_mapping_that_writes_through_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    add = AddressSpace.add_region

    def shared(self: AddressSpace, va: int, size: int, prot: int, kind: str, file: Any = None, pgoff: int = 0,
               shared: bool = False) -> None:  # fmt: skip
        add(self, va, size, prot, kind, file, pgoff, file is not None)

    monkeypatch.setattr(AddressSpace, "add_region", shared)
    assert "after the MAP_PRIVATE variant the file does not hold the object" in failed()
