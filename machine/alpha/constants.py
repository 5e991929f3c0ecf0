"""Architectural constants of the Alpha AXP, named as the manuals name them.

Sources: Alpha Architecture Reference Manual; alpha-machine.md §2-3; QEMU
target/alpha/cpu.h for the AMASK/IMPLVER values of each CPU model.
"""

from __future__ import annotations

M64 = 0xFFFF_FFFF_FFFF_FFFF
SIGN64 = 1 << 63

PAGE_SHIFT = 13  # 8 KiB pages
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = PAGE_SIZE - 1

# Integer register names as objdump prints them (alpha-machine.md §5).
REG_NAMES = (
    "v0", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7",
    "s0", "s1", "s2", "s3", "s4", "s5", "fp",
    "a0", "a1", "a2", "a3", "a4", "a5",
    "t8", "t9", "t10", "t11", "ra", "t12", "at", "gp", "sp", "zero",
)  # fmt: skip
# Extra names GNU as accepts.
REG_ALIASES = {"s6": 15, "pv": 27, "$fp": 15, "$sp": 30, "$gp": 29, "$at": 28, "$ra": 26}

# AMASK feature bits (Alpha ARM appendix D; QEMU cpu.h).
AMASK_BWX = 0x001
AMASK_FIX = 0x002
AMASK_CIX = 0x004
AMASK_MVI = 0x100
AMASK_TRAP = 0x200
AMASK_PREFETCH = 0x1000

# CPU models: (IMPLVER, AMASK features) — the same pairs QEMU uses.
CPU_MODELS: dict[str, tuple[int, int]] = {
    "ev4": (0, 0),
    "ev5": (1, 0),
    "ev56": (1, AMASK_BWX),
    "pca56": (1, AMASK_BWX | AMASK_MVI),
    "ev6": (2, AMASK_BWX | AMASK_FIX | AMASK_MVI | AMASK_TRAP),
    "ev67": (2, AMASK_BWX | AMASK_FIX | AMASK_CIX | AMASK_MVI | AMASK_TRAP | AMASK_PREFETCH),
}
DEFAULT_CPU = "ev4"  # the DEC 3000/400's 21064

# entArith exception summary bits (alpha-machine.md §3.3).
EXC_SWC = 1
EXC_INV = 2
EXC_DZE = 4
EXC_FOV = 8
EXC_UNF = 16
EXC_INE = 32
EXC_IOV = 64

# FPCR bits (Alpha ARM 4.7.8).
FPCR_SUM = 1 << 63
FPCR_INED = 1 << 62
FPCR_UNFD = 1 << 61
FPCR_UNDZ = 1 << 60
FPCR_DYN_SHIFT = 58
FPCR_IOV = 1 << 57
FPCR_INE = 1 << 56
FPCR_UNF = 1 << 55
FPCR_OVF = 1 << 54
FPCR_DZE = 1 << 53
FPCR_INV = 1 << 52
FPCR_OVFD = 1 << 51
FPCR_DZED = 1 << 50
FPCR_INVD = 1 << 49
FPCR_DNZ = 1 << 48
FPCR_DNOD = 1 << 47

# Rounding modes as encoded in fn11 bits 7:6 and FPCR<59:58>.
ROUND_CHOPPED = 0
ROUND_MINUS = 1
ROUND_NORMAL = 2
ROUND_DYNAMIC = 3  # fn11 only: use FPCR<DYN>
ROUND_PLUS = 3  # FPCR<DYN> value 3

# fn11 trap-qualifier bits.
QUAL_U = 0x100  # also /V on conversions to integer
QUAL_I = 0x200
QUAL_S = 0x400

# entIF codes (alpha-machine.md §3.3).
IF_BPT = 0
IF_BUGCHK = 1
IF_GENTRAP = 2
IF_FEN = 3
IF_OPCDEC = 4

# entMM MMCSR codes and causes (alpha-machine.md §4).
MMCSR_TNV = 0
MMCSR_ACV = 1
MMCSR_FOR = 2
MMCSR_FOE = 3
MMCSR_FOW = 4
CAUSE_IFETCH = -1
CAUSE_LOAD = 0
CAUSE_STORE = 1

# CALL_PAL function codes used outside the PAL layer.
PAL_HALT = 0x00
PAL_BPT = 0x80
PAL_BUGCHK = 0x81
PAL_CALLSYS = 0x83
PAL_IMB = 0x86
PAL_RDUNIQUE = 0x9E
PAL_WRUNIQUE = 0x9F
PAL_GENTRAP = 0xAA

CLOCK_HZ = 133_000_000  # DEC 3000/400: 133 MHz 21064
# A TB miss on the 21064 traps to PALcode, which walks the three-level table
# (three loads that usually hit the board cache) and refills the TB: about
# 30 cycles. A modeled figure; it moves virtual time only.
TB_MISS_CYCLES = 30

# OSF/1 CALL_PAL function names (alpha-machine.md §3.1) for the assembler.
PAL_FUNCS = {
    "halt": 0x00, "cflush": 0x01, "draina": 0x02, "cserve": 0x09, "swppal": 0x0A, "wripir": 0x0D,
    "rdmces": 0x10, "wrmces": 0x11, "wrfen": 0x2B, "wrvptptr": 0x2D, "swpctx": 0x30, "wrval": 0x31,
    "rdval": 0x32, "tbi": 0x33, "wrent": 0x34, "swpipl": 0x35, "rdps": 0x36, "wrkgp": 0x37,
    "wrusp": 0x38, "wrperfmon": 0x39, "rdusp": 0x3A, "whami": 0x3C, "retsys": 0x3D, "wtint": 0x3E,
    "rti": 0x3F, "bpt": 0x80, "bugchk": 0x81, "callsys": 0x83, "imb": 0x86, "rduniq": 0x9E,
    "rdunique": 0x9E, "wruniq": 0x9F, "wrunique": 0x9F, "gentrap": 0xAA, "nphalt": 0xBE,
}  # fmt: skip

# OSF/1 page-table entries (alpha-machine.md §4; Alpha ARM 14.3). OSF/1 PTEs
# have only KRE/URE/KWE/UWE protection bits, not VMS's eight.
PTE_V = 1 << 0
PTE_FOR = 1 << 1
PTE_FOW = 1 << 2
PTE_FOE = 1 << 3
PTE_ASM = 1 << 4
PTE_GH_SHIFT = 5  # granularity hint, bits 6:5 (ignored: every page is 8 KiB)
PTE_KRE = 1 << 8
PTE_URE = 1 << 9
PTE_KWE = 1 << 12
PTE_UWE = 1 << 13
PTE_SOFT_SHIFT = 16  # bits 31:16 belong to software
PTE_PFN_SHIFT = 32

VA_BITS = 43  # implemented virtual address bits; 63:43 must copy bit 42
KSEG_BASE = 0xFFFF_FC00_0000_0000  # superpage: VA<42:41> = 2 maps PA = VA<40:0>
KSEG_SIZE = 1 << 41
USER_LIMIT = 1 << 42  # user VA space: 0 .. 0x3FF_FFFF_FFFF (alpha-machine.md §4)

MODE_KERNEL = 0
MODE_USER = 1

# What a memory access is, as the CPU's page caches, the MMU and the translator name it
# (indexes, not protection bits: kernel/core/sal.py's READ, WRITE, EXECUTE are those).
ACCESS_READ, ACCESS_WRITE, ACCESS_EXEC = 0, 1, 2

# 21064 translation buffers (DECchip 21064 Hardware Reference Manual §2.3):
# an 8-entry instruction TB (plus 4 large-page entries, not modeled since
# granularity hints are ignored) and a 32-entry data TB, both with ASNs.
ITB_ENTRIES = 8
DTB_ENTRIES = 32
