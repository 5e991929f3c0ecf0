"""The DEC 3000/400 workstation: memory, MMU, CPU, PALcode, timer, console, disk, NIC.

Time is virtual: the CPU's cycle counter at 133 MHz. ``run`` executes in
slices that end exactly at the next event -- the timer's next tick or the
earliest device event in the queue -- so interrupts arrive at the same cycle
on every run and a run's state hash depends only on its inputs.

The machine owns its parts and delegates to them (PyBoy's shape): each
saves, loads and hashes its own state from one field list
(machine/fields.py), and each device schedules and handles its own events
in the machine's one queue, ordered by cycle and then by when they were
scheduled.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable
from typing import Any, Protocol

from machine.alpha.constants import (
    ACCESS_READ,
    ACCESS_WRITE,
    CPU_MODELS,
    DEFAULT_CPU,
    KSEG_BASE,
    KSEG_SIZE,
    M64,
    PAGE_SHIFT,
    PAGE_SIZE,
)
from machine.alpha.cpu import CPU, Watch
from machine.alpha.disasm import disasm_word
from machine.alpha.mmu import MMU
from machine.alpha.pal import OsfPal
from machine.alpha.traps import Halt, Trap, WatchHit
from machine.console import CONSOLE_PA, Console
from machine.disk import BLOCK, DISK_PA, Disk
from machine.elf import ElfImage
from machine.fields import COUNT, Misfit, Part, digest, integer, obj, text
from machine.framebuffer import FB_MEM_PA, FB_PA, FB_PAGES, FrameBuffer
from machine.memory import DEFAULT_SIZE, BusError, PhysicalMemory
from machine.nic import NIC, NIC_PA
from machine.timer import CLOCK_INT, CLOCK_IPL, CLOCK_VECTOR, MAX_OWED, TIMER_HZ, Timer, tick_cycle

MAX_MEMORY = 1 << 30  # the largest memory a saved machine may have

Event = tuple[int, int, str, str, tuple[int, ...]]  # (cycle, order, owner, kind, args): a heap entry


class Device(Protocol):
    def on_event(self, kind: str, args: tuple[int, ...]) -> None: ...


class Machine(Part):
    STATE_NAME = "machine"
    STATE_FIELDS = ("model", "memory_size", "halt_reason", "event_order", "cpu", "pal", "mmu", "timer", "console",
                    "disk", "nic")  # fmt: skip
    PARTS = ("cpu", "pal", "mmu", "timer", "console", "disk", "nic")  # fields that are parts with states of their own
    # Parts saved and hashed only when attached, so a machine without one keeps the state (and hash) it had.
    OPTIONAL = ("framebuffer",)
    NOT_STATE = {
        "memory": "saved as its frames after the header (PhysicalMemory.save_frames), hashed by its state_digest",
        "events": "saved and hashed by the devices that own them", "devices": "an index of disk and nic",
        "watches": "the debugger's", "_watch_number": "the debugger's", "stop_detail": "the debugger's",
        "_pending_stop": "the debugger's, for the run under way",
        "framebuffer": "an OPTIONAL part: saved and hashed as one when attached, absent from the state otherwise",
    }  # fmt: skip

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
        self.timer = Timer(self.pal)
        self.halt_reason: str | None = None
        self.events: list[Event] = []  # a heap
        self.event_order = 0  # events scheduled so far: ties at one cycle happen in the order they were scheduled
        self.disk: Disk | None = None
        self.nic: NIC | None = None
        self.framebuffer: FrameBuffer | None = None
        self.devices: dict[str, Device] = {}  # owner name in the queue -> device
        self.watches: dict[int, Watch] = {}
        self._watch_number = 0
        self.stop_detail = ""  # why the last run stopped at a breakpoint or watchpoint, in words
        self._pending_stop: tuple[str, str] | None = None  # (why, detail): a device wrote a watched address, ...
        self.memory.on_write = self._memory_written

    def attach_disk(self, image: bytes | bytearray | str) -> Disk:
        """Connect a disk backed by an image (bytes or a file's path)."""
        self.disk = self.devices["disk"] = Disk(self, image)
        self.memory.io[DISK_PA >> PAGE_SHIFT] = self.disk.page
        return self.disk

    def attach_nic(self, mac: int) -> NIC:
        """Install the Ethernet card with station address ``mac``."""
        self.nic = self.devices["nic"] = NIC(self, mac)
        self.memory.io[NIC_PA >> PAGE_SHIFT] = self.nic.page
        return self.nic

    def attach_framebuffer(self) -> FrameBuffer:
        """Install the frame buffer (machine/framebuffer.py): its registers and pixel memory in I/O space."""
        if self.framebuffer is None:
            self.framebuffer = FrameBuffer()
            self.memory.io[FB_PA >> PAGE_SHIFT] = self.framebuffer.page
            for i in range(FB_PAGES):
                self.memory.io[(FB_MEM_PA >> PAGE_SHIFT) + i] = self.framebuffer.apertures[i]
        return self.framebuffer

    # --- the event queue: each device's events, in one order -----------------------------

    def schedule(self, cycle: int, owner: str, kind: str, *args: int) -> None:
        """At virtual time ``cycle`` (ties in order), call the device
        ``owner``'s ``on_event(kind, args)``. Events are plain data so a
        saved device keeps its transfers in flight."""
        self.event_order += 1
        heapq.heappush(self.events, (cycle, self.event_order, owner, kind, args))

    def events_of(self, owner: str) -> list[list[Any]]:
        """A device's events as its saved state holds them: [cycle, order, kind, args], soonest first."""
        return [[c, o, k, list(a)] for c, o, who, k, a in sorted(self.events) if who == owner]

    def set_events(self, owner: str, events: list[tuple[int, int, str, tuple[int, ...]]]) -> None:
        """Replace a device's events (loading its state)."""
        self.events = [e for e in self.events if e[2] != owner] + [(c, o, owner, k, a) for c, o, k, a in events]
        heapq.heapify(self.events)

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

    @property
    def ticks(self) -> int:
        """Interval-timer interrupts raised so far."""
        return self.timer.ticks

    @ticks.setter
    def ticks(self, n: int) -> None:
        self.timer.ticks = n

    def tick_cycle(self, n: int) -> int:
        """The cycle at which interval-timer tick n (from 1) is raised."""
        return tick_cycle(n)

    def _raise_due_events(self) -> None:
        now = self.cpu.cycles
        self.timer.tick(now)
        events = self.events
        while events and events[0][0] <= now:
            _, _, owner, kind, args = heapq.heappop(events)
            self.devices[owner].on_event(kind, args)

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
        nxt = self.timer.next_event()
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
        verb = "read" if hit.access == ACCESS_READ else "wrote"
        change = ""
        if old is not None and new is not None:
            change = f"; value {old:#x}" if old == new else f"; {old:#x} -> {new:#x}"
        text = disasm_word(word, hit.pc, symbolic=True).replace("\t", " ")
        self.stop_detail = f"{w.describe()}: `{text}` at pc {hit.pc:#x} {verb} {hit.width} bytes at {hit.va:#x}{change}"
        return "watchpoint"

    def _memory_written(self, frame: list[int], pa: int, n: int) -> None:
        self.cpu.frame_written(frame)
        for w, _ in self.cpu.watch_frames.get(id(frame), ()):
            if w.hits(pa, n, ACCESS_WRITE) and self._pending_stop is None:
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
                stopped = self._advance(limit - cpu.icount, next_event, at_stop)
                if stopped is not None:
                    return stopped
            except Halt as h:
                self.halt_reason = h.reason
            except BusError as e:  # nothing answers at that physical address
                self.halt_reason = f"machine check: {e} (pc {cpu.pc:#x})"

    # --- state -----------------------------------------------------------------------

    def parts(self) -> list[tuple[str, Part | None]]:
        return [(name, getattr(self, name)) for name in self.PARTS]

    def optional_parts(self) -> list[tuple[str, Part]]:
        """The OPTIONAL parts attached: in the state only then."""
        return [(name, part) for name in self.OPTIONAL if (part := getattr(self, name)) is not None]

    def _own_state(self) -> dict[str, Any]:
        return {"model": self.cpu.model, "memory_size": self.memory.size, "halt_reason": self.halt_reason,
                "event_order": self.event_order}  # fmt: skip

    def save_state(self) -> dict[str, Any]:
        """Everything but memory, whose frames a state file holds after this (``memory.save_frames``)."""
        state = self._own_state() | {name: None if part is None else part.save_state() for name, part in self.parts()}
        return state | {name: part.save_state() for name, part in self.optional_parts()}

    @staticmethod
    def check_build(saved: object) -> tuple[str, int]:
        """The model and memory size a saved machine was built with: what to build to load it."""
        extra = tuple(n for n in Machine.OPTIONAL if isinstance(saved, dict) and n in saved)
        s = obj(saved, "the header", Machine.STATE_FIELDS + extra)
        if not isinstance(s["model"], str) or s["model"] not in CPU_MODELS:
            raise Misfit(f"unknown CPU model {str(s['model'])[:20]!r} (known: {', '.join(CPU_MODELS)})")
        size = integer(s["memory_size"], "memory_size", (PAGE_SIZE, MAX_MEMORY))
        if size % PAGE_SIZE:
            raise Misfit(f"memory_size {size} is not a whole number of {PAGE_SIZE}-byte pages")
        return s["model"], size

    def check_state(self, saved: object) -> dict[str, Any]:
        model, size = self.check_build(saved)
        assert isinstance(saved, dict)
        if model != self.cpu.model:
            raise Misfit(f"model is {model!r}; this machine's CPU is {self.cpu.model!r}")
        if size != self.memory.size:
            raise Misfit(f"memory_size is {size}; this machine has {self.memory.size} bytes")
        if saved["halt_reason"] is not None:
            text(saved["halt_reason"], "halt_reason")
        integer(saved["event_order"], "event_order", COUNT)
        checked = dict(saved)
        for name in ("cpu", "pal", "mmu", "timer", "console"):
            checked[name] = getattr(self, name).check_state(saved[name])
        for name, blank in (("disk", lambda: Disk(self, bytes(BLOCK))), ("nic", lambda: NIC(self, 0))):
            mine = getattr(self, name)
            if saved[name] is not None:
                checked[name] = (mine if mine is not None else blank()).check_state(saved[name])
            elif mine is not None:
                raise Misfit(f"{name} is null: the saved machine has none, and this one has one")
        if "framebuffer" in saved:
            checked["framebuffer"] = (self.framebuffer or FrameBuffer()).check_state(saved["framebuffer"])
        elif self.framebuffer is not None:
            raise Misfit("the saved machine has no framebuffer, and this one has one")
        # a machine raises the clock ticks it owes before its next instruction:
        # more than a second of them owed means a clock no run could have left
        ticks, cycles = checked["timer"]["ticks"], checked["cpu"]["cycles"]
        if cycles - tick_cycle(ticks) > MAX_OWED:
            raise Misfit(f"timer.ticks {ticks} is far behind the clock at cycle {cycles}")
        return checked

    def apply_state(self, checked: dict[str, Any]) -> None:
        self.halt_reason, self.event_order = checked["halt_reason"], checked["event_order"]
        if checked["disk"] is not None and self.disk is None:
            self.attach_disk(bytes(BLOCK))
        if checked["nic"] is not None and self.nic is None:
            self.attach_nic(0)
        if "framebuffer" in checked:
            self.attach_framebuffer()
        for name, part in self.parts() + self.optional_parts():
            if part is not None:
                part.apply_state(checked[name])
        self.cpu.flush_tlb()  # the host caches and translated code were for the state before

    def state_digest(self) -> bytes:
        """sha256 over the machine's own fields, each part's digest and the memory in use."""
        h = hashlib.sha256(digest(self.STATE_NAME, self._own_state()))
        for _, part in self.parts():
            h.update(b"-" * 32 if part is None else part.state_digest())
        h.update(self.memory.state_digest())
        for _, part in self.optional_parts():  # after everything else: a machine without one hashes as before
            h.update(part.state_digest())
        return h.digest()

    def state_hash(self) -> str:
        """The state digest in hex: equal for equal states, whatever path led to them."""
        return self.state_digest().hex()


__all__ = ["CLOCK_INT", "CLOCK_IPL", "CLOCK_VECTOR", "TIMER_HZ", "Machine"]
