"""Bringing a machine up, one step a line (the boot tour lesson shows them).

``boot`` takes a machine as the console firmware leaves it (kernel mode, IPL
7) and builds SPIN on it: physical memory under PhysAddr, the PAL entry
points as Python handlers, the extension machinery with SpinPublic and
SpinTrusted, the core services and their events, the console, the file
system on the disk, the UNIX personality, the idle strand and init.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel.core.ext_ifaces import ExtensionSched, ExtensionTranslation, ExtensionVirtAddr, authorize_choose
from kernel.core.physaddr import PhysAddr
from kernel.core.physaddr_iface import ExtensionPhysAddr, FrameView, frame_of
from kernel.core.sal import DEFAULT_CPU, PAGE_SHIFT, PAGE_SIZE, kseg
from kernel.core.sched import MIN_PRIORITY, Strand
from kernel.core.translation import Translation
from kernel.core.trap import _enosys, _ignore
from kernel.kernel import Kernel
from kernel.params import QUANTUM_TICKS
from kernel.sys import replug_ext
from kernel.sys.interface import Interface
from kernel.sys.trace import Boot
from kernel.unix.personality import Unix
from machine.elf import ElfImage
from machine.machine import Machine

KERNEL_FRAMES = 64  # 512 KiB below PhysAddr: the boot stack and the idle loop
BOOT_STACK_TOP = 0x4_0000
IDLE_CODE = 0x4_0000


def boot(machine: Machine | None = None, *, init: ElfImage | None = None, argv: list[str] | None = None,
         disk_image: bytes | str | None = None, halt_when_done: bool = False, model: str = DEFAULT_CPU,
         memory: int = 64 << 20, console_out: Callable[[bytes], None] | None = None,
         translate: bool = True, unix: bool = True, address: str | None = None, netmask: str = "255.255.255.0",
         gateway: str | None = None, trace: bool = False, readahead: str | None = None) -> Kernel:  # fmt: skip
    """A booted kernel; with ``init``, pid 1 runs it. ``halt_when_done``
    stops the machine when the last process exits (``spinwb run``). With an
    Ethernet card and an ``address``, the network stack comes up too.
    ``trace`` turns on per-dispatch trace records from the start (the
    workbench's Events and Packets panes read them; virtual time is the same
    either way). ``readahead`` names a read-ahead policy for the disk's file
    system (kernel/fs/readahead.py: "damped", "undamped", "fixed:8", "none");
    without it the buffer cache reads on demand only."""
    m = machine if machine is not None else Machine(memory, model, console_out=console_out, translate=translate)
    k = Kernel(m)
    k.halt_when_done = halt_when_done
    if trace:
        k.dispatcher.set_tracing(True)

    def step(name: str, detail: str) -> None:
        k.boot_log.append(f"{name:<12} {detail}")
        k.trace.add(Boot(step=name, detail=detail))

    step("machine", f"DEC 3000/400, {m.cpu.model}, {m.memory.size >> 20} MiB, {m.memory.nframes} frames of 8 KiB")
    k.sal.boot_processor(kseg(BOOT_STACK_TOP))
    k.phys = PhysAddr(k.sal, KERNEL_FRAMES, m.memory.nframes, view=FrameView, nominee=frame_of,
                      trace=k.trace)  # handlers see a view; each reclaim is a trace record  # fmt: skip
    step("PhysAddr", f"frames {KERNEL_FRAMES:#x}..{m.memory.nframes - 1:#x} ({k.phys.nfree} free); "
                     f"{KERNEL_FRAMES} kept for the boot stack and the idle loop")  # fmt: skip
    k.sal.install_entries(k.on_trap, k.on_interrupt)
    step("PAL", "entInt entArith entMM entIF entUna entSys -> Python handlers (kernel/kernel.py)")
    step("dispatcher", "events, name server, SpinPublic and SpinTrusted at /svc/domains")
    k.translation = Translation(k.sal, k.phys)
    _define_services(k)
    step("services", "Strand Sched PhysAddr VirtAddr Translation Trap exported to SpinPublic; "
                     f"{len(k.dispatcher.events)} events")  # fmt: skip
    step("console", "serial console: fds 0, 1 and 2 of every process")
    if disk_image is not None:
        m.attach_disk(disk_image)
    if m.disk is not None:
        from kernel.fs.extentfs import ExtentFS  # lazily, as the network below: a lesson boots only what it uses
        from kernel.fs.readahead import enable as enable_readahead

        fs = ExtentFS(k)
        k.attach_fs(fs)
        step("disk", f"{m.disk.nblocks} blocks; {fs.mount()}")
        if readahead is not None:
            enable_readahead(fs, readahead)
            step("read-ahead", f"policy {readahead}: the window set per stream (Synthetix §3.2)")
    elif readahead is not None:
        raise ValueError(f"read-ahead policy {readahead!r}: the machine has no disk to read ahead on")
    if unix:
        personality = Unix(k)
        k.attach_personality(personality)
        step("unix", f"UNIX personality: {len(personality.table)} system calls on Trap.SystemCall, "
                     "address spaces on the fault events; Mach thread calls and C-Threads")  # fmt: skip
    if address is not None:
        if m.nic is None:
            raise ValueError("a network address needs an Ethernet card (machine.attach_nic)")
        from kernel.fs.nfs_client import export as export_nfs
        from kernel.net import packet as P
        from kernel.net.sockets import Sockets
        from kernel.net.stack import NetStack

        net = NetStack(k, address, netmask, gateway)
        k.attach_net(net)
        if k.personality is not None:
            Sockets(k.personality, net)
        export_nfs(k)  # the NFS interface for extensions; its client is made on first use
        step("net", f"Lance {P.mac_str(net.mac)}, {address}/{netmask}: Ether IP ICMP UDP TCP events; "
                    f"network thread is strand {net.thread.id}" + ("; sockets" if k.personality else ""))  # fmt: skip
    idle = _idle_strand(k)
    if init is not None:
        if k.personality is None:
            raise ValueError("an init program needs the UNIX personality")
        p = k.personality.spawn(init, argv or ["init"])
        step("init", f"pid {p.pid} runs {' '.join(p.argv)}")
    step("clock", f"1024 Hz, quantum {QUANTUM_TICKS} ticks; the idle strand waits in wtint")
    k.sal.first_switch(idle.pcb)
    k.sched.start(idle)
    k.leave(count=False)  # the first switch: to init, or to the idle loop
    return k


def _idle_strand(k: Kernel) -> Strand:
    """The strand that runs when nothing else is ready: guest code in
    kernel mode waiting in wtint, on a kernel stack of its own."""
    assert k.phys is not None and k.translation is not None
    idle = k.sched.new_strand("idle", "idle", MIN_PRIORITY)
    idle.kstack = k.phys.Allocate("kstack idle", ("pinned", "zeroed"))
    idle_space = k.translation.Create("kernel")
    idle.space = None
    idle.pcb = k.sal.new_pcb(idle.kstack.pfn, idle_space.root, 0)
    idle.ctx = k.sal.idle_context(IDLE_CODE, kseg((idle.kstack.pfn << PAGE_SHIFT) + PAGE_SIZE - 64))
    return idle


def _serves(k: Kernel) -> Any:
    """Whether a strand belongs to a process an extension was loaded for (the
    UNIX personality knows processes; without one, nothing is served)."""

    def serves(clients: frozenset[int], strand: Any) -> bool:
        return k.personality is not None and k.personality.serves(clients, strand)

    return serves


def _define_services(k: Kernel) -> None:
    """The core interfaces, their events, and what extensions may see."""
    d, sched, phys, tr = k.dispatcher, k.sched, k.phys, k.translation
    assert phys is not None and tr is not None
    k.system.protect_kernel_events()  # every kernel event from here on starts with the kernel's authorizer

    strand = sched.strand_iface  # the scheduler raises its events through these slots
    for name in ("Block", "Unblock", "Checkpoint", "Resume"):
        d.define(strand, name, getattr(strand, name), sched)
    sch = sched.sched_iface
    d.define(sch, "Choose", sch.Choose, sched, result=True)

    pa = phys.iface  # PhysAddr raises Reclaim through its slot
    d.define(pa, "Reclaim", pa.Reclaim, phys, result=True)

    va = Interface("VirtAddr", "virtual address ranges", Allocate=k.virt.Allocate, Deallocate=k.virt.Deallocate)
    trans = Interface("Translation", "address spaces and their fault events (done protocol)",
                      Protect=tr.Protect, ExamineMapping=tr.ExamineMapping)  # fmt: skip
    for name in ("PageNotPresent", "BadAddress", "ProtectionFault"):
        d.define(trans, name, _ignore, tr, done_arg=1)

    trap = k.trap  # the kernel raises a trap's event through its slot
    ev = d.define(trap, "SystemCall", _enosys, k)
    d.uninstall(ev.original, "the kernel uninstalls it at boot; the default handler answers ENOSYS")
    d.install_default_handler(ev, _enosys, k)
    for name in ("Arithmetic", "IllegalInstruction", "Breakpoint", "Unaligned"):
        d.define(trap, name, _ignore, k, done_arg=1)

    clock = Interface("Clock", "virtual time and the boundary-crossing count (for measuring)",
                      Now=lambda: k.sal.now, Ticks=lambda: k.ticks, Crossings=lambda: k.sal.crossings)  # fmt: skip
    for iface in (strand, sch, pa, va, trans, trap, clock):
        k.ifaces[iface.__name__] = iface
        k.system.export(iface)
    # what extensions get instead: per-extension views with a client's checks (kernel/core/ext_ifaces.py)
    k.system.public.exports["PhysAddr"] = lambda ext: ExtensionPhysAddr(phys, ext)  # frames as handles
    k.system.public.exports["VirtAddr"] = lambda ext: ExtensionVirtAddr(k.virt, ext)
    k.system.public.exports["Translation"] = lambda ext: ExtensionTranslation(tr, ext)
    views: dict[str, ExtensionSched] = {}
    k.system.public.exports["Sched"] = lambda ext: ExtensionSched(sched, ext, _serves(k), views)
    authorize_choose(d, d.event("Sched.Choose"), views)
    replug_ext.export(k)  # slots and quasi-invariants for extensions' own code (Synthetix §4)


__all__: list[Any] = ["boot"]
