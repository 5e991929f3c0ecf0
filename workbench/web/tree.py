"""A host directory as the web world's files: relative POSIX names -> bytes
(the names the extent file system keeps, spec: "docs/a b.txt")."""

from __future__ import annotations

import os
from pathlib import Path

MAX_FILES = 4096
MAX_BYTES = 64 << 20  # the whole tree: the file server host's disk holds it all


class TreeError(Exception):
    """The --root cannot be served: says which path and why."""


def read_tree(root: str | Path) -> dict[str, bytes]:
    """Every regular file under ``root``, by its path relative to it (symbolic
    links are followed only when they stay inside ``root``)."""
    base = Path(root)
    if not base.exists():
        raise TreeError(f"{root}: no such directory")
    if not base.is_dir():
        raise TreeError(f"{root}: not a directory")
    if not os.access(base, os.R_OK | os.X_OK):
        raise TreeError(f"{root}: permission denied")
    real = base.resolve()
    files: dict[str, bytes] = {}
    total = 0

    def fail(e: OSError) -> None:
        raise TreeError(f"{e.filename or root}: {e.strerror or e}")

    for dirpath, dirnames, filenames in os.walk(base, onerror=fail, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_symlink() and not p.resolve().is_relative_to(real):
                continue
            if not p.is_file():
                continue
            rel = p.relative_to(base).as_posix()
            try:
                data = p.read_bytes()
            except OSError as e:
                raise TreeError(f"{p}: {e.strerror or e}") from None
            total += len(data)
            files[rel] = data
            if len(files) > MAX_FILES:
                raise TreeError(f"{root}: more than {MAX_FILES} files")
            if total > MAX_BYTES:
                raise TreeError(f"{root}: more than {MAX_BYTES >> 20} MiB of files")
    return files
