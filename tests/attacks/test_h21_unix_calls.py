"""Hostile use of the Unix interface (kernel/unix/calls_ext.py): an
extension's macro call can reach only its caller's memory and descriptors,
cannot keep descriptors past the call, and cannot act outside a call."""

from __future__ import annotations

from kernel.core.sal import EFAULT, EMFILE
from kernel.sys.trace import Syscall
from tests.holes.helpers import PATHS, start

GREEDY = """
from spin import Dispatcher, Trap, Unix

seen = []


def ours(strand, state):
    return state.v0 == 0x7600


def call(strand, state):
    fds = []
    for i in range(80):
        fds.append(Unix.Open(state, state.a0, 0))
    seen.append(fds[-1])
    seen.append(Unix.Read(state, fds[0], 0xFFFFFC0000000000, 16))  # the kernel's own memory (KSEG)
    seen.append(Unix.Open(state, 0xFFFFFC0000001000, 0))  # a path in kernel memory
    state.result = -5


def init():
    Dispatcher.InstallHandler(Trap.SystemCall, call, ours)
"""


def test_a_greedy_macro_call_gets_emfile_efault_and_keeps_nothing() -> None:
    out = bytearray()
    k = start("smallfiles_macro", ["1", *PATHS], False, out)
    ext = k.system.load(GREEDY, "greedy.py", importer="user", clients=(1,))
    fds = []
    k.trace.watch = lambda r: fds.append(sorted(k.personality.procs[1].fds)) if isinstance(r, Syscall) else None
    k.run(50_000_000)
    assert ext.namespace["seen"] == [-EMFILE, -EFAULT, -EFAULT]
    assert fds[0] == [0, 1, 2]  # the 61 descriptors it opened were closed when its call returned
    assert b"errno 5" in bytes(out) and k.personality.calls.calls == {}


OUTSIDE = """
from spin import Unix


def init():
    Unix.Progress(0)  # no call at all: refused, and the extension does not load
"""


def test_the_interface_works_only_inside_the_call_being_handled() -> None:
    """(A state kept from an earlier call is refused too: tests/holes/test_macro_calls.py.)"""
    k = start("smallfiles_macro", ["1", *PATHS], False)
    try:
        k.system.load(OUTSIDE, "outside.py", importer="user", clients=(1,))
    except Exception as e:  # noqa: BLE001 - the refusal is the point
        assert "being handled now" in str(e)
    else:
        raise AssertionError("Unix.Progress outside a call was accepted")
    assert "outside" not in k.system.extensions
