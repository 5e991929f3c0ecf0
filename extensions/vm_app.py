"""Application-specific virtual memory, the SPIN way (SOSP'95 §5.2, Table 4).

The UNIX way to watch a page is mprotect and a SIGSEGV handler: every fault
crosses into the kernel, out to the handler, in again for mprotect, out,
in for sigreturn and out again. This extension lets an application do the
same work inside the kernel instead. It offers four application-specific
system calls (guarded on the call number, so the UNIX personality never
sees them) and handles Translation.ProtectionFault for the regions an
application has asked it to watch (guarded on the faulting map and address,
so no other process's faults come here):

    0x7100 vm_protect(addr, len, prot)   change protection: 0 none, 1 r, 3 rw
    0x7101 vm_dirty(addr)                1 if the page was written since it was watched
    0x7102 vm_watch(addr, len, mode)     handle write faults in the range:
                                         1 unprotect the page; 2 also protect the next
                                         page (Appel1); 3 also record trap latency
    0x7103 vm_stats(which)               0 trap cycles, 1 traps, 2 crossings at the last trap

A fault in a watched range is fixed here, in the faulting strand's own
kernel entry: one crossing in, one out.
"""

from spin import Clock, Dispatcher, Translation, Trap

BASE = 0x7100
PAGE = 8192
EINVAL = 22
PROTS = {0: "", 1: "r", 3: "rw"}
MAX_LEN = 1 << 32

watches = []  # [map, start, end, mode]
dirty = {}  # (map, page) -> True
stats = [0, 0, 0]


def ours(strand, state):
    return BASE <= state.v0 < BASE + 4


def find(m, address):
    for w in watches:
        if w[0] == m and w[1] <= address < w[2]:
            return w
    return None


def watched(strand, state):
    return state.kind == "write" and find(state.map, state.address) is not None


def on_fault(strand, state):
    if state.done:
        return
    w = find(state.map, state.address)
    if w[3] == 3:
        stats[0] += Clock.Now() - state.time
        stats[1] += 1
        stats[2] = Clock.Crossings()
    page = state.address - state.address % PAGE
    Translation.Protect(state.map, page, PAGE, "rw")
    dirty[(state.map, page)] = True
    if w[3] == 2:
        other = page + PAGE
        if other >= w[2]:
            other = w[1]
        Translation.Protect(state.map, other, PAGE, "r")
    state.done = True


def call(strand, state):
    n = state.v0 - BASE
    if n == 0:
        if state.a1 > MAX_LEN or state.a0 % PAGE or state.a2 not in PROTS:
            state.result = -EINVAL
            return
        state.result = Translation.Protect(state.map, state.a0, state.a1, PROTS[state.a2])
    elif n == 1:
        page = state.a0 - state.a0 % PAGE
        state.result = 1 if (state.map, page) in dirty else 0
    elif n == 2:
        if state.a1 > MAX_LEN or state.a0 % PAGE or state.a2 not in (1, 2, 3):
            state.result = -EINVAL
            return
        watches.append([state.map, state.a0, state.a0 + state.a1, state.a2])
        state.result = 0
    elif state.a0 < 3:
        state.result = stats[state.a0]
    else:
        state.result = -EINVAL


def init():
    Dispatcher.InstallHandler(Trap.SystemCall, call, ours)
    Dispatcher.InstallHandler(Translation.ProtectionFault, on_fault, watched, first=True)
