"""An assembler for the GNU as subset a lesson needs; output is a static ELF.

Two passes over the source: the first sizes every statement and places
labels, the second evaluates expressions and encodes through the instruction
table (so the assembler knows exactly the mnemonics the decoder does, plus the
usual aliases and macros: mov, clr, nop, unop, negq, not, sextl, fmov, br,
ret, jsr, ldgp, ldiq, lda/ldah with symbols). Errors are ``AsmError`` with
``FILE:LINE: message``.

Sections: the text segment at 0x1_2000_0000 (GNU ld's default) with .text
just after the ELF headers, then .data and .bss on following 64 KiB
boundaries; ``gp`` is .data + 0x8000, as ld would place it.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from machine.alpha import isa
from machine.alpha.constants import M64, PAL_FUNCS, REG_ALIASES, REG_NAMES
from machine.alpha.isa import BRA, FBRA, FMEM, FOP, FTOI, ITOF, MEM, MFC, OPR, PAL, Op
from machine.elf import (
    SHF_ALLOC,
    SHF_EXECINSTR,
    SHF_WRITE,
    SHT_NOBITS,
    SHT_PROGBITS,
    STB_GLOBAL,
    STB_LOCAL,
    STT_FUNC,
    STT_NOTYPE,
    Section,
    Symbol,
    build_elf,
)
from machine.hostfile import ELF_MAX, HOST_TEXT_MAX, HostFileError, read_text, size_text, write_bytes

TEXT_BASE = 0x1_2000_0000
HEADER_ROOM = 0x120  # ELF header + up to four program headers, before .text
# Limits that keep a typo (or a fuzzer) from costing the host a hang or its memory.
MAX_EXPR_CHARS = 1000
MAX_EXPR_DEPTH = 64  # operators nested in one expression
MAX_VALUE_BITS = 128  # intermediate values; a 64-bit machine needs no more
MAX_SECTIONS_BYTES = ELF_MAX  # .text + .data + .bss must fit the workstation's memory
MAX_ALIGN_LOG2 = 16  # sections are 64 KiB aligned: a larger alignment could not be kept


class AsmError(Exception):
    """FILE:LINE: message."""


def _depth(tree: ast.AST) -> int:
    """How deeply the expression's operators nest (iteratively: a deep tree
    must not overflow the stack while it is measured)."""
    deepest, todo = 0, [(tree, 1)]
    while todo:
        node, d = todo.pop()
        deepest = max(deepest, d)
        todo.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


_REGS = {n: i for i, n in enumerate(REG_NAMES)} | {k.lstrip("$"): v for k, v in REG_ALIASES.items()}
# Directives gcc and hand-written sources use that change nothing in our output.
_IGNORED = {".frame", ".prologue", ".mask", ".fmask", ".file", ".ident", ".type", ".size", ".arch", ".loc",
            ".usepv"}  # fmt: skip
_SET_FLAGS = {"noat", "at", "noreorder", "reorder", "nomacro", "macro", "volatile", "novolatile"}


def _short(expr: str) -> str:
    """An expression as an error message quotes it: stripped, at most 60 characters."""
    e = expr.strip()
    return e if len(e) <= 60 else e[:57] + "..."


def _div(a: int, b: int) -> int:
    """``/`` as GNU as computes it: truncated toward zero (0 for a zero divisor, as before)."""
    if not b:
        return 0
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _reg(tok: str, fp: bool = False) -> int | None:
    t = tok.strip()
    if fp:
        m = re.fullmatch(r"\$f(\d+)", t)
        if m and int(m.group(1)) < 32:
            return int(m.group(1))
        return None
    m = re.fullmatch(r"\$(\d+)", t)
    if m and int(m.group(1)) < 32:
        return int(m.group(1))
    name = t[1:] if t.startswith("$") else t
    return _REGS.get(name)


def _split_operands(s: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _strip_comment(line: str) -> str:
    out, q = "", ""
    for ch in line:
        if q:
            out += ch
            if ch == q and not out.endswith("\\" + q):
                q = ""
            continue
        if ch in "\"'":
            q = ch
        elif ch == "#":
            break
        out += ch
    return out


@dataclass
class _Stmt:
    line: int
    section: str
    addr: int
    size: int
    mnem: str
    ops: list[str]
    macro_form: str = ""


@dataclass
class _State:
    path: str
    symbols: dict[str, int] = field(default_factory=dict)
    sym_section: dict[str, str] = field(default_factory=dict)
    globals_: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    local_labels: dict[str, list[tuple[str, int, int]]] = field(
        default_factory=dict
    )  # n -> [(section, line-order, addr)]
    pass_no: int = 1


class Assembler:
    def __init__(self, path: str = "<input>", text_base: int = TEXT_BASE + HEADER_ROOM) -> None:
        self.path = path
        self.text_base = text_base

    # --- expressions --------------------------------------------------------------------

    def _err(self, line: int, msg: str) -> AsmError:
        return AsmError(f"{self.path}:{line}: {msg}")

    def eval(self, expr: str, line: int, here: int, order: int, *, required: bool | Literal["final"] = True,
             abs_only: bool = False) -> int | None:  # fmt: skip
        """Value of expr at address here; None while unknown in pass 1 (or
        whenever ``required`` is false). ``required="final"`` demands every
        symbol even in pass 1; with ``abs_only``, anything that depends on
        where sections land counts as unknown."""
        st = self.st
        src = expr.strip()
        if not src:
            raise self._err(line, "missing expression")
        if "!" in src or "%" in src:
            raise self._err(line, f"relocation operators are not supported here: '{src}'")

        def local(m: re.Match[str]) -> str:
            n, d = m.group(1), m.group(2)
            cands = st.local_labels.get(n, [])
            if d == "b":
                prior = [a for (o, a) in ((c[1], c[2]) for c in cands) if o <= order]
                if not prior:
                    raise self._err(line, f"no earlier local label '{n}:' for '{n}b'")
                return str(prior[-1])
            later = [a for (o, a) in ((c[1], c[2]) for c in cands) if o > order]
            if not later:
                if st.pass_no == 1 and required != "final":
                    return "0"
                raise self._err(line, f"no later local label '{n}:' for '{n}f'")
            return str(later[0])

        src = re.sub(r"(?<![\w$.])(\d+)([fb])\b", local, src)
        if abs_only and (re.search(r"(?<![\w.])\.(?![\w])", src) or re.search(r"(?<![\w$.])\d+[fb]\b", expr)):
            return None
        src = re.sub(r"(?<![\w.])\.(?![\w])", str(here), src)  # '.' is the current address
        src = src.replace("$", "_S_")  # symbols may not start with $ in Python
        if len(src) > MAX_EXPR_CHARS:
            raise self._err(line, f"expression is {len(src)} characters long, more than {MAX_EXPR_CHARS}")
        try:
            tree = ast.parse(src.replace("\n", " "), mode="eval")
        except (SyntaxError, ValueError):
            raise self._err(line, f"bad expression '{_short(expr)}'") from None
        except (RecursionError, MemoryError):
            raise self._err(line, f"expression nested too deeply: '{_short(expr)}'") from None
        if _depth(tree) > MAX_EXPR_DEPTH:
            raise self._err(line, f"expression nested more than {MAX_EXPR_DEPTH} deep: '{_short(expr)}'")
        unknown: list[str] = []

        def fit(v: int) -> int:
            if v.bit_length() > MAX_VALUE_BITS:
                raise self._err(line, f"value of '{_short(expr)}' is out of range (more than {MAX_VALUE_BITS} bits)")
            return v

        def shift(a: int, b: int, left: bool) -> int:
            if not 0 <= b < MAX_VALUE_BITS:
                raise self._err(line, f"shift count {b} in '{_short(expr)}' is not 0..{MAX_VALUE_BITS - 1}")
            return a << b if left else a >> b

        def ev(node: ast.AST) -> int:
            if isinstance(node, ast.Expression):
                return ev(node.body)
            if isinstance(node, ast.Constant) and type(node.value) is int:
                return fit(node.value)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) == 1:
                return ord(node.value)
            if isinstance(node, ast.Name):
                name = node.id.replace("_S_", "$")
                if name in st.symbols and not (abs_only and st.sym_section.get(name) != "abs"):
                    return st.symbols[name]
                unknown.append(name)
                return 0
            if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Invert, ast.UAdd)):
                v = ev(node.operand)
                return -v if isinstance(node.op, ast.USub) else (~v if isinstance(node.op, ast.Invert) else v)
            if isinstance(node, ast.BinOp):
                a, b = ev(node.left), ev(node.right)
                ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                       ast.FloorDiv: lambda: a // b if b else 0, ast.Div: lambda: _div(a, b),
                       ast.Mod: lambda: a % b if b else 0, ast.LShift: lambda: shift(a, b, True),
                       ast.RShift: lambda: shift(a, b, False), ast.BitAnd: lambda: a & b, ast.BitOr: lambda: a | b,
                       ast.BitXor: lambda: a ^ b}  # fmt: skip
                f: Callable[[], int] | None = ops.get(type(node.op))
                if f is not None:
                    return fit(f())
            raise self._err(line, f"unsupported expression '{_short(expr)}'")

        val = ev(tree)
        if unknown:
            if not required or (st.pass_no == 1 and required != "final"):
                return None
            raise self._err(line, f"undefined symbol '{unknown[0]}'")
        return val

    # --- assembling -----------------------------------------------------------------------

    def assemble(self, text: str) -> bytes:
        self.st = _State(self.path)
        stmts = self._pass1(text)
        self.st.pass_no = 2
        return self._pass2(stmts)

    def _statements(self, text: str) -> list[tuple[int, str]]:
        out = []
        in_comment = False
        for no, raw in enumerate(text.splitlines(), 1):
            line = raw
            if in_comment:
                end = line.find("*/")
                if end < 0:
                    continue
                line = line[end + 2 :]
                in_comment = False
            while "/*" in line:
                start = line.find("/*")
                end = line.find("*/", start + 2)
                if end < 0:
                    line = line[:start]
                    in_comment = True
                    break
                line = line[:start] + " " + line[end + 2 :]
            line = _strip_comment(line)
            for part in line.split(";"):
                if part.strip():
                    out.append((no, part.strip()))
        return out

    def _pass1(self, text: str) -> list[_Stmt]:
        st = self.st
        loc = {"text": 0, "data": 0, "bss": 0}
        sec = "text"
        stmts: list[_Stmt] = []
        for no, line in self._statements(text):
            while True:
                m = re.match(r"^([A-Za-z_.$][\w.$]*|\d+)\s*:\s*", line)
                if not m:
                    break
                name = m.group(1)
                line = line[m.end() :]
                if name.isdigit():
                    st.local_labels.setdefault(name, []).append((sec, len(stmts), loc[sec]))
                else:
                    if name in st.symbols and name not in ("",):
                        raise self._err(no, f"label '{name}' defined twice")
                    st.symbols[name] = loc[sec]  # section-relative for now
                    st.sym_section[name] = sec
            if not line:
                continue
            m = re.fullmatch(r"([A-Za-z_.$][\w.$]*)\s*=\s*(.+)", line)
            if m:  # GNU as `sym = expr` is `.set sym, expr`
                line = f".set {m.group(1)}, {m.group(2)}"
            mnem, _, rest = line.partition(" ")
            if "\t" in mnem:
                mnem, _, r2 = mnem.partition("\t")
                rest = r2 + " " + rest
            mnem = mnem.lower()
            ops = _split_operands(rest.strip()) if mnem not in (".ascii", ".asciz", ".string") else [rest.strip()]
            if mnem in (".text", ".data", ".bss"):
                sec = mnem[1:]
                continue
            if mnem == ".section":
                name = ops[0].split(",")[0].strip() if ops else ""
                if name == ".note.GNU-stack":
                    continue
                known = {".text": "text", ".data": "data", ".rodata": "data", ".bss": "bss", ".sdata": "data",
                         ".sbss": "bss"}  # fmt: skip
                if name not in known:
                    raise self._err(no, f"section '{name}' is not supported (use .text, .data, .rodata or .bss)")
                sec = known[name]
                continue
            size, form = self._size(no, mnem, ops, loc[sec], len(stmts), sec)
            stmts.append(_Stmt(no, sec, loc[sec], size, mnem, ops, form))
            loc[sec] += size
            if sum(loc.values()) > MAX_SECTIONS_BYTES:
                raise self._err(no, f"the program passes {size_text(MAX_SECTIONS_BYTES)} (.text, .data and .bss "
                                    "together), more than the workstation's memory")  # fmt: skip
        # place sections and relocate labels
        self.bases = {"text": self.text_base}
        self.bases["data"] = (self.text_base + loc["text"] + 0xFFFF) & ~0xFFFF
        if loc["text"] == 0:
            self.bases["data"] = self.text_base + 0x10000
        self.bases["bss"] = (self.bases["data"] + loc["data"] + 0xFFFF) & ~0xFFFF
        self.sizes = dict(loc)
        for name, sec in st.sym_section.items():
            if sec != "abs":
                st.symbols[name] += self.bases[sec]
        for n, lst in st.local_labels.items():
            st.local_labels[n] = [(s, o, a + self.bases[s]) for s, o, a in lst]
        for s in stmts:
            s.addr += self.bases[s.section]
        st.symbols.setdefault("_gp", self.bases["data"] + 0x8000)
        for order, s in enumerate(stmts):  # .set values with the final addresses, in order
            if s.mnem in (".set", ".equ") and s.ops and s.ops[0] not in _SET_FLAGS:
                v = self.eval(s.ops[1], s.line, s.addr, order, required="final")
                assert v is not None
                st.symbols[s.ops[0]] = v
                st.sym_section[s.ops[0]] = "abs"
        # .set symbols are evaluated in order during pass 2, but also now for sizing-independent uses
        return stmts

    def _size(self, no: int, mnem: str, ops: list[str], addr: int, order: int, sec: str) -> tuple[int, str]:
        st = self.st
        if mnem.startswith("."):
            if mnem in (".quad", ".8byte"):
                return 8 * len(ops), ""
            if mnem in (".long", ".4byte", ".int"):
                return 4 * len(ops), ""
            if mnem in (".word", ".short", ".2byte"):
                return 2 * len(ops), ""
            if mnem == ".byte":
                return len(ops), ""
            if mnem in (".ascii", ".asciz", ".string"):
                return len(self._strings(no, ops[0], mnem != ".ascii")), ""
            if mnem in (".space", ".skip", ".zero"):
                n = self.eval(ops[0], no, addr, order) if ops else None
                if n is None or n < 0:
                    raise self._err(no, f"{mnem} needs a non-negative constant size")
                if n > MAX_SECTIONS_BYTES:
                    raise self._err(no, f"{mnem} {n}: more than the {size_text(MAX_SECTIONS_BYTES)} a program may have")
                return n, ""
            if mnem in (".align", ".balign", ".p2align"):
                n = self.eval(ops[0], no, addr, order) if ops else 3
                if n is None:
                    raise self._err(no, f"{mnem} needs a constant")
                if mnem == ".balign":
                    if n <= 0 or n & (n - 1) or n > 1 << MAX_ALIGN_LOG2:
                        raise self._err(no, f".balign {n}: the alignment must be a power of two from 1 to "
                                            f"{1 << MAX_ALIGN_LOG2}")  # fmt: skip
                    align = n
                else:
                    if not 0 <= n <= MAX_ALIGN_LOG2:
                        raise self._err(no, f"{mnem} {n}: give the alignment as a power of two from 0 to "
                                            f"{MAX_ALIGN_LOG2} (2^{MAX_ALIGN_LOG2} = 64 KiB, the sections' own "
                                            "alignment)")  # fmt: skip
                    align = 1 << n
                # sections are 64 KiB aligned, so section-relative alignment is absolute alignment
                return (-addr) % align, str(align)
            if mnem in (".globl", ".global"):
                st.globals_.update(o.strip() for o in ops)
                return 0, ""
            if mnem == ".ent":
                if ops:
                    st.functions.add(ops[0].split(",")[0].strip())
                return 0, ""
            if mnem in (".set", ".equ") and not (len(ops) == 2 or (len(ops) == 1 and ops[0] in _SET_FLAGS)):
                raise self._err(no, f"{mnem} takes a symbol and a value (or one of {', '.join(sorted(_SET_FLAGS))})")
            if mnem in (".end", ".set", ".equ") or mnem in _IGNORED or mnem.startswith(".cfi"):
                if (
                    mnem in (".set", ".equ")
                    and len(ops) == 2
                    and ops[0] not in ("noat", "at", "noreorder", "reorder", "nomacro", "macro", "volatile")
                ):
                    # only a constant is known now; values that depend on
                    # addresses are set once the sections are placed
                    v = self.eval(ops[1], no, addr, order, abs_only=True)
                    if v is not None:
                        st.symbols[ops[0]] = v
                        st.sym_section[ops[0]] = "abs"
                return 0, ""
            raise self._err(no, f"unknown directive '{mnem}'")
        if sec == "bss":
            raise self._err(no, "instructions are not allowed in .bss")
        if mnem == "ldiq" or mnem == "ldil" or (mnem in ("lda", "mov") and len(ops) == 2 and "(" not in ops[1]
                                                 and _reg(ops[1]) is None):  # fmt: skip
            if len(ops) != 2:
                raise self._err(no, f"{mnem} takes a register and a value")
            v = self.eval(ops[1], no, addr, order, abs_only=True)
            if v is None:
                return 24, "6"  # depends on where sections land: reserve the longest sequence
            n = len(self._build_constant(0, v))
            return 4 * n, str(n)
        if mnem == "ldgp":
            return 8, ""
        if mnem == "jsr" and ops and not any("(" in o for o in ops):
            # jsr [ra,] function: load the procedure value into $27 (pv), as
            # gas does, so the callee's ldgp works; then jsr through it
            v = self.eval(ops[-1], no, addr, order, abs_only=True)
            n = 6 if v is None else len(self._build_constant(27, v))
            return 4 * (n + 1), str(n)
        return 4, ""

    def _strings(self, no: int, arg: str, zero: bool) -> bytes:
        out = b""
        for m in re.finditer(r'"((?:[^"\\]|\\.)*)"', arg):
            try:
                out += ast.literal_eval('b"' + m.group(1) + '"')
            except (SyntaxError, ValueError):
                raise self._err(no, f"bad string literal {m.group(0)}") from None
            if zero:
                out += b"\0"
        if not re.search(r'"', arg):
            raise self._err(no, "expected a quoted string")
        return out

    def _pass2(self, stmts: list[_Stmt]) -> bytes:
        text = bytearray()
        data = bytearray()
        for order, s in enumerate(stmts):
            buf = text if s.section == "text" else data if s.section == "data" else None
            chunk = self._emit(s, order)
            if buf is not None:
                buf += chunk
            elif any(chunk):
                raise self._err(s.line, "initialized data in .bss")
        if not text and not data and not self.sizes["bss"]:
            raise AsmError(f"{self.path}: nothing to assemble (no instructions or data), so no program to load")
        sections = [
            Section(".text", self.bases["text"], len(text), SHF_ALLOC | SHF_EXECINSTR, SHT_PROGBITS, bytes(text))
        ]
        if data:
            sections.append(
                Section(".data", self.bases["data"], len(data), SHF_ALLOC | SHF_WRITE, SHT_PROGBITS, bytes(data))
            )
        if self.sizes["bss"]:
            sections.append(Section(".bss", self.bases["bss"], self.sizes["bss"], SHF_ALLOC | SHF_WRITE, SHT_NOBITS))
        symbols = []
        for name, sec in self.st.sym_section.items():
            if sec == "abs":
                continue
            symbols.append(Symbol(name, self.st.symbols[name], 0, STT_FUNC if name in self.st.functions else STT_NOTYPE,
                                  STB_GLOBAL if name in self.st.globals_ else STB_LOCAL, "." + sec))  # fmt: skip
        entry = self.st.symbols.get("_start", self.st.symbols.get("main", self.bases["text"]))
        self.text_bytes = bytes(text)
        return build_elf(entry, sections, symbols)

    # --- encoding -----------------------------------------------------------------------

    def _emit(self, s: _Stmt, order: int) -> bytes:
        m, ops, no = s.mnem, s.ops, s.line
        if m.startswith("."):
            return self._directive(s, order)
        words = self._encode(m, ops, no, s.addr, order, s.macro_form)
        if 4 * len(words) != s.size:
            raise self._err(no, f"internal: size of '{m}' changed between passes")
        return b"".join(w.to_bytes(4, "little") for w in words)

    def _directive(self, s: _Stmt, order: int) -> bytes:
        m, ops, no = s.mnem, s.ops, s.line
        width = {".quad": 8, ".8byte": 8, ".long": 4, ".4byte": 4, ".int": 4, ".word": 2, ".short": 2, ".2byte": 2,
                 ".byte": 1}.get(m)  # fmt: skip
        if width:
            out = b""
            for o in ops:
                v = self.eval(o, no, s.addr + len(out), order)
                assert v is not None
                if not -(1 << (8 * width - 1)) <= v < (1 << (8 * width)):
                    raise self._err(no, f"value {o} does not fit in {width} bytes")
                out += (v & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
            return out
        if m in (".ascii", ".asciz", ".string"):
            return self._strings(no, ops[0], m != ".ascii")
        if m in (".space", ".skip", ".zero", ".align", ".balign", ".p2align"):
            fill = 0
            if m in (".space", ".skip") and len(ops) > 1:
                fill = self.eval(ops[1], no, s.addr, order) or 0
            if m in (".align", ".balign", ".p2align") and s.section == "text" and s.size % 4 == 0:
                return (0x47FF041F).to_bytes(4, "little") * (s.size // 4)  # pad code with nop
            return bytes([fill & 0xFF]) * s.size
        if (
            m in (".set", ".equ")
            and len(ops) == 2
            and ops[0] in self.st.symbols
            and self.st.sym_section.get(ops[0]) == "abs"
        ):
            v = self.eval(ops[1], no, s.addr, order)
            assert v is not None
            self.st.symbols[ops[0]] = v
        return b""

    def _r(self, tok: str, no: int, fp: bool = False) -> int:
        r = _reg(tok, fp)
        if r is None:
            kind = "floating-point register ($f0..$f31)" if fp else "integer register ($0..$31 or a name like sp)"
            raise self._err(no, f"expected {kind}, got '{tok}'")
        return r

    def _imm(self, tok: str, no: int, here: int, order: int) -> int:
        v = self.eval(tok, no, here, order)
        assert v is not None
        return v

    def _mem_operand(self, tok: str, no: int, here: int, order: int) -> tuple[int, int]:
        m = re.fullmatch(r"(.*)\(\s*([^()]+?)\s*\)", tok.strip())
        if m and (_reg(m.group(2)) is not None or m.group(2).startswith("$")):
            disp = self._imm(m.group(1), no, here, order) if m.group(1).strip() else 0
            return disp, self._r(m.group(2), no)
        return self._imm(tok, no, here, order), 31

    def _encode(self, m: str, ops: list[str], no: int, pc: int, order: int, form: str) -> list[int]:
        n = len(ops)
        # --- aliases and macros ---
        if m == "nop" and n == 0:
            return [0x47FF041F]
        if m == "unop" and n == 0:
            return [0x2FFE0000]
        if m == "fnop" and n == 0:
            return [self._fop("cpys", 31, 31, 31)]
        if m == "clr" and n == 1:
            return [self._opr("bis", 31, 31, False, self._r(ops[0], no))]
        if m in ("ldiq", "ldil") or (m in ("lda", "mov") and form):
            return self._load_imm(self._r(ops[0], no), self._imm(ops[1], no, pc, order), form, no)
        if m == "mov" and n == 2:
            rb = _reg(ops[0])
            if rb is None:
                return [self._opr("bis", 31, self._lit(ops[0], no, pc, order), True, self._r(ops[1], no))]
            return [self._opr("bis", 31, rb, False, self._r(ops[1], no))]
        if m in ("negq", "negl", "not", "sextl", "negq/v", "negl/v") and n == 2:
            base = {"negq": "subq", "negl": "subl", "not": "ornot", "sextl": "addl", "negq/v": "subq/v",
                    "negl/v": "subl/v"}[m]  # fmt: skip
            b, lit = self._rb_or_lit(ops[0], no, pc, order)
            return [self._opr(base, 31, b, lit, self._r(ops[1], no))]
        if m in ("or", "andnot", "xornot"):
            m = {"or": "bis", "andnot": "bic", "xornot": "eqv"}[m]
        if m in ("fmov", "fneg") and n == 2:
            fa = self._r(ops[0], no, True)
            return [self._fop("cpys" if m == "fmov" else "cpysn", fa, fa, self._r(ops[1], no, True))]
        if m == "fabs" and n == 2:
            return [self._fop("cpys", 31, self._r(ops[0], no, True), self._r(ops[1], no, True))]
        if m == "fclr" and n == 1:
            return [self._fop("cpys", 31, 31, self._r(ops[0], no, True))]
        if m in ("mt_fpcr", "mf_fpcr") and n == 1:
            f = self._r(ops[0], no, True)
            return [self._fop(m, f, f, f)]
        if m.startswith("neg") and "/" not in m[:4] and m[3:4] in ("s", "t") and n == 2:
            base = "sub" + m[3:]
            return self._encode(base, ["$f31", *ops], no, pc, order, form)
        if m == "ldgp":
            if n != 2:
                raise self._err(no, "ldgp takes $gp and offset(register)")
            rc = self._r(ops[0], no)
            ofs, rb = self._mem_operand(ops[1], no, pc, order)
            disp = self.st.symbols["_gp"] - (pc - ofs)
            lo = ((disp & 0xFFFF) ^ 0x8000) - 0x8000
            hi = (disp - lo) >> 16
            if not -0x8000 <= hi < 0x8000:
                raise self._err(no, "gp is too far from this ldgp")
            return [self._mem("ldah", rc, hi, rb), self._mem("lda", rc, lo, rc)]
        if m in isa.PAL_NAMES.values() or (m in PAL_FUNCS and n == 0):
            return [PAL_FUNCS[m]]
        if m in ("call_pal", "pal"):
            v = self._imm(ops[0], no, pc, order) if n == 1 else -1
            if not 0 <= v < (1 << 26):
                raise self._err(no, "call_pal takes one function code 0..0x3ffffff")
            return [v]
        if m == "ret" and n == 0:
            return [self._jmp("ret", 31, 26, 1)]
        if m == "jsr" and ops and not any("(" in o for o in ops):
            ra = self._r(ops[0], no) if n == 2 else 26
            target = self._imm(ops[-1], no, pc, order)
            words = self._load_imm(27, target, form, no)
            here = pc + 4 * len(words)
            return [*words, self._jmp("jsr", ra, 27, (target - here - 4) >> 2)]
        if m in ("jmp", "jsr", "ret", "jsr_coroutine", "jcr"):
            return [self._jump(m if m != "jcr" else "jsr_coroutine", ops, no, pc, order)]
        if m in ("br", "bsr") and n == 1:
            ops = ["$31" if m == "br" else "$26", ops[0]]
            n = 2
        # --- table instructions, possibly with FP qualifiers ---
        base, _, suffix = m.partition("/")
        op = isa.BY_NAME.get(m) or isa.BY_NAME.get(base)
        if op is None:
            raise self._err(no, f"unknown instruction '{m}'")
        if op.fmt == FOP and op.fpq:
            fn11 = isa.parse_fp_suffix(op, suffix) if "/" in m else op.func
            if fn11 is None:
                raise self._err(no, f"'{m}': qualifier /{suffix} is not valid for {base}")
        elif "/" in m and op.name != m:
            raise self._err(no, f"'{m}': {base} takes no qualifier /{suffix}")
        else:
            fn11 = op.func
        return [self._table(op, ops, no, pc, order, fn11)]

    def _table(self, op: Op, ops: list[str], no: int, pc: int, order: int, fn11: int) -> int:
        n = len(ops)
        f = op.fmt

        def need(k: int, what: str) -> None:
            if n != k:
                raise self._err(no, f"{op.name} takes {what}")

        if f in (MEM, FMEM):
            if op.name in ("lda", "ldah") or n == 2:
                need(2, "a register and disp(register)")
                ra = self._r(ops[0], no, f == FMEM)
                disp, rb = self._mem_operand(ops[1], no, pc, order)
                if not -0x8000 <= disp < 0x8000:
                    raise self._err(no, f"displacement {disp} does not fit in 16 signed bits")
                return (op.opcode << 26) | (ra << 21) | (rb << 16) | (disp & 0xFFFF)
        if f in (BRA, FBRA):
            need(2, "a register and a target")
            ra = self._r(ops[0], no, f == FBRA)
            target = self._imm(ops[1], no, pc, order)
            delta = target - (pc + 4)
            if delta & 3:
                raise self._err(no, f"branch target {target:#x} is not 4-byte aligned")
            d = delta >> 2
            if not -(1 << 20) <= d < (1 << 20):
                raise self._err(no, f"branch target {target:#x} out of range")
            return (op.opcode << 26) | (ra << 21) | (d & 0x1FFFFF)
        if f == MFC:  # field values as GNU as writes them
            ra, rb = 0, 0
            if op.name in ("rpcc", "rc", "rs"):
                need(1, "one register")
                ra = self._r(ops[0], no)
                rb = 31 if op.name == "rpcc" else 0
            elif op.name in ("fetch", "fetch_m", "ecb", "wh64", "wh64en"):
                need(1, "(register)")
                ra = 31
                _, rb = self._mem_operand(ops[0], no, pc, order)
            elif n:
                raise self._err(no, f"{op.name} takes no operands")
            return (op.opcode << 26) | (ra << 21) | (rb << 16) | op.func
        if f == OPR:
            if op.zero_ra:
                need(2, "a source (register or literal) and a destination register")
                b, lit = self._rb_or_lit(ops[0], no, pc, order)
                return self._opr(op.name, 31, b, lit, self._r(ops[1], no))
            need(3, "ra, rb or literal, rc")
            b, lit = self._rb_or_lit(ops[1], no, pc, order)
            return self._opr(op.name, self._r(ops[0], no), b, lit, self._r(ops[2], no))
        if f == FTOI:
            need(2, "an FP register and an integer register")
            return (
                (op.opcode << 26)
                | (self._r(ops[0], no, True) << 21)
                | (31 << 16)
                | (op.func << 5)
                | self._r(ops[1], no)
            )
        if f == ITOF:
            need(2, "an integer register and an FP register")
            return (
                (op.opcode << 26)
                | (self._r(ops[0], no) << 21)
                | (31 << 16)
                | (op.func << 5)
                | self._r(ops[1], no, True)
            )
        if f == FOP:
            if op.zero_ra:
                need(2, "a source and a destination FP register")
                return (
                    (op.opcode << 26)
                    | (31 << 21)
                    | (self._r(ops[0], no, True) << 16)
                    | (fn11 << 5)
                    | self._r(ops[1], no, True)
                )
            need(3, "three FP registers")
            fa, fb, fc = (self._r(o, no, True) for o in ops)
            return (op.opcode << 26) | (fa << 21) | (fb << 16) | (fn11 << 5) | fc
        if f == PAL:
            raise self._err(no, "use call_pal N")
        raise self._err(no, f"cannot assemble {op.name}")

    def _rb_or_lit(self, tok: str, no: int, pc: int, order: int) -> tuple[int, bool]:
        r = _reg(tok)
        if r is not None:
            return r, False
        return self._lit(tok, no, pc, order), True

    def _lit(self, tok: str, no: int, pc: int, order: int) -> int:
        v = self._imm(tok, no, pc, order)
        if not 0 <= v <= 255:
            raise self._err(no, f"literal {v} is out of range 0..255 (use a register)")
        return v

    def _opr(self, name: str, ra: int, b: int, lit: bool, rc: int) -> int:
        op = isa.BY_NAME[name]
        w = (op.opcode << 26) | (ra << 21) | (op.func << 5) | rc
        return w | (b << 13) | 0x1000 if lit else w | (b << 16)

    def _fop(self, name: str, fa: int, fb: int, fc: int) -> int:
        op = isa.BY_NAME[name]
        return (op.opcode << 26) | (fa << 21) | (fb << 16) | (op.func << 5) | fc

    def _mem(self, name: str, ra: int, disp: int, rb: int) -> int:
        return (isa.BY_NAME[name].opcode << 26) | (ra << 21) | (rb << 16) | (disp & 0xFFFF)

    def _jmp(self, name: str, ra: int, rb: int, hint: int) -> int:
        op = isa.BY_NAME[name]
        return (0x1A << 26) | (ra << 21) | (rb << 16) | (op.func << 14) | (hint & 0x3FFF)

    def _jump(self, m: str, ops: list[str], no: int, pc: int, order: int) -> int:
        # forms: (rb) | ra,(rb) | ra,(rb),hint-or-target
        if len(ops) == 1:
            ra, rbtok, extra = (26 if m == "jsr" else 31), ops[0], None
        elif len(ops) in (2, 3):
            ra, rbtok = self._r(ops[0], no), ops[1]
            extra = ops[2] if len(ops) == 3 else None
        else:
            raise self._err(no, f"{m} takes ra,(rb)[,hint]")
        mm = re.fullmatch(r"\(\s*(.+?)\s*\)", rbtok.strip())
        if not mm:
            raise self._err(no, f"{m}: expected (register), got '{rbtok}' (jumps to symbols need a register)")
        rb = self._r(mm.group(1), no)
        hint = 0
        if extra is not None:
            v = self._imm(extra, no, pc, order)
            hint = ((v - pc - 4) >> 2) if m in ("jmp", "jsr") else v  # jmp/jsr: a target; ret: a raw hint
        return self._jmp(m, ra, rb, hint)

    def _load_imm(self, rc: int, v: int, form: str, no: int) -> list[int]:
        words = self._build_constant(rc, v)
        if form == "6":  # size fixed in pass 1 before the value was known
            words += [0x47FF041F] * (6 - len(words))  # nop
        elif len(words) != int(form):
            raise self._err(no, "internal: constant size changed between passes")
        return words

    def _build_constant(self, rc: int, v: int) -> list[int]:
        """Shortest ldah/lda/sll sequence (at most six) that puts v in rc."""
        v = ((v + (1 << 63)) & M64) - (1 << 63)
        if -0x8000 <= v < 0x8000:
            return [self._mem("lda", rc, v, 31)]
        low = ((v & 0xFFFF_FFFF) ^ 0x8000_0000) - 0x8000_0000
        high = (v - low) >> 32
        words: list[int] = []
        base = 31
        if high:
            lo = ((high & 0xFFFF) ^ 0x8000) - 0x8000
            hi = ((((high - lo) >> 16) & 0xFFFF) ^ 0x8000) - 0x8000  # wrap: the error is shifted out
            if hi:
                words.append(self._mem("ldah", rc, hi, 31))
            words.append(self._mem("lda", rc, lo, rc if hi else 31))
            words.append(self._opr("sll", rc, 32, True, rc))
            base = rc
        lo = ((low & 0xFFFF) ^ 0x8000) - 0x8000
        hi = (low - lo) >> 16
        if hi == 0x8000:  # 0x7fff8000..0x7fffffff: ldah reaches only 0x7fff0000
            words.append(self._mem("ldah", rc, 0x4000, base))
            base, hi = rc, 0x4000
        if hi:
            words.append(self._mem("ldah", rc, hi, base))
            base = rc
        if lo or base != rc:
            words.append(self._mem("lda", rc, lo, base))
        return words


def assemble(text: str, path: str = "<input>", text_base: int = TEXT_BASE + HEADER_ROOM) -> bytes:
    return Assembler(path, text_base).assemble(text)


def assemble_file(src: str | Path, out: str | Path) -> None:
    """Assemble ``src`` into the executable ``out``; every failure, reading,
    assembling or writing, is one AsmError naming the file."""
    try:
        text = read_text(src, HOST_TEXT_MAX, "assembler source")
    except HostFileError as e:
        raise AsmError(str(e)) from None
    data = assemble(text, str(src))
    try:
        write_bytes(out, data)
    except HostFileError as e:
        raise AsmError(str(e)) from None
    umask = os.umask(0)
    os.umask(umask)
    Path(out).chmod(0o777 & ~umask)  # executable, as ld leaves it
