"""How several handlers combine: results, defaults, order, Cancel, asynchrony (SOSP'95 §3.3; spin-reference.md §1)."""

from kernel import inspect
from kernel.sys.dispatcher import CANCEL
from kernel.sys.errors import NoHandlerInvoked
from kernel.sys.interface import Interface
from scenarios.engine import Lesson

lesson = Lesson("handler_combination", "How several handlers combine",
                "One event, several handlers: whose result the raise returns, what a result handler does, what "
                "a raise returns when no handler runs, First, Last and Cancel, and handlers the raiser does not "
                "wait for.")  # fmt: skip

# The extension, in three parts loaded one step after another (each verified and linked like any other).
VOTERS = """
from spin import Dispatcher, Vote

calls = {"double": 0, "square": 0}


def double(n):
    calls["double"] += 1
    return 2 * n


def small(n):
    return n < 10


def square(n):
    calls["square"] += 1
    return n * n


def init():
    Dispatcher.InstallHandler(Vote.Ask, double)
    Dispatcher.InstallHandler(Vote.Ask, square, small)
"""
ORDERED = """
from spin import Dispatcher, Vote


def first_one(n):
    return 100


def last_one(n):
    return n + 1000


def init():
    Dispatcher.InstallHandler(Vote.Ask, last_one, last=True)
    Dispatcher.InstallHandler(Vote.Ask, first_one, first=True)
"""
VETO = """
from spin import Dispatcher, Vote


def unlucky(n):
    return n == 13


def veto(n):
    return -13


def init():
    Dispatcher.InstallHandler(Vote.Ask, veto, unlucky, cancel=True)
"""
PICKER = """
from spin import Dispatcher, Vote


def small(n):
    return n < 10


def square(n):
    return n * n


def init():
    Dispatcher.InstallHandler(Vote.Pick, square, small)
"""
HASTY = """
from spin import Dispatcher, Vote


def small(n):
    return n < 10


def hurry(n):
    return n


def init():
    Dispatcher.InstallHandler(Vote.Ask, hurry, small, asynchronous=True)
"""
TELLERS = """
from spin import Dispatcher, Vote

heard = [0, 0]  # the synchronous handler's calls, the asynchronous one's


def note(n):
    heard[0] += 1


def ponder(n):
    total = 0
    for i in range(2000):
        total += i * n
    heard[1] += 1


def init():
    Dispatcher.InstallHandler(Vote.Tell, note)
    Dispatcher.InstallHandler(Vote.Tell, ponder, asynchronous=True)
"""


class VoteModule:
    """The kernel module that defines the events (their authority): only it may
    install a result handler, a default handler or a default result."""

    __name__ = "Vote"


def say(run, k, line):
    """The defining module prints what its raise returned, on the console."""
    k.machine.console.send((line + "\n").encode())


def world(run):
    k = run.boot()
    k.dispatcher.set_tracing(True)  # the Trace pane's dispatch records and the Events pane's last guards
    mod = VoteModule()
    iface = Interface("Vote", "a lesson's events: Ask and Pick return a number, Tell returns nothing")
    d = k.dispatcher
    d.define(iface, "Ask", lambda n: 0, mod, result=True)
    d.define(iface, "Pick", lambda n: 0, mod, result=True)
    d.define(iface, "Tell", lambda n: None, mod)
    k.system.export(iface)
    run.state.update(k=k, mod=mod, iface=iface)
    return k, mod, iface


def results(k, event, n):
    """What each handler of ``event`` returns for ``n``, in dispatch order (the guard's verdict too)."""
    ev = k.dispatcher.event(event)
    out = []
    for b in ev.bindings:
        g = b.call_guard
        if g is None or g(n):
            out.append((b.id, b.call_handler(n)))
        if g is not None and g(n) and CANCEL in b.options:
            break
    return out


@lesson.step(
    "Several handlers, one result",
    pane="Console",
    narration="""
A kernel module defines **Vote.Ask(n)**, an event that returns a number; its intrinsic
handler answers 0. An extension installs two more handlers: `double` (2n) and `square`
(n², guarded: only for n < 10). Three handlers run for `Vote.Ask(3)`, and a raise has one
result. With no result handler, SPIN's rule (spin-reference.md §1, item 6) is that the
**last handler to run wins**. The module prints what its raises returned on the
**Console** pane.
""",
)
def last_wins(run):
    k, mod, iface = world(run)
    k.system.load(VOTERS, "voters.py", importer="root")
    got = iface.Ask(3)
    big = iface.Ask(12)
    say(run, k, f"Vote.Ask(3) = {got}")
    say(run, k, f"Vote.Ask(12) = {big}")
    rs = results(k, "Vote.Ask", 3)
    run.check("three handlers ran for Vote.Ask(3)", len(rs) == 3, f"(binding, result): {rs}")
    run.check("the raise returned the last handler's result", got == rs[-1][1] == 9, f"Vote.Ask(3) = {got}")
    run.check("for 12 square's guard says no: double is the last to run", big == 24, f"Vote.Ask(12) = {big}")
    run.ask("What did Vote.Ask(3) return (Console pane)?", str(got))
    run.ask("And Vote.Ask(12)?", str(big))


@lesson.step(
    "Order: First and Last",
    pane="Events",
    narration="""
A second extension installs `last_one` (n + 1000) with **Last** and then `first_one`
(100) with **First**. The order rule (spin-reference.md §1, item 8): First goes to the
head of the list, Last to the tail, and a plain binding after the last non-Last one, in
the order installed. The **Events** pane shows `Vote.Ask`'s bindings in dispatch order
(press ↓ to it if another event is under the cursor). First and Last are SPIN's
(33.1); the paper's Before and After are not.
""",
)
def order(run):
    k, iface = run.state["k"], run.state["iface"]
    k.system.load(ORDERED, "ordered.py", importer="root")
    rows = inspect.bindings(k, "Vote.Ask")
    names = [r.handler for r in rows]
    run.check("first_one heads the list and last_one ends it",
              names[0] == "first_one" and names[-1] == "last_one" and len(names) == 5, " → ".join(names))  # fmt: skip
    got = iface.Ask(3)
    say(run, k, f"Vote.Ask(3) = {got} (five handlers)")
    run.check("the raise now returns last_one's result", got == 1003, f"Vote.Ask(3) = {got}")
    run.state["order"] = names
    run.ask("How many bindings does Vote.Ask have now (Events pane)?", str(len(rows)))


@lesson.step(
    "A result handler combines them",
    pane="Console",
    narration="""
The event's authority -- the module that defined it, and only it -- may install a
**result handler** (`InstallResultHandler`): `rh(accumulated, result, last)` is called
after each handler that runs, and its return becomes the new accumulator, which starts
at the event's **default result** (`SetDefaultResult`, here 0). Here it sums: the raise
returns the sum of all five handlers' results. In SPIN 33.1 a result handler's signature
is `(VAR final, this, last, VAR arg, args...)`; the workbench's is the fold above, its own
simplification. Read the sum on the **Console** pane.
""",
)
def combined(run):
    k, mod, iface = run.state["k"], run.state["mod"], run.state["iface"]
    ev = k.dispatcher.event("Vote.Ask")
    k.dispatcher.set_default_result(ev, 0, mod)
    k.dispatcher.install_result_handler(ev, lambda acc, r, last: acc + r, mod)
    got = iface.Ask(3)
    say(run, k, f"Vote.Ask(3) = {got} (summed by the result handler)")
    rs = results(k, "Vote.Ask", 3)
    total = sum(r for _, r in rs)
    run.check("the raise returned the sum of every handler's result", got == total,
              f"{' + '.join(str(r) for _, r in rs)} = {total}; the raise returned {got}")  # fmt: skip
    refused = ""
    try:
        k.dispatcher.install_result_handler(ev, lambda acc, r, last: r, object())
    except Exception as e:  # noqa: BLE001 - the refusal's text is what the check shows
        refused = str(e)
    run.check("only the event's authority may install its result handler", bool(refused), refused)
    run.ask("What did Vote.Ask(3) return with the result handler (Console pane)?", str(got))


@lesson.step(
    "When no handler runs: the default",
    pane="Console",
    narration="""
**Vote.Pick(n)** starts with its intrinsic handler only; the module uninstalls it and
the extension's `square` (guarded n < 10) is the one binding. `Vote.Pick(50)`: its guard
says no, no handler runs. An event with a result then raises **NoHandlerInvoked** to
the raiser (spin-reference.md §1, item 5: SPIN's rule); once the authority installs a
**default handler**, that runs instead (also item 5). In between, the authority sets a
default result and the raise returns it: that is the workbench's reading, since item 5
names only the default handler for this case (in item 6 the default result seeds a
result handler's fold). The three outcomes are on the **Console** pane.
""",
)
def defaults(run):
    k, mod, iface = run.state["k"], run.state["mod"], run.state["iface"]
    d = k.dispatcher
    ev = d.event("Vote.Pick")
    d.uninstall(ev.original, "the lesson's module uninstalls it")
    k.system.load(PICKER, "picker.py", importer="root")
    try:
        first = f"raised {type(iface.Pick(50)).__name__}"  # a returned value, if the rule were broken
        raised = False
    except NoHandlerInvoked as e:
        first, raised = f"raised NoHandlerInvoked: {e}", True
    say(run, k, f"Vote.Pick(50) {first}")
    d.set_default_result(ev, -1, mod)
    second = iface.Pick(50)
    say(run, k, f"Vote.Pick(50) = {second} (the default result)")
    d.install_default_handler(ev, lambda n: n // 2, mod)
    third = iface.Pick(50)
    say(run, k, f"Vote.Pick(50) = {third} (the default handler, n // 2)")
    small = iface.Pick(4)
    say(run, k, f"Vote.Pick(4) = {small} (square's guard passes: no default)")
    run.check("with no handler and no default, the raise raised NoHandlerInvoked", raised, first)
    run.check("with a default result, the raise returned it", second == -1, f"Vote.Pick(50) = {second}")
    run.check("with a default handler, it ran instead", third == 25, f"Vote.Pick(50) = {third}")
    run.check("the default is only for when no handler ran", small == 16, f"Vote.Pick(4) = {small}")
    run.ask("What did Vote.Pick(50) return once a default result was set (Console pane)?", str(second))


@lesson.step(
    "Cancel",
    pane="Trace",
    narration="""
A third extension installs `veto` on Vote.Ask, guarded on n = 13, with **Cancel**: a
passing Cancel binding stops the guard pass. Handlers before it whose guards passed still
run; the bindings after it are not even asked (spin-reference.md §1, item 2). On the
**Trace** pane the last `Dispatch Vote.Ask` record shows the verdicts -- `+` passed, `-`
rejected, `·` not evaluated -- and which handlers ran. Cancel is in SPIN 33.1's code,
undocumented in the papers. The workbench's own departure: a handler's exception never
reaches the raiser (it is contained and the binding uninstalled); in 33.1 it propagates.
""",
)
def cancel(run):
    k, iface = run.state["k"], run.state["iface"]
    k.system.load(VETO, "veto.py", importer="root")
    got = iface.Ask(13)
    rec = k.dispatcher.event("Vote.Ask").last_dispatch
    rows = inspect.bindings(k, "Vote.Ask")
    veto = next(r.id for r in rows if r.handler == "veto")
    after = [r.id for r in rows[[r.id for r in rows].index(veto) + 1 :]]
    verdicts = dict(rec.guards) if rec is not None else {}
    run.check("the bindings after the Cancel were not evaluated", bool(after) and all(verdicts.get(i, 0) is None for i in after),
              f"after veto (#{veto}): {[(i, verdicts.get(i)) for i in after]}")  # fmt: skip
    ran = list(rec.handlers) if rec is not None else []
    run.check("the handlers before it ran, and veto", veto in ran and all(i not in ran for i in after), f"ran {ran}")
    say(run, k, f"Vote.Ask(13) = {got} (cancelled after veto)")
    run.check("the raise's result is the sum of those that ran", got == 100 + 0 + 26 + -13,
              f"Vote.Ask(13) = {got}: first_one 100 + intrinsic 0 + double 26 + veto -13")  # fmt: skip
    run.ask("Which bindings' handlers ran for Vote.Ask(13) (Trace pane, handlers)?", " ".join(f"#{i}" for i in ran))


@lesson.step(
    "A handler the raiser does not wait for",
    pane="Strands",
    narration="""
**Vote.Tell(n)** returns nothing, so its handlers may be **asynchronous**. An extension
installs `note` (synchronous) and `ponder` (asynchronous: a loop of 2,000 steps). The
module raises `Vote.Tell(7)` and the raise returns at once: `note` has run, `ponder` has
not -- it waits in a strand of its own, named after the event and its binding, on the
**Strands** pane. An event with a result cannot have asynchronous handlers (the raiser
needs their results): that is refused with IllegalAsynchEvent.

SPIN's papers give asynchrony per event and per handler; 33.1's code has only an
asynchronous *alias* of an event (each call forks a thread that runs the whole dispatch).
Per-handler asynchrony here follows the paper, not 33.1. OSDI'96 measured 38-90 µs for
an asynchronous raise.
""",
)
def asynchronous(run):
    k, iface = run.state["k"], run.state["iface"]
    ext = k.system.load(TELLERS, "tellers.py", importer="root")
    run.state["tellers"] = ext
    t0 = inspect.counters(k).cycles
    iface.Tell(7)
    heard = list(inspect.extension_globals(k, ext.name)["heard"])
    waiting = [s for s in inspect.strands(k) if s.name.startswith("Vote.Tell#")]
    run.state["async_strand"] = waiting[0].name if waiting else ""
    run.state["t0"] = t0
    run.check("the raise returned after the synchronous handler only", heard == [1, 0],
              f"note ran {heard[0]}, ponder ran {heard[1]} times when the raise returned")  # fmt: skip
    run.check("the asynchronous handler waits in a strand of its own", len(waiting) == 1,
              ", ".join(f"{s.id} {s.name} {s.state}" for s in waiting) or "no strand")  # fmt: skip
    refused = run.try_load(k, HASTY, "hasty.py")
    run.check("an asynchronous handler on an event with a result is refused", "asynchronous" in refused, refused)
    run.ask("What is the asynchronous handler's strand called (Strands pane)?", run.state["async_strand"])


@lesson.step(
    "The asynchronous handler runs",
    pane="Events",
    narration="""
Now the machine runs on: the scheduler picks the handler's strand, `ponder` finishes, the
strand ends. The **Events** pane's *calls* column for `Vote.Tell` counts its three
handlers' calls: the intrinsic's, `note`'s and `ponder`'s (an asynchronous handler is
counted when its strand is started). The check says how long after the raise the handler
finished, in modeled µs (cycles ÷ 133 MHz), beside a quantum: the strand waits its turn
behind whatever the scheduler runs first.
""",
)
def ran(run):
    k, ext = run.state["k"], run.state.get("tellers")
    if ext is None:
        run.check("the previous step loaded the handlers", False, "step 6 did not run")
        return
    t0 = run.state["t0"]
    for _ in range(500):  # a few instructions at a time (an idle wtint waits a whole tick), until it has run
        k.run(10)
        heard = inspect.extension_globals(k, ext.name)["heard"]  # a copy: read it again
        if heard[1]:
            break
    left = [s for s in inspect.strands(k) if s.name == run.state["async_strand"]]
    if heard[1]:
        after = (inspect.counters(k).cycles - t0) / 133
        quantum = k.sched.quantum_ticks * 1e6 / 1024  # µs: a quantum of the 1024 Hz clock
        run.check("it finished after the raise returned, within two quanta", 0 < after < 2 * quantum,
                  f"{after:.1f} µs modeled after the raise (cycles ÷ 133 MHz); a quantum is {quantum:,.0f} µs")  # fmt: skip
    run.check("the asynchronous handler has run, once", heard == [1, 1], f"note {heard[0]}, ponder {heard[1]}")
    run.check("and its strand has ended", not left, ", ".join(f"{s.id} {s.state}" for s in left) or "gone")
    ev = next(e for e in inspect.events(k) if e.name == "Vote.Tell")
    run.ask("How many handler calls has Vote.Tell made (Events pane, calls)?", str(ev.calls))
