"""A lottery scheduler for the strands that ask for one (Waldspurger & Weihl
94), as an application-specific scheduler on the workbench.

The mechanism is the workbench's own, not SPIN's: SPIN places an
application scheduler on the Strand events (SOSP'95 §4.2: it presents
itself to the global scheduler as a thread package, runs its strands when
Resume is raised and gives up the processor at Checkpoint;
spin-reference.md §3). A handler here cannot take the processor, so the
workbench offers Sched.NewGroup, Sched.Adopt and the Sched.Choose event
instead.

The extension makes a scheduler group, one entry in the global run queue.
A process joins with the application-specific call 0x7400
lottery_join(tickets), 1..1000 tickets; its strand moves into the group.
Whenever the global scheduler reaches the group, it raises Sched.Choose
with the group's ready strands, and this handler -- guarded on the group, so
no other group's choice comes here -- draws a ticket. Over time each member
runs in proportion to its tickets; strands outside the group keep their
round-robin share, since the group is one entry among them.

The draw is a xorshift generator with a fixed seed: the same run gives the
same schedule (the workbench's determinism rule).
"""

from spin import Dispatcher, Sched, Trap

JOIN = 0x7400
MASK = 0xFFFFFFFFFFFFFFFF
EINVAL = 22

group = [None]
tickets = {}  # strand id -> tickets
seed = [0x2545F4914F6CDD1D]
draws = [0]


def draw(n):
    x = seed[0]
    x ^= (x << 13) & MASK
    x ^= x >> 7
    x ^= (x << 17) & MASK
    seed[0] = x
    draws[0] += 1
    return x % n


def ours(g, ready):
    return group[0] is not None and g.id == group[0].id


def choose(g, ready):
    total = 0
    for s in ready:
        total += tickets.get(s, 1)
    n = draw(total)
    for s in ready:
        n -= tickets.get(s, 1)
        if n < 0:
            return s
    return ready[0]


def is_join(strand, state):
    return state.v0 == JOIN


def join(strand, state):
    if state.a0 < 1 or state.a0 > 1000:
        state.result = -EINVAL
        return
    tickets[strand.id] = state.a0
    Sched.Adopt(group[0], strand)
    state.result = 0


def init():
    group[0] = Sched.NewGroup("lottery")
    Dispatcher.InstallHandler(Sched.Choose, choose, ours)
    Dispatcher.InstallHandler(Trap.SystemCall, join, is_join)
