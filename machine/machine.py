"""The DEC 3000/400 workstation: memory, MMU, CPU, PALcode, clock, console.

Time is virtual: the CPU's cycle counter at 133 MHz. The interval timer
interrupts at 1024 Hz (entInt type 1, IPL 5); tick n falls at cycle
floor(n * 133e6 / 1024). ``run`` executes in slices that end exactly at the
next timer event, so interrupts arrive at the same cycle on every run and a
run's state hash depends only on its inputs.
"""

from __future__ import annotations

import hashlib
import heapq
import struct
from collections.abc import Callable

from machine.alpha.constants import CLOCK_HZ, DEFAULT_CPU, KSEG_BASE, KSEG_SIZE, M64, PAGE_SHIFT, PAGE_SIZE
from machine.alpha.cpu import CPU, READ, WRITE, Watch
from machine.alpha.disasm import disasm_word
from machine.alpha.mmu import MMU
from machine.alpha.pal import OsfPal
from machine.alpha.traps import Halt, Trap, WatchHit
from machine.console import CONSOLE_PA, Console
from machine.disk import DISK_PA, Disk
from machine.elf import ElfImage
from machine.memory import DEFAULT_SIZE, BusError, PhysicalMemory
from machine.nic import NIC, NIC_PA

TIMER_HZ = 1024
CLOCK_IPL = 5
CLOCK_INT = 1  # entInt a0 for the interval clock
CLOCK_VECTOR = 0x600


class Machine:
    def __init__(self, memory_size: int = DEFAULT_SIZE, model: str = DEFAULT_CPU,
                 console_out: Callable[[bytes], None] | None = None, translate: bool = True) -> None:  # fmt: skip
        self.memory = PhysicalMemory(memory_size)
        self.console = Console(console_out)
        self.memory.io[CONSOLE_PA >> PAGE_SHIFT] = self.console.page
        self.mmu = MMU(self.memory)
        self.cpu = CPU(self.mmu, None, model)  # type: ignore[arg-type]
        self.pal = OsfPal(self.cpu, self.mmu)
        self.cpu.pal = self.pal
        self.mmu.attach(self.cpu)
        self.cpu.enable_translation(translate)
        self.cpu.exit_after_pal = True  # interrupts are looked at right after every CALL_PAL
        self.ticks = 0  # interval-timer interrupts raised so far
        self.halt_reason: str | None = None
        self.events: list[tuple[int, int, str, tuple[int, ...]]] = []  # (cycle, order, event, args): a heap
        self._event_order = 0
        self.disk: Disk | None = None
        self.nic: NIC | None = None
        self.watches: dict[int, Watch] = {}
        self._watch_number = 0
        self.stop_detail = ""  # why the last run stopped at a breakpoint or watchpoint, in words
        self._pending_stop: tuple[str, str] | None = None  # (why, detail): a device wrote a watched address, ...
        self.memory.on_write = self._memory_written

    def attach_disk(self, image: bytes | bytearray | str) -> Disk:
        """Connect a disk backed by an image (bytes or a file's path)."""
        self.disk = Disk(self, image)
        self.memory.io[DISK_PA >> PAGE_SHIFT] = self.disk.page
        return self.disk

    def attach_nic(self, mac: int) -> NIC:
        """Install the Ethernet card with station address ``mac``."""
        self.nic = NIC(self, mac)
        self.memory.io[NIC_PA >> PAGE_SHIFT] = self.nic.page
        return self.nic

    def event_nic_tx_done(self) -> None:
        assert self.nic is not None
        self.nic.tx_done()

    def event_nic_rx(self, frame_id: int) -> None:
        assert self.nic is not None and self.nic.wire is not None
        self.nic.receive(self.nic.wire.take(frame_id))

    def schedule(self, cycle: int, event: str, *args: int) -> None:
        """At virtual time ``cycle`` (ties in order), call ``self.event_<event>(*args)``.
        Events are plain data so a saved machine keeps its transfers in flight."""
        self._event_order += 1
        heapq.heappush(self.events, (cycle, self._event_order, event, args))

    def event_disk_done(self, cmd: int, block: int, count: int, pa: int) -> None:
        assert self.disk is not None
        self.disk.finish(cmd, block, count, pa)

    # --- loading ---------------------------------------------------------------------

    def load_kernel(self, image: ElfImage, stack_top: int = KSEG_BASE + 0x20_0000) -> None:
        """Copy a kernel image linked at KSEG addresses into physical memory
        and start it in kernel mode at IPL 7, as the console firmware would."""
        for seg in image.segments:
            if not KSEG_BASE <= seg.vaddr < KSEG_BASE + KSEG_SIZE:
                raise ValueError(f"segment at {seg.vaddr:#x} is not in KSEG; link the kernel at {KSEG_BASE:#x}+")
            pa = seg.vaddr - KSEG_BASE
            self.memory.write(pa, seg.data + bytes(seg.memsz - len(seg.data)))
        cpu = self.cpu
        cpu.pc = cpu.r[27] = image.entry
        cpu.r[30] = stack_top

    # --- time ------------------------------------------------------------------------

    def tick_cycle(self, n: int) -> int:
        """The cycle at which interval-timer tick n (from 1) is raised."""
        return n * CLOCK_HZ // TIMER_HZ

    def _raise_due_events(self) -> None:
        while self.cpu.cycles >= self.tick_cycle(self.ticks + 1):
            self.ticks += 1
            self.pal.post_interrupt(CLOCK_IPL, CLOCK_INT, CLOCK_VECTOR)
        while self.events and self.events[0][0] <= self.cpu.cycles:
            _, _, event, args = heapq.heappop(self.events)
            getattr(self, f"event_{event}")(*args)

    def wait_for_device(self) -> bool:
        """Polled I/O (boot firmware, a kernel before interrupts): move
        virtual time to the next device event and let it happen. False if
        no event is pending."""
        if not self.events:
            return False
        self.cpu.cycles = max(self.cpu.cycles, self.events[0][0])
        self._raise_due_events()
        return True

    def next_event(self) -> int:
        nxt = self.tick_cycle(self.ticks + 1)
        return min(nxt, self.events[0][0]) if self.events else nxt

    # --- breakpoints and watchpoints --------------------------------------------------

    @property
    def breakpoints(self) -> frozenset[int]:
        return frozenset(self.cpu.stops)

    def add_breakpoint(self, pc: int) -> None:
        """Stop ``run`` before the instruction at pc executes."""
        if pc & 3:
            raise ValueError(f"breakpoint address {pc:#x} is not a multiple of 4")
        self.cpu.stops.add(pc)
        self.cpu.flush_tlb()  # translated blocks must be split at the new stop

    def remove_breakpoint(self, pc: int) -> None:
        if pc not in self.cpu.stops:
            raise ValueError(f"no breakpoint at {pc:#x}")
        self.cpu.stops.discard(pc)
        self.cpu.flush_tlb()

    def add_watch(self, addr: int, size: int = 8, access: str = "w", physical: bool = False) -> Watch:
        """Stop ``run`` after an instruction reads or writes (``access`` "r",
        "w" or "rw") any of ``size`` bytes at ``addr``, a virtual address in
        whatever address space is current, or a physical one; device DMA into
        a physical watch stops it too."""
        if access not in ("r", "w", "rw"):
            raise ValueError(f"watch access {access!r}: use 'r', 'w' or 'rw'")
        if not 0 < size <= PAGE_SIZE:
            raise ValueError(f"watch size {size}: give 1 to {PAGE_SIZE} bytes")
        if physical and not 0 <= addr <= addr + size <= self.memory.size:
            raise ValueError(f"physical watch at {addr:#x}: this machine has {self.memory.size:#x} bytes of memory")
        self._watch_number += 1
        w = Watch(self._watch_number, addr & M64, size, access, physical)
        cpu = self.cpu
        for pn in range(addr >> PAGE_SHIFT, ((addr + size - 1) >> PAGE_SHIFT) + 1):
            if physical:
                cpu.watch_frames.setdefault(id(self.memory.frame(pn)), []).append((w, pn))
            else:
                cpu.watch_pages.setdefault(pn & (M64 >> PAGE_SHIFT), []).append(w)
        cpu.flush_host_caches()  # watched pages must leave the host caches
        self.watches[w.number] = w
        return w

    def remove_watch(self, number: int) -> None:
        w = self.watches.pop(number, None)
        if w is None:
            raise ValueError(f"no watchpoint {number}")
        pages, frames = self.cpu.watch_pages, self.cpu.watch_frames
        for vpn, ws in list(pages.items()):
            pages[vpn] = [x for x in ws if x is not w]
        for fid, entries in list(frames.items()):
            frames[fid] = [x for x in entries if x[0] is not w]
        for table in (pages, frames):
            for key in [k for k, v in table.items() if not v]:
                del table[key]  # an unwatched page is cached again

    def peek(self, addr: int, n: int, physical: bool = False) -> int | None:
        """n bytes at addr as a little-endian int, read beside the machine
        (no TB, no cycles), or None if unmapped."""
        pa: int | None = addr
        if not physical:
            pa = self.mmu.walk(addr).pa
        try:
            return None if pa is None else int.from_bytes(self.memory.read(pa, n), "little")
        except BusError:
            return None

    def _watch_stop(self, hit: WatchHit) -> str:
        """Finish the access that hit (watchpoints report after it, like
        gdb's), then describe it."""
        w = hit.watch
        assert isinstance(w, Watch)
        cpu = self.cpu
        old = self.peek(w.addr, min(w.size, 8), w.physical)
        word = self.peek(hit.pc, 4) or 0
        cpu.watch_suppress = True
        try:
            cpu.step()
        except Trap as t:
            self.pal.deliver(t)
        finally:
            cpu.watch_suppress = False
        new = self.peek(w.addr, min(w.size, 8), w.physical)
        verb = "read" if hit.access == READ else "wrote"
        change = ""
        if old is not None and new is not None:
            change = f"; value {old:#x}" if old == new else f"; {old:#x} -> {new:#x}"
        text = disasm_word(word, hit.pc, symbolic=True).replace("\t", " ")
        self.stop_detail = f"{w.describe()}: `{text}` at pc {hit.pc:#x} {verb} {hit.width} bytes at {hit.va:#x}{change}"
        return "watchpoint"

    def _memory_written(self, frame: list[int], pa: int, n: int) -> None:
        self.cpu.frame_written(frame)
        for w, _ in self.cpu.watch_frames.get(id(frame), ()):
            if w.hits(pa, n, WRITE) and self._pending_stop is None:
                self._pending_stop = (
                    "watchpoint",
                    f"{w.describe()}: a device or the host wrote {n} bytes at physical {pa:#x}",
                )

    def request_stop(self, detail: str) -> None:
        """Stop the current run at the next instruction boundary, returning
        "stop" (the workbench's breakpoints on OS events: the kernel code
        that noticed the event finishes first)."""
        if self._pending_stop is None:
            self._pending_stop = ("stop", detail)

    # --- running ---------------------------------------------------------------------

    def step(self) -> str:
        """Execute one instruction (or take one pending interrupt and execute
        the first instruction of its handler), ignoring a breakpoint at pc."""
        return self.run(max_instructions=1)

    def _advance(self, budget: int, next_event: int, step_over: bool) -> str | None:
        cpu = self.cpu
        try:
            if step_over:
                cpu.step()
            else:
                cpu.run(budget, next_event)
        except WatchHit as hit:
            return self._watch_stop(hit)
        except Trap as t:
            self.pal.deliver(t)
        return None

    def run(self, max_instructions: int | None = None, until_cycle: int | None = None) -> str:
        """Run until halt, a budget, a cycle, a breakpoint or a watchpoint;
        return why it stopped ("budget", "cycle", "breakpoint", "watchpoint"
        or the halt reason). A breakpoint at the PC it starts from does not
        stop it again; ``stop_detail`` says which one stopped it."""
        cpu, pal = self.cpu, self.pal
        limit = cpu.icount + (max_instructions if max_instructions is not None else 1 << 62)
        stop_at = until_cycle if until_cycle is not None else 1 << 62
        resume = (cpu.pc, cpu.icount)
        while True:
            if self.halt_reason is not None:
                return self.halt_reason
            if self._pending_stop is not None:
                (why, self.stop_detail), self._pending_stop = self._pending_stop, None
                return why
            try:
                self._raise_due_events()
                if pal.take_interrupt():
                    continue
                if cpu.icount >= limit:
                    return "budget"
                if cpu.cycles >= stop_at:
                    return "cycle"
                next_event = min(self.next_event(), stop_at)
                if pal.idle:  # wtint: nothing to do until the next event
                    cpu.cycles = max(cpu.cycles, next_event)
                    if next_event >= self.next_event():
                        pal.idle = False  # woken by an event, not by the end of this run
                    continue
                at_stop = bool(cpu.stops) and cpu.pc in cpu.stops
                if at_stop and (cpu.pc, cpu.icount) != resume:
                    self.stop_detail = f"breakpoint at {cpu.pc:#x}"
                    return "breakpoint"
                why = self._advance(limit - cpu.icount, next_event, at_stop)
                if why is not None:
                    return why
            except Halt as h:
                self.halt_reason = h.reason
            except BusError as e:  # nothing answers at that physical address
                self.halt_reason = f"machine check: {e} (pc {cpu.pc:#x})"

    # --- state -----------------------------------------------------------------------

    def state_hash(self) -> str:
        """sha256 over registers, PAL and MMU state, clock and the memory in use."""
        h = hashlib.sha256()
        cpu, pal, mmu = self.cpu, self.pal, self.mmu
        h.update(struct.pack("<65Q", cpu.pc, *cpu.r, *cpu.f))
        h.update(struct.pack("<6Q", cpu.fpcr, cpu.unique, cpu.icount, cpu.cycles, cpu.pcc_offset & (2**64 - 1),
                             self.ticks))  # fmt: skip
        h.update(struct.pack("<8Q", pal.ps, pal.ksp, pal.usp, pal.kgp, pal.sysval, pal.pcbb, mmu.ptbr, mmu.asn))
        h.update(repr(sorted(pal.pending.items())).encode())
        h.update(repr([e if isinstance(e, int) else None for e in pal.entries]).encode())
        for tb in (mmu.itb, mmu.dtb):
            h.update(repr(list(tb.entries.items())).encode())
        for pfn in sorted(self.memory.frames):
            frame = self.memory.frames[pfn]
            if any(frame):
                h.update(struct.pack("<Q1024Q", pfn, *frame))
        h.update(bytes(self.console.output))
        h.update(repr(self.events).encode())
        if self.nic is not None:
            h.update(repr((self.nic.regs, self.nic.sent, self.nic.received)).encode())
        if self.disk is not None:
            h.update(repr((self.disk.regs, self.disk.cylinder, self.disk.completed)).encode())
            h.update(hashlib.sha256(self.disk.data).digest())
        return h.hexdigest()
