"""The machine-dependent boundary: everything the kernel knows about the Alpha.

SPIN kept its hardware knowledge in ``sal`` and ``machine/ALPHA_SPIN``
(spin-reference.md §0); this module plays that part. The rest of kernel/
speaks of strands, contexts, protections and physical frames; only here are
PAL entry points, the OSF/1 trap frame and HWPCB, PTE bits, register numbers
and the instruction set.

Each strand that runs user code owns a kernel stack page and an HWPCB. A
trap pushes the PAL frame on the running strand's kernel stack; a context
switch is ``swpctx`` to the next strand's HWPCB followed by ``rti``, which
pops *that* strand's frame -- the OSF/1 design. The other registers are kept
in the strand's ``Context`` while it is not running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from machine import framebuffer as fbdev

# A name imported as itself (``X as X``) and the ABI's numbers are re-exported: kernel/ reaches
# machine.alpha only through this module (the clock rate, boot's default CPU, Halt, errno, signals).
from machine.alpha import unaligned
from machine.alpha.abi import *  # noqa: F403 -- re-exported: the kernel's errno and signal numbers are the ABI's
from machine.alpha.constants import (
    ACCESS_READ,
    CAUSE_IFETCH,
    CAUSE_LOAD,
    IF_BPT,
    IF_BUGCHK,
    IF_GENTRAP,
    IF_OPCDEC,
    KSEG_BASE,
    M64,
    MMCSR_ACV,
    MMCSR_FOE,
    MMCSR_FOR,
    MMCSR_FOW,
    MMCSR_TNV,
    MODE_USER,
    PAGE_MASK,
    PAGE_SHIFT,
    PAGE_SIZE,
    PTE_ASM,
    PTE_FOE,
    PTE_FOR,
    PTE_FOW,
    PTE_KRE,
    PTE_KWE,
    PTE_PFN_SHIFT,
    PTE_SOFT_SHIFT,
    PTE_URE,
    PTE_UWE,
    PTE_V,
    REG_NAMES,
    USER_LIMIT,
)
from machine.alpha.constants import CLOCK_HZ as CLOCK_HZ
from machine.alpha.constants import DEFAULT_CPU as DEFAULT_CPU
from machine.alpha.cpu import DEFAULT_FPCR
from machine.alpha.disasm import disasm_word
from machine.alpha.mmu import translate
from machine.alpha.pal import (
    ENT_ARITH,
    ENT_IF,
    ENT_INT,
    ENT_MM,
    ENT_SYS,
    ENT_UNA,
    FRAME_SIZE,
    PAL_ENTRY_CYCLES,
    PCB_FLAGS,
    PCB_KSP,
    PCB_PCC,
    PCB_PTBR,
    PCB_UNIQUE,
    PCB_USP,
    OsfPal,
)
from machine.alpha.traps import GENTRAP_TEXT as GENTRAP_TEXT
from machine.alpha.traps import MMCSR_TEXT, IllegalInstruction, arith_text
from machine.alpha.traps import Halt as Halt
from machine.disk import (
    CMD_READ,
    CMD_WRITE,
    DISK_IPL,
    DISK_PA,
    DISK_VECTOR,
    R_ACK,
    R_BLOCK,
    R_CMD,
    R_COUNT,
    R_DMA,
    R_ERROR,
    R_STATUS,
)
from machine.disk import DONE as DISK_DONE
from machine.disk import ERROR as DISK_ERROR
from machine.machine import CLOCK_INT, TIMER_HZ, Machine
from machine.pagetable import PageTable

# Protections, machine-independent: what Translation and its callers speak.
READ, WRITE, EXECUTE = 1, 2, 4
# Fault kinds (spin-reference.md §4: Execute=-1, Read=0, Write=1).
KIND_EXECUTE, KIND_READ, KIND_WRITE = -1, 0, 1
KIND_NAMES = {KIND_EXECUTE: "execute", KIND_READ: "read", KIND_WRITE: "write"}
# What the MMU said, in words and as the fault event it becomes.
NOT_PRESENT, BAD_ADDRESS, PROTECTION = "PageNotPresent", "BadAddress", "ProtectionFault"
_MMCSR_EVENT = {MMCSR_TNV: NOT_PRESENT, MMCSR_ACV: BAD_ADDRESS, MMCSR_FOR: PROTECTION, MMCSR_FOW: PROTECTION,
                MMCSR_FOE: PROTECTION}  # fmt: skip

PS_USER = 8
PS_KERNEL_IPL0 = 0
FP_ENABLE = 1

# Registers of the calling and system-call ABI (alpha-machine.md §3.2; REG_NAMES).
V0, A0, A1, A2, A3, A4, A5, RA, PV, GP, SP, ZERO = 0, 16, 17, 18, 19, 20, 21, 26, 27, 29, 30, 31
_WTINT, _BR_BACK_1 = 0x0000_003E, (0x30 << 26) | (31 << 21) | 0x1F_FFFE  # call_pal wtint; br .-4


def kseg(pa: int) -> int:
    return KSEG_BASE + pa


@dataclass
class Context:
    """A strand's user-visible processor state while it is not running."""

    pc: int = 0
    ps: int = PS_USER
    r: list[int] = field(default_factory=lambda: [0] * 32)
    f: list[int] = field(default_factory=lambda: [0] * 32)
    fpcr: int = 0

    def copy(self) -> Context:
        return Context(self.pc, self.ps, list(self.r), list(self.f), self.fpcr)

    # --- the system-call ABI ---------------------------------------------------------

    @property
    def syscall_number(self) -> int:
        return self.r[V0]

    def args(self, n: int = 6) -> tuple[int, ...]:
        return tuple(self.r[A0 : A0 + n])

    def set_result(self, value: int) -> None:
        """A call's result: >= 0 is returned in v0 with a3 = 0; -errno sets
        a3 = 1 and v0 = errno (Linux/Alpha)."""
        if value < 0:
            self.r[V0], self.r[A3] = -value & M64, 1
        else:
            self.r[V0], self.r[A3] = value & M64, 0

    def restart(self) -> None:
        """Back up over the callsys, so the call runs again when the strand resumes."""
        self.pc = (self.pc - 4) & M64

    @property
    def sp(self) -> int:
        return self.r[SP]


@dataclass
class TrapInfo:
    """A trap as the kernel's handlers see it, machine-independent."""

    what: str  # "syscall", "fault", "arith", "illegal", "breakpoint", "gentrap", "unaligned", "interrupt"
    pc: int  # the instruction that trapped
    address: int = 0
    kind: int = 0  # fault kind: KIND_*
    event: str = ""  # for faults: NOT_PRESENT, BAD_ADDRESS or PROTECTION
    code: int = 0  # gentrap code, interrupt vector, ...
    text: str = ""  # one line for reports


class Sal:
    """The kernel's handle on one Alpha machine."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.cpu = machine.cpu
        self.pal: OsfPal = machine.pal
        self.memory = machine.memory
        self.mmu = machine.mmu
        self.crossings = 0  # user -> kernel entries plus kernel -> user returns
        self.trap_cycle = 0  # when the last trap was taken, before the PAL entry's cost

    # --- time ------------------------------------------------------------------------

    def charge(self, cycles: int) -> None:
        """Kernel work costs virtual time: modeled cycles (kernel/core/costs.py)."""
        self.cpu.cycles += cycles

    @property
    def now(self) -> int:
        return self.cpu.cycles

    @property
    def icount(self) -> int:
        return self.cpu.icount

    # --- entry points ----------------------------------------------------------------

    def install_entries(self, on_trap: Callable[[TrapInfo], None], on_interrupt: Callable[[int, int], None]) -> None:
        """Register the kernel's Python handlers at the six PAL entry points."""
        pal = self.pal

        def entry(p: OsfPal, ent: int) -> None:
            r = self.cpu.r
            if ent == ENT_INT:
                on_interrupt(r[A0], r[A0 + 1])
                return
            self.trap_cycle = self.cpu.cycles - PAL_ENTRY_CYCLES
            frame = self._frame()
            if frame[0] & PS_USER:
                self.crossings += 1
            on_trap(self._decode_entry(ent, frame))

        for ent in (ENT_INT, ENT_ARITH, ENT_MM, ENT_IF, ENT_UNA, ENT_SYS):
            pal.entries[ent] = entry

    def is_clock(self, kind: int) -> bool:
        return kind == CLOCK_INT

    def _frame(self) -> list[int]:
        sp = self.cpu.r[SP]
        if sp >> 41 == KSEG_BASE >> 41 and sp & PAGE_MASK <= PAGE_SIZE - 48:
            # The usual case, a kernel stack in KSEG with the frame in one page: KSEG maps
            # linearly through no TB, so one translation gives all six words (the same
            # addresses, and no TB state to keep: the six walks were a tenth of a kernel entry).
            pa, read_q = self.mmu.translate(sp, 0, 0), self.memory.read_q
            return [read_q(pa + 8 * i) for i in range(6)]
        return [self.memory.read_q(self.mmu.translate(sp + 8 * i, 0, 0)) for i in range(6)]

    def _frame_ps(self) -> int:
        return self._frame()[0]

    def _decode_entry(self, ent: int, frame: list[int]) -> TrapInfo:
        r = self.cpu.r
        a0, a1, a2 = r[A0], r[A0 + 1], r[A0 + 2]
        frame_pc = frame[1]
        if ent == ENT_SYS:
            return TrapInfo("syscall", (frame_pc - 4) & M64)
        if ent == ENT_MM:
            kind = {CAUSE_IFETCH & M64: KIND_EXECUTE, CAUSE_LOAD: KIND_READ}.get(a2, KIND_WRITE)
            access = {KIND_EXECUTE: "instruction fetch", KIND_READ: "load"}.get(kind, "store")
            return TrapInfo("fault", frame_pc, a0, kind, _MMCSR_EVENT.get(a1, BAD_ADDRESS),
                            text=f"segmentation fault: {access} at address {a0:#x} ({MMCSR_TEXT.get(a1, a1)})")  # fmt: skip
        pc = (frame_pc - 4) & M64
        if ent == ENT_UNA:
            return TrapInfo("unaligned", pc, a0, code=a1, text=f"unaligned access at address {a0:#x}")
        if ent == ENT_ARITH:
            return TrapInfo("arith", pc, code=a0, text=arith_text(a0))
        if ent == ENT_IF:
            if a0 == IF_OPCDEC:
                t = self.pal.last_trap
                word = self.peek_word(pc)
                if isinstance(t, IllegalInstruction) and t.pc == pc:
                    reason = f" ({t.reason})" if t.reason else ""
                    return TrapInfo("illegal", pc, text=f"illegal instruction {t.word:#010x}{reason}")
                fn = word & 0x3FF_FFFF if word is not None and word >> 26 == 0 else None
                if fn is not None:
                    priv = "privileged " if fn < 0x40 else ""
                    return TrapInfo("illegal", pc, text=f"illegal instruction: {priv}call_pal {fn:#x} in user mode")
                return TrapInfo("illegal", pc, text=f"illegal instruction {word or 0:#010x}")
            if a0 == IF_GENTRAP:
                code = frame[3]  # the user's a0: the PAL loaded the entry's own a0
                code = code - (1 << 64) if code >> 63 else code
                return TrapInfo("gentrap", pc, code=code)
            if a0 in (IF_BPT, IF_BUGCHK):
                return TrapInfo(
                    "breakpoint", pc, text=f"breakpoint trap (call_pal {0x80 if a0 == IF_BPT else 0x81:#x})"
                )
        return TrapInfo("illegal", pc, text=f"unexpected kernel entry {ent} ({a0:#x})")

    # --- contexts --------------------------------------------------------------------

    def save(self, ctx: Context) -> None:
        """Copy the trapped strand's registers into ctx (the frame holds PS,
        PC, gp and a0..a2; the user sp is in the PAL's USP)."""
        cpu = self.cpu
        ps, pc, gp, a0, a1, a2 = self._frame()
        ctx.r[:] = cpu.r
        ctx.r[GP], ctx.r[A0], ctx.r[A0 + 1], ctx.r[A0 + 2] = gp, a0, a1, a2
        ctx.r[SP] = self.pal.usp if ps & PS_USER else (cpu.r[SP] + FRAME_SIZE) & M64
        ctx.f[:] = cpu.f
        ctx.fpcr = cpu.fpcr
        ctx.pc, ctx.ps = pc, ps

    def load(self, ctx: Context) -> None:
        """Make ctx the registers and trap frame that ``rti`` will return to."""
        cpu = self.cpu
        ksp = cpu.r[SP]
        cpu.r[:] = ctx.r
        cpu.r[SP] = ksp
        cpu.f[:] = ctx.f
        cpu.fpcr = ctx.fpcr
        if ctx.ps & PS_USER:
            self.pal.usp = ctx.r[SP]
        values = (ctx.ps, ctx.pc, ctx.r[GP], ctx.r[A0], ctx.r[A0 + 1], ctx.r[A0 + 2])
        for i, v in enumerate(values):
            self.memory.write_q(self.mmu.translate(ksp + 8 * i, 1, 0), v & M64)

    def resume(self, count: bool = True) -> None:
        """Return from the kernel to whatever ``load`` set up; ``count`` a
        return to user mode as a boundary crossing (traps, not interrupts)."""
        if count and self._frame_ps() & PS_USER:
            self.crossings += 1
        self.pal.rti()

    def new_pcb(self, kstack_pfn: int, root: int, asn: int) -> int:
        """Write an HWPCB at the start of a strand's kernel-stack frame; its
        KSP points at a trap frame at the top of the page. Returns the
        HWPCB's physical address."""
        pcb = kstack_pfn << PAGE_SHIFT
        top = kseg(pcb + PAGE_SIZE - FRAME_SIZE)
        mem = self.memory
        mem.write_q(pcb + PCB_KSP, top)
        mem.write_q(pcb + PCB_USP, 0)
        mem.write_q(pcb + PCB_PTBR, root)
        mem.write_q(pcb + PCB_PCC, asn << 32)
        mem.write_q(pcb + PCB_UNIQUE, 0)
        mem.write_q(pcb + PCB_FLAGS, FP_ENABLE)
        return pcb

    def set_pcb_space(self, pcb: int, root: int, asn: int) -> None:
        """A new address space for a strand (exec): PTBR and ASN in its HWPCB."""
        self.memory.write_q(pcb + PCB_PTBR, root)
        word = self.memory.read_q(pcb + PCB_PCC)
        self.memory.write_q(pcb + PCB_PCC, (asn << 32) | (word & 0xFFFF_FFFF))
        if self.pal.pcbb == pcb:
            self.mmu.switch_context(root, asn)
            self.cpu.flush_host_caches()

    def set_pcb_unique(self, pcb: int, value: int) -> None:
        self.memory.write_q(pcb + PCB_UNIQUE, value)

    def switch_to(self, pcb: int) -> None:
        """swpctx: the next strand's kernel stack, user sp, page table and ASN."""
        if self.pal.pcbb != pcb:
            self.pal.swpctx(pcb)

    def first_switch(self, pcb: int) -> None:
        """Boot hands the processor to the first strand: no old HWPCB to save."""
        self.pal.pcbb = 0
        self.pal.swpctx(pcb)

    def user_context(self, entry: int, sp: int) -> Context:
        """Registers for a program's first instruction (pv = entry: prologues derive gp from it)."""
        ctx = Context(pc=entry, ps=PS_USER, fpcr=DEFAULT_FPCR)
        ctx.r[SP] = sp
        ctx.r[PV] = entry
        return ctx

    def idle_context(self, code_pa: int, stack_top: int) -> Context:
        """The idle strand: kernel mode, IPL 0, looping on wtint."""
        self.memory.write(code_pa, (_WTINT | (_BR_BACK_1 << 32)).to_bytes(8, "little"))
        ctx = Context(pc=kseg(code_pa), ps=PS_KERNEL_IPL0)
        ctx.r[SP] = stack_top
        return ctx

    def boot_processor(self, kernel_stack_top: int) -> None:
        """Take the processor as the console hands it over: kernel mode,
        IPL 7, the boot stack."""
        self.cpu.r[SP] = kernel_stack_top
        self.pal.ksp = kernel_stack_top

    # --- page tables -----------------------------------------------------------------

    def pte(self, pfn: int, prot: int, soft: int = 0) -> int:
        """A valid user PTE. User read and write enable are always set and
        the protection is carried by the fault-on bits, so a write to a
        read-only page is a FOW (the ProtectionFault event), as copy-on-write
        needs; ACV stays for addresses a user may never touch."""
        bits = PTE_V | PTE_KRE | PTE_KWE | PTE_URE | PTE_UWE
        if not prot & READ:
            bits |= PTE_FOR
        if not prot & WRITE:
            bits |= PTE_FOW
        if not prot & EXECUTE:
            bits |= PTE_FOE
        return (pfn << PTE_PFN_SHIFT) | bits | (soft & 0xFFFF) << PTE_SOFT_SHIFT

    def pte_prot(self, pte: int) -> int:
        if not pte & PTE_V:
            return 0
        return sum(b for b, fo in ((READ, PTE_FOR), (WRITE, PTE_FOW), (EXECUTE, PTE_FOE)) if not pte & fo)

    def new_table(self, alloc: Callable[[], int]) -> PageTable:
        return PageTable(self.memory, _Frames(alloc))  # type: ignore[arg-type]

    def write_pte(self, table: PageTable, va: int, pte: int) -> None:
        at = table.l3_entry(va)
        assert at is not None
        self.memory.write_q(at, pte)

    def read_pte(self, table: PageTable, va: int) -> int:
        at = table.l3_entry(va, create=False)
        return 0 if at is None else self.memory.read_q(at)

    def tables_of(self, table: PageTable) -> list[int]:
        """The frames holding a page table's L1, L2 and L3 tables."""
        out = [table.root]
        for i in range(1024):
            l1 = self.memory.read_q((table.root << PAGE_SHIFT) + 8 * i)
            if l1 & PTE_V:
                l2t = l1 >> PTE_PFN_SHIFT
                out.append(l2t)
                for j in range(1024):
                    l2 = self.memory.read_q((l2t << PAGE_SHIFT) + 8 * j)
                    if l2 & PTE_V:
                        out.append(l2 >> PTE_PFN_SHIFT)
        return out

    def invalidate(self, va: int) -> None:
        """A PTE changed: drop the page from the TBs (tbis: every ASN) and
        from the CPU's host caches."""
        self.mmu.tbis(va)
        self.cpu.forget_pages(va & ~PAGE_MASK, PAGE_SIZE)

    def invalidate_asn(self) -> None:
        """ASNs wrapped: forget every process translation (tbiap)."""
        self.mmu.tbiap()
        self.cpu.flush_host_caches()

    def user_pa(self, root: int, va: int, write: bool) -> tuple[int | None, int | None]:
        """(pa, None) if user mode may access va in the space rooted at root,
        else (None, MMCSR code)."""
        if va >= USER_LIMIT:
            return None, MMCSR_ACV
        t = translate(self.memory.read_q, root, va, 1 if write else 0, MODE_USER)
        return t.pa, t.fault

    @staticmethod
    def fault_event(mmcsr: int) -> str:
        return _MMCSR_EVENT.get(mmcsr, BAD_ADDRESS)

    # --- memory ----------------------------------------------------------------------

    def zero_frame(self, pfn: int) -> None:
        self.memory.write(pfn << PAGE_SHIFT, bytes(PAGE_SIZE))

    def copy_frame(self, src: int, dst: int) -> None:
        self.memory.write(dst << PAGE_SHIFT, self.memory.read(src << PAGE_SHIFT, PAGE_SIZE))

    def read_phys(self, pa: int, n: int) -> bytes:
        return self.memory.read(pa, n)

    def write_phys(self, pa: int, data: bytes) -> None:
        self.memory.write(pa, data)

    def peek_word(self, va: int) -> int | None:
        t = self.mmu.walk(va, 0, MODE_USER if self.pal.mode == MODE_USER else 0)
        if t.pa is None:
            t = self.mmu.walk(va, 0, 0)
        return None if t.pa is None else self.memory.read_q(t.pa & ~7) >> (32 * ((t.pa >> 2) & 1)) & 0xFFFF_FFFF

    def disassemble(self, word: int | None, pc: int) -> str:
        if word is None:
            return "<instruction not readable>"
        return disasm_word(word, pc).replace("\t", " ")

    # --- the disk (machine/disk.py's registers) ---------------------------------------

    def disk_blocks(self) -> int:
        return 0 if self.machine.disk is None else self.machine.disk.nblocks

    def disk_start(self, block: int, count: int, pa: int, write: bool = False) -> None:
        """Start a transfer: disk to memory, or with ``write`` memory to disk."""
        w = self.memory.write_q
        w(DISK_PA + 8 * R_BLOCK, block)
        w(DISK_PA + 8 * R_COUNT, count)
        w(DISK_PA + 8 * R_DMA, pa)
        w(DISK_PA + 8 * R_CMD, CMD_WRITE if write else CMD_READ)

    def disk_finished(self) -> bool:
        """The transfer under way is done or failed (not yet acknowledged)."""
        return self.memory.read_q(DISK_PA + 8 * R_STATUS) in (DISK_DONE, DISK_ERROR)

    def disk_poll(self) -> bool:
        """Wait, with interrupts off, for the disk's transfer under way to
        finish (the machine runs to its next device event); False if it
        never will. The interrupt it posts is withdrawn: the poller serves it."""
        while not self.disk_finished():
            if not self.machine.wait_for_device():
                return False
        self.pal.clear_interrupt(DISK_IPL, DISK_VECTOR)
        return True

    def disk_done(self) -> tuple[bool, int]:
        """(finished, error code) of the transfer; acknowledges a finished one."""
        status = self.memory.read_q(DISK_PA + 8 * R_STATUS)
        if status in (DISK_DONE, DISK_ERROR):
            err = self.memory.read_q(DISK_PA + 8 * R_ERROR)
            self.memory.write_q(DISK_PA + 8 * R_ACK, 1)
            return True, err if status == DISK_ERROR else 0
        return False, 0

    def disk_read_polled(self, block: int, count: int, pa: int) -> int:
        """Read with interrupts off, polling (boot): 0 or the disk's error code."""
        self.disk_start(block, count, pa)
        while True:
            done, err = self.disk_done()
            if done:
                self.pal.clear_interrupt(DISK_IPL, DISK_VECTOR)  # served by polling: only the disk's request goes
                return err
            if not self.machine.wait_for_device():
                return -1

    def disk_vector(self) -> int:
        return DISK_VECTOR

    def is_disk(self, vector: int) -> bool:
        return vector == DISK_VECTOR

    # --- device registers (machine/nic.py's card; the driver knows their meaning) ------

    def io_read(self, pa: int) -> int:
        return self.memory.read_q(pa)

    def io_write(self, pa: int, value: int) -> None:
        self.memory.write_q(pa, value)

    # --- the frame buffer (machine/framebuffer.py's registers and pixel memory) -----------

    def has_framebuffer(self) -> bool:
        return self.machine.framebuffer is not None

    def fb_size(self) -> tuple[int, int]:
        """(width, height) from the WIDTH and HEIGHT registers."""
        return self.io_read(fbdev.FB_PA + 8 * fbdev.R_WIDTH), self.io_read(fbdev.FB_PA + 8 * fbdev.R_HEIGHT)

    def fb_write(self, offset: int, data: bytes | bytearray | memoryview) -> bool:
        """Copy into pixel memory at ``offset`` (a driver's bcopy to I/O space,
        done as one host copy rather than a store a quadword); False if the
        device refused it as out of bounds."""
        fb = self.machine.framebuffer
        return fb is not None and fb.store(offset, data)

    def fb_present(self) -> None:
        self.io_write(fbdev.FB_PA + 8 * fbdev.R_CMD, fbdev.CMD_PRESENT)

    def fb_frames(self) -> int:
        return self.io_read(fbdev.FB_PA + 8 * fbdev.R_FRAMES)

    def fb_view(self) -> tuple[int, int, bytes, int, int] | None:
        """Looking without touching: (width, height, the frame shown, frames
        presented, writes refused), or None without a frame buffer."""
        fb = self.machine.framebuffer
        return None if fb is None else (fb.width, fb.height, fb.shown, fb.frames, fb.refused)

    # --- unaligned access fix-up (what OSF/1's and Linux's entUna handlers do) --------

    def emulate_unaligned(self, ctx: Context, word: int, read: Callable[[int, int], bytes | None],
                          write: Callable[[int, bytes], bool], va: int, model: str) -> bool:  # fmt: skip
        """Perform the misaligned load or store ``word`` on ctx through the
        strand's address space; False if it is not a load or store or the
        memory is not accessible (then the caller signals)."""

        def rd(a: int, n: int) -> bytes:
            data = read(a, n)
            if data is None:
                raise _Inaccessible
            return data

        def wr(a: int, data: bytes) -> None:
            if not write(a, data):
                raise _Inaccessible

        try:
            self.cpu.cycles += unaligned.emulate(word, ctx.r, ctx.f, va, model, rd, wr)
        except (unaligned.NotLoadStore, _Inaccessible):
            return False
        return True

    @property
    def model(self) -> str:
        return self.cpu.model

    # --- looking without touching (kernel/inspect.py) ----------------------------------------
    # Read beside the machine: no TB fill, no cycles, no trap (Machine.peek's promise).

    page_shift = PAGE_SHIFT
    register_names = REG_NAMES  # r0..r31 by their software names (v0, t0, ..., zero): the CPU pane's

    def code_at(self, pc: int) -> str:
        """The instruction at pc with register names, as the CPU pane lists it ("--" where nothing is mapped)."""
        word = self.machine.peek(pc & ~3, 4)
        return "--" if word is None else disasm_word(word, pc, symbolic=True).replace("\t", " ")

    @staticmethod
    def pte_text(pte: int) -> str:
        """A PTE decoded (Alpha Architecture Handbook, OSF/1 PTE): its flag
        names, PFN and software bits."""
        names = [n for bit, n in _PTE_BITS if pte & bit]
        soft = (pte >> PTE_SOFT_SHIFT) & 0xFFFF
        return " ".join(names or ["invalid"]) + f" pfn {pte >> PTE_PFN_SHIFT:#x}" + (f" soft {soft:#x}" if soft else "")

    def user_walk(self, root: int, va: int) -> tuple[list[tuple[int, int, int]], int | None, str, int]:
        """The three-level walk a user read of ``va`` makes from the level-1
        table ``root``: (level, PTE address, PTE) per step, the physical
        address (None if it faults), why it faults, and the last PTE."""
        w = translate(self.memory.read_q, root, va, ACCESS_READ, MODE_USER)
        why = "" if w.pa is not None else MMCSR_TEXT.get(w.fault or 0, str(w.fault))
        return list(w.steps), w.pa, why, w.pte

    def tb_view(
        self, recent: int
    ) -> list[tuple[str, int, int, int, int, int, tuple[tuple[int, int | None, int], ...]]]:
        """Each TB: name, entries, size, hits, misses, fills and its newest
        ``recent`` entries as (vpn, asn or None for ASM, pfn)."""
        out = []
        for tb in (self.mmu.itb, self.mmu.dtb):
            items = list(tb.entries.items())[-recent:][::-1]
            out.append((tb.name, len(tb.entries), tb.size, tb.hits, tb.misses, tb.fills,
                        tuple((vpn, asn, pte >> PTE_PFN_SHIFT) for (vpn, asn), pte in items)))  # fmt: skip
        return out

    def device_view(self) -> list[tuple[str, str]]:
        """Each device and what it has done, in its own words."""
        m = self.machine
        out = [("console", f"{len(m.console.output):,} bytes written"),
               ("interval timer", f"{m.ticks:,} interrupts at {TIMER_HZ} Hz")]  # fmt: skip
        if m.disk is not None:
            out.append(
                (
                    "disk",
                    f"{m.disk.nblocks:,} blocks, {m.disk.completed:,} requests done, arm at cylinder {m.disk.cylinder}",
                )
            )
        if m.nic is not None:
            out.append(
                ("Ethernet (Lance)", f"MAC {m.nic.mac:012x}, {m.nic.sent:,} frames sent, {m.nic.received:,} received")
            )
        if m.framebuffer is not None:
            fb = m.framebuffer
            out.append(("frame buffer", f"{fb.width}x{fb.height} 8-bit, {fb.frames:,} frames presented"))
        return out

    @property
    def user_mode(self) -> bool:
        return self.pal.mode == MODE_USER


_PTE_BITS = ((PTE_V, "V"), (PTE_FOR, "FOR"), (PTE_FOW, "FOW"), (PTE_FOE, "FOE"), (PTE_ASM, "ASM"),
             (PTE_KRE, "KRE"), (PTE_URE, "URE"), (PTE_KWE, "KWE"), (PTE_UWE, "UWE"))  # fmt: skip


class _Inaccessible(Exception):
    """copyin/copyout could not reach the misaligned operand."""


class _Frames:
    """The PageTable's frame source: the kernel's PhysAddr service."""

    def __init__(self, alloc: Callable[[], int]) -> None:
        self.alloc = alloc

    def release(self, pfn: int) -> None:
        """Unused: the kernel frees a space's tables itself (Translation.Destroy)."""
