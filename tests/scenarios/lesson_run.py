"""Running a lesson whole in a test, and the checks it failed (shared by the lesson tests)."""

from __future__ import annotations

from scenarios import engine


def run(name: str) -> engine.Runner:
    """The lesson ``name`` run through every step."""
    r = engine.Runner(engine.load(name))
    r.run_all()
    return r


def failed(r: engine.Runner) -> set[str]:
    """The failed checks' texts, and each step's error."""
    return {c.text for res in r.results for c in res.checks if not c.ok} | {
        f"error: {res.error}" for res in r.results if res.error
    }
