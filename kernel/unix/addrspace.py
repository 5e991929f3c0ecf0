"""UNIX address-space semantics on SPIN's memory services (SOSP'95 §4.1).

SPIN's kernel knows frames (PhysAddr), ranges (VirtAddr) and mappings
(Translation); what a UNIX process means by its address space -- regions
with protections, demand-zero pages, a heap that grows with brk, mmap and
munmap, copy-on-write after fork -- is an extension built from those and
from the fault events. ``fix`` is that extension's fault handler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from kernel.core import costs
from kernel.core.physaddr import Frame, OutOfFrames, PhysAddr
from kernel.core.sal import EXECUTE, KIND_EXECUTE, KIND_WRITE, PAGE_SHIFT, PAGE_SIZE, READ, WRITE
from kernel.core.translation import COW, Space, Translation

# Every frame taken on a process's behalf below may raise OutOfFrames (a page,
# or a page-table page under AddMapping). Each path leaves the space as it was
# before the attempt, so the caller can fail the call (fork, execve: ENOMEM) or
# kill the process that asked (a fault: personality.py's OOM policy).


@dataclass
class Region:
    start: int  # vpn
    end: int  # vpn, exclusive
    prot: int
    kind: str  # "text", "data", "heap", "stack", "mmap", "file"
    file: Any = None  # a "file" region's Entry
    pgoff: int = 0  # the file page at ``start``
    shared: bool = False  # MAP_SHARED: stores reach the file; else MAP_PRIVATE, copy-on-write

    def piece(self, start: int, end: int) -> Region:
        return Region(start, end, self.prot, self.kind, self.file, self.pgoff + start - self.start, self.shared)


class Pager(Protocol):
    """What a file mapping needs of the file system (kernel/fs/extentfs.py)."""

    def hold(self, e: Any) -> None: ...
    def let_go(self, e: Any) -> None: ...
    def page(self, e: Any, index: int, strand: Any) -> Frame | None | bool: ...
    def unmapped(self, e: Any, index: int, f: Frame) -> None: ...
    def wrote(self, e: Any, index: int) -> None: ...


class AddressSpace:
    def __init__(self, tr: Translation, phys: PhysAddr, name: str) -> None:
        self.tr = tr
        self.phys = phys
        self.space: Space = tr.Create(name)
        self.regions: list[Region] = []
        self.brk_start = self.brk = 0
        self.mmap_next = 0x200_0000_0000
        self.cow_breaks = 0
        self.zero_fills = 0
        self.pager: Pager | None = None  # the file system, for "file" regions
        self.file_pages: dict[int, tuple[Any, int]] = {}  # vpn -> (entry, file page) mapped to a cache frame

    # --- regions ---------------------------------------------------------------------

    def region_at(self, va: int) -> Region | None:
        vpn = va >> PAGE_SHIFT
        for r in self.regions:
            if r.start <= vpn < r.end:
                return r
        return None

    def _split(self, vpn: int) -> None:
        for i, r in enumerate(self.regions):
            if r.start < vpn < r.end:
                self.regions[i : i + 1] = [r.piece(r.start, vpn), r.piece(vpn, r.end)]
                if r.file is not None and self.pager is not None:
                    self.pager.hold(r.file)  # each piece holds the file
                return

    def add_region(self, va: int, size: int, prot: int, kind: str, file: Any = None, pgoff: int = 0,
                   shared: bool = False) -> None:  # fmt: skip
        start, end = va >> PAGE_SHIFT, (va + size + PAGE_SIZE - 1) >> PAGE_SHIFT
        self.remove_range(start << PAGE_SHIFT, (end - start) << PAGE_SHIFT)
        self.regions.append(Region(start, end, prot, kind, file, pgoff, shared))
        self.regions.sort(key=lambda r: r.start)
        if file is not None and self.pager is not None:
            self.pager.hold(file)

    def remove_range(self, va: int, size: int) -> None:
        start, end = va >> PAGE_SHIFT, (va + size + PAGE_SIZE - 1) >> PAGE_SHIFT
        self._split(start)
        self._split(end)
        gone = [r for r in self.regions if not (r.end <= start or r.start >= end)]
        self.regions = [r for r in self.regions if r.end <= start or r.start >= end]
        for vpn in [v for v in self.space.mapped if start <= v < end]:
            self._drop(vpn)
        for r in gone:
            if r.file is not None and self.pager is not None:
                self.pager.let_go(r.file)

    def file_regions(self, va: int, size: int) -> list[Region]:
        """The shared file regions that overlap the range (msync's)."""
        start, end = va >> PAGE_SHIFT, (va + size + PAGE_SIZE - 1) >> PAGE_SHIFT
        return [r for r in self.regions if r.file is not None and r.shared and r.start < end and r.end > start]

    def is_free(self, va: int, size: int) -> bool:
        start, end = va >> PAGE_SHIFT, (va + size + PAGE_SIZE - 1) >> PAGE_SHIFT
        return all(r.end <= start or r.start >= end for r in self.regions)

    def protect(self, va: int, size: int, prot: int) -> bool:
        """mprotect: False if part of the range is not mapped (ENOMEM)."""
        start, end = va >> PAGE_SHIFT, (va + size + PAGE_SIZE - 1) >> PAGE_SHIFT
        covered = sum(min(r.end, end) - max(r.start, start) for r in self.regions if r.start < end and r.end > start)
        if covered != end - start:
            return False
        self._split(start)
        self._split(end)
        for r in self.regions:
            if start <= r.start and r.end <= end:
                r.prot = prot
        self._merge()
        pages = [v for v in self.space.mapped if start <= v < end]
        for vpn in pages:
            self._map_page(vpn, self.space.mapped[vpn], prot)
        # the generality SOSP'95 §5.2 blames: a map operation, then per-page VM work under it
        self.tr.sal.charge(costs.REGION_OP + costs.VM_PAGE * len(pages))
        return True

    def _merge(self) -> None:
        """Join neighbouring regions that are alike again (as vm_map_simplify
        does), so protecting and unprotecting in a loop does not grow the map."""
        out: list[Region] = []
        for r in self.regions:
            if out and out[-1].end == r.start and out[-1].prot == r.prot and out[-1].kind == r.kind \
                    and r.file is None and out[-1].file is None:  # fmt: skip
                out[-1] = Region(out[-1].start, r.end, r.prot, r.kind)
            else:
                out.append(r)
        self.regions = out

    def _map_page(self, vpn: int, pfn: int, prot: int) -> None:
        """Map with the region's protection, minus write while shared copy-on-write."""
        va = vpn << PAGE_SHIFT
        soft = self.tr.soft_bits(self.space, va) if vpn in self.space.mapped else 0
        if soft & COW:
            prot &= ~WRITE
        self.tr.AddMapping(self.space, pfn, va, prot, soft)

    def _drop(self, vpn: int) -> None:
        pfn = self.tr.RemoveMapping(self.space, vpn << PAGE_SHIFT)
        if pfn is None:
            return
        held = self.file_pages.pop(vpn, None)
        if held is not None and self.pager is not None:
            self.pager.unmapped(held[0], held[1], self.phys.frames[pfn])  # a cache frame: the file system's
        else:
            self._unref(self.phys.frames[pfn])

    def _unref(self, f: Frame) -> None:
        f.refs -= 1
        if f.refs <= 0:
            self.phys.Deallocate(f)

    # --- the fault handler -----------------------------------------------------------

    def fix(self, va: int, kind: int, event: str, strand: Any = None) -> bool:
        """Demand-zero a page, or break copy-on-write, or bring in a file's
        page; False if the access is one the process is not allowed (then
        it gets SIGSEGV). A file page on the disk blocks ``strand`` until it
        is in (True: the access runs again then); with no strand to block
        (a kernel copy) it is False."""
        r = self.region_at(va)
        if r is None:
            return False
        need = {KIND_EXECUTE: EXECUTE, KIND_WRITE: WRITE}.get(kind, READ)
        if not r.prot & need:
            return False
        vpn = va >> PAGE_SHIFT
        if r.file is not None:
            return self._file_fault(r, vpn, kind == KIND_WRITE, strand)
        pfn = self.space.mapped.get(vpn)
        if pfn is None:
            self._zero_page(vpn, r.prot)
            self.zero_fills += 1
            return True
        if kind == KIND_WRITE and self.tr.soft_bits(self.space, va) & COW:
            f = self.phys.frames[pfn]
            if f.refs > 1:
                new = self.phys.Allocate("anon")
                self.tr.sal.copy_frame(pfn, new.pfn)
                self.tr.sal.charge(costs.PAGE_COPY)
                try:
                    self.tr.AddMapping(self.space, new, vpn << PAGE_SHIFT, r.prot, 0)
                except OutOfFrames:  # the PTE exists, so this cannot happen; keep the books right if it does
                    self.phys.Deallocate(new)
                    raise
                new.refs = 1
                f.refs -= 1
            else:
                self.tr.AddMapping(self.space, pfn, vpn << PAGE_SHIFT, r.prot, 0)
            self.cow_breaks += 1
            return True
        return False

    def _file_fault(self, r: Region, vpn: int, write: bool, strand: Any) -> bool:
        """A page of a file mapping (mmap(2) with a descriptor). Shared: the
        cache frame itself, mapped without write until the first store, whose
        fault tells the file system the chunk is dirty. Private: the cache
        frame read-only, copied at the first store (copy-on-write)."""
        assert self.pager is not None
        index = r.pgoff + vpn - r.start
        va = vpn << PAGE_SHIFT
        pfn = self.space.mapped.get(vpn)
        if pfn is not None:  # mapped, and this is a store to a page mapped without write
            if not write:
                return False
            if r.shared:
                self.pager.wrote(r.file, index)
                self.tr.AddMapping(self.space, pfn, va, r.prot, 0)
                return True
            if vpn not in self.file_pages:
                return False  # already the process's own copy, and still a store fault: not ours to fix
            new = self.phys.Allocate("anon")
            self.tr.sal.copy_frame(pfn, new.pfn)
            self.tr.sal.charge(costs.PAGE_COPY)
            new.refs = 1
            entry, idx = self.file_pages.pop(vpn)
            self.tr.AddMapping(self.space, new, va, r.prot, 0)
            self.pager.unmapped(entry, idx, self.phys.frames[pfn])
            self.cow_breaks += 1
            return True
        got = self.pager.page(r.file, index, strand)
        if got is None:
            return True  # the strand waits for the disk; the access runs again when it is woken
        if got is False:
            return False  # past the end of the file (Linux: SIGBUS)
        assert isinstance(got, Frame)
        got.refs += 1
        self.file_pages[vpn] = (r.file, index)
        if r.shared and write:
            self.pager.wrote(r.file, index)
            self.tr.AddMapping(self.space, got, va, r.prot, 0)
        else:
            self.tr.AddMapping(self.space, got, va, r.prot & ~WRITE, 0 if r.shared else COW)
            if write:  # private: the store copies at once
                return self._file_fault(r, vpn, True, strand)
        return True

    def _zero_page(self, vpn: int, prot: int) -> int:
        """Map a fresh zeroed frame at vpn; its number. If the page table
        cannot grow to hold it, the frame goes back and OutOfFrames rises."""
        f = self.phys.Allocate("anon", ("zeroed",))
        try:
            self.tr.AddMapping(self.space, f, vpn << PAGE_SHIFT, prot)
        except OutOfFrames:
            self.phys.Deallocate(f)
            raise
        f.refs = 1
        return f.pfn

    # --- fork, loading, teardown -----------------------------------------------------

    def fork(self, name: str) -> AddressSpace:
        """A copy that shares every frame copy-on-write (SOSP'95 §4.1). The
        child's page tables take frames: if they run out, the half-made child
        is torn down and OutOfFrames rises (fork fails with ENOMEM). The
        parent's pages stay copy-on-write then, which costs it only a fault
        that finds the frame unshared."""
        child = AddressSpace(self.tr, self.phys, name)
        child.pager = self.pager
        child.regions = [r.piece(r.start, r.end) for r in self.regions]
        for r in child.regions:
            if r.file is not None and self.pager is not None:
                self.pager.hold(r.file)
        child.brk_start, child.brk, child.mmap_next = self.brk_start, self.brk, self.mmap_next
        try:
            for vpn, pfn in sorted(self.space.mapped.items()):
                at = self.region_at(vpn << PAGE_SHIFT)
                prot = at.prot if at is not None else READ
                if vpn in self.file_pages and at is not None:  # a cache frame: both map it as this one does
                    soft = self.tr.soft_bits(self.space, vpn << PAGE_SHIFT)
                    self.tr.AddMapping(child.space, pfn, vpn << PAGE_SHIFT, prot & ~WRITE, soft if not at.shared else 0)
                    child.file_pages[vpn] = self.file_pages[vpn]
                    self.phys.frames[pfn].refs += 1
                    continue
                soft = COW if prot & WRITE else 0
                self.tr.AddMapping(self.space, pfn, vpn << PAGE_SHIFT, prot & ~WRITE if soft else prot, soft)
                self.tr.AddMapping(child.space, pfn, vpn << PAGE_SHIFT, prot & ~WRITE if soft else prot, soft)
                self.phys.frames[pfn].refs += 1  # only once the child maps it, so teardown gives back what it took
        except OutOfFrames:
            child.destroy()
            raise
        return child

    def poke(self, va: int, data: bytes) -> None:
        """The loader's write: pages appear as needed, protections ignored."""
        pos = 0
        while pos < len(data):
            a = va + pos
            vpn = a >> PAGE_SHIFT
            pfn = self.space.mapped.get(vpn)
            if pfn is None:
                r = self.region_at(a)
                pfn = self._zero_page(vpn, r.prot if r else READ)
            off = a & (PAGE_SIZE - 1)
            k = min(PAGE_SIZE - off, len(data) - pos)
            self.tr.sal.write_phys((pfn << PAGE_SHIFT) + off, data[pos : pos + k])
            pos += k

    def destroy(self) -> None:
        for vpn in list(self.space.mapped):
            self._drop(vpn)
        self.tr.Destroy(self.space)
        for r in self.regions:
            if r.file is not None and self.pager is not None:
                self.pager.let_go(r.file)
        self.regions = []

    def pages(self) -> int:
        return len(self.space.mapped)
