"""The protection and authority lessons (issue 19): extension_safety,
protection_domains, event_authority, external_references. Each passes, names
a pane per step with each question's answer on it, and fails a named check
when the mechanism it teaches is broken."""

from __future__ import annotations

import pytest

from kernel.sys import authority, fuel, linker
from kernel.sys.capability import ExternalRefs
from kernel.sys.dispatcher import Dispatcher
from kernel.sys.domain import Domain
from kernel.sys.errors import BadCapability
from kernel.sys.verifier import _Checker
from scenarios import engine

LESSONS = ("extension_safety", "protection_domains", "event_authority", "external_references")


def run(name: str) -> engine.Runner:
    r = engine.Runner(engine.load(name))
    r.run_all()
    return r


def failed(r: engine.Runner) -> set[str]:
    return {c.text for res in r.results for c in res.checks if not c.ok}


@pytest.mark.parametrize("name", LESSONS)
def test_the_lesson_passes_with_five_to_ten_steps_mostly_off_the_scenario_pane(name: str) -> None:
    r = run(name)
    assert r.passed, [(res.title, [c.text for c in res.checks if not c.ok], res.error) for res in r.results]
    assert 5 <= len(r.results) <= 10
    panes = [res.pane for res in r.results]
    assert all(p in engine.PANES for p in panes)
    assert panes.count("Scenario") <= len(panes) // 3, panes
    assert all(res.questions for res in r.results), [res.title for res in r.results if not res.questions]


def test_extension_safety_fails_when_the_verifier_accepts_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Checker, "check_module", lambda self, tree: None)
    assert "nosy.py is refused by the verifier" in failed(run("extension_safety"))


def test_extension_safety_fails_when_fuel_never_runs_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def regrant(self: fuel.Meter) -> bool:  # a check that finds the fuel spent grants it again
        self.ns[fuel.FUEL_NAME] = iter(fuel.grant_of(max(self.granted, 1)))
        return True

    monkeypatch.setattr(fuel.Meter, "out", regrant)
    assert "the handler was aborted" in failed(run("extension_safety"))


def test_protection_domains_fails_when_resolve_links_unresolved_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    real = linker.resolve

    def sloppy(target: Domain, source: Domain) -> list[str]:  # binds what it finds, then the rest to nothing
        got = real(target, source)
        for name in target.unresolved:
            target.bound[name] = (None, source.name)
        return got

    monkeypatch.setattr(linker, "resolve", sloppy)
    got = failed(run("protection_domains"))
    assert "its code never ran" in got
    assert "against SpinPublic alone the load is refused" in got


def test_event_authority_fails_when_the_authorizer_always_says_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authority, "kernel_event", lambda binding, key: True)
    got = failed(run("event_authority"))
    assert {"the unguarded handler is refused", "the First handler is refused"} <= got


def test_event_authority_fails_when_the_imposed_guard_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Dispatcher, "impose_guard", lambda self, b, guard, by, *a, **kw: None)
    got = failed(run("event_authority"))
    assert {"a guard was imposed on it", "it saw no call of pid 1"} <= got


def test_external_references_fails_when_the_table_accepts_forged_indices(monkeypatch: pytest.MonkeyPatch) -> None:
    def lax(self: ExternalRefs, ref: int) -> tuple[int, tuple[int, object, str]]:
        for i, entry in enumerate(self.slots):  # any index names the first live object
            if entry is not None:
                return i, entry
        raise BadCapability("empty table")

    monkeypatch.setattr(ExternalRefs, "_find", lax)
    got = failed(run("external_references"))
    assert {"the forged index is refused", "the stale index is refused"} <= got
