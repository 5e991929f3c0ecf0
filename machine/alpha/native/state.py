"""The native tier's state page: the arena's first bytes (machine/arena.py STATE).

Offsets in bytes, all fields little-endian u64:

    0      r0..r31                      the register file, passed by memory
    256    pc, icount, cycles, limit, climit, exit_va, next
    1024   read TB tags  [256]          vpn, or all ones when empty
    3072   read TB offsets [256]        arena offset of that page's frame
    5120   write TB tags [256]          a frame holding code never enters the write TB
    7168   write TB offsets [256]
    9216   chain tags [256]             vpn whose current module may be entered from another's exit
    11264  chain slots [256]            that module's index in the store's function table

The TB is direct-mapped on the low 8 bits of the vpn: one compare inline per
access. Entries are copies of the CPU's own ``rtlb``/``wtlb`` entries, so
permissions, faults, watchpoints and code frames stay the CPU's business.

The chain map is direct-mapped the same way. An entry stands only while its
page's blocks are published (the translator clears it when it parks or drops
the page, so a mode switch, a TB invalidation, a context switch or a store to
the code removes it): a jump that leaves one page's module for another's then
goes on natively (``next`` names the module to run) instead of through Python,
and never reaches a page the current mode has not looked up for execution.
"""

from __future__ import annotations

REGS, PC, ICOUNT, CYCLES, LIMIT, CLIMIT, EXIT_VA, NEXT = 0, 256, 264, 272, 280, 288, 296, 304
RTAG, ROFF, WTAG, WOFF = 1024, 3072, 5120, 7168
CTAG, CSLOT = 9216, 11264
TB_ENTRIES = 256
CHAIN_ENTRIES = 256
