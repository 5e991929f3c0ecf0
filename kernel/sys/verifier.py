"""The verifier for the extension language: a Python subset that cannot reach
past the interfaces it imports (ARCHITECTURE.md, "the safe extension
language"; SPIN relied on Modula-3's type safety, SOSP'95 §3.1).

``check(source, filename)`` parses one extension file and applies the rules
below; each diagnostic reads ``FILE:LINE:COL: rule-name: what is wrong --
how to fix it``. ``instrument`` then adds fuel checks (``kernel/sys/fuel.py``)
at every function entry, loop back-edge and comprehension step, so the
dispatcher can bound a handler.

What the rules close, and why:

- imports: only ``from spin import Name, ...`` -- the linker binds each name
  to an interface the installing domain can resolve, so nothing else exists;
- dunder names and ``_`` attributes: the ways from any object to its class,
  its module's globals, the interpreter (``().__class__.__base__...``);
- builtins that reflect or escape (``getattr``, ``eval``, ``type``, ``vars``,
  ``open``, ``__import__``...): also missing at run time, checked here to
  give a message instead of a NameError;
- ``str.format``/``format_map``: format strings traverse attributes
  (``"{0.__globals__}"``) where no AST rule can see them;
- frame, traceback, generator and code-object attributes (``gi_frame``,
  ``tb_frame``, ``f_globals``...): the way from an exception or a generator
  back into the kernel's frames;
- ``except:`` and ``BaseException``: an extension must not swallow the
  dispatcher's abort;
- writes to imported interfaces, ``global`` rebinding of imports, names
  starting with ``_spin`` (the instrumentation's own);
- decorators, metaclasses and class bases, dunder methods other than
  ``__init__`` (the kernel must never call extension code implicitly, e.g.
  ``__eq__`` inside a kernel dict), ``async``.

What it does not stop (the dispatcher's fuel and the kernel's checks do, or
nobody does): memory exhaustion by huge allocations; a C-level builtin over a
huge iterable (``range`` is capped at run time for that reason).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

FORBIDDEN_BUILTINS = {
    "getattr": "reflection reaches any attribute", "setattr": "reflection writes any attribute",
    "delattr": "reflection deletes attributes", "hasattr": "reflection probes attributes",
    "eval": "runs unverified code", "exec": "runs unverified code", "compile": "makes unverified code",
    "open": "extensions have no files; use the kernel's interfaces", "input": "there is no terminal in the kernel",
    "globals": "exposes the namespace the linker built", "locals": "exposes frames", "vars": "exposes namespaces",
    "dir": "reflection", "type": "reaches classes and metaclasses", "object": "reaches the root class",
    "super": "reaches the class hierarchy", "classmethod": "class machinery", "staticmethod": "class machinery",
    "property": "class machinery", "memoryview": "raw memory", "breakpoint": "starts a debugger in the kernel",
    "help": "imports modules", "id": "leaks addresses", "__import__": "imports any module",
    "exit": "would stop the kernel", "quit": "would stop the kernel", "copyright": "-", "credits": "-",
    "license": "-", "issubclass": "reflection", "format": "format specs reach __format__",
    "BaseException": "an extension must not catch the dispatcher's abort",
    "GeneratorExit": "generator machinery", "SystemExit": "would stop the kernel",
    "KeyboardInterrupt": "belongs to the host",
}  # fmt: skip
INTERNAL_ATTRS = {
    "gi_frame", "gi_code", "gi_yieldfrom", "gi_running", "cr_frame", "cr_code", "cr_await", "cr_origin",
    "ag_frame", "ag_code", "ag_await", "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace",
    "f_lasti", "tb_frame", "tb_next", "tb_lasti", "co_code", "co_consts", "co_names", "func_globals",
    "func_code", "mro", "format", "format_map", "with_traceback",
}  # fmt: skip
RESERVED = "_spin"


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    col: int
    rule: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.rule}: {self.message} — {self.fix}"


@dataclass
class Verified:
    """An extension that passed: its tree (not yet instrumented), the
    interfaces it imports, and whether it defines init()."""

    filename: str
    tree: ast.Module
    imports: list[tuple[str, int]]  # (interface, line)
    has_init: bool


class _Checker(ast.NodeVisitor):
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.out: list[Diagnostic] = []
        self.imported: set[str] = set()
        self.toplevel: set[str] = set()
        self.class_depth = 0

    def report(self, node: ast.AST, rule: str, message: str, fix: str) -> None:
        col = getattr(node, "col_offset", 0)
        if isinstance(node, ast.Attribute) and node.end_col_offset is not None:
            col = node.end_col_offset - len(node.attr)  # point at the attribute, not the expression's start
        line = node.end_lineno if isinstance(node, ast.Attribute) and node.end_lineno else getattr(node, "lineno", 1)
        self.out.append(Diagnostic(self.filename, line, col + 1, rule, message, fix))

    # --- module shape ---------------------------------------------------------------------

    def check_module(self, tree: ast.Module) -> None:
        for i, stmt in enumerate(tree.body):
            if isinstance(stmt, ast.ImportFrom) and stmt.module == "spin" and stmt.level == 0:
                for alias in stmt.names:
                    if alias.name == "*":
                        self.report(stmt, "star-import", "`from spin import *` imports every interface",
                                    "name the interfaces you use: `from spin import Dispatcher, Console`")  # fmt: skip
                    else:
                        self.imported.add(alias.asname or alias.name)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                what = ast.unparse(stmt)
                self.report(stmt, "import", f"`{what}` imports something other than kernel interfaces",
                            "extensions may only `from spin import Name, ...`; ask the kernel for what you need")  # fmt: skip
            elif isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
                self.toplevel.add(stmt.name)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            self.toplevel.add(n.id)
            elif i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
                    and isinstance(stmt.value.value, str):  # fmt: skip
                pass  # the docstring
            elif isinstance(stmt, ast.Pass):
                pass
            else:
                self.report(stmt, "top-level-statement",
                            f"`{type(stmt).__name__.lower()}` statement at the top level runs when the extension "
                            f"is linked", "put it in a function, or in `def init():`, which runs once after linking")  # fmt: skip
        self.visit(tree)

    # --- names --------------------------------------------------------------------------------

    def _name_rules(self, node: ast.AST, name: str, binding: bool) -> None:
        if name.startswith("__") and name.endswith("__"):
            if binding and name == "__init__" and self.class_depth:
                return
            self.report(node, "dunder-name", f"`{name}` is a special (dunder) name",
                        "special names reach the interpreter's internals; use an ordinary name")  # fmt: skip
        elif name.startswith(RESERVED):
            self.report(node, "reserved-name", f"`{name}` starts with `{RESERVED}`, which the kernel reserves",
                        "rename it")  # fmt: skip
        elif not binding and name in FORBIDDEN_BUILTINS:
            self.report(node, "forbidden-builtin", f"`{name}` is not available to extensions "
                                                   f"({FORBIDDEN_BUILTINS[name]})",
                        "use the kernel interfaces you imported instead")  # fmt: skip

    def visit_Name(self, node: ast.Name) -> None:
        binding = isinstance(node.ctx, (ast.Store, ast.Del))
        self._name_rules(node, node.id, binding)
        if binding and node.id in self.imported:
            self.report(node, "interface-write", f"assigning to `{node.id}` replaces an imported interface",
                        "pick another name for your variable")  # fmt: skip

    def visit_Attribute(self, node: ast.Attribute) -> None:
        a = node.attr
        if a.startswith("_"):
            rule = "dunder-attribute" if a.startswith("__") else "private-attribute"
            self.report(node, rule, f"attribute `.{a}` reaches past an object's interface",
                        "use only public attributes and the interfaces' procedures")  # fmt: skip
        elif a in INTERNAL_ATTRS:
            rule = "format-traversal" if a in ("format", "format_map") else "internals-attribute"
            fix = ("use an f-string or `%` formatting" if rule == "format-traversal"
                   else "frames, tracebacks, generators and code objects belong to the kernel")  # fmt: skip
            self.report(node, rule, f"`.{a}` is not available to extensions", fix)
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in self.imported:
                self.report(node, "interface-write", f"`{ast.unparse(node)}` writes into the interface `{base.id}`",
                            "interfaces are read-only; keep your own state in your own variables")  # fmt: skip
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        self._name_rules(node, node.arg, True)
        self.generic_visit(node)

    # --- definitions ------------------------------------------------------------------------

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        if isinstance(node, ast.AsyncFunctionDef):
            self.report(node, "async", "`async def` needs an event loop the kernel does not have",
                        "write an ordinary function; asynchronous handlers are a dispatcher option")  # fmt: skip
        if not isinstance(node, ast.Lambda):
            self._name_rules(node, node.name, True)
            for dec in node.decorator_list:
                self.report(dec, "decorator", "decorators run arbitrary code when the extension is linked",
                            "call the function you wanted to wrap from your own function")  # fmt: skip
        saved, self.class_depth = self.class_depth, 0
        self.generic_visit(node)
        self.class_depth = saved

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function  # noqa: N815

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._name_rules(node, node.name, True)
        if node.bases or node.keywords:
            self.report(node, "class-base", f"class `{node.name}` names a base class or metaclass",
                        "extension classes are plain: `class Name:` with ordinary methods")  # fmt: skip
        for dec in node.decorator_list:
            self.report(dec, "decorator", "decorators run arbitrary code when the extension is linked",
                        "remove the decorator")  # fmt: skip
        self.class_depth += 1
        for stmt in node.body:
            self.visit(stmt)
        self.class_depth -= 1

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name in self.imported:
                self.report(node, "interface-write", f"`global {name}` would let this function rebind an "
                                                     f"imported interface", "use another name")  # fmt: skip
            elif name not in self.toplevel:
                self.report(node, "global-write", f"`global {name}` names no variable of this extension",
                            "define it at the top level of this file first")  # fmt: skip
            self._name_rules(node, name, True)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        for name in node.names:
            self._name_rules(node, name, True)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is None:
            self.report(node, "catch-all", "a bare `except:` would also catch the dispatcher's abort",
                        "catch `Exception` or the exceptions you expect")  # fmt: skip
        if node.name:
            self._name_rules(node, node.name, True)
        self.generic_visit(node)

    def visit_Await(self, node: ast.Await) -> None:
        self.report(node, "async", "`await` needs an event loop the kernel does not have", "remove it")
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self.generic_visit(node)  # f-strings: their expressions are checked like any other


def check(source: str, filename: str = "<extension>") -> Verified | list[Diagnostic]:
    """Verify one extension's source; the diagnostics, or what passed."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as e:
        return [Diagnostic(filename, e.lineno or 1, e.offset or 1, "syntax-error", e.msg, "fix the Python syntax")]
    c = _Checker(filename)
    c.check_module(tree)
    if c.out:
        return sorted(c.out, key=lambda d: (d.line, d.col, d.rule))
    imports = [(a.asname or a.name, s.lineno) for s in tree.body if isinstance(s, ast.ImportFrom) for a in s.names]
    has_init = any(isinstance(s, ast.FunctionDef) and s.name == "init" for s in tree.body)
    return Verified(filename, tree, imports, has_init)


# --- fuel instrumentation ----------------------------------------------------------------------


def _check_expr() -> ast.expr:
    """``_spin_next(_spin_fuel, 0) or _spin_out()``: true while fuel lasts."""
    return ast.BoolOp(ast.Or(), [
        ast.Call(ast.Name("_spin_next", ast.Load()), [ast.Name("_spin_fuel", ast.Load()), ast.Constant(0)], []),
        ast.Call(ast.Name("_spin_out", ast.Load()), [], []),
    ])  # fmt: skip


class _Instrument(ast.NodeTransformer):
    def _prepend(self, body: list[ast.stmt]) -> list[ast.stmt]:
        check = ast.Expr(_check_expr())
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            return [body[0], check, *body[1:]]
        return [check, *body]

    def _entry_or_back_edge(self, node: ast.FunctionDef | ast.While | ast.For) -> ast.AST:
        self.generic_visit(node)
        node.body = self._prepend(node.body)
        return node

    visit_FunctionDef = visit_While = visit_For = _entry_or_back_edge  # noqa: N815

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        node.ifs = [_check_expr(), *node.ifs]
        return node


def instrument(v: Verified) -> ast.Module:
    """A copy of the extension's tree with fuel checks added and its
    ``from spin import`` lines removed."""
    import copy

    tree = _Instrument().visit(copy.deepcopy(v.tree))
    # The linker binds the imported names itself; the import statements go.
    tree.body = [ast.copy_location(ast.Pass(), s) if isinstance(s, ast.ImportFrom) else s for s in tree.body]
    return ast.fix_missing_locations(tree)
