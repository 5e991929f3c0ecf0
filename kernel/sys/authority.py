"""Who may do what with kernel events: the rights an installer holds, and
the authorizer every kernel event starts with.

SOSP'95 §3.3: the module that defines an event is its primary
implementation and decides who may install handlers on it; it may impose
guards so that a handler sees only its own share. Here the share is spelt
out as rights. An extension loaded by the machine's owner (importer
``root`` or ``kernel``) holds all of them; one loaded by a student
(``user``, the default, and everything ``spinwb serve`` loads) holds none,
so it can only add *guarded* handlers that run in order with the kernel's
own, cannot raise kernel events with forged arguments, and -- the UNIX
personality imposes this, kernel/unix/authority.py -- sees only the
processes it was loaded for.
"""

from __future__ import annotations

from typing import Any

from kernel.sys.errors import AuthError

ORDER = "order"  # install First or Cancel: run before, or instead of, the kernel's own handlers
UNGUARDED = "unguarded"  # install a handler with no guard: see every raise of the event
RAISE = "raise"  # raise a kernel event directly, with arguments of one's own making
ALL_PROCESSES = "all-processes"  # see every process's system calls, faults and traps
RIGHTS: dict[str, str] = {
    ORDER: "install First or Cancel handlers on kernel events",
    UNGUARDED: "install handlers without a guard on kernel events",
    RAISE: "raise kernel events directly",
    ALL_PROCESSES: "see every process's system calls and faults, not only its own processes'",
}
PRIVILEGED = frozenset(RIGHTS)
STUDENT: frozenset[str] = frozenset()
PRIVILEGED_IMPORTERS = ("kernel", "root")


def rights_of(importer: str) -> frozenset[str]:
    return PRIVILEGED if importer in PRIVILEGED_IMPORTERS else STUDENT


def rights(binding: Any) -> frozenset[str]:
    """The rights of whoever created ``binding`` (kernel code holds them all)."""
    if binding.trusted:
        return PRIVILEGED
    r = getattr(binding.creator, "rights", STUDENT)
    return r if isinstance(r, frozenset) else STUDENT


def kernel_event(binding: Any, key: Any) -> bool:
    """The authorizer a kernel event starts with: First, Cancel and
    unguarded handlers need the rights for them. Raises AuthError naming
    what is missing, so the installer's message says why."""
    if binding.trusted:
        return True
    have = rights(binding)
    opts = binding.option_names
    need = []
    if ("FIRST" in opts or "CANCEL" in opts) and ORDER not in have:
        need.append((ORDER, "First/Cancel"))
    if binding.guard is None and UNGUARDED not in have:
        need.append((UNGUARDED, "an unguarded handler"))
    if need:
        what = " and ".join(w for _, w in need)
        names = ", ".join(r for r, _ in need)
        raise AuthError(f"{binding.owner}: cannot install {what} on {binding.event.name}: that needs the right "
                        f"{names}, which extensions loaded by a user do not hold -- give the handler a guard "
                        f"and install it in order (without first=/cancel=), or load it as the machine's owner "
                        f"(`load FILE --root` in a local shell, `spinwb run --ext`)")  # fmt: skip
    return True


def may_raise(event: Any, have: frozenset[str]) -> bool:
    return bool(getattr(event, "raisable", False)) or RAISE in have
