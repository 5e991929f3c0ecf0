"""The session the workbench drives: breakpoints on OS events, stepping to the
next kernel entry or dispatch, step back and snapshots (a replayed log)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench import views
from workbench.session import BIN, Session, SessionError, parse_breakpoint


def test_step_to_the_next_kernel_entry_and_dispatch() -> None:
    w = Session()
    said = w.step_to("entry")
    assert said.startswith("kernel entry: ")
    said = w.step_to("dispatch")
    assert said.startswith("breakpoint dispatch any: Dispatch ") and "guards" in said
    assert w.breakpoints == [], "the temporary breakpoint is gone"
    assert w.kernel.entry_watch is None


def test_a_fault_breakpoint_stops_at_the_faulting_access_and_the_world_goes_on() -> None:
    """nullderef reads address 0: the run stops on its MemFault record, with
    the address in the message; the machine is not halted and runs on to the end."""
    w = Session()
    w.add_break("fault 0x0")
    for _ in range(400):
        why = w.step(200_000, 133_000_000 // 20)
        if why == "stop":
            break
    assert why == "stop"
    assert "breakpoint fault 0x0: MemFault" in w.last_stop and "address=0x0" in w.last_stop
    assert not w.stopped
    w.remove_break("fault 0x0")
    for _ in range(400):
        if w.step(2_000_000, 133_000_000 // 20) != "cycle" and w.stopped:
            break
    assert w.stopped == "all processes exited"
    assert "nullderef" in w.console_text()


def test_switch_and_install_breakpoints() -> None:
    w = Session()
    w.add_break("switch 1")  # the idle strand
    while w.step(100_000, 133_000_000 // 20) != "stop":
        pass
    assert "breakpoint switch 1: Switch " in w.last_stop and "→1" in w.last_stop
    assert w.strands()[0].current  # strand 1, idle, is the one running now
    w.remove_break("switch 1")
    w.add_break("install Trap.SystemCall")
    w.load("syscall_counter", importer="root")
    assert w.log[-1][0] == "load"
    why = w.step(1)
    assert why == "stop" and "breakpoint install Trap.SystemCall: Install" in w.last_stop


def test_bad_breakpoints_say_what_a_good_one_looks_like() -> None:
    with pytest.raises(
        SessionError, match=r"^break fault: 'here' is not an address or any \(e\.g\. break fault 0x0\)$"
    ):
        parse_breakpoint("fault here")
    with pytest.raises(SessionError, match=r"^break packet: '70000' is not a port number"):
        parse_breakpoint("packet 70000")
    with pytest.raises(SessionError, match="Breakpoints stop on a handler installed on an event"):
        parse_breakpoint("watch 3")
    w = Session()
    with pytest.raises(SessionError, match="no breakpoint"):
        w.remove_break("switch 4")
    assert w.log == [], "a refused action is not logged"


def test_packet_breakpoint_on_a_network_scenario() -> None:
    """udp_forwarding's first step builds three machines; a breakpoint on port
    7000 then stops the session on a datagram of the lesson's echo service."""
    w = Session(scenario="udp_forwarding")
    w.scenario_step()
    assert len(w.kernels) == 3 and w.host_name == "10.0.0.1"
    w.kernels[0].net.udp.send(4000, "10.0.0.2", 7000, b"again")  # sent now, before the breakpoint is set
    w.add_break("packet 7000")
    why = w.step(133_000_000 // 10)
    assert why == "stop", w.last_stop
    # the first record after: the forwarder receiving it (its send was before the breakpoint)
    assert "breakpoint packet 7000: PacketIn" in w.last_stop and "10.0.0.1:4000 > 10.0.0.2:7000 len 5" in w.last_stop
    at = w.net.now
    w.remove_break("packet 7000")
    w.step(133_000)
    assert w.net.now == at + 133_000, "after a stop the session goes on from where it stopped"


def test_step_back_replays_to_the_same_state() -> None:
    w = Session()
    w.step(30_000)
    w.step_to("dispatch")
    before = (w.hashes(), w.kernel.machine.cpu.icount, len(w.log))
    w.step(5_000)
    assert w.hashes() != before[0]
    said = w.back()
    assert "stepped back over a step of 5,000 instructions" in said
    assert (w.hashes(), w.kernel.machine.cpu.icount, len(w.log)) == before
    with pytest.raises(SessionError, match="nothing to step back over"):
        Session().back()


def test_snapshots_in_memory_and_on_disk(tmp_path: Path) -> None:
    w = Session()
    w.step(20_000)
    w.mark()
    at = w.hashes()
    w.step(20_000)
    w.restore_mark()
    assert w.hashes() == at
    f = tmp_path / "snap.json"
    w.step(7_777)
    w.add_break("fault 0x0")
    w.save(f)
    again = Session.open(f)
    assert again.hashes() == w.hashes() and [str(b) for b in again.breakpoints] == ["fault 0x0"]


def test_a_snapshot_from_another_version_or_not_a_snapshot_is_refused(tmp_path: Path) -> None:
    w = Session()
    w.step(1_000)
    f = tmp_path / "snap.json"
    w.save(f)
    doc = json.loads(f.read_text())
    doc["spinwb"] = "0.0.1"
    f.write_text(json.dumps(doc))
    with pytest.raises(SessionError, match=r"saved by spinwb 0\.0\.1 .* this is spinwb"):
        Session.open(f)
    doc["spinwb"] = json.loads((tmp_path / "snap.json").read_text())["spinwb"]
    w.save(f)
    doc = json.loads(f.read_text())
    doc["log"][0][1] = 999  # a different step: the replay cannot match the recorded hashes
    f.write_text(json.dumps(doc))
    with pytest.raises(SessionError, match="state differs"):
        Session.open(f)
    f.write_text("hello")
    with pytest.raises(SessionError, match="not a workbench snapshot"):
        Session.open(f)
    with pytest.raises(SessionError, match="cannot read"):
        Session.open(tmp_path / "missing.json")


def test_views_read_without_changing_the_world() -> None:
    """Every pane's view, read on a session mid-run, leaves its state hash alone."""
    w = Session(BIN / "forkcow.elf", ["forkcow"])
    w.step(4_000)
    before = w.hashes()
    k = w.kernel
    views.domains(k)
    views.events(k)
    for e in views.events(k):
        views.bindings(k, e.name)
    for sp in views.spaces(k):
        for m in views.mappings(k, sp.id):
            views.walk(k, sp.id, m.va)
    views.tbs(k)
    [views.record_text(r) for r in k.trace]
    assert w.hashes() == before


def test_the_page_walk_decodes_each_level() -> None:
    w = Session(BIN / "forkcow.elf", ["forkcow"])
    w.step(4_000)
    sp = [s for s in views.spaces(w.kernel) if s.pages][-1]
    m = views.mappings(w.kernel, sp.id)[0]
    steps, outcome = views.walk(w.kernel, sp.id, m.va)
    assert [s.level for s in steps] == [1, 2, 3]
    assert steps[0].bits.startswith("V KRE KWE") and "URE" not in steps[0].bits  # upper levels: kernel only
    assert "URE" in steps[2].bits and f"pfn {m.pfn:#x}" in steps[2].bits
    assert outcome.endswith("(user read allowed)")
    steps, outcome = views.walk(w.kernel, sp.id, 0)  # page 0 is never mapped: the L3 entry is invalid
    assert outcome == "0x0: a user read faults (not mapped)" and not steps[-1].bits.startswith("V")
    assert views.pte_bits(w.kernel, 0) == "invalid pfn 0x0"
