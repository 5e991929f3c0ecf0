"""Count system calls by number, without changing what they do.

Trap.SystemCall is raised for every system call (SOSP'95 §4.3). This
extension adds a handler that only records, installed First so it sees each
call before the UNIX personality handles it. It sets a small fuel bound:
a counting handler that ran long would be a bug, and the dispatcher will
abort it (and report) rather than let it slow every system call.
"""

from spin import Console, Dispatcher, Trap

counts = {}


def record(strand, state):
    number = state.v0
    counts[number] = counts.get(number, 0) + 1


def report():
    """Called from the workbench shell: the five most frequent calls."""
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:5]
    for number, n in top:
        Console.Print(f"syscall {number}: {n} calls")


def init():
    Dispatcher.InstallHandler(Trap.SystemCall, record, first=True, bound=200)
