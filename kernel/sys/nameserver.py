"""The name server: a hierarchical namespace of exported kernel objects
(spin-reference.md §2). An export may carry an authorizer, called at every
lookup with the importer's identity -- the papers' semantics; 33.1 ignored
the argument."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel.sys.errors import InvalidName, NameExists, NameNotFound, Unauthorized

Authorizer = Callable[[str, str], bool]  # (importer, path) -> allowed


class _Entry:
    __slots__ = ("obj", "auth", "children")

    def __init__(self, obj: Any = None, auth: Authorizer | None = None) -> None:
        self.obj = obj
        self.auth = auth
        self.children: dict[str, _Entry] = {}


class NameServer:
    def __init__(self) -> None:
        self.root = _Entry()

    @staticmethod
    def _split(path: str) -> list[str]:
        if not path.startswith("/") or "//" in path or path != path.strip():
            raise InvalidName(f"{path!r}: a name is an absolute path like /svc/domains/SpinPublic")
        return [p for p in path.split("/") if p]

    def export(self, path: str, obj: Any, authorizer: Authorizer | None = None) -> None:
        """Attach obj at path (intermediate directories are created)."""
        parts = self._split(path)
        node = self.root
        for p in parts[:-1]:
            node = node.children.setdefault(p, _Entry())
        if parts[-1] in node.children and node.children[parts[-1]].obj is not None:
            raise NameExists(f"{path} is already exported")
        entry = node.children.setdefault(parts[-1], _Entry())
        entry.obj, entry.auth = obj, authorizer

    def _node(self, parts: list[str], path: str) -> _Entry:
        node = self.root
        for p in parts:
            nxt = node.children.get(p)
            if nxt is None:
                raise NameNotFound(f"{path}: no such name")
            node = nxt
        return node

    def lookup(self, path: str, importer: str) -> Any:
        """The object at path, if every authorizer on the way agrees that
        ``importer`` may import it."""
        parts = self._split(path)
        node = self.root
        for i, p in enumerate(parts):
            nxt = node.children.get(p)
            if nxt is None:
                raise NameNotFound(f"{path}: no such name")
            node = nxt
            if node.auth is not None and not node.auth(importer, "/" + "/".join(parts[: i + 1])):
                raise Unauthorized(f"{importer} may not import {path}: its exporter's authorizer refused")
        if node.obj is None:
            raise NameNotFound(f"{path}: a directory, not an export")
        return node.obj

    def lookup_soft(self, path: str, importer: str) -> Any:
        try:
            return self.lookup(path, importer)
        except (NameNotFound, Unauthorized):
            return None

    def entries(self, path: str = "/") -> list[str]:
        node = self.root if path == "/" else self._node(self._split(path), path)
        return sorted(node.children)
