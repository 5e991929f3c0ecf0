"""Externalized references: kernel objects at user level as indices (SOSP'95 §3.1)."""

import re

from kernel.core.trap import caller
from kernel.sys.capability import GEN_BITS, SLOT_BITS, ExternalRefs
from kernel.sys.errors import BadCapability
from scenarios.engine import Lesson

lesson = Lesson(
    "external_references",
    "Externalized references",
    "A kernel object handed to a process as an index into its own table: forged, foreign and stale indices refused.",
)

OPEN, BUMP, CLOSE = 0x7200, 0x7201, 0x7202
EBADF = 9
LINE = re.compile(r"^(.+?): bump (0x[0-9a-f]+) -> (-?\d+)$", re.M)
FORGER = """
from spin import Dispatcher

def init():
    Dispatcher.Uninstall(12345)
"""


class Counter:
    """The kernel object the service hands out: a counter user code can only bump."""

    def __init__(self) -> None:
        self.value = 0


class RefService:
    """The lesson's kernel service (trusted kernel code, like the UNIX
    personality): three system calls that hand out, use and release a kernel
    counter through the caller's table of externalized references
    (kernel/sys/capability.py ExternalRefs), one table per address space."""

    def __init__(self, k):
        self.tables = {}  # Space -> ExternalRefs
        self.refused = []  # (pid, reference, why)
        ev = k.event("Trap.SystemCall")
        k.dispatcher.install_handler(ev, self.call, self.ours, owner="RefService")

    @staticmethod
    def ours(strand, state):
        return OPEN <= state.v0 <= CLOSE

    def table(self, state):
        space = caller(state).space
        if space not in self.tables:
            self.tables[space] = ExternalRefs(tag=space.id)
        return self.tables[space]

    def call(self, strand, state):
        refs = self.table(state)
        try:
            if state.v0 == OPEN:
                state.result = refs.externalize(Counter(), "counter")
            elif state.v0 == BUMP:
                c = refs.internalize(state.a0, "counter")
                c.value += 1
                state.result = c.value
            else:
                refs.release(state.a0)
                state.result = 0
        except BadCapability as e:
            self.refused.append((state.pid, state.a0, str(e)))
            state.result = -EBADF


def run_extref(run, mode):
    k = run.boot(init="extref", argv=["extref", mode])
    svc = RefService(k)
    run.run_until_exit(k)
    out = run.console(k)
    bumps = [(m[1], int(m[2], 16), int(m[3])) for m in LINE.finditer(out)]
    return k, svc, out, bumps


def decode(ref):
    return ref >> (SLOT_BITS + GEN_BITS), (ref >> SLOT_BITS) & ((1 << GEN_BITS) - 1), ref & ((1 << SLOT_BITS) - 1)


def why(svc):
    return "; ".join(f"pid {p}: {w}" for p, _, w in svc.refused) or "nothing was refused"


@lesson.step(
    "A reference is an index",
    pane="Console",
    watch=True,
    narration="""
SPIN hands a kernel object to user code as an **externalized reference** (SOSP'95 §3.1):
the kernel keeps the object in a table of the process's address space and gives the
process an index into it, never a pointer. User code can only pass the index back in a
system call; the kernel looks it up again each time.

Here the lesson installs a small kernel service (trusted kernel code on `Trap.SystemCall`,
calls `0x7200`-`0x7202`; it is the workbench's own, not one of SPIN's) that hands out a
kernel counter. `extref own` opens one and bumps it twice. Read the reference it got off
the **Console** pane.
""",
)
def own(run):
    k, svc, out, bumps = run_extref(run, "own")
    m = re.search(r"open -> reference (0x[0-9a-f]+)", out)
    ref = int(m[1], 16) if m else -1
    run.state["ref"] = ref
    run.state["space"] = next((space.id for space in svc.tables), None)
    run.check("the process got a reference", ref > 0, out.strip())
    run.check("bumping it twice counted to 2", [b[2] for b in bumps] == [1, 2], str(bumps))
    run.check("nothing was refused", not svc.refused, why(svc))
    run.ask("What reference did the kernel hand the process?", f"{ref:#x}")


@lesson.step(
    "What the index packs",
    pane="Scenario",
    narration="""
In SPIN the index is a plain slot number in the address space's table. The workbench packs
two more fields into it, its own addition: the table's **tag** (which address space, here
the address space's id) and a **generation** that changes each time the slot is reused.
So the kernel can tell a forged index, another process's index and a stale one apart, and
say which. The table below splits the reference from step 1.
""",
)
def fields(run):
    ref = run.state.get("ref", 0)
    tag, gen, slot = decode(ref)
    run.exhibit("the reference from step 1, bit by bit", ["field", "bits", "value"],
                [["tag (address space)", f"{SLOT_BITS + GEN_BITS}..", tag],
                 ["generation", f"{SLOT_BITS}..{SLOT_BITS + GEN_BITS - 1}", gen],
                 ["slot", f"0..{SLOT_BITS - 1}", slot]])  # fmt: skip
    run.check("the first reference is slot 0, generation 1", (gen, slot) == (1, 0), f"gen {gen}, slot {slot}")
    space = run.state.get("space")
    run.check("the tag is the id of the process's address space", tag == space, f"tag {tag}, address space {space}")
    run.ask("Which address space's tag does the reference carry?", tag)


@lesson.step(
    "A forged index",
    pane="Console",
    narration="""
`extref forged` passes two indices it made up: its own plus 5 (a slot never handed out:
refused as forged) and its own with the generation changed (slot 0 holds no object of that
generation: refused as stale). Each bump answers `-EBADF` (-9, on the **Console** pane);
the kernel's reasons are the checks' detail. A process cannot name a kernel object it was
not given.
""",
)
def forged(run):
    k, svc, out, bumps = run_extref(run, "forged")
    got = [r for what, _, r in bumps if what == "forged"]
    run.check("the forged index is refused", got == [-EBADF, -EBADF], why(svc))
    run.check("the refusals name a forged index", any("forged" in w for _, _, w in svc.refused), why(svc))
    own = [(ref, r) for w, ref, r in bumps if w == "own"]
    try:  # the lesson's service still holds the table: read the process's counter through its own index
        value = next(iter(svc.tables.values())).internalize(own[0][0], "counter").value if own else None
    except BadCapability as e:
        value = str(e)
    run.check("the forged bumps left the process's own counter at 2", [r for _, r in own] == [1, 2] and value == 2,
              f"own bumps {[r for _, r in own]}; the counter after the forged bumps: {value}")  # fmt: skip
    run.ask("What does a bump of a forged index return?", got[0] if got else "?")


@lesson.step(
    "Another process's reference",
    pane="Console",
    narration="""
`extref child` forks. The child gets a new address space, and with it a new, empty table:
the parent's index, the same number, means nothing there. The child's bump is refused
(-9); the parent's next bump sees its counter at 3, untouched by the child.
""",
)
def foreign(run):
    k, svc, out, bumps = run_extref(run, "child")
    child = [r for w, _, r in bumps if w == "child"]
    again = [r for w, _, r in bumps if w == "parent again"]
    run.check("the child's bump of the parent's reference is refused", child == [-EBADF], why(svc))
    run.check("the kernel says it belongs to another address space",
              any("another address space" in w for _, _, w in svc.refused), why(svc))  # fmt: skip
    run.check("the parent's counter went on from 2 to 3", again == [3], str(again))
    run.ask("What did the parent's bump after the child's return?", again[0] if again else "?")


@lesson.step(
    "A stale reference",
    pane="Console",
    narration="""
`extref stale` closes its reference, opens a new counter (the table reuses slot 0) and
then bumps the old index. The slot is live again, but with a new generation, so the old
index is refused as stale instead of reaching the new object. Compare the two references
on the **Console** pane: they differ only in the generation field.
""",
)
def stale(run):
    k, svc, out, bumps = run_extref(run, "stale")
    m = re.search(r"\nopen -> reference (0x[0-9a-f]+)", out)
    again = int(m[1], 16) if m else -1
    old = run.state.get("ref", 0)
    s = [r for w, _, r in bumps if w == "stale"]
    run.check("the stale index is refused", s == [-EBADF], why(svc))
    run.check("the kernel says it is stale", any("stale" in w for _, _, w in svc.refused), why(svc))
    run.check("the new reference reuses the slot with the next generation",
              decode(again)[1:] == (2, 0) and decode(again)[0] == decode(old)[0], f"{old:#x} then {again:#x}")  # fmt: skip
    run.check("the new counter starts afresh", [r for w, _, r in bumps if w == "new"] == [1], out)
    run.ask("What reference did the second open return?", f"{again:#x}")


@lesson.step(
    "Inside the kernel: handles",
    pane="Scenario",
    narration="""
An extension runs in the kernel, so it gets kernel objects as references, not indices: a
`Handle` it can pass back but not open. In SPIN, Modula-3's type safety made such a
reference unforgeable; the workbench gets the same from its verifier of Python source,
which forbids the handle's private slot, and from interfaces that check what they are
given. An extension that passes a number where a binding handle belongs is refused at load.
""",
)
def handles(run):
    k = run.boot()
    why = run.try_load(k, FORGER, "forger.py")
    run.check("the forged handle is refused", "forged reference" in why, why)
    run.check("nothing of it stays loaded", "forger" not in k.system.extensions,
              "loaded: " + (", ".join(k.system.extensions) or "no extension"))  # fmt: skip
    run.exhibit("the refusal", ["message"], [[line] for line in why.splitlines()])
    run.ask("What did the extension pass where a binding handle belongs?", "int" if "got int" in why else "?")
