"""Domains: the unit of linking and protection (SOSP'95 §3.2; spin-reference.md §2).

A domain names code and the interfaces it exports. An extension's domain
starts with its imports unresolved; ``resolve(target, source)`` binds those
the source exports (33.1's Resolve, with its rights: the target must allow
*modify* and the source *import*), and code with any import still unresolved
never runs. ``combine`` makes an aggregate, as SpinPublic aggregates the
kernel's public interfaces. Each resolution is remembered, so the Domains
pane can show which domain resolved against which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kernel.sys.errors import AuthError

MODIFY, IMPORT = "modify", "import"


@dataclass
class Domain:
    name: str
    exports: dict[str, Any] = field(default_factory=dict)  # interface name -> Interface or factory
    subdomains: list[Domain] = field(default_factory=list)
    rights: set[str] = field(default_factory=lambda: {MODIFY, IMPORT})
    imports: dict[str, int] = field(default_factory=dict)  # unresolved and resolved: name -> source line
    bound: dict[str, tuple[Any, str]] = field(default_factory=dict)  # name -> (export, domain that supplied it)
    resolutions: list[str] = field(default_factory=list)  # "target <- source: A, B"

    @classmethod
    def create_from_module(cls, name: str, interfaces: dict[str, Any]) -> Domain:
        """A domain for kernel code: it exports the given interfaces."""
        return cls(name, dict(interfaces))

    @classmethod
    def create(cls, name: str, imports: list[tuple[str, int]]) -> Domain:
        """A domain for a verified extension, its imports unresolved."""
        return cls(name, imports=dict(imports))

    def lookup(self, iname: str) -> tuple[Any, str] | None:
        if iname in self.exports:
            return self.exports[iname], self.name
        for d in self.subdomains:
            hit = d.lookup(iname)
            if hit is not None:
                return hit
        return None

    def all_exports(self) -> list[str]:
        names = set(self.exports)
        for d in self.subdomains:
            names.update(d.all_exports())
        return sorted(names)

    @property
    def unresolved(self) -> list[str]:
        return [n for n in self.imports if n not in self.bound]


def resolve(target: Domain, source: Domain) -> list[str]:
    """Bind target's unresolved imports that source exports; return them."""
    if MODIFY not in target.rights:
        raise AuthError(f"domain {target.name} may not be modified (no modify right)")
    if IMPORT not in source.rights:
        raise AuthError(f"domain {source.name} may not be imported from (no import right)")
    got = []
    for name in target.unresolved:
        hit = source.lookup(name)
        if hit is not None:
            target.bound[name] = hit
            got.append(name)
    if got:
        target.resolutions.append(f"{target.name} <- {source.name}: {', '.join(got)}")
    return got


def combine(name: str, *domains: Domain) -> Domain:
    """An aggregate domain exporting everything its members export."""
    return Domain(name, subdomains=list(domains))
