"""Logical protection domains: Create, Resolve, Combine (SOSP'95 §3.1; spin-reference.md §2)."""

from kernel import inspect
from kernel.sys.domain import IMPORT, Domain, combine
from kernel.sys.errors import Unauthorized
from kernel.sys.interface import Interface
from kernel.sys.trace import Denied, Link
from scenarios.engine import Lesson

lesson = Lesson(
    "protection_domains",
    "Logical protection domains",
    "An extension's domain created from its code, resolved against other domains' exports, "
    "combined into an aggregate; what an untrusted extension may link against; unresolved code never runs.",
)

TALLY = """
from spin import Clock, Console

started = Clock.Now()


def init():
    Console.Print("tally linked")
"""
STATS_USER = """
from spin import Console, Stats


def init():
    Stats.Count("loads")
    Console.Print("stats user linked")
"""
PRIVILEGED = """
from spin import Sal


def init():
    Sal.Cycles()
"""
GHOST = """
from spin import Console, Missing

said = Console.Print("ghost ran")


def init():
    Missing.Haunt()
"""


def world(run):
    """A booted kernel with two kernel modules of the lesson's: ``Sal`` exported to
    SpinTrusted, and a ``Stats`` module with a domain of its own at /svc/domains/Stats."""
    k = run.boot()
    k.system.export(Interface("Sal", "the machine's registers (a lesson's stand-in)", Cycles=lambda: k.sal.now),
                    trusted=True)  # fmt: skip
    counts = {}
    stats = Interface("Stats", "named counters a kernel module keeps",
                      Count=lambda name: counts.__setitem__(str(name), counts.get(str(name), 0) + 1))  # fmt: skip
    dom = Domain.create_from_module("Stats", {"Stats": stats})
    k.system.names.export("/svc/domains/Stats", dom)
    run.state.update(k=k, stats=dom, counts=counts)
    return k


def row(k, name):
    return next((d for d in inspect.domains(k) if d.name == name), None)


def source_of(k, ext, iname):
    d = row(k, ext)
    return dict(d.imports).get(iname, "") if d else ""


def load(run, source, filename, **kw):
    """Load, returning the refusal ("" if it linked)."""
    try:
        run.state["k"].system.load(source, filename, **kw)
    except Exception as e:  # noqa: BLE001 - every refusal is a SpinError; shown as the check's detail
        return str(e)
    return ""


@lesson.step(
    "SpinPublic and SpinTrusted",
    pane="Domains",
    narration="""
A SPIN **domain** is a set of code and the interfaces it exports; a domain is the unit of
linking, and so of protection: code can call only what its domain was resolved against
(SOSP'95 §3.1). The kernel's interfaces are grouped into two aggregate domains, registered
with the name server at `/svc/domains` (spin-reference.md §2): **SpinPublic**, which any
extension may link against, and **SpinTrusted** (33.1's name; SOSP'95 names only
SpinPublic), whose exporter lets only trusted installers import it.

The workbench's SpinTrusted starts empty, so this lesson's kernel code exports a stand-in
`Sal` interface there, and adds a `Stats` module with a domain of its own. The **Domains**
pane lists each domain and its exports.
""",
)
def kernel_domains(run):
    k = world(run)
    pub, tr = row(k, "SpinPublic"), row(k, "SpinTrusted")
    run.check("SpinPublic exports the Dispatcher", pub is not None and "Dispatcher" in pub.exports,
              ", ".join(pub.exports) if pub else "")  # fmt: skip
    run.check("SpinTrusted exports Sal, SpinPublic does not", tr is not None and "Sal" in tr.exports
              and "Sal" not in pub.exports, ", ".join(tr.exports) if tr else "")  # fmt: skip
    try:
        k.system.names.lookup("/svc/domains/SpinTrusted", "user")
        why = ""
    except Unauthorized as e:
        why = str(e)
    run.check("the name server refuses SpinTrusted to a user", bool(why), why)
    run.check("and gives it to the machine's owner", k.system.names.lookup_soft("/svc/domains/SpinTrusted", "root"))
    run.ask("Which domain exports Sal?", next((d.name for d in inspect.domains(k) if "Sal" in d.exports), "?"))


@lesson.step(
    "Create: a domain from an extension's code",
    pane="Domains",
    narration="""
`Domain.Create` makes a domain from an extension's object code, with every symbol it
imports still **unresolved**; the loader then resolves it against the domains the
extension may use and runs it. In SPIN the code is a Modula-3 object file and the
compiler's type safety keeps it to its imports; in the workbench it is Python source that
the verifier admits only if it reaches the kernel through `from spin import ...`, so its
imports are exactly its undefined symbols (kernel/sys/verifier.py, kernel/sys/linker.py).

`tally` imports Clock and Console. Find its domain on the **Domains** pane: each import
with the domain that supplied it, and the Resolve that bound them.
""",
)
def create(run):
    k = run.state.get("k") or world(run)
    why = load(run, TALLY, "tally.py")
    run.check("tally links", not why, why)
    d = row(k, "tally")
    run.check("its domain imports Clock and Console",
              d is not None and sorted(n for n, _ in d.imports) == ["Clock", "Console"], str(d.imports if d else ""))  # fmt: skip
    run.check("both resolved against SpinPublic", d is not None and all(src == "SpinPublic" for _, src in d.imports),
              "; ".join(d.resolutions) if d else "")  # fmt: skip
    run.check("its top level and init ran", "tally linked" in k.system.console, " | ".join(k.system.console))
    run.ask("Against which domain did tally's imports resolve?", source_of(k, "tally", "Console"))


@lesson.step(
    "Resolve against another domain",
    pane="Domains",
    narration="""
`Resolve(source, target)` (SOSP'95 Fig. 2) binds the target's unresolved symbols to the
source's exports of the same name, and nothing else. `stats_user` imports Console and Stats. Linked against
SpinPublic alone, `Stats` stays unresolved and the load is refused, naming it (the check's
detail). Given the Stats domain too, the loader resolves twice, once per domain: the
**Domains** pane shows the two resolutions and where each import came from.
""",
)
def resolve_step(run):
    k = run.state.get("k") or world(run)
    why = load(run, STATS_USER, "stats_user.py")
    run.check("against SpinPublic alone the load is refused", "exports `Stats`" in why, why)
    why2 = load(run, STATS_USER, "stats_user.py", domains=("SpinPublic", "Stats"))
    run.check("with the Stats domain it links", not why2, why2)
    d = row(k, "stats_user")
    res = d.resolutions if d else ()
    run.check("two Resolve calls, one per domain", len(res) == 2, "; ".join(res))
    run.check("its init called into the Stats module", run.state["counts"].get("loads") == 1, str(run.state["counts"]))
    run.ask("Which domain supplied stats_user's Stats import?", source_of(k, "stats_user", "Stats"))


@lesson.step(
    "Combine: an aggregate domain",
    pane="Domains",
    narration="""
`Combine(d1, d2)` makes an **aggregate** domain that exports whatever its members export;
SpinPublic is itself such an aggregate of the kernel's modules. The lesson combines
SpinPublic and Stats into `Services` and links a second copy, `stats_user2`, against
`Services` alone: one Resolve binds both imports, each still traced to the member that
exports it. (33.1 replaced Combine by nesting with `Domain.Add`; the workbench keeps the
paper's Combine.)
""",
)
def combine_step(run):
    k = run.state.get("k") or world(run)
    services = combine("Services", k.system.public, run.state["stats"])
    k.system.names.export("/svc/domains/Services", services)
    why = load(run, STATS_USER, "stats_user2.py", domains=("Services",))
    run.check("linked against the aggregate alone", not why, why)
    d = row(k, "stats_user2")
    res = d.resolutions if d else ()
    run.check("one Resolve bound both imports", len(res) == 1 and "Console" in res[0] and "Stats" in res[0],
              "; ".join(res))  # fmt: skip
    run.check("each import traced to the member that exports it",
              d is not None and dict(d.imports) == {"Console": "SpinPublic", "Stats": "Stats"}, str(d.imports if d else ""))  # fmt: skip
    agg = row(k, "Services")
    run.ask("Which domains does Services combine?", ", ".join(agg.members) if agg else "?")


@lesson.step(
    "What an untrusted extension may link against",
    pane="Domains",
    narration="""
`privileged` imports `Sal`. Loaded by a user against SpinPublic, `Sal` is simply not there:
a user's extension cannot even name the privileged interfaces. Asking for SpinTrusted as
well is refused by the name server, whose export of SpinTrusted carries an authorizer
(checked at every lookup, as the paper has it; 33.1 ignored it). Loaded by the machine's
owner, it links: its `Sal` import resolves against SpinTrusted on the **Domains** pane.
""",
)
def trusted(run):
    k = run.state.get("k") or world(run)
    public_only = load(run, PRIVILEGED, "privileged.py")
    run.check("against SpinPublic, Sal is not found", "exports `Sal`" in public_only, public_only)
    asked = load(run, PRIVILEGED, "privileged.py", domains=("SpinPublic", "SpinTrusted"))
    run.check("a user may not import SpinTrusted", "may not import /svc/domains/SpinTrusted" in asked, asked)
    owner = load(run, PRIVILEGED, "privileged.py", domains=("SpinPublic", "SpinTrusted"), importer="root")
    run.check("the machine's owner links it", not owner, owner)
    run.ask("Against which domain did privileged's Sal import resolve?", source_of(k, "privileged", "Sal"))


@lesson.step(
    "Unresolved code never runs",
    pane="Trace",
    narration="""
`ghost` prints a line at its top level and imports `Missing`, which no domain exports. SPIN
never runs unresolved code (`Domain.Initialize` fails unless every symbol is resolved), so
the line is never printed and nothing of ghost stays: no domain on the Domains pane, no
binding. The **Trace** pane's `Denied` record names the import that did not resolve.
""",
)
def unresolved(run):
    k = run.state.get("k") or world(run)
    why = load(run, GHOST, "ghost.py")
    run.check("ghost is refused at link time", "cannot link extension ghost" in why, why)
    run.check("its code never ran", not any("ghost ran" in line for line in k.system.console),
              " | ".join(k.system.console))  # fmt: skip
    run.check("nothing of it stays", "ghost" not in k.system.extensions and row(k, "ghost") is None)
    linked = [r.extension for r in k.trace.of(Link)]
    run.check("no Link record for it", "ghost" not in linked, ", ".join(linked))
    denied = [r for r in k.trace.of(Denied) if r.what == "load ghost"]
    run.ask("Which import of ghost did not resolve?", "Missing" if denied and "`Missing`" in denied[-1].reason else "?")


@lesson.step(
    "A domain's rights",
    pane="Domains",
    narration="""
Resolve needs rights (33.1's `Domain.SetRights`): *modify* on the target and *import* on
the source. The Stats module takes the import right off its domain; from then on no
extension can resolve against it, and the load says why. The **Domains** pane shows the
rights each domain holds.
""",
)
def rights(run):
    k = run.state.get("k") or world(run)
    run.state["stats"].rights.discard(IMPORT)
    why = load(run, STATS_USER, "stats_user3.py", domains=("SpinPublic", "Stats"))
    run.check("resolving against Stats is refused", "may not be imported from" in why, why)
    run.check("the extension is not linked", "stats_user3" not in k.system.extensions)
    d = row(k, "Stats")
    run.ask("Which rights does the Stats domain hold now?", d.rights if d else "?")
