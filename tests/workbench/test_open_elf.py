"""Opening any ELF: `spinwb FILE.elf`, the shell's and the TUI's `open`, and
what a bad path or a file that is no program gets (a message, the session
in use kept)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.conftest import BIN, ROOT
from tests.workbench.test_app import drive, settle, status
from workbench.cli import main as cli
from workbench.session import Session
from workbench.shell.commands import complete, execute
from workbench.tui.app import Workbench

HELLO = BIN / "hello-ev4.elf"


def bad_files(tmp_path: Path) -> list[tuple[str, str]]:
    """(a path, what the message must say about it)."""
    text = tmp_path / "notes.elf"
    text.write_text("not a program\n")
    src = tmp_path / "prog.c"
    src.write_text("int main(void) { return 0; }\n")
    return [(str(tmp_path / "missing.elf"), "no such file"), (str(text), "not an ELF file"),
            (str(src), "not an ELF file"), (str(tmp_path), "is a directory")]  # fmt: skip


def test_shell_open_boots_the_program_as_init() -> None:
    s = Session()
    r = execute(s, f"open {HELLO} first 'two words'")
    assert not r.error and f"opened {HELLO}" in str(r.body)
    assert s.program == HELLO and s.argv == [str(HELLO), "first", "two words"]
    assert not execute(s, "run").error
    out = s.console_text()
    assert out.startswith("hello from alpha\n")
    assert f"argv[0]={HELLO}\nargv[1]=first\nargv[2]=two words\n" in out
    assert s.stopped == "all processes exited"


def test_shell_open_refuses_what_is_no_program_and_keeps_the_session(tmp_path: Path) -> None:
    s = Session()
    execute(s, "step 1000")
    kernel, position = s.kernel, s.position
    for path, says in bad_files(tmp_path):
        r = execute(s, f"open {path}")
        assert r.error and path in str(r.body) and says in str(r.body), r.body
        assert "spinwb cc" in str(r.body)  # what to give instead
        assert s.kernel is kernel and s.position == position
    r = execute(s, "open")
    assert r.error and str(r.body).startswith("usage: open FILE.elf")


def test_shell_completes_elf_paths() -> None:
    got = complete(Session(), "open scenarios/programs/bin/hello-")
    assert got == [f"scenarios/programs/bin/hello-{c}.elf" for c in ("ev4", "ev56", "ev67")]
    assert "scenarios/programs/bin/" in complete(Session(), "open scenarios/programs/")
    assert "open" in complete(Session(), "op")


def test_spinwb_file_elf_opens_the_workbench_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Session] = []
    monkeypatch.setattr(Workbench, "run", lambda self: seen.append(self.session))
    assert cli.main([str(HELLO), "x"]) == 0
    (s,) = seen
    assert s.program == HELLO and s.argv == [str(HELLO), "x"] and s.lesson is None
    assert s.kernel.user_strands(), "booted with the program as init, ready to step"


def test_spinwb_with_a_bad_file_says_what(tmp_path: Path) -> None:
    for path, says in bad_files(tmp_path):
        p = subprocess.run([sys.executable, "-m", "workbench.cli", path], capture_output=True, text=True, cwd=ROOT,
                           timeout=60)  # fmt: skip
        assert p.returncode == 2 and p.stderr.startswith(f"spinwb: {path}") and says in p.stderr, p.stderr
        assert "Traceback" not in p.stderr
    p = subprocess.run([sys.executable, "-m", "workbench.cli", "rnu"], capture_output=True, text=True, cwd=ROOT,
                       timeout=60)  # fmt: skip
    assert p.returncode == 2 and "invalid choice: 'rnu'" in p.stderr, "a mistyped command is still a command"


def test_tui_command_line_opens_an_elf(tmp_path: Path) -> None:
    app = Workbench()

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("colon")
        await pilot.press(*f"open {tmp_path}/none.elf", "enter")
        assert "no such file" in status(app) and app.session.program is None
        await pilot.press("colon")
        await pilot.press(*f"open {HELLO} tui", "enter")
        await settle(app, pilot)
        assert f"opened {HELLO}" in status(app)
        assert app.session.program == HELLO and app.session.argv == [str(HELLO), "tui"]

    drive(app, body)
