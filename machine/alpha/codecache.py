"""An on-disk cache of translated blocks' compiled code (issue 22: a headless lesson
spent about a third of its time translating the same blocks every run).

The translator's cost is its code generation (ast rewriting and ``compile``), 1-5 ms
a block. What it produces depends only on the block's instruction words, its PC, the
CPU model and the translator's own source, so the code object is kept on disk,
marshalled, under exactly that key; a hit rebuilds the same function (its constants
``I`` re-decoded from the words) and the same ``Block``. The key's version part is a
hash of the modules that decide the generated code and of the Python that marshalled
it (marshal's format is version-specific), so the cache is never wrong after a change,
and deleting it is always safe.

Layout: ``ROOT/code/TAG/PAGE`` with TAG that version, one file per (CPU model, virtual
page, page contents) holding every block ever translated from that page, and every region
(trace) compiled from its blocks, keyed by each member's pc and words: a lesson opens
a few dozen small files, and two programs at one address never share one. A file is read
when its page is first translated from, and written when the process exits (merged with
what another process may have written meanwhile, through a temporary file and
``os.replace``). A file that does not verify (truncated, corrupt) is ignored and
replaced. ROOT is ``$SPINWB_CACHE`` ("off" turns the cache off), else
``$XDG_CACHE_HOME/spinwb``, else ``~/.cache/spinwb``; where it cannot be written, the
cache only reads, silently. Anyone who can write ROOT can run code in the workbench,
as with Python's own ``__pycache__``. The native tier's compiled modules have a cache of
their own beside this one, under ``ROOT/native`` (machine/alpha/native/modcache.py).
"""

from __future__ import annotations

import atexit
import builtins
import hashlib
import marshal
import os
import sys
import types
from array import array
from functools import cache
from pathlib import Path
from typing import Any

from machine.alpha import translate
from machine.alpha.constants import PAGE_SHIFT
from machine.alpha.decode import Insn, decode

# The modules whose source decides the code a block compiles to (this one decides the format).
SOURCES = ("translate.py", "isa.py", "semantics.py", "alu.py", "fpu.py", "constants.py", "decode.py", "codecache.py")
MAGIC = b"SPINWB-BLOCKS-1\n"
DIGEST = 32  # bytes of blake2b over the payload: a file that does not match is ignored

Key = tuple[str, int, bytes]  # (CPU model, pc, the block's instruction words)
_ABSENT = object()
_INSNS = "\0insns"  # marks a field kept as instruction words (no field value is this string)


@cache
def version() -> str | None:
    """The translator version and the Python, hashed once per process (well under a
    millisecond); None if a source is missing (an unusual install): nothing is cached."""
    sources = source_hash(Path(__file__).parent)
    if sources is None:
        return None
    py = f"{sys.implementation.cache_tag} {sys.version} marshal {marshal.version}"
    return hashlib.blake2b(f"{py} {sources}".encode(), digest_size=10).hexdigest()


def source_hash(directory: Path, sources: tuple[str, ...] = SOURCES) -> str | None:
    """A hash of ``sources`` (file names) in directory, or None if one cannot be read."""
    h = hashlib.blake2b(digest_size=16)
    for name in sources:
        try:
            data = (directory / name).read_bytes()
        except OSError:
            return None
        h.update(f"{name} {len(data)}\0".encode() + data)
    return h.hexdigest()


def root() -> Path | None:
    """Where caches live, from the environment (read at each use: tests change it)."""
    env = os.environ.get("SPINWB_CACHE", "")
    if env.lower() == "off":
        return None
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    try:
        return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "spinwb"
    except RuntimeError:  # no home directory to be found
        return None


class CodeCache:
    """The blocks of one directory (one translator version): files read on first
    use, new entries written at exit. Entries stay marshalled in memory too, so
    every hit builds fresh objects that no other block shares."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.pages: dict[str, dict[Key, bytes]] = {}  # file name -> entries (read, or being built)
        self.new: dict[str, dict[Key, bytes]] = {}  # file name -> entries not yet on disk
        self.writable = True
        self.hits = self.misses = 0
        self._armed = False

    # --- the translator's side -------------------------------------------------------

    def block(self, tr: Any, pc: int, insns: list[Insn], frame: Any) -> Any:
        """The block at pc: rebuilt from the cache, or compiled by ``tr`` and kept."""
        page = tr.page_file(pc >> PAGE_SHIFT, frame)
        if page is None:
            return tr._compile(pc, insns)
        key = (tr.cpu.model, pc, array("I", [i.word for i in insns]).tobytes())
        entries = self.pages.get(page)
        if entries is None:
            entries = self.pages[page] = self.read(page)
        blob = entries.get(key)
        if blob is not None:
            b = _rebuild(tr, blob)
            if b is not None:
                self.hits += 1
                return b
        self.misses += 1
        b = tr._compile(pc, insns)
        blob = _entry(tr, b)
        if blob is not None:
            entries[key] = blob
            self.new.setdefault(page, {})[key] = blob
            if not self._armed:
                self._armed = True
                atexit.register(self.flush)
        return b

    def region(self, tr: Any, segs: list[Any], loop: bool, frame: Any) -> Any:
        """The region of blocks ``segs``: rebuilt from the cache, or compiled by ``tr`` and
        kept, in its page's file. Its key holds every member's pc and words (the file name
        is only a grouping), marked apart from a block's (whose words are 4-byte multiples)."""
        head = segs[0].pc
        page = tr.page_file(head >> PAGE_SHIFT, frame)
        if page is None:
            return tr._compile_region(segs, loop)
        path = b"".join(g.pc.to_bytes(8, "little") + len(g.insns).to_bytes(4, "little")
                        + array("I", [i.word for i in g.insns]).tobytes() for g in segs)  # fmt: skip
        key = (tr.cpu.model, head, b"R" + bytes([loop]) + path)
        entries = self.pages.get(page)
        if entries is None:
            entries = self.pages[page] = self.read(page)
        blob = entries.get(key)
        if blob is not None:
            g = _rebuild(tr, blob)
            if g is not None and isinstance(g.fn.__globals__.get("LIVE"), list):
                g.live = g.fn.__globals__["LIVE"]  # the one list its code and the translator share
                g.live[0] = True
                self.hits += 1
                return g
        self.misses += 1
        g = tr._compile_region(segs, loop)
        blob = _entry(tr, g)
        if blob is not None:
            entries[key] = blob
            self.new.setdefault(page, {})[key] = blob
            if not self._armed:
                self._armed = True
                atexit.register(self.flush)
        return g

    # --- files ---------------------------------------------------------------------------

    def read(self, page: str) -> dict[Key, bytes]:
        """A page file's entries, or none if it is missing or does not verify."""
        payload = read_verified(self.dir / page, MAGIC)
        if payload is None:
            return {}
        try:
            entries = marshal.loads(payload)
        except (EOFError, ValueError, TypeError):
            return {}
        return entries if isinstance(entries, dict) else {}

    def flush(self) -> None:
        """Write the new entries, each page file merged with what is on disk now."""
        new, self.new = self.new, {}
        if not new or not self.writable:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            self.writable = False
            return
        for page, entries in new.items():
            merged = self.read(page)
            merged.update(entries)
            if not write_verified(self.dir, page, MAGIC, marshal.dumps(merged)):
                self.writable = False
                return
            self.pages[page] = merged


def read_verified(path: Path, magic: bytes) -> bytes | None:
    """The payload of a file written by ``write_verified`` with ``magic``, or None
    if it is missing, truncated or corrupt (its digest does not match)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(magic) + DIGEST
    payload = data[head:]
    if data[: len(magic)] != magic or hashlib.blake2b(payload, digest_size=DIGEST).digest() != data[len(magic) : head]:
        return None
    return payload


def write_verified(directory: Path, name: str, magic: bytes, payload: bytes) -> bool:
    """Write ``magic``, a digest and ``payload`` to ``directory/name`` whole or not at
    all (a temporary file, then ``os.replace``); False if the directory refuses."""
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    try:
        tmp.write_bytes(magic + hashlib.blake2b(payload, digest_size=DIGEST).digest() + payload)
        os.replace(tmp, directory / name)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return False
    return True


_CACHES: dict[Path, CodeCache] = {}
# What current() last answered for a value of the variables root() reads and the version,
# with the _CACHES it came from (a test that empties _CACHES is a fresh process).
_NAMED: dict[tuple[str | None, ...], tuple[CodeCache | None, dict[Path, CodeCache]]] = {}


def current() -> CodeCache | None:
    """The cache the environment names now, or None if it is off. Asked once per block
    translated, so the answer is kept per value of what decides it: building the path
    each time was about a tenth of a lesson's translating."""
    env = os.environ
    said = (env.get("SPINWB_CACHE"), env.get("XDG_CACHE_HOME"), env.get("HOME"), version())
    known = _NAMED.get(said)
    if known is not None and known[1] is _CACHES:
        return known[0]
    where, tag = root(), said[-1]
    c = None
    if where is not None and tag is not None:
        directory = where / "code" / tag
        c = _CACHES.get(directory)
        if c is None:
            c = _CACHES[directory] = CodeCache(directory)
    _NAMED[said] = (c, _CACHES)
    return c


def block(tr: Any, pc: int, insns: list[Insn], frame: Any) -> Any:
    """The translator's one call: the compiled block for ``insns`` at pc, from
    the cache when it holds it, else from ``tr._compile`` (then kept)."""
    c = current()
    if c is None:
        return tr._compile(pc, insns)
    return c.block(tr, pc, insns, frame)


def region(tr: Any, segs: list[Any], loop: bool, frame: Any) -> Any:
    """The translator's call for a region (trace): as ``block``, from the cache when it can."""
    c = current()
    if c is None:
        return tr._compile_region(segs, loop)
    return c.region(tr, segs, loop, frame)


def page_name(model: str, vpn: int, frame: Any) -> str | None:
    """The file for blocks translated from this page with these contents. Only a
    grouping (an entry's key is exact), so Python's own hash of the words will do: it
    is stable across processes for integers, and about three times cheaper than blake2b."""
    try:
        h = hash(tuple(frame)) & 0xFFFF_FFFF_FFFF_FFFF
    except TypeError:  # not a page of words: not cached
        return None
    return f"{model}-{vpn:x}-{h:016x}"


def _entry(tr: Any, b: Any) -> bytes | None:
    """A block as bytes: its function's code, its other fields, and the globals
    its compilation added to the translator's namespace (``I`` as words). None
    if it holds something marshal cannot keep: then it is simply not cached."""
    fn = b.fn
    slots = getattr(type(b), "__slots__", None)
    if not isinstance(fn, types.FunctionType) or fn.__closure__ or fn.__defaults__ or fn.__kwdefaults__ or not slots:
        return None
    extras: list[tuple[str, str, Any]] = []
    for name, value in fn.__globals__.items():
        if name == "__builtins__" or tr.ns.get(name, _ABSENT) is value:
            continue
        if value is fn:
            extras.append(("fn", name, None))
        elif isinstance(value, tuple) and value and all(isinstance(x, Insn) for x in value):
            extras.append(("insns", name, tuple(x.word for x in value)))
        else:
            extras.append(("value", name, value))
    fields = tuple((s, _field(getattr(b, s))) for s in slots if s != "fn")
    try:
        return marshal.dumps((fn.__code__, fn.__name__, fields, tuple(extras)))
    except ValueError:
        return None


def _field(value: Any) -> Any:
    """A Block field as marshal can keep it: a tuple of instructions (the block's
    ``insns``, which regions are compiled from) as their words."""
    if isinstance(value, tuple) and value and all(isinstance(x, Insn) for x in value):
        return (_INSNS, tuple(x.word for x in value))
    return value


def _unfield(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == _INSNS:
        return tuple(decode(w) for w in value[1])
    return value


def _rebuild(tr: Any, blob: bytes) -> Any:
    """The block an entry describes, on translator ``tr`` (its CPU in the globals)."""
    try:
        code, name, fields, extras = marshal.loads(blob)
        ns = dict(tr.ns)
        ns["__builtins__"] = builtins.__dict__  # what exec() gives the generated code
        fn = types.FunctionType(code, ns, name)
        for kind, key, value in extras:
            ns[key] = fn if kind == "fn" else tuple(decode(w) for w in value) if kind == "insns" else value
        b = translate.Block.__new__(translate.Block)
        for slot, value in fields:
            setattr(b, slot, _unfield(value))
        b.fn = fn
    except (EOFError, ValueError, TypeError, AttributeError):
        return None
    return b
