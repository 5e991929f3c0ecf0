"""The on-disk cache of translated blocks (machine/alpha/codecache.py; not the per-page cache
of decoded and translated code in memory, which tests/machine/test_code_cache.py covers).

A run with a cold cache, a warm one and none must be the same run: registers, memory,
instruction counts, cycles and the kernel's state hash. A file that does not verify, a
different translator version, an unwritable or disabled directory: each is only a miss."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest

from kernel.boot import boot
from machine.alpha import codecache
from machine.alpha.constants import KSEG_BASE
from machine.elf import read_elf, read_program
from machine.usermode import UserProgram
from tests.conftest import BIN, elf
from tests.machine.test_code_cache import code, user_machine


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of this test's own, read from its files (not from another test's memory)."""
    monkeypatch.setenv("SPINWB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(codecache, "_CACHES", {})
    return tmp_path / "cache"


def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if a new process started: the cache's files are what it knows."""
    monkeypatch.setattr(codecache, "_CACHES", {})


def user_run(name: str = "crc") -> tuple[Any, ...]:
    """A corpus program in the one-process harness: everything a translator bug would change."""
    out = io.BytesIO()
    proc = UserProgram(read_elf(elf(name, "ev4")), [name], stdin=io.BytesIO(b""), stdout=out, stderr=io.BytesIO())
    info = proc.run(None)
    cpu = proc.cpu
    return out.getvalue(), info.status, cpu.icount, cpu.cycles, tuple(cpu.r), tuple(cpu.f), cpu.pc


def kernel_run() -> tuple[Any, ...]:
    """A short boot of the kernel with forkcow (a fork: its pages copied on write, code re-translated)."""
    out: list[bytes] = []
    k = boot(init=read_program(str(BIN / "forkcow.elf")), argv=["forkcow"], halt_when_done=True,
             console_out=out.append)  # fmt: skip
    why = k.run(3_000_000)
    cpu = k.machine.cpu
    return why, b"".join(out), cpu.icount, cpu.cycles, k.state_hash()


def stats() -> tuple[int, int]:
    c = codecache.current()
    assert c is not None
    return c.hits, c.misses


def flush() -> None:
    c = codecache.current()
    assert c is not None
    c.flush()


@pytest.mark.parametrize("run", [user_run, kernel_run])
def test_cold_warm_and_off_give_the_same_run(run: Any, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = run()
    hits, misses = stats()
    assert misses > 0
    flush()
    assert list((cache_dir / "code").iterdir()), "nothing was written"
    fresh_process(monkeypatch)
    warm = run()
    assert stats() == (hits + misses, 0), "a warm cache compiles nothing"
    monkeypatch.setenv("SPINWB_CACHE", "off")
    assert codecache.current() is None
    off = run()
    assert cold == warm == off


def test_a_corrupted_or_truncated_file_is_ignored_and_replaced(cache_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    want = user_run()
    flush()
    files = sorted(p for p in (cache_dir / "code").rglob("*") if p.is_file())
    assert files
    for i, f in enumerate(files):
        data = bytearray(f.read_bytes())
        if i % 2:
            del data[len(data) // 2 :]  # truncated
        else:
            data[len(data) // 2] ^= 0x40  # one bit flipped: marshal might still load it
        f.write_bytes(bytes(data))
    fresh_process(monkeypatch)
    assert user_run() == want
    hits, misses = stats()
    assert hits == 0 and misses > 0
    flush()
    fresh_process(monkeypatch)
    c = codecache.current()
    assert c is not None and all(c.read(f.name) for f in files), "the bad files were not replaced"


def test_another_translator_version_misses(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    want = user_run()
    flush()
    monkeypatch.setattr(codecache, "version", lambda: "0" * 20)
    fresh_process(monkeypatch)
    assert user_run() == want
    assert stats()[0] == 0


def test_the_version_follows_the_translator_source(tmp_path: Path) -> None:
    """Any change to a module that decides the generated code gives another version."""
    here = Path(codecache.__file__).parent
    for name in codecache.SOURCES:
        shutil.copy(here / name, tmp_path / name)
    base = codecache.source_hash(tmp_path)
    assert base == codecache.source_hash(here) and base is not None
    for name in ("translate.py", "semantics.py", "isa.py"):
        with open(tmp_path / name, "a") as f:
            f.write("# edited\n")
        assert codecache.source_hash(tmp_path) != base, name
    (tmp_path / "decode.py").unlink()
    assert codecache.source_hash(tmp_path) is None  # a source it cannot read: no cache at all


def test_the_pc_is_part_of_the_key(cache_dir: Path) -> None:
    """The same words at another PC compile to other code (it embeds its PCs): two copies
    of a block on one page, each branching to its own next block, must each go there."""
    base = KSEG_BASE + 0x30000
    m, _, seen = user_machine()
    for off, inc in ((0, 1), (0x100, 2)):  # "lda; br" identical in both, then addq 1 or 2
        src = f"\tlda $1, 5($31)\n\tbr $31, 1f\n1:\taddq $1, {inc}, $1\n\tcall_pal 0x80\n"
        m.memory.write(0x30000 + off, code(src, base))  # position-independent: the same words anywhere
    for off in (0, 0x100, 0, 0x100):
        m.cpu.pc, m.cpu.r[30] = base + off, m.pal.ksp
        m.halt_reason = None
        assert m.run(max_instructions=100) == "stopped"
    assert [s[1] for s in seen] == [6, 7, 6, 7]
    assert stats() == (0, 4)


def test_off_and_unwritable_directories_just_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    want = user_run()
    monkeypatch.setattr(codecache, "_CACHES", {})
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SPINWB_CACHE", str(blocker / "cache"))  # cannot be created, even by root
    assert user_run() == want
    flush()  # silently nothing
    c = codecache.current()
    assert c is not None and not c.writable
    monkeypatch.setenv("SPINWB_CACHE", "OFF")
    assert codecache.current() is None
    assert user_run() == want


def test_where_the_cache_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPINWB_CACHE", str(tmp_path / "x"))
    assert codecache.root() == tmp_path / "x"
    monkeypatch.delenv("SPINWB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert codecache.root() == tmp_path / "xdg" / "spinwb"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # the XDG spec says to ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert codecache.root() == tmp_path / "home" / ".cache" / "spinwb"


def test_regions_come_from_the_cache_too_and_can_still_be_dropped(cache_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A warm run rebuilds its regions (traces) from the cache instead of compiling them,
    and each rebuilt region's code reads the same ``live`` flag the translator clears
    when its page is dropped (else a stale region would run on after a store to its code)."""
    from machine.alpha import translate

    compiled: list[int] = []
    real = translate.Translator._compile_region

    def counting(self: Any, segs: Any, loop: bool) -> Any:
        compiled.append(segs[0].pc)
        return real(self, segs, loop)

    monkeypatch.setattr(translate.Translator, "_compile_region", counting)
    monkeypatch.setenv("SPINWB_NATIVE", "0")

    def run() -> tuple[Any, Any]:
        proc = UserProgram(read_elf(elf("sort", "ev4")), ["sort", "1"], stdin=io.BytesIO(b""), stdout=io.BytesIO(),
                           stderr=io.BytesIO())  # fmt: skip
        proc.run(None)
        return (proc.cpu.icount, proc.cpu.cycles, tuple(proc.cpu.r)), proc.cpu._translator

    cold, _ = run()
    assert compiled, "sort no longer forms regions: pick another program"
    flush()
    fresh_process(monkeypatch)
    compiled.clear()
    warm, tr = run()
    assert warm == cold and compiled == []
    regions = [g for pages in tr.rcode.values() for g in pages.values()]
    assert regions and all(g.live is g.fn.__globals__["LIVE"] and g.live == [True] for g in regions)
    for vpn, fid in list(tr.rcode):
        tr._drop(vpn, fid)
    assert all(g.live == [False] for g in regions), "dropping the page must stop its rebuilt regions"


def test_a_rewritten_page_gets_its_new_contents_file(cache_dir: Path) -> None:
    """The translator keeps each code page's file name while its code stands (hashing the
    page per block was a tenth of a warm run); rewriting the page drops it with the code,
    so the new code is filed under the new contents' name, and runs."""
    base = KSEG_BASE + 0x30000
    m, _, seen = user_machine()
    tr = m.cpu._translator
    names = []
    for inc in (1, 2):
        m.memory.write(0x30000, code(f"\tlda $1, 5($31)\n\taddq $1, {inc}, $1\n\tcall_pal 0x80\n", base))
        m.cpu.pc, m.cpu.r[30] = base, m.pal.ksp
        m.halt_reason = None
        assert m.run(max_instructions=100) == "stopped"
        (name,) = {n for (vpn, _), n in tr.names.items() if vpn == base >> 13}
        names.append(name)
    assert [s[1] for s in seen] == [6, 7]
    assert names[0] != names[1] and names[1] is not None
