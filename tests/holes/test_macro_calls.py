"""Macro system calls (extensions/macro_calls.py, kernel/unix/calls_ext.py):
the same output as the program's own calls, fewer crossings, restart-safe,
no descriptor left behind, and only on the caller's own process."""

from __future__ import annotations

import pytest

from kernel.core.sal import ENOSYS
from kernel.core.trap import SyscallState
from kernel.sys.errors import SpinError
from kernel.sys.trace import Syscall
from kernel.unix.calls_ext import ExtensionUnix
from kernel.unix.fileread import Reads
from tests.holes.helpers import FILES, PATHS, expected_output, start

ROUNDS = 3


def finish(k, budget: int = 50_000_000) -> str:  # noqa: ANN001
    return k.run(budget)


def test_the_macro_gives_the_same_output_with_a_third_of_the_crossings() -> None:
    outs, crossings, calls = [], [], []
    for program, macro in (("smallfiles", False), ("smallfiles_macro", True)):
        out = bytearray()
        k = start(program, [str(ROUNDS), *PATHS], macro, out)
        assert finish(k) == "all processes exited" and k.exit_status == 0
        outs.append(bytes(out))
        crossings.append(k.sal.crossings)
        calls.append([r.name for r in k.trace.of(Syscall)])
    assert outs[0] == outs[1] == expected_output(ROUNDS)
    uses = ROUNDS * len(PATHS)
    assert calls[0].count("open") == calls[0].count("close") == uses
    assert calls[1].count("open_read_close") == uses and "open" not in calls[1]
    # open, read, close: 6 crossings a file; the macro call: 2 (the first reads wait for the disk: an entry more each)
    assert crossings[0] - crossings[1] == 4 * uses


def test_without_the_extension_the_macro_call_is_enosys() -> None:
    out = bytearray()
    k = start("smallfiles_macro", ["1", *PATHS], False, out)
    finish(k)
    assert k.exit_status == 1 and f"errno {ENOSYS}".encode() in bytes(out)


def test_a_call_that_blocks_for_the_disk_restarts_without_opening_again(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = []
    real = Reads.opened
    monkeypatch.setattr(Reads, "opened", lambda self, p, f, s=None: (opened.append(f), real(self, p, f, s))[1])
    out = bytearray()
    k = start("smallfiles_macro", [str(ROUNDS), *PATHS], True, out)
    fds_at_return = []

    def watch(r: object) -> None:
        if isinstance(r, Syscall) and r.name == "open_read_close":
            fds_at_return.append(sorted(k.personality.procs[1].fds))

    k.trace.watch = watch
    finish(k)
    assert bytes(out) == expected_output(ROUNDS)
    recs = [r for r in k.trace.of(Syscall) if r.name == "open_read_close"]
    assert [r.entries for r in recs[: len(PATHS)]] == [2] * len(PATHS)  # each first read waited for the disk
    assert len(opened) == ROUNDS * len(PATHS)  # one open a call, restarts or not
    assert fds_at_return == [[0, 1, 2]] * len(recs)  # nothing left open when a call returns
    assert [r.text for r in recs[: len(PATHS)]] == PATHS  # the restarted call still names its path
    assert k.personality.calls.calls == {} and k.call_end == {}


def test_a_strand_killed_while_blocked_inside_leaves_nothing_behind() -> None:
    k = start("smallfiles_macro", ["1", *PATHS], True)
    ops = k.personality.calls
    real = ops.read

    def read(*args: object) -> object:
        r = real(*args)  # type: ignore[arg-type]
        if r is None:
            k.machine.request_stop("blocked inside the macro call")
        return r

    ops.read = read  # type: ignore[method-assign]
    assert k.run(50_000_000) == "stop" and k._entered
    p = k.personality.procs[1]
    assert 3 in p.fds and k.personality.calls.calls  # inside open_read_close, its file open, waiting
    k.personality.exit(p, 137, 9, "killed")
    k.sched.reap()
    assert k.personality.calls.calls == {} and k.call_end == {} and k._entered == {}


BAD = """
from spin import Dispatcher, Trap, Unix


def ours(strand, state):
    return state.v0 == 0x7600


def call(strand, state):
    fd = Unix.Open(state, state.a0, 0)
    state.result = 1 // (fd - fd)  # faults with the file open


def init():
    Dispatcher.InstallHandler(Trap.SystemCall, call, ours)
"""


def test_a_descriptor_a_faulting_extension_opened_is_closed_by_the_kernel() -> None:
    out = bytearray()
    k = start("smallfiles_macro", ["1", *PATHS], False, out)
    k.system.load(BAD, "bad_macro.py", importer="root")
    fds = []
    k.trace.watch = lambda r: fds.append(sorted(k.personality.procs[1].fds)) if isinstance(r, Syscall) else None
    finish(k)
    assert k.exit_status == 1 and f"errno {ENOSYS}".encode() in bytes(out)
    assert fds[0] == [0, 1, 2]
    assert any("bad_macro" in line for line in k.dispatcher.reports)


def test_a_students_extension_sees_only_its_own_processes_calls() -> None:
    """Loaded by a user for no process, the handler's imposed guard keeps every call away from it."""
    out = bytearray()
    k = start("smallfiles_macro", ["1", *PATHS], False, out)
    k.system.load_file(start.__globals__["MACRO"], importer="user", clients=(99,))
    finish(k)
    assert k.exit_status == 1 and f"errno {ENOSYS}".encode() in bytes(out)
    out = bytearray()
    k = start("smallfiles_macro", ["1", *PATHS], False, out)
    k.system.load_file(start.__globals__["MACRO"], importer="user", clients=(1,))
    finish(k)
    assert k.exit_status == 0 and bytes(out) == expected_output(1)


def test_the_view_refuses_a_state_that_is_not_the_call_being_handled() -> None:
    k = start("smallfiles_macro", ["1", *PATHS], True)
    kept: list[object] = []
    k.trace.watch = None
    ext = k.system.extensions["macro_calls"]
    view = ExtensionUnix(k.personality.calls, ext)
    real = k.trap.SystemCall

    def spy(strand: object, state: object) -> None:
        kept.append(state)
        real(strand, state)

    k.trap.SystemCall = spy
    k.run(2_000_000)
    assert kept and all(type(s) is SyscallState for s in kept)
    with pytest.raises(SpinError, match="being handled now"):
        view.Open(kept[0], 0x1000, 0)
    with pytest.raises(SpinError, match="being handled now"):
        view.Progress("forged")
    with pytest.raises(SpinError, match="ints from 0"):
        view.Read(kept[0], -1, 0, 1)
    with pytest.raises(SpinError, match="0x7000 to 0x7fff"):
        view.Name(3, "read")
    with pytest.raises(SpinError, match="already"):
        view.Name(0x7600, "something_else")


@pytest.mark.parametrize("n", [1, 100, 417, 4096])
def test_the_specialized_read_gives_the_generic_reads_bytes(n: int) -> None:
    name, data = "f4.txt", FILES["f4.txt"]
    out = bytearray()
    k = start("readfixed", [f"/{name}", str(n)], True, out)
    finish(k)
    calls = -(-len(data) // n)
    assert bytes(out) == f"/{name}: {len(data)} bytes in {calls} reads, sum {sum(data)}\n".encode()
    recs = [r for r in k.trace.of(Syscall) if r.name == "read_fixed"]
    assert len(recs) == calls + 1 and recs[0].args[0] != 0 and recs[0].args[1:3] == (0, 0)  # only the buffer passed


def test_the_trusted_kernel_version_does_the_same_work() -> None:
    from kernel.unix.macrocalls import install_trusted

    out = bytearray()
    k = start("smallfiles_macro", [str(ROUNDS), *PATHS], False, out)
    b = install_trusted(k)
    finish(k)
    assert bytes(out) == expected_output(ROUNDS) and b.trusted and not b.imposed
    recs = [r for r in k.trace.of(Syscall) if r.name == "open_read_close"]
    assert len(recs) == ROUNDS * len(PATHS) and k.personality.calls.checks == 0  # no checks: it is kernel code
