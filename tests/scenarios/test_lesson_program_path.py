"""A lesson can name its program by a path, relative to the lesson's file."""

from __future__ import annotations

import shutil
from pathlib import Path

from scenarios import engine
from tests.conftest import BIN

LESSON = """
from scenarios.engine import Lesson

lesson = Lesson("own", "A program of one's own")


@lesson.step("Run it")
def run_it(run):
    k = run.boot(init="progs/mine.elf", argv=["mine", "arg"])
    run.run_until_exit(k)
    run.check("it ran", "argv[1]=arg" in run.console(k))


@lesson.step("By name, as before")
def by_name(run):
    k = run.boot(init="hello-ev4")
    run.run_until_exit(k)
    run.check("hello", run.console(k).startswith("hello from alpha"))


@lesson.step("Missing")
def missing(run):
    run.boot(init="progs/nothere.elf")


@lesson.step("Not a program")
def not_elf(run):
    run.boot(init="own.py")
"""


def test_lesson_program_paths(tmp_path: Path) -> None:
    (tmp_path / "progs").mkdir()
    shutil.copy(BIN / "hello-ev4.elf", tmp_path / "progs" / "mine.elf")
    (tmp_path / "own.py").write_text(LESSON)
    r = engine.Runner(engine.load(str(tmp_path / "own.py")))
    ran, by_name, missing, not_elf = r.run_all()
    assert ran.passed and ran.checks[0].ok
    assert by_name.passed
    assert (
        "own.py:23: ElfError: the lesson's program:" in missing.error and "nothere.elf: no such file" in missing.error
    )
    assert "own.py:28:" in not_elf.error and "not an ELF file" in not_elf.error
