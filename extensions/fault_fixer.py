"""Fix protection faults on one region, the "done" protocol in action.

Fault events (Translation.ProtectionFault and friends) pass a `state` whose `done`
flag says whether some handler has already fixed the fault
(spin-reference.md §4). Every handler checks it first and sets it when it
fixes the fault; the kernel's own handler, installed Last, ends the thread
only if nobody did. This one makes pages of a watched region writable on
first write, the way an incremental checkpointer or a garbage collector's
write barrier would (SOSP'95 §5.2, the Appel-Li benchmarks).
"""

from spin import Console, Dispatcher, Translation

REGION = (0x200000000, 0x200100000)
fixed = []


def in_region(strand, state):
    return REGION[0] <= state.address < REGION[1]


def unprotect(strand, state):
    if state.done:
        return
    page = state.address - state.address % 8192
    Translation.Protect(state.map, page, 8192, "rw")
    fixed.append(page)
    state.done = True
    Console.Print(f"fault_fixer: made {page:#x} writable")


def init():
    Dispatcher.InstallHandler(Translation.ProtectionFault, unprotect, in_region, first=True)
