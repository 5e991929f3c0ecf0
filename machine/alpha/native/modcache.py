"""An on-disk cache of the native tier's compiled modules, beside the translator's
block cache (machine/alpha/codecache.py, whose conventions it follows).

Compiling a region's module was most of what the native tier cost on a short run
(``bench cpu``'s hash workload spent about a third of its time on eleven of them).
What wasmtime produces depends only on the module's WebAssembly text, the
compiler and engine settings and wasmtime itself, so the compiled artifact
(``Module.serialize``) is kept on disk under exactly that key, and a later process
deserializes it instead of compiling. The key is a hash of what decides the text --
a region's instruction words at their addresses, its entries, the CPU's features and
the memory's size -- so a hit skips writing the text too (a third of a warm run's
native cost). It sits under a version that hashes the engine description
(``wasm.ENGINE``), the wasmtime library file (path, size, mtime: a different wasmtime
is a different file, and reading the package's metadata costs about 0.1 s), the
machine's architecture, the sources that turn those inputs into text (lower.py,
wasm.py, state.py, this module) and the translator's version (codecache.version:
the decoder and instruction table): a change anywhere can never load a stale
artifact, and deleting the cache is always safe. wasmtime also refuses an artifact
made by another version or configuration; that is a miss.

Layout: ``ROOT/native/TAG/KEY`` (ROOT as codecache.root(): ``$SPINWB_CACHE``, "off"
turns this cache off too). A file is MAGIC, a blake2b digest of the artifact and the
artifact; one that does not verify (truncated, corrupt) is ignored, compiled again and
replaced. New artifacts are written when the process exits, through a temporary file
and ``os.replace``; where ROOT cannot be written the cache only reads, silently.

Trust: deserializing runs the artifact's machine code, unchecked by wasm's sandbox,
and the digest only catches accidents, not intent: anyone who can write ROOT can run
code in the workbench, exactly as with codecache's marshalled code and Python's own
``__pycache__``.
"""

from __future__ import annotations

import atexit
import hashlib
import marshal
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from machine.alpha import codecache

SOURCES = ("lower.py", "wasm.py", "state.py", "modcache.py")
MAGIC = b"SPINWB-WASM-2\n"  # a file: MAGIC, digest, marshal of (the region's facts, the artifact)
Make = Callable[[], "tuple[str, Any] | None"]  # a module's text and facts, made only on a miss

_VERSIONS: dict[str, str | None] = {}  # engine description -> version tag


def version(engine: str) -> str | None:
    """The tag for modules compiled by an engine described as ``engine``; None if a
    source or the wasmtime library cannot be read (an unusual install): nothing is cached."""
    if engine not in _VERSIONS:
        _VERSIONS[engine] = _version(engine)
    return _VERSIONS[engine]


def _version(engine: str) -> str | None:
    sources = codecache.source_hash(Path(__file__).parent, SOURCES)
    try:
        from wasmtime import _ffi

        lib = Path(_ffi.filename)
        st = lib.stat()
    except (ImportError, AttributeError, OSError):
        return None
    decoder = codecache.version()
    if sources is None or decoder is None:
        return None
    what = f"{engine} | {lib} {st.st_size} {st.st_mtime_ns} | {platform.machine()} | {sources} | {decoder}"
    return hashlib.blake2b(what.encode(), digest_size=10).hexdigest()


class ModuleCache:
    """The artifacts of one directory (one version): each file read when its module
    is asked for, new ones written at exit."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.new: dict[str, bytes] = {}  # file name -> artifact not yet on disk
        self.writable = True
        self.hits = self.misses = 0
        self._armed = False

    def module(self, wasmtime: Any, engine: Any, key: str, make: Make) -> tuple[Any, Any] | None:
        """The compiled module of ``make()``'s text (whose inputs ``key`` names) and its
        facts: deserialized from the cache when it holds a verified artifact the engine
        accepts (``make`` is then never called), else compiled and kept. None if
        ``make`` has nothing to compile."""
        name = hashlib.blake2b(key.encode(), digest_size=20).hexdigest()
        blob = self.new.get(name)
        if blob is None:
            blob = self.read(name)
        if blob is not None:
            try:
                facts, artifact = marshal.loads(blob)
                m = wasmtime.Module.deserialize(engine, artifact)
            except (wasmtime.WasmtimeError, EOFError, ValueError, TypeError):  # another wasmtime's, or not ours
                pass
            else:
                self.hits += 1
                return m, facts
        made = make()
        if made is None:
            return None
        self.misses += 1
        text, facts = made
        m = compile_module(wasmtime, engine, text)
        try:
            self.new[name] = marshal.dumps((facts, bytes(m.serialize())))
        except (wasmtime.WasmtimeError, ValueError):
            return m, facts
        if not self._armed:
            self._armed = True
            atexit.register(self.flush)
        return m, facts

    def read(self, name: str) -> bytes | None:
        """A file's artifact, or None if it is missing or does not verify."""
        return codecache.read_verified(self.dir / name, MAGIC)

    def flush(self) -> None:
        """Write the new artifacts (each whole, or not at all)."""
        new, self.new = self.new, {}
        if not new or not self.writable:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            self.writable = False
            return
        for name, blob in new.items():
            if not codecache.write_verified(self.dir, name, MAGIC, blob):
                self.writable = False
                return


COMPILED = 0  # modules this process compiled (not deserialized): what a warm run keeps at zero
_CACHES: dict[Path, ModuleCache] = {}


def compile_module(wasmtime: Any, engine: Any, wat: str) -> Any:
    """Compile ``wat`` (the one place the tier does), counted in COMPILED."""
    global COMPILED
    COMPILED += 1
    return wasmtime.Module(engine, wat)


def current(engine: str) -> ModuleCache | None:
    """The cache the environment names now for an engine described as ``engine``, or
    None if it is off (asked once per module compiled: a few per run)."""
    where = codecache.root()
    tag = version(engine) if where is not None else None
    if where is None or tag is None:
        return None
    directory = where / "native" / tag
    c = _CACHES.get(directory)
    if c is None:
        c = _CACHES[directory] = ModuleCache(directory)
    return c


def module(wasmtime: Any, engine: Any, description: str, key: str, make: Make) -> tuple[Any, Any] | None:
    """``Runtime``'s one call: the compiled module of the text ``make()`` returns with
    its facts (what the tier keeps of the region: marshallable), from the cache when it
    can, so a hit needs neither. ``key`` must name everything ``make`` depends on beyond
    the version's sources. None if ``make`` has nothing to compile."""
    c = current(description)
    if c is None:
        made = make()
        return None if made is None else (compile_module(wasmtime, engine, made[0]), made[1])
    return c.module(wasmtime, engine, key, make)
