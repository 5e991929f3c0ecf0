"""The verifier for SPIN Python, the language of extensions (ARCHITECTURE.md,
"the safe extension language"; SPIN relied on Modula-3's type safety,
SOSP'95 §3.1).

``check(source, filename)`` parses one extension file and accepts it only
if every node is one ``kernel/sys/language.py`` lists: an allowlist, so
syntax nobody vetted is refused by default. Each diagnostic reads
``FILE:LINE:COL: rule: what is wrong — how to fix it``. ``instrument`` then
rewrites the accepted tree for the runtime (kernel/sys/fuel.py and
kernel/sys/sandbox.py): fuel checks at every function entry (lambdas too),
loop back-edge and comprehension step, and the operators that can build far
more than their inputs routed through size checks.

Beyond the allowlist, the rules close:

- imports: only ``from spin import Name, ...`` at the top level -- the linker
  binds each name to an interface the installing domain can resolve;
- dunder names and ``_`` attributes: the ways from any object to its class,
  its module's globals, the interpreter (``().__class__.__base__...``);
- builtins that reflect or escape (``getattr``, ``eval``, ``type``...): also
  missing at run time, named here to give a message instead of a NameError;
- ``str.format``/``format_map`` and computed f-string format specs: format
  strings traverse attributes and pick widths no rule can see;
- frame, traceback, generator and code-object attributes;
- ``except:`` and ``BaseException``: an extension must not swallow the
  dispatcher's abort;
- writes to imported interfaces, names starting with ``_spin``;
- decorators, metaclasses and class bases, dunder methods other than
  ``__init__`` (the kernel must never call extension code implicitly).

The walk is iterative and nesting is capped, so a hostile file cannot make
the verifier itself overflow its stack.
"""

from __future__ import annotations

import ast
import copy
import re
import warnings
from dataclasses import dataclass
from typing import cast

from kernel.params import FORMAT_WIDTH_MAX, INT_BITS, NESTING_MAX, SOURCE_MAX
from kernel.sys import language as L

FORBIDDEN_BUILTINS = L.REFUSED_BUILTINS
INTERNAL_ATTRS = L.INTERNAL_ATTRS
RESERVED = L.RESERVED
_ALLOWED = frozenset(L.STATEMENTS) | frozenset(L.EXPRESSIONS) | L.GLUE
_RULE_OF_REFUSED = {
    ast.Match: "pattern-matching", ast.With: "with-statement", ast.Yield: "generator", ast.YieldFrom: "generator",
    ast.Import: "import", ast.AsyncFunctionDef: "async", ast.Await: "async", ast.AsyncFor: "async",
    ast.AsyncWith: "async", ast.MatMult: "operator",
}  # fmt: skip
_SPEC = re.compile(r"^(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?[bcdeEfFgGnosxX%]?$")


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


def _depth(tree: ast.AST) -> tuple[int, ast.AST]:
    """The deepest nesting in ``tree`` and a node there, without recursion."""
    deepest, where = 0, tree
    stack = [(tree, 0)]
    while stack:
        node, d = stack.pop()
        if d > deepest:
            deepest, where = d, node
            if d > NESTING_MAX:
                break
        stack.extend((c, d + 1) for c in ast.iter_child_nodes(node))
    return deepest, where


class _Checker(ast.NodeVisitor):
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.out: list[Diagnostic] = []
        self.imported: set[str] = set()
        self.toplevel: set[str] = set()
        self.class_depth = 0
        self.called: set[int] = set()  # ids of Attribute nodes that are the callee of a call

    def report(self, node: ast.AST, rule: str, message: str, fix: str) -> None:
        col = getattr(node, "col_offset", 0)
        if isinstance(node, ast.Attribute) and node.end_col_offset is not None:
            col = node.end_col_offset - len(node.attr)  # point at the attribute, not the expression's start
        line = node.end_lineno if isinstance(node, ast.Attribute) and node.end_lineno else getattr(node, "lineno", 1)
        self.out.append(Diagnostic(self.filename, line, col + 1, rule, message, fix))

    # --- the allowlist ----------------------------------------------------------------------

    def visit(self, node: ast.AST) -> None:
        t = type(node)
        if t not in _ALLOWED:
            if t in L.REFUSED:
                why, fix = L.REFUSED[t]
                self.report(node, _RULE_OF_REFUSED.get(t, "refused-syntax"), f"{why}", fix)
                if t is not ast.Import:
                    return
            else:
                self.report(node, "unsupported-syntax", f"`{t.__name__}` is not part of SPIN Python",
                            "see docs/extensions.md for the constructs extensions may use")  # fmt: skip
                return
        method = getattr(self, "visit_" + t.__name__, None)
        if method is not None:
            method(node)
        else:
            self.generic_visit(node)

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
        for stmt in tree.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                continue  # reported above
            self.visit(stmt)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.report(node, "import", "an import inside a function or class",
                    "put `from spin import Name` at the top of the file")  # fmt: skip

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

    def visit_Call(self, node: ast.Call) -> None:
        self.called.add(id(node.func))
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        a = node.attr
        if a in L.GROWING_METHODS and id(node) not in self.called and isinstance(node.ctx, ast.Load):
            self.report(node, "method-value", f"`.{a}` taken as a value: the sandbox checks `{a}` only where it is "
                                              f"called", f"call it where you need it (`lambda s: s.{a}(...)`)")  # fmt: skip
        if a.startswith("_"):
            rule = "dunder-attribute" if a.startswith("__") else "private-attribute"
            self.report(node, rule, f"attribute `.{a}` reaches past an object's interface",
                        "use only public attributes and the interfaces' procedures")  # fmt: skip
        elif a in INTERNAL_ATTRS:
            rule = "format-traversal" if a in ("format", "format_map") else "internals-attribute"
            fix = "use an f-string or `%` formatting" if rule == "format-traversal" else INTERNAL_ATTRS[a]
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

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg is not None:
            self._name_rules(node, node.arg, True)
        self.generic_visit(node)

    def visit_alias(self, node: ast.alias) -> None:
        self._name_rules(node, node.asname or node.name, True)

    # --- definitions ------------------------------------------------------------------------

    def _function(self, node: ast.FunctionDef | ast.Lambda) -> None:
        if isinstance(node, ast.FunctionDef):
            self._name_rules(node, node.name, True)
            for dec in node.decorator_list:
                self.report(dec, "decorator", "decorators run arbitrary code when the extension is linked",
                            "call the function you wanted to wrap from your own function")  # fmt: skip
            if node.returns is not None:
                self.visit(node.returns)
        saved, self.class_depth = self.class_depth, 0
        self.visit(node.args)
        for stmt in node.body if isinstance(node, ast.FunctionDef) else [node.body]:
            self.visit(stmt)
        self.class_depth = saved

    visit_FunctionDef = visit_Lambda = _function  # noqa: N815

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

    # --- formatting ---------------------------------------------------------------------------

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        spec = node.format_spec
        if spec is not None:
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            if not all(isinstance(p, ast.Constant) for p in parts):
                self.report(node, "format-spec", "a computed format spec (`{x:{w}}`) can ask for any width",
                            f"write the spec as a constant, e.g. `{{x:>8}}` (at most {FORMAT_WIDTH_MAX})")  # fmt: skip
            else:
                text = "".join(str(p.value) for p in parts if isinstance(p, ast.Constant))
                m = _SPEC.match(text)
                if m is None:
                    self.report(node, "format-spec", f"format spec `{text}` is not a plain width and type",
                                "use a spec such as `>8`, `08x` or `.3f`")  # fmt: skip
                elif any(g and int(g) > FORMAT_WIDTH_MAX for g in m.groups()):
                    self.report(node, "format-spec", f"format spec `{text}` asks for more than "
                                                     f"{FORMAT_WIDTH_MAX} characters", "use a smaller width")  # fmt: skip
        self.visit(node.value)

    def visit_Constant(self, node: ast.Constant) -> None:
        v = node.value
        if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > INT_BITS:
            self.report(node, "too-large", f"an integer literal of {v.bit_length():,} bits",
                        f"integers are at most {INT_BITS:,} bits")  # fmt: skip


def check(source: str, filename: str = "<extension>") -> Verified | list[Diagnostic]:
    """Verify one extension's source; the diagnostics, or what passed."""
    if len(source) > SOURCE_MAX:
        return [Diagnostic(filename, 1, 1, "too-large", f"the file has {len(source):,} characters",
                           f"extensions are at most {SOURCE_MAX:,}; split it or remove data from it")]  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the parser's warnings (a bad escape) are refusals too
            tree = ast.parse(source, filename)
    except SyntaxError as e:
        return [Diagnostic(filename, e.lineno or 1, e.offset or 1, "syntax-error", e.msg, "fix the Python syntax")]
    except Warning as e:
        return [Diagnostic(filename, 1, 1, "python-warning", f"{type(e).__name__}: {e}", "fix it")]
    except (RecursionError, MemoryError, ValueError) as e:
        what = "nested too deeply for the parser" if not isinstance(e, ValueError) else str(e)
        return [Diagnostic(filename, 1, 1, "too-deep" if not isinstance(e, ValueError) else "syntax-error", what,
                           "simplify the expression")]  # fmt: skip
    deepest, where = _depth(tree)
    if deepest > NESTING_MAX:
        return [Diagnostic(filename, getattr(where, "lineno", 1), getattr(where, "col_offset", 0) + 1, "too-deep",
                           f"code nested more than {NESTING_MAX} levels deep",
                           "split the expression with intermediate variables or functions")]  # fmt: skip
    c = _Checker(filename)
    c.check_module(tree)
    if c.out:
        return sorted(c.out, key=lambda d: (d.line, d.col, d.rule))
    problem = _compiles(tree, filename)
    if problem is not None:
        return [problem]
    imports = [(a.asname or a.name, s.lineno) for s in tree.body if isinstance(s, ast.ImportFrom) for a in s.names]
    has_init = any(isinstance(s, ast.FunctionDef) and s.name == "init" for s in tree.body)
    return Verified(filename, tree, imports, has_init)


def _compiles(tree: ast.Module, filename: str) -> Diagnostic | None:
    """Compile once with Python's own warnings as errors: code the compiler
    already knows will fail (``0[0]``, ``x is 1``, a bad escape) is refused
    here with its line, instead of warning on the host's stderr or failing
    at link time."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            compile(tree, filename, "exec", dont_inherit=True)
        except SyntaxError as e:
            return Diagnostic(filename, e.lineno or 1, e.offset or 1, "python-warning", e.msg,
                              "Python's compiler says this line cannot work; fix it")  # fmt: skip
        except (Warning, ValueError, RecursionError, MemoryError) as e:
            return Diagnostic(filename, 1, 1, "python-warning", f"{type(e).__name__}: {e}", "fix it")
    return None


# --- instrumentation ----------------------------------------------------------------------------


def _name(n: str) -> ast.Name:
    return ast.Name(n, ast.Load())


def _call(fn: str, *args: ast.expr) -> ast.Call:
    return ast.Call(_name(fn), list(args), [])


def _check_expr() -> ast.expr:
    """``_spin_next(_spin_fuel, 0) or _spin_out()``: true while fuel lasts."""
    return ast.BoolOp(ast.Or(), [_call("_spin_next", _name("_spin_fuel"), ast.Constant(0)), _call("_spin_out")])


def _is_number(e: ast.expr) -> bool:
    return isinstance(e, ast.Constant) and type(e.value) in (int, float) and abs(cast("int | float", e.value)) < 1 << 64


def _is_flat_call(e: ast.expr) -> bool:
    return isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in ("_spin_flat", "len")


def _hashed(e: ast.expr) -> ast.expr:
    """``e`` is about to be hashed: deep tuples are refused first (sandbox.key)."""
    if isinstance(e, (ast.Constant, ast.Starred)):
        return e
    return _call("_spin_key", e)


_OP_HELPER = {ast.Add: "_spin_add", ast.Mult: "_spin_mul", ast.Pow: "_spin_pow", ast.LShift: "_spin_lshift",
              ast.Mod: "_spin_mod"}  # fmt: skip
_IOP_HELPER = {**_OP_HELPER, ast.Add: "_spin_iadd"}


def _needs_check(op: ast.operator, left: ast.expr, right: ast.expr) -> bool:
    """Could this operator build far more than its operands? Counters and
    offsets (``n + 1``, ``x % 8``, ``v << 3``) stay plain Python."""
    t = type(op)
    if t not in _OP_HELPER:
        return False
    if _is_number(left) and _is_number(right):
        return False
    if t is ast.Add:
        return not (_is_number(left) or _is_number(right))
    if t is ast.Mod:
        return not _is_number(left)  # `fmt % 1` with a computed fmt can ask for any width
    if t is ast.LShift:
        return not (_is_number(right) and 0 <= right.value <= 64)  # type: ignore[attr-defined]
    return True


class _Instrument(ast.NodeTransformer):
    def __init__(self) -> None:
        self.temps = 0

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

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.generic_visit(node)
        node.body = ast.BoolOp(ast.And(), [_check_expr(), node.body])
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        node.ifs = [_check_expr(), *node.ifs]
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if _needs_check(node.op, node.left, node.right):
            return ast.copy_location(_call(_OP_HELPER[type(node.op)], node.left, node.right), node)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        self.generic_visit(node)
        node.value = _call("_spin_fmt", node.value)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        self.generic_visit(node)
        if any(isinstance(v, ast.FormattedValue) for v in node.values):
            return ast.copy_location(_call("_spin_joined", node), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr in L.GROWING_METHODS:
            call = ast.Call(_name("_spin_method"), [f.value, ast.Constant(f.attr), *node.args], node.keywords)
            return ast.copy_location(call, node)
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        self.generic_visit(node)
        s = node.slice
        if isinstance(node.ctx, ast.Load) and isinstance(s, ast.Slice):
            key = _call(
                "_spin_slice", *(x if x is not None else ast.Constant(None) for x in (s.lower, s.upper, s.step))
            )
            return ast.copy_location(_call("_spin_getslice", node.value, key), node)
        if not isinstance(s, (ast.Slice, ast.Constant)):
            node.slice = _hashed(s)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            test: ast.expr = _call("_spin_in", node.left, node.comparators[0])
            if isinstance(node.ops[0], ast.NotIn):
                test = ast.UnaryOp(ast.Not(), test)
            return ast.copy_location(test, node)
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            if isinstance(op, (ast.In, ast.NotIn)):
                operands[i] = _hashed(operands[i])
            elif isinstance(op, (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
                # compared in C, element by element: a list sharing itself 60 deep is 2**60 comparisons
                for j in (i, i + 1):
                    if not isinstance(operands[j], ast.Constant) and not _is_flat_call(operands[j]):
                        operands[j] = _call("_spin_flat", operands[j])
        node.left, node.comparators = operands[0], operands[1:]
        return node

    def visit_Dict(self, node: ast.Dict) -> ast.AST:
        self.generic_visit(node)
        node.keys = [k if k is None else _hashed(k) for k in node.keys]
        return node

    def visit_Set(self, node: ast.Set) -> ast.AST:
        self.generic_visit(node)
        node.elts = [_hashed(e) for e in node.elts]
        return node

    def visit_DictComp(self, node: ast.DictComp) -> ast.AST:
        self.generic_visit(node)
        node.key = _hashed(node.key)
        return node

    def visit_SetComp(self, node: ast.SetComp) -> ast.AST:
        self.generic_visit(node)
        node.elt = _hashed(node.elt)
        return node

    def visit_Starred(self, node: ast.Starred) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            node.value = _call("_spin_star", node.value)
        return node

    def _temp(self) -> str:
        self.temps += 1
        return f"_spin_t{self.temps}"

    def visit_Assign(self, node: ast.Assign) -> ast.AST | list[ast.stmt]:
        self.generic_visit(node)
        if len(node.targets) == 1:
            t = node.targets[0]
            if isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Slice):
                s = t.slice
                key = _call(
                    "_spin_slice", *(x if x is not None else ast.Constant(None) for x in (s.lower, s.upper, s.step))
                )
                return ast.copy_location(ast.Expr(_call("_spin_setslice", t.value, key, node.value)), node)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST | list[ast.stmt]:
        self.generic_visit(node)
        t, op, v = node.target, node.op, node.value
        if not _needs_check(op, ast.Name("x"), v):
            return node
        helper = _IOP_HELPER[type(op)]
        if isinstance(t, ast.Name):
            load: ast.expr = ast.Name(t.id, ast.Load())
            return ast.copy_location(ast.Assign([ast.Name(t.id, ast.Store())], _call(helper, load, v)), node)
        out: list[ast.stmt] = []
        obj = self._temp()
        out.append(ast.Assign([ast.Name(obj, ast.Store())], t.value))
        if isinstance(t, ast.Attribute):
            load = ast.Attribute(_name(obj), t.attr, ast.Load())
            store: ast.expr = ast.Attribute(_name(obj), t.attr, ast.Store())
        else:
            assert isinstance(t, ast.Subscript)
            key = self._temp()
            s = t.slice
            kexpr = (_call("_spin_slice", *(x if x is not None else ast.Constant(None) for x in (s.lower, s.upper, s.step)))
                     if isinstance(s, ast.Slice) else s)  # fmt: skip
            out.append(ast.Assign([ast.Name(key, ast.Store())], kexpr))
            load = ast.Subscript(_name(obj), _name(key), ast.Load())
            store = ast.Subscript(_name(obj), _name(key), ast.Store())
        out.append(ast.Assign([store], _call(helper, load, v)))
        return [ast.copy_location(s, node) for s in out]


def instrument(v: Verified) -> ast.Module:
    """A copy of the extension's tree with fuel checks and size checks added
    and its ``from spin import`` lines removed."""
    tree = _Instrument().visit(copy.deepcopy(v.tree))
    # The linker binds the imported names itself; the import statements go.
    tree.body = [ast.copy_location(ast.Pass(), s) if isinstance(s, ast.ImportFrom) else s for s in tree.body]
    return ast.fix_missing_locations(tree)
