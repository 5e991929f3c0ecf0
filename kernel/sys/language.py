"""SPIN Python: the language extensions are written in, as lists.

SPIN's safety came from Modula-3 (SOSP'95 §3.1): an extension could name
only what its interfaces gave it. Here the verifier plays the compiler's
part for a Python subset, and this module *is* that subset: the syntax, the
builtins and the limits. It is an allowlist -- a construct not named here is
refused, so syntax a later Python adds (or one we forgot, as structural
pattern matching once was) is refused until someone decides it is safe.

One source of truth: the verifier (kernel/sys/verifier.py) checks against
these tables, the runtime (kernel/sys/sandbox.py) enforces the limits
(``LIMITS`` names them; their values live with the kernel's other limits
in kernel/params.py), and docs/extensions.md documents them (a test checks
the reference names every accepted builtin and every limit with its value).
"""

from __future__ import annotations

import ast

from kernel.params import (
    BOUND_MAX,
    CALL_MEMORY,
    CHECKPOINT,
    FORMAT_WIDTH_MAX,
    INIT_FUEL,
    INT_BITS,
    NESTING_MAX,
    QUOTA_BYTES,
    QUOTA_DEPTH,
    QUOTA_FUEL,
    RANGE_MAX,
    REPR_MAX,
    SEQ_MAX,
    SOURCE_MAX,
    STR_MAX,
    WATCHDOG_SECONDS,
)

# --- syntax ----------------------------------------------------------------------------------

#: Statements an extension may contain (``from spin import`` only at the top level).
STATEMENTS: dict[type[ast.AST], str] = {
    ast.FunctionDef: "def", ast.ClassDef: "class (no bases, no decorators)", ast.Return: "return",
    ast.Delete: "del", ast.Assign: "=", ast.AugAssign: "+= and the other augmented assignments",
    ast.AnnAssign: "annotated assignment", ast.For: "for (and for/else)", ast.While: "while (and while/else)",
    ast.If: "if/elif/else", ast.Raise: "raise", ast.Try: "try/except/else/finally", ast.Assert: "assert",
    ast.ImportFrom: "from spin import Name, ...", ast.Global: "global (of this file's names)",
    ast.Nonlocal: "nonlocal", ast.Expr: "an expression as a statement", ast.Pass: "pass", ast.Break: "break",
    ast.Continue: "continue",
}  # fmt: skip

#: Expressions an extension may contain.
EXPRESSIONS: dict[type[ast.AST], str] = {
    ast.BoolOp: "and, or", ast.NamedExpr: ":=", ast.BinOp: "arithmetic and bitwise operators",
    ast.UnaryOp: "not, -, +, ~", ast.Lambda: "lambda", ast.IfExp: "a if c else b", ast.Dict: "{k: v}",
    ast.Set: "{a, b}", ast.ListComp: "[x for x in xs]", ast.SetComp: "{x for x in xs}",
    ast.DictComp: "{k: v for ...}", ast.GeneratorExp: "(x for x in xs)", ast.Compare: "comparisons, in, is",
    ast.Call: "calls", ast.FormattedValue: "f-string fields", ast.JoinedStr: "f-strings",
    ast.Constant: "literals", ast.Attribute: "a.b (public names only)", ast.Subscript: "a[i], a[i:j]",
    ast.Starred: "*xs", ast.Name: "names", ast.List: "[a, b]", ast.Tuple: "(a, b)", ast.Slice: "i:j:k",
}  # fmt: skip

#: The parts that hold the above together (arguments, handlers, operators, contexts).
GLUE: frozenset[type[ast.AST]] = frozenset({
    ast.Module, ast.comprehension, ast.arguments, ast.arg, ast.keyword, ast.ExceptHandler, ast.alias,
    ast.Load, ast.Store, ast.Del, ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod,
    ast.Pow, ast.LShift, ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.Invert, ast.Not, ast.UAdd, ast.USub,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
})  # fmt: skip

#: Syntax refused on purpose, with the reason and the way around it (for the diagnostics).
REFUSED: dict[type[ast.AST], tuple[str, str]] = {
    ast.Match: ("structural pattern matching looks up attributes and binds names the verifier cannot see",
                "use if/elif with == and isinstance"),
    ast.With: ("a with-statement calls __enter__ and __exit__ behind the code's back", "use try/finally"),
    ast.Yield: ("generators outlive the handler that made them and run again outside its fuel",
                "build and return a list, or use a generator expression"),
    ast.YieldFrom: ("generators outlive the handler that made them", "build and return a list"),
    ast.Import: ("extensions import only kernel interfaces", "write `from spin import Name`"),
    ast.AsyncFunctionDef: ("there is no event loop in the kernel", "write an ordinary function"),
    ast.Await: ("there is no event loop in the kernel", "remove it"),
    ast.AsyncFor: ("there is no event loop in the kernel", "use an ordinary for"),
    ast.AsyncWith: ("there is no event loop in the kernel", "use try/finally"),
    ast.MatMult: ("no kernel or builtin value supports @", "call a function"),
}  # fmt: skip
if hasattr(ast, "TryStar"):
    REFUSED[ast.TryStar] = ("exception groups belong to the host", "use try/except")

# --- builtins --------------------------------------------------------------------------------

#: Builtins an extension may name; those marked "metered" are the sandbox's own versions
#: (kernel/sys/sandbox.py), which charge fuel for the work they do or cap what they build.
BUILTINS: dict[str, str] = {
    "abs": "", "bool": "", "callable": "", "chr": "", "divmod": "", "float": "", "hex": "", "oct": "", "bin": "",
    "int": "", "isinstance": "", "len": "", "next": "", "ord": "", "round": "", "slice": "",
    "True": "", "False": "", "None": "",
    "all": "metered", "any": "metered", "bytes": "metered", "bytearray": "metered", "dict": "metered",
    "enumerate": "metered", "filter": "metered", "frozenset": "metered", "iter": "metered (one argument)",
    "list": "metered", "map": "metered", "max": "metered", "min": "metered", "pow": "metered", "print": "metered",
    "range": "metered", "repr": "metered", "reversed": "metered", "set": "metered", "sorted": "metered",
    "str": "metered", "sum": "metered (numbers only)", "tuple": "metered", "zip": "metered",
    "Exception": "", "ArithmeticError": "", "AssertionError": "", "AttributeError": "", "IndexError": "",
    "KeyError": "", "LookupError": "", "NotImplementedError": "", "OverflowError": "", "RuntimeError": "",
    "StopIteration": "", "TypeError": "", "ValueError": "", "ZeroDivisionError": "",
}  # fmt: skip

#: Why the best-known builtins are missing (any other unknown name is simply not defined).
REFUSED_BUILTINS: dict[str, str] = {
    "getattr": "reflection reaches any attribute", "setattr": "reflection writes any attribute",
    "delattr": "reflection deletes attributes", "hasattr": "reflection probes attributes",
    "eval": "runs unverified code", "exec": "runs unverified code", "compile": "makes unverified code",
    "open": "extensions have no files; use the kernel's interfaces", "input": "there is no terminal in the kernel",
    "globals": "exposes the namespace the linker built", "locals": "exposes frames", "vars": "exposes namespaces",
    "dir": "reflection", "type": "reaches classes and metaclasses", "object": "reaches the root class",
    "super": "reaches the class hierarchy", "classmethod": "class machinery", "staticmethod": "class machinery",
    "property": "class machinery", "memoryview": "raw memory", "breakpoint": "starts a debugger in the kernel",
    "help": "imports modules", "id": "leaks addresses", "hash": "hashing deep values can crash the host",
    "__import__": "imports any module", "exit": "would stop the kernel", "quit": "would stop the kernel",
    "issubclass": "reflection", "format": "format specs reach __format__",
    "BaseException": "an extension must not catch the dispatcher's abort",
    "GeneratorExit": "generator machinery", "SystemExit": "would stop the kernel",
    "KeyboardInterrupt": "belongs to the host", "MemoryError": "belongs to the host",
    "RecursionError": "belongs to the host", "copyright": "-", "credits": "-", "license": "-",
}  # fmt: skip

#: Attribute names refused on any object (besides every name starting with ``_``).
INTERNAL_ATTRS: dict[str, str] = dict.fromkeys(
    "gi_frame gi_code gi_yieldfrom gi_running cr_frame cr_code cr_await cr_origin ag_frame ag_code ag_await "
    "f_back f_globals f_locals f_builtins f_code f_trace f_lasti tb_frame tb_next tb_lasti co_code co_consts "
    "co_names func_globals func_code mro with_traceback add_note".split(),
    "frames, tracebacks, generators and code objects belong to the kernel",
)
INTERNAL_ATTRS["format"] = INTERNAL_ATTRS["format_map"] = "format strings traverse attributes (`{0.__class__}`)"
INTERNAL_ATTRS["release"] = "a packet's payload is one buffer every handler shares: copy it with bytes(p.payload)"

#: Methods that can build far more than their inputs; the instrumentation routes calls
#: to them through the sandbox, which checks the result's size first.
GROWING_METHODS = frozenset({
    "join", "replace", "ljust", "rjust", "center", "zfill", "expandtabs", "extend", "encode", "decode", "hex",
    "translate", "to_bytes", "split", "rsplit", "splitlines", "upper", "lower", "casefold", "swapcase", "title",
    "capitalize", "strip", "lstrip", "rstrip", "copy", "items", "keys", "values", "fromkeys", "from_bytes",
    "count", "index", "add", "get", "setdefault", "pop", "discard", "remove", "update", "union", "intersection",
    "difference", "symmetric_difference", "issubset", "issuperset", "isdisjoint", "sort",
})  # fmt: skip

RESERVED = "_spin"  # names the instrumentation adds

# --- limits (values in kernel/params.py) -----------------------------------------------------

LIMITS: dict[str, int | float] = {
    "SOURCE_MAX": SOURCE_MAX, "NESTING_MAX": NESTING_MAX, "STR_MAX": STR_MAX, "SEQ_MAX": SEQ_MAX,
    "INT_BITS": INT_BITS, "RANGE_MAX": RANGE_MAX, "FORMAT_WIDTH_MAX": FORMAT_WIDTH_MAX, "REPR_MAX": REPR_MAX,
    "INIT_FUEL": INIT_FUEL, "BOUND_MAX": BOUND_MAX, "CALL_MEMORY": CALL_MEMORY, "QUOTA_BYTES": QUOTA_BYTES,
    "QUOTA_DEPTH": QUOTA_DEPTH, "QUOTA_FUEL": QUOTA_FUEL, "WATCHDOG_SECONDS": WATCHDOG_SECONDS,
    "CHECKPOINT": CHECKPOINT,
}  # fmt: skip
