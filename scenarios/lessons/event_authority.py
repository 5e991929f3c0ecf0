"""Event authority: authorizers and imposed guards (SOSP'95 §3.2; spin-reference.md §1)."""

from kernel import inspect
from kernel.sys.errors import AuthError
from kernel.sys.trace import Denied
from scenarios.engine import Lesson

lesson = Lesson(
    "event_authority",
    "Who may handle an event",
    "An event's owner decides who installs handlers on it, and imposes a guard on what it lets in.",
)
EVENT = "Trap.SystemCall"

COUNTER = """
from spin import Dispatcher, Trap

seen = []


def any_call(strand, state):
    return True


def count(strand, state):
    seen.append(state.pid)


def init():
    Dispatcher.InstallHandler(Trap.SystemCall, count, any_call)
"""
UNGUARDED = COUNTER.replace("count, any_call)", "count)")
FIRST = COUNTER.replace("count, any_call)", "count, any_call, first=True)")


def boot(run):
    k = run.boot(init="forkcow")
    run.show_event(EVENT)
    return k


def mine(k, owner):
    return [r for r in inspect.bindings(k, EVENT) if r.owner == owner]


@lesson.step(
    "The owner of Trap.SystemCall",
    pane="Events",
    narration="""
In SPIN the module that defines an event is its **authority**: it decides who may install
handlers on it, through an *authorizer* the dispatcher calls on every installation, and it
may *impose guards* on the handlers it lets in (SOSP'95 §3.2). `Trap.SystemCall` is the
kernel's (its authority is `Kernel`). At boot the UNIX personality, which answers processes'
system calls, put in an authorizer in the kernel's name (kernel/unix/authority.py): it first
asks the kernel's own rights check (kernel/sys/authority.py), then imposes a per-process
guard. The **Events** pane shows the event's bindings: who owns each, its guard, and
the calls it has taken. `forkcow` (pid 1, forking pid 2) is loaded but has not run yet.
""",
)
def owner(run):
    k = boot(run)
    ev = k.event(EVENT)
    rows = inspect.bindings(k, EVENT)
    run.state["before"] = len(rows)
    run.check("the event has an authorizer", ev.authorizer is not None, getattr(ev.authorizer, "__qualname__", ""))
    run.check("the UNIX personality's handler is bound", any(r.owner == "UnixPersonality" for r in rows),
              ", ".join(f"#{r.id} {r.owner}" for r in rows))  # fmt: skip
    unix = next((r for r in rows if r.owner == "UnixPersonality"), None)
    run.ask("What is the guard on the UNIX personality's handler?", unix.guard if unix else "?")


@lesson.step(
    "Refused: a handler that would see every call",
    pane="Trace",
    narration="""
A student's extension (loaded by a user, not the machine's owner) asks for a handler with
no guard, then for one installed `first=True`, ahead of the personality's. The kernel's
authorizer (kernel/sys/authority.py) refuses both: each needs a right a user's extension
does not hold. The refusal is the check's detail; the **Trace** pane keeps a `Denied`
record of each, with the reason. SPIN's authorizers answer yes or no as their module
decides; spelling the share out as named rights (`unguarded`, `order`, ...) is the
workbench's own.
""",
)
def refused(run):
    k = boot(run)
    no_guard = run.try_load(k, UNGUARDED, "unguarded.py")
    first = run.try_load(k, FIRST, "first.py")
    run.check("the unguarded handler is refused", "needs the right unguarded" in no_guard, no_guard)
    run.check("the First handler is refused", "needs the right order" in first, first)
    n = len(inspect.bindings(k, EVENT))
    run.check("no binding was added", n == run.state.get("before"), f"{n} bindings")
    denied = [r for r in k.trace.of(Denied) if r.what == f"install on {EVENT}"]
    run.check("the trace has a Denied record for each", len(denied) == 2, "; ".join(r.who for r in denied))
    run.ask("Which extension was refused an unguarded handler?", denied[0].who if denied else "?")


@lesson.step(
    "Let in, with a guard imposed",
    pane="Events",
    narration="""
The same extension with a guard and in order is let in, loaded for pid 2 only (the
`clients` of `System.load`). Its own guard says yes to every call, but the authorizer has
**imposed** a guard of the personality's before it: the calling strand must belong to
pid 2 or a descendant. Find the extension's row on the **Events** pane: the guard column
reads `imposed ..., then any_call`. Imposed guards run first, so the extension's code
never sees another process's registers. (In 33.1 the system-call authorizer's key is a
range of call numbers and a strand; the per-process guard is the workbench's.)
""",
)
def imposed(run):
    k = boot(run)
    k.system.load(COUNTER, "counter.py", clients=(2,))
    rows = mine(k, "counter")
    run.check("the guarded handler was installed", len(rows) == 1, str(len(rows)))
    row = rows[0] if rows else None
    run.check("a guard was imposed on it", row is not None and "pid in [2]" in row.imposed,
              row.imposed if row else "no binding")  # fmt: skip
    run.state["k"] = k
    run.ask("Which guard did the authority impose?", row.imposed.split(" (by")[0] if row else "?")


@lesson.step(
    "Only its own process's calls",
    pane="Events",
    watch=True,
    narration="""
Now `forkcow` runs: pid 1 forks pid 2, each writes a line, pid 2 exits and pid 1 reaps it.
Every one of their system calls is raised on `Trap.SystemCall`; the extension's handler is
called only for pid 2's. Compare its `calls` with the personality's on the **Events** pane.
""",
)
def own_only(run):
    k = run.state.get("k") or boot(run)
    run.run_until_exit(k)
    seen = inspect.extension_globals(k, "counter").get("seen", [])
    row = next(iter(mine(k, "counter")), None)
    unix = next(iter(mine(k, "UnixPersonality")), None)
    run.check("the handler saw pid 2's calls", len(seen) > 0, str(seen))
    run.check("it saw no call of pid 1", set(seen) <= {2}, f"pids seen: {seen}")
    run.check("it saw fewer calls than the personality answered", unix is not None and len(seen) < unix.calls,
              f"{len(seen)} of {unix.calls if unix else '?'}")  # fmt: skip
    run.state["own"] = len(seen)
    run.ask("How many of pid 2's system calls did the extension's handler take?", row.calls if row else "?")


@lesson.step(
    "The machine's owner sees everything",
    pane="Events",
    watch=True,
    narration="""
The same extension loaded by the machine's owner (`root`, as `spinwb run --ext` does)
holds every right: no guard is imposed on its handler, and it takes both processes' calls.
Authority is about who installs, not about the code: the source is the same.
""",
)
def root(run):
    k = boot(run)
    k.system.load(COUNTER, "counter.py", importer="root")  # what run.load does with a file
    rows = mine(k, "counter")
    run.check("no guard was imposed", bool(rows) and not rows[0].imposed,
              (rows[0].imposed or "imposed guards: none") if rows else "no binding")  # fmt: skip
    run.run_until_exit(k)
    seen = inspect.extension_globals(k, "counter").get("seen", [])
    run.check("it saw both processes", set(seen) == {1, 2}, f"pids seen: {seen}")
    run.check("more calls than the user's extension saw", len(seen) > run.state.get("own", 0),
              f"{len(seen)} vs {run.state.get('own')}")  # fmt: skip
    row = next(iter(mine(k, "counter")), None)
    run.ask("How many system calls did the owner's handler take?", row.calls if row else "?")


@lesson.step(
    "Only the authority installs an authorizer",
    pane="Scenario",
    narration="""
Could some other module replace the event's authorizer with a lenient one? The
dispatcher lets only an event's primary module install its authorizer, result handler or
default handler (spin-reference.md §1: `InstallAuthorizerForEvent` raises `AuthError`
unless the module implements the event). Here lesson code, which is not the kernel,
tries.
""",
)
def only_authority(run):
    k = boot(run)
    ev = k.event(EVENT)
    before = ev.authorizer
    try:
        k.dispatcher.install_authorizer(ev, lambda b, key: True, object())
        why = ""
    except AuthError as e:
        why = str(e)
    run.check("installing the authorizer is refused", "only its primary module" in why, why)
    run.check("the event's authorizer is still the one boot installed", ev.authorizer is before,
              getattr(ev.authorizer, "__qualname__", ""))  # fmt: skip
    run.exhibit("the refusal", ["message"], [[why]])
    run.ask("Which module alone may install the authorizer?", why.split("primary module ")[-1].split(" ")[0])
