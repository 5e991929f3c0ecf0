"""Checking a workbench snapshot file before it is replayed.

A snapshot (``Session.save``) is JSON: where the session booted from and the log
of actions to redo. ``snapshot load FILE`` hands whatever a student names to
the replay, so the file is checked first -- bounded to read, each action of
the shape the session logs, each number in a range a session could have made,
each path it names a regular file -- and a bad one is refused in one line
naming the file and what is wrong, before the session in use is touched.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from machine.hostfile import HOST_TEXT_MAX, HostFileError, read_text
from workbench.session import SNAPSHOT_FORMAT, SNAPSHOT_VERSION, SessionError
from workbench.views import plural

MAX_ACTIONS = 100_000
MAX_STEP = 10**9  # instructions or cycles in one logged step (the TUI's slices are far smaller)
MAX_REPLAY = 10**10  # instructions a whole replay may redo: long, but it ends
MAX_HOST = 63  # machines are numbered 0..63 (state.MAX_MACHINES)
MAX_TEXT = 4096


class _Bad(ValueError):
    """What is wrong, without the file name."""


def _int(v: object, where: str, lo: int, hi: int) -> int:
    if type(v) is not int or not lo <= v <= hi:
        shown = f"{v}"[:40] if type(v) is not int or v.bit_length() < 80 else f"a {v.bit_length()}-bit number"
        raise _Bad(f"{where} should be a whole number from {lo:,} to {hi:,}, not {shown}")
    return v


def _text(v: object, where: str) -> str:
    if not isinstance(v, str) or len(v) > MAX_TEXT:
        raise _Bad(f"{where} should be text of at most {MAX_TEXT} characters")
    return v


def _regular(path: str, where: str) -> None:
    """A path the replay will read must be a regular file (not a FIFO or a
    device it would wait on or read forever), if it exists at all."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return  # missing: the replay itself says so
    if not stat.S_ISREG(st.st_mode):
        raise _Bad(f"{where} names {path}, which is not a regular file")
    if st.st_size > HOST_TEXT_MAX:
        raise _Bad(f"{where} names {path}, which is larger than a program or extension may be")


def _action(a: object, i: int, classroom: bool) -> int:
    """Check one logged action; the instructions it may run."""
    where = f"action {i}"
    if not isinstance(a, list) or not a or not isinstance(a[0], str):
        raise _Bad(f"{where} should be a list starting with its kind")
    op, n = a[0], len(a)
    arity = {"step": 3, "to": 2, "scenario": 1, "break": 3, "load": 3, "unload": 3, "raise": 4, "input": 4}.get(op)
    if arity is None:
        raise _Bad(f"{where}: unknown kind {op[:20]!r}")
    if n != arity:
        raise _Bad(f"{where} ({op}) should have {plural(arity - 1, 'argument')}, not {n - 1}")
    if op == "step":
        if a[2] is not None:
            _int(a[2], f"{where} (step) cycles", 0, MAX_STEP)
        return _int(a[1], f"{where} (step) instructions", 0, MAX_STEP)
    if op == "to":
        if a[1] not in ("entry", "dispatch"):
            raise _Bad(f"{where} (to) should say entry or dispatch")
        return 10**7
    if op == "break":
        if a[1] not in ("add", "del"):
            raise _Bad(f"{where} (break) should say add or del")
        _text(a[2], f"{where} (break)")
    elif op == "input":  # console input typed: host, text, then Ctrl-D or not
        _int(a[1], f"{where} (input) host", 0, MAX_HOST)
        _text(a[2], f"{where} (input)")
        if not isinstance(a[3], bool):
            raise _Bad(f"{where} (input) should say true or false for end of input")
    elif op in ("load", "unload", "raise"):
        _int(a[1], f"{where} ({op}) host", 0, MAX_HOST)
        if op == "load":
            what = a[2]
            keys = set(what) if isinstance(what, dict) else set()
            if not {"path", "settings"} <= keys <= {"path", "settings", "importer"} or not isinstance(
                what["settings"], dict
            ):
                raise _Bad(f"{where} (load) should name a path and settings")
            importer = what.get("importer", "user")
            if importer not in ("user", "root"):
                raise _Bad(f"{where} (load): rights {str(importer)[:20]!r} are neither a user's nor the owner's")
            if importer == "root" and classroom:
                raise _Bad(f"{where} (load) loads an extension with the owner's rights, which a workbench served to "
                           "a classroom does not allow")  # fmt: skip
            _regular(_text(what["path"], f"{where} (load) path"), f"{where} (load)")
        else:
            _text(a[2], f"{where} ({op})")
            if op == "raise":
                _text(a[3], f"{where} (raise) arguments")
    return 0


def check(doc: object, classroom: bool = False) -> None:
    """_Bad unless ``doc`` has the shape ``Session.save`` writes (and, in a
    workbench served to a classroom, loads nothing with the owner's rights)."""
    if not isinstance(doc, dict) or (doc.get("format"), doc.get("format_version")) != (
        SNAPSHOT_FORMAT,
        SNAPSHOT_VERSION,
    ):
        return  # Session.open says which snapshot (or not-a-snapshot) it is
    src = doc.get("source")
    if not isinstance(src, dict):
        raise _Bad('it has no "source" saying where the world booted from')
    if "scenario" in src:
        _regular(_text(src["scenario"], "the scenario"), "the source")
        _int(src.get("seed"), "the seed", -(1 << 63), (1 << 63) - 1)
    else:
        if src.get("program") is not None:
            _regular(_text(src["program"], "the program"), "the source")
        argv = src.get("argv")
        if argv is not None and (not isinstance(argv, list) or len(argv) > 256):
            raise _Bad("the program's argv should be a list of at most 256 words")
        for w in argv or []:
            _text(w, "a word of argv")
    log = doc.get("log")
    if not isinstance(log, list) or len(log) > MAX_ACTIONS:
        raise _Bad(f'its "log" should be a list of at most {MAX_ACTIONS:,} actions')
    total = sum(_action(a, i, classroom) for i, a in enumerate(log))
    if total > MAX_REPLAY:
        raise _Bad(f"replaying it would run {total:,} instructions, more than {MAX_REPLAY:,}")


def check_file(path: str, classroom: bool = False) -> None:
    """A SessionError naming ``path`` unless it is a snapshot file we can replay."""
    try:
        text = read_text(path, HOST_TEXT_MAX, "a snapshot")
    except HostFileError as e:
        raise SessionError(str(e)) from None
    try:
        doc: Any = json.loads(text)
    except RecursionError:
        raise SessionError(f"{path}: not a workbench snapshot (JSON nested too deeply)") from None
    except ValueError:
        raise SessionError(f"{path}: not a workbench snapshot (not JSON)") from None
    try:
        check(doc, classroom)
    except _Bad as e:
        raise SessionError(f"{path}: {e}") from None
