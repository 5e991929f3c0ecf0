"""OSF/1 PALcode, emulated in Python (alpha-machine.md §3; qemu-palcode pal.S).

The PAL owns the processor status (PS: bit 3 user mode, bits 2:0 IPL), the
kernel and user stack pointers, the six kernel entry points, the kernel gp,
sysval and the current HWPCB. ``deliver`` turns a CPU trap into a kernel
entry; ``call_pal`` runs CALL_PAL functions; ``interrupt`` enters entInt.

An entry saves PS, switches to the kernel stack if coming from user mode,
pushes the 48-byte frame (PS, PC, gp, a0, a1, a2), loads the kernel gp and
the entry's a0..a2 and jumps to the handler. A handler is either guest code
(the address given to wrent) or, for the SPIN kernel, a Python callable
``handler(pal, entry)`` that finishes with ``pal.rti()`` or ``pal.retsys()``.

Interrupt requests are kept per level and, within a level, per device (its
vector): devices sharing a level (the disk and the Lance at IPL 3) never
erase each other's request; ``take_interrupt`` serves the highest level
above PS.IPL, oldest request first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from machine.alpha.constants import (
    IF_BPT,
    IF_BUGCHK,
    IF_GENTRAP,
    IF_OPCDEC,
    M64,
    MODE_KERNEL,
    MODE_USER,
    PAL_FUNCS,
)
from machine.alpha.traps import (
    ArithmeticTrap,
    Halt,
    IllegalInstruction,
    MemFault,
    MemoryTrap,
    Trap,
    Unaligned,
)
from machine.fields import COUNT, U64, Misfit, Part, boolean, integer, integers, items, obj

if TYPE_CHECKING:
    from machine.alpha.cpu import CPU
    from machine.alpha.mmu import MMU

ENT_INT, ENT_ARITH, ENT_MM, ENT_IF, ENT_UNA, ENT_SYS = range(6)
ENTRY_NAMES = ("entInt", "entArith", "entMM", "entIF", "entUna", "entSys")
PS_USER = 8
FRAME_SIZE = 48
PENDING_MOST = 256  # interrupt requests a state file may hold (32 levels, a few devices each)
PAL_ENTRY_CYCLES = 40  # modeled cost of a PAL entry or return (virtual time only)

# HWPCB offsets (alpha-machine.md §3.1).
PCB_KSP, PCB_USP, PCB_PTBR, PCB_PCC, PCB_ASN, PCB_UNIQUE, PCB_FLAGS = 0, 8, 16, 24, 28, 32, 40

Handler = int | Callable[["OsfPal", int], None]


class DoubleFault(Halt):
    """The PAL could not push a trap frame: the machine halts, as real PALcode
    would with a kernel-stack-not-valid halt."""


class UnsavedHandler:
    """Stands in, after a restore, for a Python entry handler (the SPIN
    kernel's), which a state file cannot hold. It is saved and hashed as the
    handler was ("python"); entering it halts the machine, saying why, until
    its owner installs the handler again."""

    def __call__(self, pal: OsfPal, entry: int) -> None:
        raise Halt(f"{ENTRY_NAMES[entry]}: the saved machine had a Python handler here; install it again after "
                   "restoring", 1)  # fmt: skip


class OsfPal(Part):
    STATE_NAME = "pal"
    STATE_FIELDS = ("ps", "ksp", "usp", "kgp", "sysval", "pcbb", "fen", "mces", "vptptr", "idle", "entries", "pending",
                    "counts")  # fmt: skip
    NOT_STATE = {"cpu": "a link to the CPU", "mmu": "a link to the MMU",
                 "last_trap": "the last trap delivered, for reports; what runs next does not depend on it"}  # fmt: skip

    def __init__(self, cpu: CPU, mmu: MMU) -> None:
        self.cpu = cpu
        self.mmu = mmu
        self.ps = 7  # kernel mode, IPL 7: how the console hands over the machine
        self.ksp = 0
        self.usp = 0
        self.kgp = 0
        self.sysval = 0
        self.pcbb = 0
        self.fen = 1
        self.mces = 0
        self.vptptr = 0
        self.entries: list[Handler | None] = [None] * 6
        self.pending: dict[int, dict[int, int]] = {}  # IPL -> {vector: type}, oldest request first
        self.idle = False  # set by wtint: the machine skips ahead to its next event
        self.counts = [0] * 6  # entries taken, per entry point
        self.last_trap: Trap | None = None  # the trap ``deliver`` last turned into an entry, for reports

    # --- saved state ----------------------------------------------------------------

    def save_state(self) -> dict[str, Any]:
        return {"ps": self.ps, "ksp": self.ksp, "usp": self.usp, "kgp": self.kgp, "sysval": self.sysval,
                "pcbb": self.pcbb, "fen": self.fen, "mces": self.mces, "vptptr": self.vptptr, "idle": self.idle,
                "entries": [e if isinstance(e, int) or e is None else "python" for e in self.entries],
                "pending": [list(p) for p in self.requests()],
                "counts": list(self.counts)}  # fmt: skip

    def check_state(self, saved: object) -> dict[str, Any]:
        s = obj(saved, "pal", self.STATE_FIELDS)
        for k in ("ksp", "usp", "kgp", "sysval", "pcbb", "vptptr"):
            integer(s[k], f"pal.{k}", U64)
        integer(s["ps"], "pal.ps", (0, 0xF))
        integer(s["fen"], "pal.fen", (0, 1))
        integer(s["mces"], "pal.mces", (0, 0x1F))
        boolean(s["idle"], "pal.idle")
        for i, e in enumerate(items(s["entries"], "pal.entries", 6)):
            if e is not None and e != "python":
                integer(e, f"pal.entries[{i}]", U64)
        seen: set[tuple[int, int]] = set()
        for i, p in enumerate(items(s["pending"], "pal.pending", most=PENDING_MOST)):
            ipl, _, vector = integers(p, f"pal.pending[{i}]", 3, U64)
            if ipl > 31:
                raise Misfit(f"pal.pending[{i}]: interrupt level {ipl} is not 0..31")
            if (ipl, vector) in seen:
                raise Misfit(f"pal.pending[{i}]: vector {vector:#x} is requested twice at interrupt level {ipl}")
            seen.add((ipl, vector))
        integers(s["counts"], "pal.counts", 6, COUNT)
        return s

    def apply_state(self, checked: dict[str, Any]) -> None:
        for k in ("ps", "ksp", "usp", "kgp", "sysval", "pcbb", "fen", "mces", "vptptr", "idle"):
            setattr(self, k, checked[k])
        self.counts = list(checked["counts"])
        self.entries = [self._python(i) if e == "python" else e for i, e in enumerate(checked["entries"])]
        self.pending = {}
        for ipl, k, v in checked["pending"]:
            self.pending.setdefault(ipl, {})[v] = k

    def _python(self, entry: int) -> Handler:
        """The Python handler installed at ``entry`` (a machine loading a
        state keeps its kernel's), else a stand-in that says one is missing."""
        e = self.entries[entry]
        return e if e is not None and not isinstance(e, int) else UnsavedHandler()

    # --- state helpers --------------------------------------------------------------

    @property
    def mode(self) -> int:
        return MODE_USER if self.ps & PS_USER else MODE_KERNEL

    @property
    def ipl(self) -> int:
        return self.ps & 7

    def _set_ps(self, ps: int) -> None:
        old_mode = self.mode
        self.ps = ps & 0xF
        if self.mode != old_mode:
            self.mmu.mode = self.mode
            self.cpu.flush_host_caches()  # the cached page lookups were for the other mode

    def _push_frame(self, values: tuple[int, ...]) -> None:
        sp = (self.cpu.r[30] - FRAME_SIZE) & M64
        try:
            for i, v in enumerate(values):
                pa = self.mmu.translate(sp + 8 * i, 1, MODE_KERNEL)
                self.mmu.memory.write_q(pa, v)
        except MemFault as e:
            raise DoubleFault(f"kernel stack not valid: cannot push a trap frame at {e.va:#x}") from None
        self.cpu.r[30] = sp

    def _pop_frame(self) -> list[int]:
        sp = self.cpu.r[30]
        out = []
        try:
            for i in range(6):
                out.append(self.mmu.memory.read_q(self.mmu.translate(sp + 8 * i, 0, MODE_KERNEL)))
        except MemFault as e:
            raise DoubleFault(f"kernel stack not valid: cannot pop the trap frame at {e.va:#x}") from None
        return out

    # --- entering the kernel ------------------------------------------------------------

    def enter(self, entry: int, a0: int, a1: int, a2: int, pc: int, new_ipl: int | None = None) -> None:
        """Kernel entry with the OSF/1 frame (alpha-machine.md §3.3)."""
        cpu = self.cpu
        r = cpu.r
        old_ps = self.ps
        if old_ps & PS_USER:
            self.usp = r[30]
            r[30] = self.ksp
        self._set_ps((old_ps & 7) if new_ipl is None else new_ipl)
        self._push_frame((old_ps, pc & M64, r[29], r[16], r[17], r[18]))
        r[29] = self.kgp
        r[16], r[17], r[18] = a0 & M64, a1 & M64, a2 & M64
        cpu.cycles += PAL_ENTRY_CYCLES
        self.counts[entry] += 1
        handler = self.entries[entry]
        if handler is None:
            raise Halt(f"{ENTRY_NAMES[entry]} taken with no handler installed (wrent)", 1)
        if isinstance(handler, int):
            cpu.pc = handler
        else:
            cpu.pc = (pc + 4) & M64  # a Python handler decides where execution resumes
            handler(self, entry)

    def deliver(self, trap: Trap) -> None:
        """Turn a CPU trap into the matching kernel entry."""
        self.last_trap = trap
        nxt = (trap.pc + 4) & M64
        if isinstance(trap, MemoryTrap):
            self.enter(ENT_MM, trap.va, trap.mmcsr, trap.cause, trap.pc)
        elif isinstance(trap, Unaligned):
            self.enter(ENT_UNA, trap.va, trap.opcode, trap.ra, nxt)
        elif isinstance(trap, ArithmeticTrap):
            self.enter(ENT_ARITH, trap.summary, trap.mask, 0, nxt)
        elif isinstance(trap, IllegalInstruction):
            self.enter(ENT_IF, IF_OPCDEC, 0, 0, nxt)
        else:
            raise Halt(f"unexpected trap {trap.kind} at {trap.pc:#x}", 1)

    def post_interrupt(self, ipl: int, kind: int, vector: int) -> None:
        """A device (named by its SCB vector) or the clock requests an
        interrupt at ``ipl``, taken when PS.IPL < ipl. Every device's request
        is kept: on the 21064 device lines are level-sensitive, so two devices
        at one level (the disk and the Lance, both IPL 3) each go on asking
        until served. A device asking again while its request is still
        pending changes nothing (its line is already asserted)."""
        self.pending.setdefault(ipl, {})[vector] = kind

    def clear_interrupt(self, ipl: int, vector: int) -> bool:
        """Withdraw that one device's request (a driver that polled its
        device and served it); other devices' requests at ``ipl`` stay.
        True if there was one."""
        level = self.pending.get(ipl)
        if level is None or vector not in level:
            return False
        del level[vector]
        if not level:
            del self.pending[ipl]
        return True

    def requests(self) -> list[tuple[int, int, int]]:
        """The pending requests as (ipl, type, vector), by level, each level in
        the order its requests will be taken (the saved state's order too)."""
        return [(ipl, k, v) for ipl in sorted(self.pending) for v, k in self.pending[ipl].items()]

    def take_interrupt(self) -> bool:
        """Enter entInt for the highest pending level above the IPL; within a
        level, the oldest request first (post order: fair, and deterministic
        because devices post from the machine's ordered event queue). Taking
        a request consumes it: the kernel's handler serves the device (reads
        and acknowledges its status) before the IPL drops again, so the level
        would have fallen by then; a device with more to say posts again."""
        if not self.pending:
            return False
        ipl = max(self.pending)
        if ipl <= self.ipl:
            return False
        level = self.pending[ipl]
        vector = next(iter(level))
        kind = level.pop(vector)
        if not level:
            del self.pending[ipl]
        self.enter(ENT_INT, kind, vector, 0, self.cpu.pc, new_ipl=ipl)
        return True

    # --- leaving the kernel ----------------------------------------------------------

    def rti(self) -> None:
        """Pop PS, PC, gp, a0, a1, a2; back to user mode switches stacks."""
        cpu = self.cpu
        ps, pc, gp, a0, a1, a2 = self._pop_frame()
        r = cpu.r
        r[30] = (r[30] + FRAME_SIZE) & M64
        r[29], r[16], r[17], r[18] = gp, a0, a1, a2
        if ps & PS_USER:
            self.ksp = r[30]
            r[30] = self.usp
        cpu.lock_addr = -1
        self._set_ps(ps)
        cpu.pc = pc & ~3 & M64
        cpu.cycles += PAL_ENTRY_CYCLES

    def retsys(self) -> None:
        """Return from a system call: PC and gp from the frame, user mode."""
        cpu = self.cpu
        _ps, pc, gp, *_ = self._pop_frame()
        r = cpu.r
        self.ksp = (r[30] + FRAME_SIZE) & M64
        r[29] = gp
        r[30] = self.usp
        cpu.lock_addr = -1
        self._set_ps(PS_USER)
        cpu.pc = pc & ~3 & M64
        cpu.cycles += PAL_ENTRY_CYCLES

    # --- CALL_PAL -----------------------------------------------------------------------

    def call_pal(self, cpu: CPU, fn: int, pc: int) -> int:
        nxt = (pc + 4) & M64
        r = cpu.r
        if fn < 0x40:
            if self.ps & PS_USER:
                self.enter(ENT_IF, IF_OPCDEC, 0, 0, nxt)
                return cpu.pc
            op = _PRIVILEGED.get(fn)
        elif 0x80 <= fn < 0xC0:
            op = _UNPRIVILEGED.get(fn)
        else:
            op = None
        if op is None:
            self.enter(ENT_IF, IF_OPCDEC, 0, 0, nxt)
            return cpu.pc
        cpu.pc = nxt
        result = op(self, r)
        return cpu.pc if result is None else result

    def _halt(self, r: list[int]) -> None:
        raise Halt("halt", r[16] & 0xFF)

    def _nop(self, r: list[int]) -> None:
        return None

    def _wrent(self, r: list[int]) -> None:
        if r[17] < 6:
            self.entries[r[17]] = r[16]

    def _swpipl(self, r: list[int]) -> None:
        old = self.ipl
        self._set_ps((self.ps & ~7) | (r[16] & 7))
        r[0] = old

    def _rdps(self, r: list[int]) -> None:
        r[0] = self.ps

    def _wrkgp(self, r: list[int]) -> None:
        self.kgp = r[16]

    def _wrusp(self, r: list[int]) -> None:
        self.usp = r[16]

    def _rdusp(self, r: list[int]) -> None:
        r[0] = self.usp

    def _wrval(self, r: list[int]) -> None:
        self.sysval = r[16]

    def _rdval(self, r: list[int]) -> None:
        r[0] = self.sysval

    def _whami(self, r: list[int]) -> None:
        r[0] = 0

    def _rdmces(self, r: list[int]) -> None:
        r[0] = self.mces

    def _wrmces(self, r: list[int]) -> None:
        self.mces = r[16] & 0x1F

    def _wrfen(self, r: list[int]) -> None:
        self.fen = r[16] & 1

    def _wrvptptr(self, r: list[int]) -> None:
        self.vptptr = r[16]

    def _tbi(self, r: list[int]) -> None:
        code = r[16] - (1 << 64) if r[16] >> 63 else r[16]
        self.mmu.tbi(code, r[17])
        self.cpu.flush_host_caches()  # the CPU's page cache must forget it too

    def _swpctx(self, r: list[int]) -> None:
        r[0] = self.swpctx(r[16])

    def swpctx(self, new: int) -> int:
        """Save KSP, USP, PCC, unique into the old HWPCB; load the new one
        (at physical address ``new``); return the old HWPCB's address."""
        mem = self.mmu.memory
        cpu = self.cpu
        r = cpu.r
        old = self.pcbb
        if old:
            mem.write_q(old + PCB_KSP, r[30])
            mem.write_q(old + PCB_USP, self.usp)
            pcc = mem.read_q(old + PCB_PCC)
            mem.write_q(old + PCB_PCC, (pcc & ~0xFFFF_FFFF) | ((cpu.cycles + cpu.pcc_offset) & 0xFFFF_FFFF))
            mem.write_q(old + PCB_UNIQUE, cpu.unique)
        r[30] = mem.read_q(new + PCB_KSP)
        self.usp = mem.read_q(new + PCB_USP)
        ptbr = mem.read_q(new + PCB_PTBR)
        word = mem.read_q(new + PCB_PCC)
        asn = (word >> 32) & 0xFFFF_FFFF
        cpu.pcc_offset = ((word & 0xFFFF_FFFF) - cpu.cycles) & 0xFFFF_FFFF
        cpu.unique = mem.read_q(new + PCB_UNIQUE)
        self.fen = mem.read_q(new + PCB_FLAGS) & 1
        self.pcbb = new
        self.mmu.switch_context(ptbr, asn)
        cpu.flush_host_caches()  # another space: its pages must be looked up again (code is kept per frame)
        return old

    def _retsys(self, r: list[int]) -> int:
        self.retsys()
        return self.cpu.pc

    def _rti(self, r: list[int]) -> int:
        self.rti()
        return self.cpu.pc

    def _wtint(self, r: list[int]) -> None:
        r[0] = 0
        self.idle = True

    def _bpt(self, r: list[int]) -> int:
        self.enter(ENT_IF, IF_BPT, 0, 0, self.cpu.pc)
        return self.cpu.pc

    def _bugchk(self, r: list[int]) -> int:
        self.enter(ENT_IF, IF_BUGCHK, 0, 0, self.cpu.pc)
        return self.cpu.pc

    def _gentrap(self, r: list[int]) -> int:
        self.enter(ENT_IF, IF_GENTRAP, 0, 0, self.cpu.pc)
        return self.cpu.pc

    def _callsys(self, r: list[int]) -> int:
        if not self.ps & PS_USER:  # a system call from the kernel is a bug check (qemu-palcode)
            self.enter(ENT_IF, IF_BUGCHK, 0, 0, self.cpu.pc)
        else:
            self.enter(ENT_SYS, r[16], r[17], r[18], self.cpu.pc)
        return self.cpu.pc

    def _imb(self, r: list[int]) -> None:
        return None  # the CPU already flushed translated code

    def _rduniq(self, r: list[int]) -> None:
        r[0] = self.cpu.unique

    def _wruniq(self, r: list[int]) -> None:
        self.cpu.unique = r[16]


_P = PAL_FUNCS
_PRIVILEGED: dict[int, Callable[[OsfPal, list[int]], int | None]] = {
    _P["halt"]: OsfPal._halt, _P["cflush"]: OsfPal._nop, _P["draina"]: OsfPal._nop, _P["cserve"]: OsfPal._nop,
    _P["wripir"]: OsfPal._nop, _P["rdmces"]: OsfPal._rdmces, _P["wrmces"]: OsfPal._wrmces, _P["wrfen"]: OsfPal._wrfen,
    _P["wrvptptr"]: OsfPal._wrvptptr, _P["swpctx"]: OsfPal._swpctx, _P["wrval"]: OsfPal._wrval,
    _P["rdval"]: OsfPal._rdval, _P["tbi"]: OsfPal._tbi, _P["wrent"]: OsfPal._wrent, _P["swpipl"]: OsfPal._swpipl,
    _P["rdps"]: OsfPal._rdps, _P["wrkgp"]: OsfPal._wrkgp, _P["wrusp"]: OsfPal._wrusp,
    _P["wrperfmon"]: OsfPal._nop, _P["rdusp"]: OsfPal._rdusp, _P["whami"]: OsfPal._whami,
    _P["retsys"]: OsfPal._retsys, _P["wtint"]: OsfPal._wtint, _P["rti"]: OsfPal._rti,
}  # fmt: skip
_UNPRIVILEGED: dict[int, Callable[[OsfPal, list[int]], int | None]] = {
    _P["bpt"]: OsfPal._bpt, _P["bugchk"]: OsfPal._bugchk, _P["callsys"]: OsfPal._callsys, _P["imb"]: OsfPal._imb,
    _P["rduniq"]: OsfPal._rduniq, _P["wruniq"]: OsfPal._wruniq, _P["gentrap"]: OsfPal._gentrap,
}  # fmt: skip
