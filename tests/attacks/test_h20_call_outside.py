"""The dispatcher's new call_outside (how Files and NFS call an extension
back) is the kernel's, not an extension's: an attacker's pass after it was
added. An extension cannot reach it (or the private _callable it replaced)
through its Dispatcher, and a completion handler that misbehaves -- raises,
hands the kernel back a forged result, or asks the dispatcher for it -- is
contained like a dispatched handler: reported, the kernel going on."""

from __future__ import annotations

import pytest

from kernel.sys.errors import SpinError
from tests.fs.test_ext_interfaces import _kernel

REACH = """
from spin import Dispatcher
def init():
    Dispatcher.{name}(None)
"""

HOSTILE = """
from spin import Dispatcher, Files
calls = 0

def done(name, offset, data):
    global calls
    calls += 1
    if calls == 1:
        Files.Read("a.txt", 0, 5, done)  # ask again from inside the answer
        return Dispatcher  # a result nobody asked for
    raise ValueError("a handler that fails")

def init():
    Files.Read("a.txt", 0, 5, done)
"""


@pytest.mark.parametrize("name", ["call_outside", "_callable", "bound_of"])
def test_an_extension_cannot_reach_the_kernel_s_call_outside(name: str) -> None:
    k = _kernel()
    with pytest.raises(SpinError):
        k.system.load(REACH.format(name=name), f"reach_{name.strip('_')}.py")
    assert not k.sched.failures


def test_a_hostile_completion_handler_is_contained() -> None:
    k = _kernel()
    ext = k.system.load(HOSTILE, "hostile.py")
    k.run(max_instructions=2_000_000)
    assert ext.namespace["calls"] == 2  # both answers came, each once
    assert any("a handler that fails" in r for r in k.dispatcher.reports)
    assert not k.sched.failures and k.machine.halt_reason is None
    again = k.system.load(HOSTILE.replace("hostile", "again"), "again.py")  # the kernel still serves reads
    k.run(max_instructions=2_000_000)
    assert again.namespace["calls"] == 2
