"""The small things a user tripped on (issue 18): a breakpoint on an event
that does not exist, `raise` with the wrong arguments, what `back` undid,
how hosts are numbered, `spinwb net` with no program, the README's
`spinwb net` example, and counts that read right."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BIN, ROOT
from workbench.cli.main import main
from workbench.session import Session
from workbench.shell.commands import complete, execute
from workbench.views import plural

# --- break install / dispatch of an event that is not one ---------------------------------------


def test_a_breakpoint_on_an_unknown_event_is_refused_with_the_nearest_names() -> None:
    w = Session()
    r = execute(w, "break install Trap.SystemCal")
    assert r.error and "no event named Trap.SystemCal" in str(r.body) and "did you mean Trap.SystemCall?" in str(r.body)
    r = execute(w, "break dispatch Nothing.Like.It")
    assert r.error and "no event named Nothing.Like.It" in str(r.body) and "inspect events" in str(r.body)
    assert w.breakpoints == [] and w.log == [], "a refused breakpoint is not set, nor logged"
    r = execute(w, "break install udp.packetarrived")  # case aside, the network's events are known names
    assert r.error and "UDP.PacketArrived" in str(r.body)


def test_a_breakpoint_may_name_an_event_a_later_step_brings() -> None:
    """A lesson's network boots at a later step: its events are not on the idle workstation yet."""
    w = Session()
    assert "UDP.PacketArrived" not in w.kernel.dispatcher.events
    assert execute(w, "break install UDP.PacketArrived").body == "breakpoint set: install UDP.PacketArrived"
    assert execute(w, "break install any").body == "breakpoint set: install any"
    assert execute(w, "break dispatch Trap.SystemCall").body == "breakpoint set: dispatch Trap.SystemCall"


# --- raise with the wrong arguments --------------------------------------------------------------


def test_raise_with_the_wrong_number_of_arguments_shows_the_signature() -> None:
    w = Session()
    for line in ("raise Sched.Choose", "raise Sched.Choose 1, 2, 3"):
        r = execute(w, line)
        body = str(r.body)
        assert r.error and "Sched.Choose(g: GroupView, ready: tuple[int, ...]) -> int" in body, body
        assert "takes 2 arguments" in body and "TypeError" not in body and "positional" not in body, body
    r = execute(w, "raise Strand.Block")
    assert r.error and "takes 1 argument, 0 given: Strand.Block(v: StrandView)" in str(r.body), r.body
    assert w.log == [], "a refused raise is not logged"


def test_raise_with_arguments_of_the_wrong_kind_says_so_beside_the_signature() -> None:
    w = Session()
    r = execute(w, "raise Sched.Choose 1 2")  # space-separated literals are arguments too
    assert r.error and "do not fit Sched.Choose(g: GroupView, ready: tuple[int, ...]) -> int" in str(r.body)
    r = execute(w, "raise Strand.Block 1")  # the kernel's refusal, in its words, and the signature
    assert r.error and "not a strand" in str(r.body) and "Strand.Block(v: StrandView)" in str(r.body)
    r = execute(w, "raise Strand.Block not-a-literal")
    assert r.error and "Python literals" in str(r.body) and "Strand.Block(v: StrandView)" in str(r.body)
    r = execute(w, "raise Trap.Systemcall")
    assert r.error and "did you mean Trap.SystemCall?" in str(r.body)
    assert not execute(w, "step 10").error, "and the machine goes on"


# --- back -----------------------------------------------------------------------------------------


def test_back_undoes_a_whole_run_and_says_so() -> None:
    """`run` is many slices in the log; `back` undoes what the user typed, not its last slice."""
    w = Session()
    execute(w, "step 1000")
    execute(w, "run 3000000")
    assert w.kernel.machine.cpu.icount == 3_001_000 and len(w.log) > 2
    said = str(execute(w, "back").body)
    assert said.startswith("stepped back over run 3,000,000 (undid 3,000,000 instructions, now at 1,000;"), said
    assert w.kernel.machine.cpu.icount == 1_000
    said = str(execute(w, "back").body)
    assert (
        said
        == "stepped back over a step of 1,000 instructions (undid 1,000 instructions, now at 0; 0 actions replayed)"
    )
    assert "nothing to step back over" in str(execute(w, "back").body)


def test_back_names_an_action_that_ran_nothing_and_keeps_earlier_commands_whole() -> None:
    w = Session()
    execute(w, "run 2000000")
    execute(w, "break switch 1")
    slices = len(w.log) - 1
    said = str(execute(w, "back").body)
    assert said == f"stepped back over setting breakpoint switch 1 ({slices} actions replayed)" and slices > 1
    assert w.breakpoints == [] and w.kernel.machine.cpu.icount == 2_000_000
    assert "stepped back over run 2,000,000" in str(execute(w, "back").body), "the replayed run is still one command"
    assert w.log == []


# --- hosts are numbered from 1 everywhere ----------------------------------------------------------


def test_the_shell_numbers_hosts_as_spinwb_net_does() -> None:
    w = Session(scenario="udp_forwarding")
    execute(w, "scenario step")  # three machines on a wire
    assert execute(w, "host").body == "looking at host 1 (10.0.0.1) of 3"
    assert execute(w, "host 2").body == "looking at host 2 (10.0.0.2) of 3" and w.host_name == "10.0.0.2"
    assert execute(w, "host 10.0.0.3").body == "looking at host 3 (10.0.0.3) of 3"
    for bad in ("0", "4", "x"):
        r = execute(w, f"host {bad}")
        assert r.error and "numbered from 1 to 3 (host 1 is 10.0.0.1)" in str(r.body), r.body
    assert complete(w, "host ") == ["1", "2", "3"]
    assert w.next_host() == "host 1 (10.0.0.1)"  # the TUI's key: the same words
    execute(w, "host 2")
    execute(w, "step 1000")
    execute(w, "back")
    assert w.host_label == "host 2 (10.0.0.2)", "back keeps the machine you were looking at"


def test_a_single_machine_is_host_1() -> None:
    w = Session()
    assert execute(w, "host 1").body == "looking at workstation, the only machine"
    r = execute(w, "host 0")
    assert r.error and "host 1" in str(r.body)


# --- spinwb net ---------------------------------------------------------------------------------


def test_spinwb_net_with_no_program_says_what_to_give(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["net"], ["net", "--ext", "2:extensions/udp_echo.py"], ["net", str(BIN / "hello-ev4.elf")]):
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1, err
        assert '--run "HOST:FILE.elf ARGS"' in err and 'e.g. spinwb net --ext 2:extensions/udp_echo.py --run "1:' in err


def test_spinwb_net_with_no_program_as_a_command_has_no_traceback() -> None:
    p = subprocess.run([sys.executable, "-m", "workbench.cli", "net"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert p.returncode == 2 and "Traceback" not in p.stderr and "no program to run" in p.stderr, p.stderr


def _readme_net_example() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"e\.g\. `(spinwb net [^`]+)`", readme)
    assert m, "the README gives a `spinwb net` example"
    return shlex.split(m.group(1))


def test_the_readme_net_example_counts_crossings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run as the README says, from the repository root: the measuring program's probe
    is installed, so its crossings are a count, not -1 (and the pcap is written)."""
    monkeypatch.chdir(ROOT)
    argv = _readme_net_example()[1:]
    pcap = tmp_path / "run.pcap"
    argv[argv.index("--pcap") + 1] = str(pcap)  # not into the checkout
    assert main(argv) == 0
    out, err = capsys.readouterr()
    m = re.search(r"10\.0\.0\.1 +rtt ops=(\d+) cycles=\d+ crossings=(-?\d+)", out)
    assert m, out
    ops, crossings = int(m.group(1)), int(m.group(2))
    assert ops == 5 and crossings >= 4 * ops, "each round trip is a sendto and a recvfrom: in and out of the kernel"
    assert f"frames written to {pcap}" in err and pcap.stat().st_size > 24


# --- counts read right ----------------------------------------------------------------------------


def test_plural() -> None:
    assert [plural(n, "call") for n in (0, 1, 2, 1234)] == ["0 calls", "1 call", "2 calls", "1,234 calls"]
    assert plural(1, "process", "processes") == "1 process" and plural(3, "process", "processes") == "3 processes"


def test_counts_of_one_are_singular() -> None:
    w = Session()
    assert execute(w, "load syscall_counter --root").body == "loaded syscall_counter (1 handler installed)"
    assert ", 1 instruction," in str(execute(w, "step 1").body)
    assert str(execute(w, "back").body).endswith("(undid 1 instruction, now at 0; 1 action replayed)")
