"""Page faults the SPIN way and the UNIX way (SOSP'95 Table 4)."""

import re

from kernel.core.probe import install_probe
from scenarios.engine import Lesson

lesson = Lesson(
    "page_faults",
    "Page faults the SPIN way vs the UNIX way",
    "A protection fault handled in the kernel by an extension, against a signal to the process.",
)
TALLY = re.compile(r"(\w+) ops=(\d+) cycles=(\d+) crossings=(-?\d+)")


def measure(run, program, spin):
    k = run.boot(init=program, argv=[program, "fault", "50"])
    install_probe(k)
    if spin:
        run.load(k, "vm_app")
    run.run_until_exit(k)
    m = TALLY.search(run.console(k))
    return k, (None if m is None else (int(m[3]) / int(m[2]), int(m[4]) / int(m[2])))


@lesson.step(
    "The UNIX way",
    narration="""
`vm_unix` protects a page with `mprotect`, touches it, and fixes the fault in a
`SIGSEGV` handler that calls `mprotect` again: a trap, a signal delivery, a system
call and a sigreturn -- six user/kernel crossings per fault.
""",
)
def unix(run):
    k, fig = measure(run, "vm_unix", False)
    run.check(
        "the program finished and printed its tally", fig is not None and k.exit_status == 0, run.console(k).strip()
    )
    if fig:
        run.state["unix"] = fig
        run.check("each fault crossed the boundary 6 times", fig[1] == 6, str(fig[1]))
        run.ask("What did one fault cost, in modeled µs?", f"{run.us(fig[0]):.1f}")


@lesson.step(
    "The SPIN way",
    narration="""
`vm_spin` asks the **vm_app** extension to watch the region. The extension's handler
on `Translation.ProtectionFault`, guarded on this address space and range, records the
fault and unprotects the page in the kernel: the program never sees a signal.
""",
)
def spin(run):
    k, fig = measure(run, "vm_spin", True)
    run.check(
        "the program finished and printed its tally", fig is not None and k.exit_status == 0, run.console(k).strip()
    )
    if fig and "unix" in run.state:
        run.check("each fault crossed the boundary twice", fig[1] == 2, str(fig[1]))
        run.check(
            "the SPIN way is at least 3 times cheaper",
            run.state["unix"][0] / fig[0] > 3,
            f"{run.state['unix'][0] / fig[0]:.1f}x",
        )
        run.ask("How many times cheaper is the SPIN way?", f"{run.state['unix'][0] / fig[0]:.1f}")
