"""Attacks on the kernel surfaces the lessons added (issue 19): Trap.Restart,
the in-kernel IPC extension (extensions/xcall.py), volunteered frames for
PhysAddr.Reclaim, the UNIX personality's imposed guard, and the lesson
extensions loaded by a user. Each asserts the refusal or containment and
that the kernel runs on afterwards."""

from __future__ import annotations

import io
from typing import Any

import pytest

from kernel.boot import boot
from kernel.core.physaddr_iface import FrameView, frame_of
from kernel.sys import capability
from kernel.sys.errors import SpinError
from machine.elf import read_elf
from tests.conftest import BIN, ROOT

EXT = ROOT / "extensions"


def _boot(prog: str, *argv: str) -> tuple[Any, bytearray]:
    out = bytearray()
    k = boot(init=read_elf(BIN / f"{prog}.elf"), argv=[prog, *argv], console_out=out.extend, halt_when_done=True)
    k.console_input = io.BytesIO(b"").read
    return k, out


# --- 1. Trap.Restart --------------------------------------------------------------------------------

RESTART = """from spin import Dispatcher, Trap
n = [0]
def again(strand, state):
    n[0] += 1
    state.result = Trap.Restart
def init():
    Dispatcher.InstallHandler(Trap.SystemCall, again, lambda strand, state: state.v0 == NUMBER)
"""


def test_restart_for_someone_elses_process_never_runs() -> None:
    """A user's extension loaded for pid 999 asks every write to run again: pid 1's writes
    never reach it, and the program prints and exits as it always does."""
    k, out = _boot("protcall", "null", "5")
    ext = k.system.load(RESTART.replace("NUMBER", "4"), "again.py", clients=(999,))
    assert k.run(max_instructions=5_000_000) == "all processes exited"
    assert ext.namespace["n"] == [0]
    assert b"null: 5 calls" in out and k.exit_status == 0


def test_a_restart_loop_in_ones_own_process_is_preempted_and_the_others_run_on() -> None:
    """The extension's own process (the forked xcall server, pid 2) traps in a loop: the
    clock keeps interrupting it, and pid 1 -- not a client -- makes all its calls and reaches wait."""
    k, _ = _boot("protcall", "xcall", "3")
    ext = k.system.load(RESTART.replace("NUMBER", "0x7500"), "again.py", clients=(2,))
    k.run(max_instructions=60_000)
    assert ext.namespace["n"][0] > 1000  # it did loop
    client = next(s for s in k.sched.strands.values() if s.pid == 1)
    assert client.blocked_on == "wait", client.blocked_on  # pid 1 ran to its waitpid all the same
    ticks = k.ticks
    k.run(max_instructions=20_000)
    assert ticks > 100 and k.ticks > ticks  # the clock keeps interrupting it: the machine is not hung


def test_a_users_extension_cannot_block_a_strand_to_make_it_wait_for_ever() -> None:
    """Strand.Block is the kernel's to raise: xcall loaded by a user is stopped at its first
    Block with a one-line report, the caller gets its error, and the machine finishes."""
    k, out = _boot("protcall", "xcall", "3")
    k.system.load((EXT / "xcall.py").read_text(), "xcall.py", clients=(1,))
    assert k.run(max_instructions=5_000_000) == "all processes exited"
    assert any("Strand.Block is the kernel's to raise" in r and "uninstalled" in r for r in k.dispatcher.reports)
    assert b"xcall: 3 calls" in out


# --- 2. xcall against hostile programs -----------------------------------------------------------------

XCALL = [
    ("forge", ["forger: reply -> -22", "client: call -> 42"], "client: call -> 666"),
    ("two", ["second: receive -> -16", "client: call -> 42"], None),
    ("exit", ["client: call -> -32", "client: call again -> 51"], None),
    ("twice", ["client: reply_receive -> -16", "client: call -> 42"], None),
]  # fmt: skip


@pytest.mark.parametrize(("mode", "want", "never"), XCALL, ids=[m for m, *_ in XCALL])
def test_xcall_holds_against_hostile_callers_and_the_kernel_runs_on(mode: str, want: list[str], never: Any) -> None:
    """A third process forging the answer, a second server, a server that exits mid-call,
    a client replying: each caller gets an error or the true answer, and every process ends."""
    k, out = _boot("xcall_attack", mode)
    k.system.load((EXT / "xcall.py").read_text(), "xcall.py", importer="root")
    assert k.run(max_instructions=5_000_000) == "all processes exited", out.decode()
    text = out.decode()
    for line in [*want, "client: done"]:
        assert line in text, text
    assert never is None or never not in text
    assert not k.dispatcher.reports and k.exit_status == 0
    ns = k.system.extensions["xcall"].namespace
    assert not ns["pending"] and not ns["replies"] and not ns["requests"]  # nothing kept for ended strands


# --- 3. volunteered frames ------------------------------------------------------------------------------


def _frames_ext(k: Any, name: str, spares: int = 2) -> Any:
    return k.system.load((EXT / "spare_frames.py").read_text(), f"{name}.py", settings={"SPARES": spares},
                         importer="root")  # a user cannot: its Reclaim handler has no guard  # fmt: skip


def test_a_view_kept_from_an_old_reclaim_cannot_volunteer_another_extensions_frame() -> None:
    """A FrameView names a frame by its record; once that frame is another extension's, a
    handler returning the old view would have the kernel take the other's frame. A view
    nominates only a reclaimable frame; volunteering needs the frame's own handle."""
    k, _ = _boot("protcall", "null", "1")
    victim = _frames_ext(k, "victim")
    (h, *_) = victim.namespace["spares"]
    f = capability.unwrap(h, "frame")
    assert frame_of(FrameView(f)) is None  # as a stale view: refused
    assert frame_of(h) is f  # as the holder's handle: a volunteer


def test_a_handle_dies_with_the_frame_the_kernel_took_and_cannot_be_volunteered_twice() -> None:
    k, _ = _boot("protcall", "null", "1")
    ext = _frames_ext(k, "giver", 1)
    (h,) = ext.namespace["spares"]
    f = capability.unwrap(h, "frame")
    cache = k.phys.Allocate("cache test", ("reclaimable",))
    free = list(k.phys.free)
    k.phys.free.clear()  # no free frame: the next Allocate reclaims
    try:
        got = k.phys.Allocate("after")
        assert got is f and ext.namespace["given"][0][2] == f.pfn  # the volunteer was taken, not the cache frame
        with pytest.raises(SpinError):
            ext.namespace["PhysAddr"].Number(h)  # the handle was revoked with the frame
        assert frame_of(h) is None  # and cannot be volunteered again
        k.phys.Deallocate(got)
        k.phys.free.clear()
        again = k.phys.Allocate("again")  # nothing left to volunteer: the kernel's candidate goes
        assert again is cache and ext.namespace["declined"]
    finally:
        k.phys.free.extend(p for p in free if k.phys.frames[p].state == "free" and p not in k.phys.free)
    assert k.run(max_instructions=5_000_000) == "all processes exited"


# --- 4. the imposed guard --------------------------------------------------------------------------------

WATCH = """from spin import Dispatcher, Trap
pids = []
def seen(strand, state):
    if state.pid not in pids:
        pids.append(state.pid)
def init():
    Dispatcher.InstallHandler(Trap.SystemCall, seen, lambda strand, state: True)
"""


@pytest.mark.parametrize(("clients", "want"), [((1,), [1, 2]), ((2,), [2]), ((3,), [])])
def test_the_imposed_guard_admits_the_clients_and_their_children_only(
    clients: tuple[int, ...], want: list[int]
) -> None:
    """protcall xcall forks pid 2 from pid 1: loaded for pid 1 it sees both; for pid 2, only
    the child; for pid 3 (never made: pids are not reused) nothing."""
    k, _ = _boot("protcall", "xcall", "2")
    k.system.load((EXT / "xcall.py").read_text(), "xcall.py", importer="root")
    ext = k.system.load(WATCH, "watch.py", clients=clients)
    assert k.run(max_instructions=5_000_000) == "all processes exited"
    assert sorted(ext.namespace["pids"]) == want


def test_the_imposed_guard_refuses_a_forged_strand_view() -> None:
    from kernel.unix import authority

    k, _ = _boot("protcall", "null", "1")
    real = next(s for s in k.sched.strands.values() if s.pid == 1)

    class Fake:
        _strand = real

    assert authority.serves(k.personality, frozenset({1}), real.view)
    assert not authority.serves(k.personality, frozenset({1}), Fake())
    assert not authority.serves(k.personality, frozenset({1}), real)  # the strand itself is not what events pass


# --- 5. the lesson extensions, loaded by a user ------------------------------------------------------------


def test_strand_events_loaded_by_a_user_counts_only_its_own_processes() -> None:
    k, _ = _boot("protcall", "null", "3")
    ext = k.system.load((EXT / "strand_events.py").read_text(), "strand_events.py", clients=(999,))
    assert k.run(max_instructions=5_000_000) == "all processes exited"
    assert all(not c for c in ext.namespace["counts"].values()), ext.namespace["counts"]


def test_spare_frames_loaded_by_a_user_is_refused_and_leaves_no_frame_behind() -> None:
    """Its Reclaim handler is unguarded, which a user's extension may not install: the load
    is refused with the reason, and the frames init() took are given back."""
    k, _ = _boot("protcall", "null", "1")
    before = k.phys.nfree
    with pytest.raises(SpinError, match="unguarded handler on PhysAddr.Reclaim"):
        k.system.load((EXT / "spare_frames.py").read_text(), "spare_frames.py")
    assert k.phys.nfree == before and "spare_frames" not in k.system.extensions
    assert k.run(max_instructions=5_000_000) == "all processes exited"


def test_an_extension_holds_its_share_of_frames_and_gives_it_back() -> None:
    k, _ = _boot("protcall", "null", "1")
    before = k.phys.nfree
    with pytest.raises(SpinError, match="at most"):
        _frames_ext(k, "greedy", 10_000)
    assert k.phys.nfree == before  # the refused load left no frame behind
    ext = _frames_ext(k, "spares", 4)
    assert k.phys.nfree == before - 4
    k.system.unload(ext)
    assert k.phys.nfree == before
    assert k.run(max_instructions=5_000_000) == "all processes exited"


# --- 7. asynchronous handlers (the handler_combination lesson) --------------------------------------

ASYNC_SYSCALL = """from spin import Dispatcher, Trap
n = [0]
def later(strand, state):
    n[0] += 1
    state.result = 666
def init():
    Dispatcher.InstallHandler(Trap.SystemCall, later, lambda strand, state: state.v0 == 4, asynchronous=True)
"""


def test_an_asynchronous_handler_on_system_calls_cannot_change_their_results() -> None:
    """A user's extension for its own process answers write asynchronously, with a
    forged result: it runs in a strand of its own after the call has returned, so
    the personality's answer stands, the program prints and exits as always, and
    no strand is left behind."""
    k, out = _boot("protcall", "null", "5")
    strands = len(k.sched.strands)
    ext = k.system.load(ASYNC_SYSCALL, "later.py", clients=(1,))
    assert k.run(max_instructions=5_000_000) == "all processes exited"
    assert ext.namespace["n"][0] >= 1  # it did run, on the program's writes
    assert b"null: 5 calls" in out and b"0 wrong" in out and k.exit_status == 0
    assert len(k.sched.strands) <= strands
