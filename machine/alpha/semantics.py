"""Compile the table's semantic templates, for interpreter and translator alike.

A template is a Python expression over a, b, v, d and RM (see isa.py). The
interpreter compiles each once into a function; the translator rewrites the
names into the expressions of a block (``substitute``) and pastes the source.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from machine.alpha import alu, fpu
from machine.alpha.constants import CPU_MODELS, M64

_BASE_NS: dict[str, Any] = {"M": M64, "SIGN": fpu.SIGN}
for _mod in (alu, fpu):
    for _name in dir(_mod):
        if not _name.startswith("_"):
            _BASE_NS[_name] = getattr(_mod, _name)


def namespace(model: str) -> dict[str, Any]:
    """Globals for templates on a CPU model (AMASK and IMPLVER differ)."""
    implver, features = CPU_MODELS[model]
    ns = dict(_BASE_NS)
    ns["AMASK_FEATURES"] = features
    ns["IMPLVER"] = implver
    return ns


_FN_CACHE: dict[tuple[str, str], Callable[..., Any]] = {}


def function(template: str, model: str) -> Callable[..., Any]:
    key = (template, model)
    fn = _FN_CACHE.get(key)
    if fn is None:
        fn = eval(f"lambda a, b, v, d, RM: ({template})", namespace(model))  # noqa: S307 - table text
        _FN_CACHE[key] = fn
    return fn


class _Rename(ast.NodeTransformer):
    def __init__(self, env: dict[str, str]) -> None:
        self.env = {k: ast.parse(v, mode="eval").body for k, v in env.items()}

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return self.env.get(node.id, node)


@lru_cache(maxsize=4096)
def substitute(template: str, a: str = "a", b: str = "b", v: str = "v", d: str = "d") -> str:
    tree = ast.parse(template, mode="eval")
    tree = _Rename({"a": a, "b": b, "v": v, "d": d}).visit(tree)
    return ast.unparse(tree)
