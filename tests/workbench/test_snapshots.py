"""SVG pictures of every pane in an interesting state (pytest-textual-snapshot).

Each test's docstring says what its picture must show; a failing test
writes a report comparing the new picture with the accepted one. Accept a
deliberate change with ``pytest tests/workbench/test_snapshots.py --snapshot-update``
and look at the pictures in tests/workbench/__snapshots__/ before committing them.
Sessions are built and stepped before the app opens, so every picture is of
a deterministic state (virtual time, seeded scenarios).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.session import Session
from workbench.tui.app import Workbench

SIZE = (110, 34)


def lesson(name: str, steps: int, focus: int = 0) -> Session:
    w = Session(scenario=name)
    for _ in range(steps):
        w.scenario_step()
    w.focus = focus
    return w


def demo_at_the_null_dereference() -> Session:
    """The demo session stopped by `break fault 0x0`: nullderef has just read address 0."""
    w = Session()
    w.add_break("fault 0x0")
    while w.step(500_000, 133_000_000 // 20) != "stop":
        pass
    return w


SnapCompare = Callable[..., bool]


def test_strands_at_the_fault(snap_compare: SnapCompare) -> None:
    """Strands pane at nullderef's fault: idle, init blocked in wait, the
    finished programs done, nullderef running (marked ▶), with each strand's
    owner, scheduler, priority and CPU time; the recent switches below."""
    assert snap_compare(Workbench(session=demo_at_the_null_dereference()), press=["1"], terminal_size=SIZE)


def test_domains_on_the_forwarder(snap_compare: SnapCompare) -> None:
    """Domains pane on the forwarding node (host 1, 10.0.0.1) of udp_forwarding
    after step 2: SpinPublic's exports, and the forward extension's domain
    with its rights on kernel events (the lesson loads it as the owner: all
    four) and each import resolved against SpinPublic."""
    assert snap_compare(Workbench(session=lesson("udp_forwarding", 2)), press=["2"], terminal_size=SIZE)


def test_events_forwarder_bindings(snap_compare: SnapCompare) -> None:
    """Events pane on the forwarder after step 2, cursor on UDP.PacketArrived:
    forward's two First+Cancel bindings, the splicer's socket and UDP's default, in
    dispatch order, with their guards, calls and the last dispatch's guard
    results (passed / rejected)."""
    w = lesson("udp_forwarding", 2)
    app = Workbench(session=w)

    async def pick(pilot: Any) -> None:
        await pilot.press("3")
        app.query_one("#events").select(w, "UDP.PacketArrived")  # type: ignore[attr-defined]
        app.refresh_panes()
        await pilot.pause()

    assert snap_compare(app, run_before=pick, terminal_size=SIZE)


def test_packets_through_three_handlers(snap_compare: SnapCompare) -> None:
    """Packets pane on the forwarder after step 3's one trip, cursor on the last datagram in (up):
    its path through the protocol graph, Ether then IP then UDP, each with
    its guards passed or rejected and the handler that ran: Ether's, IP's,
    then forward's (which took it, First and Cancel)."""
    w = lesson("udp_forwarding", 3)
    assert snap_compare(Workbench(session=w), press=["5", "up"], terminal_size=SIZE)


def test_page_tables_after_a_page_fault(snap_compare: SnapCompare) -> None:
    """Page tables pane right after nullderef's fault at address 0: the
    faulting process's address space and mappings, the three-level walk of
    the first mapping with each PTE's bits decoded, the TBs' counters."""
    assert snap_compare(Workbench(session=demo_at_the_null_dereference()), press=["4"], terminal_size=SIZE)


def test_cpu_at_the_fault_breakpoint(snap_compare: SnapCompare) -> None:
    """CPU pane at the fault breakpoint: registers, the disassembly around
    PC, mode and IPL; the status bar says which breakpoint stopped the run."""
    assert snap_compare(Workbench(session=demo_at_the_null_dereference()), press=["7"], terminal_size=SIZE)


def test_console_after_the_demo(snap_compare: SnapCompare) -> None:
    """Console pane when every demo process has exited: the programs'
    output, the kernel's one-line report of nullderef's signal, and
    'all processes exited'."""
    w = Session()
    while not w.stopped:
        w.step(2_000_000, 133_000_000 // 20)
    assert snap_compare(Workbench(session=w), press=["6"], terminal_size=SIZE)


def test_trace_runaway_handler_aborted(snap_compare: SnapCompare) -> None:
    """Trace pane on the extension_safety host after step 3, filtered (f) to
    Abort records: the runaway handler aborted on UDP.PacketArrived with the
    fuel it burned."""
    assert snap_compare(Workbench(session=lesson("extension_safety", 3, focus=0)), press=["8", "f"], terminal_size=SIZE)


def test_scenario_replug_in_progress(snap_compare: SnapCompare) -> None:
    """Scenario pane of the replugging lesson after step 1, answers shown
    (a): step 1 ticked, its narration and checks with their details, the
    moment of a replug in progress (the inside counter, the blocked flag,
    readers parked in the holding tank, the replugger asleep) and the computed answers; the
    status bar shows scenario, seed and step for a help request."""
    assert snap_compare(Workbench(session=lesson("replugging", 1)), press=["9", "a"], terminal_size=(110, 44))


def test_the_narrowest_terminal(snap_compare: SnapCompare) -> None:
    """At 80×24 the demo's Strands pane and the footer's keys still fit."""
    assert snap_compare(Workbench(), press=["n"], terminal_size=(80, 24))


def test_the_big_screen_overview(snap_compare: SnapCompare) -> None:
    """At 200×50 the demo at the fault opens in the overview layout: Strands,
    Events (selected: the heavy border) and Console in the left column, CPU
    and the Pace dashboard (paused: no rates, its since-boot figures) in the
    right; the footer shows every key, l Layout among them, and ^p palette."""
    assert snap_compare(Workbench(session=demo_at_the_null_dereference()), terminal_size=(200, 50))


def test_the_big_screen_network_layout(snap_compare: SnapCompare) -> None:
    """The network layout (l five times from the lesson layout a lesson opens in) on the
    udp_forwarding forwarder after step 3: Packets beside Events and the
    Trace; the status bar names the layout and the lesson's position."""
    assert snap_compare(Workbench(session=lesson("udp_forwarding", 3)), press=["l"] * 5,
                        terminal_size=(200, 50))  # fmt: skip
