"""`spinwb shell` and the command language it shares with the TUI's `:` line."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from rich.console import Console
from rich.table import Table

from workbench.session import Session
from workbench.shell.commands import complete, execute


def text(body: object) -> str:
    c = Console(width=140, file=io.StringIO(), record=True)
    c.print(body)
    return c.export_text()


def test_unknown_commands_and_bad_arguments_get_a_message_not_a_traceback() -> None:
    w = Session()
    r = execute(w, "lod udp_echo")
    assert r.error and "unknown command 'lod'" in str(r.body) and "load" in str(r.body)
    r = execute(w, "step many")
    assert r.error and str(r.body).startswith("usage: step [N]")
    r = execute(w, 'load "unclosed')
    assert r.error and "cannot read that line" in str(r.body)
    r = execute(w, "unload nosuch")
    assert r.error and "no extension named nosuch" in str(r.body)
    r = execute(w, "raise Nope.Event")
    assert r.error and "no event named Nope.Event" in str(r.body)
    r = execute(w, "load tests/extensions/bad/breakpoint.py")
    assert r.error and "rejected by the verifier" in str(r.body)
    assert w.log == [] and w.kernel.system.extensions == {}, "nothing changed"
    assert not execute(w, "step 10").error and w.kernel.machine.cpu.icount == 10, "and the session still runs"


def test_commands_drive_the_world() -> None:
    w = Session()
    assert "loaded syscall_counter" in str(execute(w, "load syscall_counter --root").body)
    assert execute(w, "break switch 1").body == "breakpoint set: switch 1"
    r = execute(w, "run")
    assert str(r.body).startswith("stopped: breakpoint switch 1: Switch ")
    table = execute(w, "inspect event Trap.SystemCall").body
    assert isinstance(table, Table)
    out = text(table)
    assert "syscall_counter" in out and "guard" in out and "dispatch order" in out
    assert "unloaded syscall_counter" in str(execute(w, "unload syscall_counter").body)
    assert "stepped back over unloading syscall_counter" in str(execute(w, "back").body)
    assert "syscall_counter" in w.kernel.system.extensions
    for what in ("strands", "domains", "events", "spaces", "mappings", "tlb", "trace Switch 3", "cpu"):
        r = execute(w, f"inspect {what}")
        assert not r.error, (what, r.body)
    assert "syscall_counter" in text(execute(w, "inspect domains").body)


def test_run_on_an_idle_machine_ends_after_ten_virtual_seconds() -> None:
    """Before a lesson's first step the session is an idle workstation: no
    instruction budget is ever reached, so `run` stops on virtual time."""
    w = Session(scenario="boot_tour")
    r = execute(w, "run 1000000")
    assert not r.error and str(r.body).startswith("at pc ")
    assert 10 * 133_000_000 <= w.now < 11 * 133_000_000


def test_completion_offers_commands_events_extensions_and_strand_ids() -> None:
    w = Session()
    assert complete(w, "sn") == ["snapshot"]
    assert "Trap.SystemCall" in complete(w, "raise Tr")
    assert "udp_echo" in complete(w, "load udp")
    assert complete(w, "break swi") == ["switch"]
    assert {"1", "2"} <= set(complete(w, "break switch "))
    assert complete(w, "inspect ev") == ["events", "event"]
    assert complete(w, "step e") == ["entry"]


def test_the_shell_reads_commands_from_a_pipe() -> None:
    script = "help\nstep 100\nbogus\ninspect strands\nscenario step\n"
    env = dict(os.environ, COLUMNS="120")
    p = subprocess.run([sys.executable, "-m", "workbench.cli", "shell"], input=script, capture_output=True,
                       text=True, timeout=120, env=env)  # fmt: skip
    assert p.returncode == 1, "a refused command makes the exit status 1"
    assert "unknown command 'bogus'" in p.stdout
    assert "at pc 0x" in p.stdout and "100 instructions" in p.stdout
    assert "commands (help CMD for one)" in p.stdout and "snapshot" in p.stdout
    assert "no scenario is open" in p.stdout
    assert "Traceback" not in p.stdout + p.stderr
    p = subprocess.run([sys.executable, "-m", "workbench.cli", "shell", "--scenario", "boot_tour"],
                       input="scenario step\nscenario status\n", capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    assert "step 1: " in p.stdout and "[ok]" in p.stdout and "passed" in p.stdout


def test_step_and_run_counts_are_bounded() -> None:
    """One step is one uninterruptible call into the machine: a count past
    the limit is refused with the range, not run for hours."""
    from workbench.session import Session
    from workbench.shell.commands import RUN_MAX, STEP_MAX, execute

    w = Session()
    for cmd, most in (("step 0", STEP_MAX), (f"step {STEP_MAX + 1}", STEP_MAX), (f"run {RUN_MAX + 1}", RUN_MAX)):
        r = execute(w, cmd)
        assert r.error and f"1..{most:,}" in str(r.body), (cmd, r.body)
    assert not execute(w, "step 5").error
