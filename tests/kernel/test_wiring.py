"""How the kernel is wired (issue 17): boot attaches the personality, the
file system and the network explicitly; services build their interfaces
with their procedures; kernel code reaches a strand only through
``strand_of``, which no extension can name."""

from __future__ import annotations

import pytest

from kernel.boot import boot
from kernel.core.physaddr import Frame, PhysAddr
from kernel.core.sal import Sal
from kernel.core.sched import DONE, GroupView, Scheduler, StrandView, group_of, strand_of
from kernel.core.translation import FaultState, fault_of
from kernel.net.stack import NetStack
from kernel.sys.errors import SpinError
from kernel.unix.personality import Unix
from machine.machine import Machine


def test_constructing_the_personality_leaves_the_kernel_alone() -> None:
    k = boot(unix=False)
    u = Unix(k)
    assert k.personality is None and k.on_unhandled == k.end_strand
    k.attach_personality(u)
    assert k.personality is u and k.on_unhandled == u.unhandled


def test_constructing_the_net_stack_leaves_the_kernel_alone() -> None:
    m = Machine(64 << 20)
    m.attach_nic(0x08002B000001)
    k = boot(m)
    devices, hooks = list(k.devices), list(k.tick_hooks)
    net = NetStack(k, "10.0.0.1")
    assert k.net is None and k.devices == devices and k.tick_hooks == hooks
    k.attach_net(net)
    assert k.net is net and k.devices == [*devices, net.driver.interrupt] and k.tick_hooks == [*hooks, net.tick]


def test_boot_attaches_what_it_built() -> None:
    m = Machine(64 << 20)
    m.attach_nic(0x08002B000002)
    k = boot(m, address="10.0.0.2")
    assert isinstance(k.personality, Unix) and isinstance(k.net, NetStack)
    assert k.on_unhandled == k.personality.unhandled and k.net.tick in k.tick_hooks


def test_the_scheduler_builds_its_interfaces_with_their_procedures() -> None:
    sched = Scheduler()
    assert sched.strand_iface.names() == ["Block", "Checkpoint", "Resume", "Unblock"]
    assert sched.sched_iface.names() == ["Adopt", "Choose", "GetPriority", "NewGroup"]
    assert sched.strand_iface.Block == sched._block and sched.sched_iface.Choose is Scheduler._choose
    for name in ("Block", "Unblock", "Checkpoint", "Resume", "Choose"):
        assert not hasattr(sched, name), f"Scheduler.{name} would be a slot patched after the fact"
    s = sched.fork(lambda: None, name="t")
    sched.block_strand(s, "test")  # raised through the interface's slot: the intrinsic policy
    assert s.state == "blocked" and s not in sched.runq
    sched.wake(s)
    assert s.state == "ready" and s in sched.runq


def test_boot_makes_the_interfaces_slots_events() -> None:
    k = boot()
    assert k.ifaces["Strand"] is k.sched.strand_iface and k.ifaces["Sched"] is k.sched.sched_iface
    assert k.phys is not None and k.ifaces["PhysAddr"] is k.phys.iface and k.ifaces["Trap"] is k.trap
    assert not hasattr(k.phys, "Reclaim")
    for name in ("Strand.Block", "Strand.Resume", "Sched.Choose", "PhysAddr.Reclaim", "Trap.SystemCall"):
        ev = k.event(name)
        assert getattr(ev.interface, ev.attr) is ev.fn, f"{name}: the slot the kernel raises is the dispatch"


def test_reclaim_handlers_see_a_view_and_nominate_through_it() -> None:
    seen: list[object] = []

    def nominee(view: tuple[str, Frame]) -> Frame:
        seen.append(view)
        return view[1]

    phys = PhysAddr(Sal(Machine(1 << 20)), 0, 3, view=lambda f: ("view", f), nominee=nominee)
    a, _, _ = (phys.Allocate("x", ("reclaimable",)) for _ in range(3))
    phys.Allocate("one more")
    assert seen == [("view", a)] and phys.reclaims == 1 and a.tag == "one more"


def test_strand_of_refuses_what_the_kernel_did_not_make() -> None:
    sched = Scheduler()
    s = sched.new_strand("t", "kernel")
    assert strand_of(s.view) is s
    with pytest.raises(SpinError, match=r"Sched\.Adopt: 'a string' is not a strand an event passed you"):
        strand_of("a string", "Sched.Adopt")

    class Impostor:
        _strand = s

    with pytest.raises(SpinError, match="is not a strand an event passed you"):
        strand_of(Impostor())
    with pytest.raises(SpinError, match="is not a strand an event passed you"):
        strand_of(StrandView(object()))  # type: ignore[arg-type]
    sched.end(s)
    assert s.state == DONE and strand_of(s.view) is s  # the switch away from it still checkpoints it
    g = sched.new_group("g")
    assert group_of(g.view) is g
    with pytest.raises(SpinError, match="is not a group from Sched.NewGroup"):
        group_of(s.view)
    with pytest.raises(SpinError, match="is not a group from Sched.NewGroup"):
        group_of(GroupView(object()))  # type: ignore[arg-type]


def test_no_extension_can_name_the_accessor() -> None:
    k = boot()
    for domain in (k.system.public, k.system.trusted):
        assert not any("strand_of" in name or "group_of" in name for name in domain.exports)
    for iface in ("Strand", "Sched"):
        src = f"from spin import {iface}\ndef init():\n    return {iface}.strand_of\n"
        with pytest.raises(SpinError, match=f"interface {iface} has no 'strand_of'"):
            k.system.load(src, f"reach_{iface.lower()}.py", importer="root")
    with pytest.raises(SpinError, match="name 'strand_of' is not defined"):
        k.system.load("def init():\n    return strand_of\n", "bare_name.py", importer="root")


def test_fault_of_gives_the_kernel_the_space_and_kind_and_refuses_a_forged_state() -> None:
    """The UNIX personality's fault handler reads the space a fault was taken
    in through fault_of; an extension's handler sees only map and kind, and an
    object dressed as a fault state is refused."""
    k = boot(Machine())
    assert k.translation is not None
    space = k.translation.Create("probe")
    state = FaultState(0x2000, 1, 0x1000, space, None, "Translation.ProtectionFault")
    assert fault_of(state) == (space, 1)

    class Impostor:
        _space, _kind = space, 1

    with pytest.raises(SpinError, match="not a fault state: Impostor"):
        fault_of(Impostor())  # type: ignore[arg-type]
    src = "from spin import Translation\ndef init():\n    return Translation.fault_of\n"
    with pytest.raises(SpinError, match="interface Translation has no 'fault_of'"):
        k.system.load(src, "reach_fault_of.py", importer="root")
