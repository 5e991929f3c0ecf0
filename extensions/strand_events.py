"""Watch the strand events a thread package or scheduler handles (SOSP'95
§4.2, Fig. 4): Strand.Block, Unblock, Checkpoint and Resume.

The global scheduler raises Checkpoint when it takes the processor from a
strand and Resume when it gives a strand the processor; Block and Unblock
when a strand stops or becomes able to run. In SPIN an application's thread
package or scheduler handles these for its own strands: Resume is its cue to
restore state (or, for an application scheduler, to run one of its own
strands), Checkpoint the sign that the processor is being reclaimed. This
extension only counts them, per user strand: handlers in the workbench
cannot take the processor (the workbench's own limit), so it observes the
real events the scheduler raises without changing what they do.
"""

from spin import Dispatcher, Strand

counts = {"Block": {}, "Unblock": {}, "Checkpoint": {}, "Resume": {}}


def user_strand(s):
    return s.kind == "user"


def counter(event):
    seen = counts[event]

    def handle(s):
        seen[s.id] = seen.get(s.id, 0) + 1

    return handle


def init():
    Dispatcher.InstallHandler(Strand.Block, counter("Block"), user_strand, bound=100)
    Dispatcher.InstallHandler(Strand.Unblock, counter("Unblock"), user_strand, bound=100)
    Dispatcher.InstallHandler(Strand.Checkpoint, counter("Checkpoint"), user_strand, bound=100)
    Dispatcher.InstallHandler(Strand.Resume, counter("Resume"), user_strand, bound=100)
