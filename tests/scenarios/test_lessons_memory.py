"""The memory lessons (boot_tour, cow_fork, page_faults, memory_reclaim): each
passes, each question's answer is on the pane its step names, and each has a
check that fails when the mechanism it teaches is broken (issue 19)."""

from __future__ import annotations

import functools

import pytest

from kernel.core import physaddr
from kernel.core.physaddr import Frame
from kernel.core.translation import COW
from kernel.sys import dispatcher
from kernel.sys.trace import Boot
from kernel.unix.addrspace import AddressSpace
from scenarios import engine

LESSONS = ("boot_tour", "cow_fork", "page_faults", "memory_reclaim")


def failed(name: str) -> dict[str, str]:
    """Run a lesson headless: its failed checks, text -> detail (errors too)."""
    runner = engine.Runner(engine.load(name))
    out: dict[str, str] = {}
    for r in runner.run_all():
        out.update({c.text: c.detail for c in r.checks if not c.ok})
        if r.error:
            out[f"step {r.number} error"] = r.error
    return out


@pytest.mark.parametrize("name", LESSONS)
def test_the_lesson_passes_in_5_to_10_steps_each_naming_a_pane(name: str) -> None:
    lesson = engine.load(name)
    assert 5 <= len(lesson.steps) <= 10
    assert sum(s.pane == "Scenario" for s in lesson.steps) <= len(lesson.steps) // 3
    assert failed(name) == {}


# --- boot_tour ---------------------------------------------------------------------------------


def test_boot_tour_fails_when_the_physaddr_line_miscounts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The free-frame answer is the boot record's: a record that says something else fails the check."""
    real = physaddr.PhysAddr.nfree
    monkeypatch.setattr(physaddr.PhysAddr, "nfree", property(lambda self: real.fget(self) - 1))  # type: ignore[union-attr]
    bad = failed("boot_tour")
    assert "PhysAddr's line counts every frame it manages as free" in bad


def test_boot_tour_fails_when_a_process_keeps_its_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AddressSpace, "_unref", lambda self, f: setattr(f, "refs", f.refs - 1))  # never frees
    bad = failed("boot_tour")
    assert "the frames came back: the boot record's figure less the idle strand's 2" in bad


# --- cow_fork ----------------------------------------------------------------------------------


def eager_fork(self: AddressSpace, name: str) -> AddressSpace:
    """A fork that copies every page now, as a UNIX without copy-on-write would."""
    child = AddressSpace(self.tr, self.phys, name)
    child.regions = list(self.regions)
    child.brk_start, child.brk, child.mmap_next = self.brk_start, self.brk, self.mmap_next
    for vpn, pfn in sorted(self.space.mapped.items()):
        r = self.region_at(vpn << 13)
        new = self.phys.Allocate("anon")
        self.tr.sal.copy_frame(pfn, new.pfn)
        self.tr.AddMapping(child.space, new, vpn << 13, r.prot if r else 1)
        new.refs = 1
    return child


def test_cow_fork_fails_when_fork_copies_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AddressSpace, "fork", eager_fork)
    bad = failed("cow_fork")
    assert "parent and child map page[] to the same frame" in bad
    assert "in both, without write and marked copy-on-write" in bad


def test_cow_fork_fails_when_a_cow_fault_does_not_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    real = AddressSpace.fix

    def no_copy(self: AddressSpace, va: int, kind: int, event: str) -> bool:
        vpn = va >> 13
        pfn = self.space.mapped.get(vpn)
        r = self.region_at(va)
        if pfn is not None and r is not None and self.tr.soft_bits(self.space, va) & COW:
            self.tr.AddMapping(self.space, pfn, vpn << 13, r.prot, 0)  # writable, still shared: no copy
            return True
        return real(self, va, kind, event)

    monkeypatch.setattr(AddressSpace, "fix", no_copy)
    bad = failed("cow_fork")
    assert "the fault took exactly one frame" in bad
    assert "the child saw its own write (101), the parent its own (102)" in bad


# --- page_faults -------------------------------------------------------------------------------


def test_page_faults_fails_when_the_extensions_fault_handler_is_never_called(monkeypatch: pytest.MonkeyPatch) -> None:
    real = dispatcher.Dispatcher.create

    @functools.wraps(real)
    def create(self: dispatcher.Dispatcher, event: dispatcher.Event, handler: object, guard: object = None,
               **kw: object) -> dispatcher.Binding:  # fmt: skip
        if kw.get("owner") == "vm_app" and event.name == "Translation.ProtectionFault":
            guard = lambda strand, state: False  # noqa: E731 - bound, but its guard never lets a fault through
        return real(self, event, handler, guard, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(dispatcher.Dispatcher, "create", create)
    bad = failed("page_faults")
    assert "the extension's handler is first and ran once per fault" in bad


# --- memory_reclaim ----------------------------------------------------------------------------


def test_memory_reclaim_fails_when_reclaim_ignores_the_nomination(monkeypatch: pytest.MonkeyPatch) -> None:
    import kernel.boot

    monkeypatch.setattr(kernel.boot, "frame_of", lambda x: None)  # every nomination is dropped: the candidate goes
    bad = failed("memory_reclaim")
    assert "the kernel took the extension's volunteered frame, not its candidate" in bad
    assert f"the first {4} reclaims took the spares, the rest the candidate" in bad


def test_memory_reclaim_fails_when_reclaim_takes_the_newest_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """FIFO: a reclaimer that offers the newest cache frame first fails the oldest-first check."""
    real = physaddr.PhysAddr._reclaim

    def lifo(self: physaddr.PhysAddr) -> None:
        self.reclaimable = type(self.reclaimable)(reversed(list(self.reclaimable.items())))
        real(self)

    monkeypatch.setattr(physaddr.PhysAddr, "_reclaim", lifo)
    assert "the cache's chunks went oldest first" in failed("memory_reclaim")


def test_a_volunteered_frame_is_taken_and_its_handle_revoked() -> None:
    """The kernel side alone: Reclaim's handler returns an extension's handle; that frame goes, the handle dies."""
    from kernel.boot import boot
    from kernel.core.physaddr import Reclaimed
    from kernel.sys.errors import SpinError

    k = boot(memory=1 << 20)
    src = ("from spin import Dispatcher, PhysAddr\nmine = []\ntook = []\n"
           "def give(candidate):\n    return mine[0]\n"
           "def init():\n    mine.append(PhysAddr.Allocate('spare'))\n    took.append(PhysAddr.Number(mine[0]))\n"
           "    Dispatcher.InstallHandler(PhysAddr.Reclaim, give)\n")  # fmt: skip
    ext = k.system.load(src, "give.py", importer="root")
    assert k.phys is not None
    victim = k.phys.Allocate("cache x", ("reclaimable",))
    while k.phys.nfree:
        k.phys.Allocate("filler")
    spare = ext.namespace["took"][0]
    got = k.phys.Allocate("asker")
    assert got.pfn == spare and victim.state != "free"
    rec = k.trace.of(Reclaimed)[-1]
    assert rec.volunteered and rec.taken.startswith(hex(spare)) and rec.candidate.startswith(hex(victim.pfn))
    with pytest.raises(SpinError, match="revoked"):
        ext.namespace["PhysAddr"].Number(ext.namespace["mine"][0])
    assert isinstance(got, Frame) and k.trace.of(Boot)
