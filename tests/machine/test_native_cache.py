"""The on-disk cache of compiled native modules (machine/alpha/native/modcache.py) and the
engine's choice of compiler (wasm._the_engine).

A warm run deserializes every module instead of compiling it and is the same run as a
cold one; a file that does not verify, a different key version, or the cache turned off
are each only a miss, and "off" writes nothing."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest

from machine.alpha import codecache, translate
from machine.alpha.native import lower, modcache, wasm
from machine.elf import read_elf
from machine.usermode import UserProgram
from tests.conftest import elf, require_module

PROGRAM, ARGS = "sort", ["sort", "1"]  # a few native modules in well under a second


@pytest.fixture(autouse=True)
def _wasmtime(monkeypatch: pytest.MonkeyPatch) -> None:
    require_module("wasmtime")
    monkeypatch.setenv("SPINWB_NATIVE", "1")
    monkeypatch.setenv("SPINWB_TRACES", "1")
    monkeypatch.setattr(translate, "NATIVE_START", 0)  # sort at one round runs fewer


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPINWB_CACHE", str(tmp_path / "cache"))
    fresh_process(monkeypatch)
    return tmp_path / "cache"


def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if a new process started: the caches' files are all it knows."""
    monkeypatch.setattr(codecache, "_CACHES", {})
    monkeypatch.setattr(modcache, "_CACHES", {})


def at_exit() -> None:
    """What the process's exit would do: write the new artifacts."""
    for c in modcache._CACHES.values():
        c.flush()


def run() -> tuple[tuple[Any, ...], int]:
    """The program's run (what a tier bug would change) and the modules it compiled."""
    before = modcache.COMPILED
    out = io.BytesIO()
    proc = UserProgram(read_elf(elf(PROGRAM, "ev4")), ARGS, stdin=io.BytesIO(b""), stdout=out, stderr=io.BytesIO(),
                       translate=True)  # fmt: skip
    info = proc.run(None)
    cpu = proc.cpu
    tier = cpu._translator.native
    assert tier is not None and tier.compiled > 0, "the program no longer makes native code: pick another"
    return (out.getvalue(), info.status, cpu.icount, cpu.cycles, tuple(cpu.r), cpu.pc), modcache.COMPILED - before


def artifacts(cache_dir: Path) -> list[Path]:
    return sorted(p for p in (cache_dir / "native").glob("*/*") if not p.name.startswith("."))


def test_a_warm_run_compiles_no_module_and_is_the_same_run(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold, compiled = run()
    assert compiled > 0
    assert artifacts(cache_dir) == [], "written at exit, not during the run"
    at_exit()
    assert len(artifacts(cache_dir)) == compiled
    fresh_process(monkeypatch)
    emitted = []
    emit, build = wasm.emit, lower.build
    monkeypatch.setattr(wasm, "emit", lambda region, pages: emitted.append(region) or emit(region, pages))
    monkeypatch.setattr(lower, "build", lambda *a: emitted.append(a) or build(*a))
    warm, recompiled = run()
    assert recompiled == 0
    assert warm == cold
    (c,) = modcache._CACHES.values()
    assert c.hits == compiled and c.misses == 0
    assert emitted == [], "a hit is found from the region's inputs: it is neither lowered nor written"


def test_a_corrupt_or_truncated_file_is_ignored_and_replaced(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold, compiled = run()
    at_exit()
    files = artifacts(cache_dir)
    good = {p: p.read_bytes() for p in files}
    for i, p in enumerate(files):
        data = bytearray(good[p])
        if i % 2:
            p.write_bytes(data[: len(data) // 2])
        else:  # one byte of the artifact itself: wasmtime might well load it, and run it
            data[len(modcache.MAGIC) + codecache.DIGEST + len(data) // 3] ^= 0x40
            p.write_bytes(data)
    fresh_process(monkeypatch)
    again, recompiled = run()
    assert recompiled == compiled
    assert again == cold
    at_exit()
    (c,) = modcache._CACHES.values()
    assert c.hits == 0
    assert all(c.read(p.name) is not None for p in files), "each bad file was written again, whole"


def test_a_new_key_version_leaves_old_files_unused(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, compiled = run()
    at_exit()
    old = artifacts(cache_dir)
    fresh_process(monkeypatch)
    monkeypatch.setattr(wasm, "ENGINE", wasm.ENGINE + " (changed)")
    _, recompiled = run()
    at_exit()
    assert recompiled == compiled
    assert len(artifacts(cache_dir)) == 2 * compiled
    assert all(p.exists() for p in old) and {p.parent for p in artifacts(cache_dir)} != {old[0].parent}


def test_the_version_hashes_the_sources_and_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = Path(modcache.__file__).parent
    copy = tmp_path / "native"
    copy.mkdir()
    for name in modcache.SOURCES:
        shutil.copy(here / name, copy / name)
    monkeypatch.setattr(modcache, "__file__", str(copy / "modcache.py"))
    monkeypatch.setattr(modcache, "_VERSIONS", {})
    first = modcache.version("winch")
    assert first is not None
    assert modcache.version("cranelift") != first
    for name in modcache.SOURCES:
        monkeypatch.setattr(modcache, "_VERSIONS", {})
        (copy / name).write_bytes((here / name).read_bytes() + b"\n# changed\n")
        assert modcache.version("winch") != first, name
        shutil.copy(here / name, copy / name)
    monkeypatch.setattr(modcache, "_VERSIONS", {})
    assert modcache.version("winch") == first


def test_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINWB_CACHE", "off")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    fresh_process(monkeypatch)
    _, compiled = run()
    at_exit()
    assert compiled > 0
    assert modcache._CACHES == {}
    assert list(tmp_path.rglob("*")) == []


def test_winch_by_default_cranelift_when_asked_or_when_winch_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    import wasmtime

    built = wasm._build_engine

    def refuse_winch(wt: Any, compiler: str) -> Any:
        if compiler == "winch":
            raise wasmtime.WasmtimeError("no winch here")
        return built(wt, compiler)

    try:
        built(wasmtime, "winch")
        default = "winch"
    except wasmtime.WasmtimeError:  # a platform whose Winch cannot take the tier's code
        default = "cranelift"
    monkeypatch.setattr(wasm, "ENGINE", wasm.ENGINE)  # restored after the test, with _engine
    cases = ((None, built, default), ("cranelift", built, "cranelift"), (None, refuse_winch, "cranelift"))
    for env, build, want in cases:
        monkeypatch.setattr(wasm, "_engine", None)
        monkeypatch.setattr(wasm, "_build_engine", build)
        if env is None:
            monkeypatch.delenv("SPINWB_NATIVE_COMPILER", raising=False)
        else:
            monkeypatch.setenv("SPINWB_NATIVE_COMPILER", env)
        wasm._the_engine()
        assert wasm.ENGINE.split()[0] == want


def test_the_key_names_every_input_of_a_region() -> None:
    """A hit skips the text, so the key must change with anything that changes it: an
    instruction word anywhere in the page, an entry, the CPU's features."""
    from machine.alpha.decode import decode

    code = {0x1000 + 4 * k: decode(w) for k, w in enumerate([0x40220401, 0x47FF041F, 0x6BFA8001])}
    base = lower.key(code, 0x1000, 1)
    assert lower.key(dict(code), 0x1000, 1) == base
    changed = dict(code)
    changed[0x1004] = decode(0x40220402)
    assert lower.key(changed, 0x1000, 1) != base
    assert lower.key(code, 0x1004, 1) != base
    assert lower.key(code, 0x1000, 3) != base
    assert lower.key(code, 0x1000, 1, (0x1008,)) != base
