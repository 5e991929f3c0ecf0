"""The native tier's state page: the arena's first bytes (machine/arena.py STATE).

Offsets in bytes, all fields little-endian u64:

    0      r0..r31                      the register file, passed by memory
    256    pc, icount, cycles, limit, climit, exit_va
    1024   read TB tags  [256]          vpn, or all ones when empty
    3072   read TB offsets [256]        arena offset of that page's frame
    5120   write TB tags [256]          a frame holding code never enters the write TB
    7168   write TB offsets [256]

The TB is direct-mapped on the low 8 bits of the vpn: one compare inline per
access. Entries are copies of the CPU's own ``rtlb``/``wtlb`` entries, so
permissions, faults, watchpoints and code frames stay the CPU's business.
"""

from __future__ import annotations

REGS, PC, ICOUNT, CYCLES, LIMIT, CLIMIT, EXIT_VA = 0, 256, 264, 272, 280, 288, 296
RTAG, ROFF, WTAG, WOFF = 1024, 3072, 5120, 7168
TB_ENTRIES = 256
