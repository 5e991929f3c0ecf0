"""Volunteer a frame of one's own when PhysAddr reclaims (SOSP'95 §4.1).

"The physical page service may at any time reclaim physical memory by
raising the PhysAddr.Reclaim event. The interface allows the handler for
this event to volunteer an alternative page, which may be of less
importance than the candidate page." This extension keeps SPARES frames it
can do without (a scratch pool, say) and handles PhysAddr.Reclaim: while it
has a spare it returns that frame's handle, volunteering it in place of the
kernel's candidate; with none left it returns the candidate, and the kernel
takes that. The kernel revokes the handle of a frame it takes, so the list
below keeps only what the extension still holds.

Settings: SPARES (how many frames to keep, 4).
"""

from spin import Dispatcher, PhysAddr

SPARES = 4
spares = []  # handles of the frames it can give up
kept = []  # their frame numbers, as allocated
given = []  # [candidate frame number, candidate tag, frame number volunteered]
declined = []  # [candidate frame number, candidate tag]: asked with no spare left


def volunteer(candidate):
    if spares:
        h = spares.pop(0)
        given.append([candidate.pfn, candidate.tag, PhysAddr.Number(h)])
        return h
    declined.append([candidate.pfn, candidate.tag])
    return candidate


def init():
    for i in range(SPARES):
        h = PhysAddr.Allocate(f"spare {i}")
        spares.append(h)
        kept.append(PhysAddr.Number(h))
    Dispatcher.InstallHandler(PhysAddr.Reclaim, volunteer)
