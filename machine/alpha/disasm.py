"""objdump-style disassembly, driven by the instruction table.

Two register spellings: ``$n``/``$fn`` (GNU as canonical, the default) and
objdump's symbolic names (``symbolic=True``: v0, t0, sp, ...). With symbolic
names and the same pseudo-op choices objdump makes (mov, clr, nop, unop, negq,
not, sextl, fmov, fneg, fabs, fclr, ret, ...), the output for the corpus text
matches ``alpha-linux-gnu-objdump -d`` exactly; tests check that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from machine.alpha import isa
from machine.alpha.constants import REG_NAMES
from machine.alpha.decode import Insn, decode

SymbolLookup = Callable[[int], str | None]


def _r(n: int, sym: bool) -> str:
    return REG_NAMES[n] if sym else f"${n}"


def _f(n: int) -> str:
    return f"$f{n}"


def _hex(v: int) -> str:
    return f"{v:#x}" if v else "0"  # C's %#x, as objdump prints


def _target(addr: int, symbolize: SymbolLookup | None, exact: bool = False) -> str:
    if exact:
        return f"{addr:#x}"
    s = symbolize(addr) if symbolize else None
    return f"{addr:x} <{s}>" if s else f"{addr:x}"


def _needs_long(ins: Insn) -> bool:
    """Encodings the assembler would not reproduce bit for bit."""
    op, w = ins.op, ins.word
    if op.fmt == isa.MFC:
        ra_c, rb_c = _MFC_CANON.get(op.name, (0, 0))
        return (ra_c is not None and ins.ra != ra_c) or (rb_c is not None and ins.rb != rb_c)
    if op.fmt == isa.OPR and not ins.is_lit and (w >> 13) & 7:
        return True  # should-be-zero bits 15:13
    if op.fmt in (isa.FTOI, isa.ITOF) and op.fmt == isa.FTOI and ins.is_lit:
        return True
    return False


# Field values GNU as writes for the 0x18 group (checked with alpha-linux-gnu-as).
_MFC_CANON = {"rpcc": (None, 31), "rc": (None, 0), "rs": (None, 0), "fetch": (31, None), "fetch_m": (31, None),
              "ecb": (31, None), "wh64": (31, None), "wh64en": (31, None)}  # fmt: skip


def format_insn(ins: Insn | None, pc: int = 0, *, symbolic: bool = False,
                symbolize: SymbolLookup | None = None, word: int = 0, exact: bool = False) -> tuple[str, str]:  # fmt: skip
    """Return (mnemonic, operands) for one instruction at pc.

    ``exact=True`` prints what our assembler turns back into the same word:
    branch targets as plain 0x addresses, no alias that two encodings share,
    and ``.long`` for encodings whose ignored fields hold unusual values."""
    if ins is None:
        return f".long {_hex(word)}", ""
    if exact:
        symbolize = None
        if _needs_long(ins):
            return f".long {_hex(ins.word)}", ""
    op, ra, rb, rc = ins.op, ins.ra, ins.rb, ins.rc
    R = _r
    s = symbolic and not exact
    fmt = op.fmt
    if fmt == isa.PAL:
        name = isa.PAL_NAMES.get(ins.fn)
        return (name, "") if name else ("call_pal", _hex(ins.fn))
    if fmt in (isa.MEM, isa.FMEM):
        if op.name == "ldq_u" and ra == 31 and rb == 30 and ins.disp == 0:
            return "unop", ""
        first = _f(ra) if fmt == isa.FMEM else R(ra, s)
        if rb == 31:  # objdump leaves out a $31 base
            return op.name, f"{first},{ins.disp}"
        return op.name, f"{first},{ins.disp}({R(rb, s)})"
    if fmt in (isa.BRA, isa.FBRA):
        tgt = _target((pc + 4 + 4 * ins.disp) & 0xFFFF_FFFF_FFFF_FFFF, symbolize, exact)
        if op.name == "br" and ra == 31:
            return "br", tgt
        first = _f(ra) if fmt == isa.FBRA else R(ra, s)
        return op.name, f"{first},{tgt}"
    if fmt == isa.JMP:
        if op.name == "ret" and ra == 31 and rb == 26 and ins.disp == 1:
            return "ret", ""
        if op.name == "jmp" and ra == 31 and ins.disp == 0:
            return "jmp", f"({R(rb, s)})"
        if op.name in ("ret", "jsr_coroutine"):
            name = "jcr" if op.name == "jsr_coroutine" else "ret"
            return name, f"{R(ra, s)},({R(rb, s)}),{_hex(ins.disp)}"
        tgt = _target((pc + 4 + 4 * ins.disp) & 0xFFFF_FFFF_FFFF_FFFF, symbolize, exact)
        return op.name, f"{R(ra, s)},({R(rb, s)}),{tgt}"
    if fmt == isa.MFC:
        if op.name in ("rpcc", "rc", "rs"):
            return op.name, R(ra, s)
        if op.name in ("fetch", "fetch_m", "ecb", "wh64", "wh64en"):
            return op.name, f"({R(rb, s)})"
        return op.name, ""
    if fmt == isa.OPR:
        b = _hex(ins.lit) if ins.is_lit else R(rb, s)
        name = op.name
        if name == "bis":
            if ra == 31 and not ins.is_lit and rb == 31:
                return ("nop", "") if rc == 31 else ("clr", R(rc, s))
            if ra == 31:
                return "mov", f"{b},{R(rc, s)}"
            if not ins.is_lit and ra == rb and not exact:
                return "mov", f"{R(ra, s)},{R(rc, s)}"
            return "or", f"{R(ra, s)},{b},{R(rc, s)}"
        if ra == 31 and name in ("addl", "subl", "subq", "ornot", "subl/v", "subq/v"):
            alias = {"addl": "sextl", "subl": "negl", "subq": "negq", "ornot": "not",
                     "subl/v": "negl/v", "subq/v": "negq/v"}[name]  # fmt: skip
            return alias, f"{b},{R(rc, s)}"
        if name == "bic":
            name = "andnot"
        if op.zero_ra:
            return name, f"{b},{R(rc, s)}"
        return name, f"{R(ra, s)},{b},{R(rc, s)}"
    if fmt == isa.FTOI:
        return op.name, f"{_f(ra)},{R(rc, s)}"
    if fmt == isa.ITOF:
        return op.name, f"{R(ra, s)},{_f(rc)}"
    # FOP
    fa, fb, fc = _f(ra), _f(rb), _f(rc)
    name = op.name
    if op.fpq:
        suffix = isa.fp_suffix(op, ins.fn)
        if suffix is None:
            return f".long {_hex(ins.word)}", ""
        name += suffix
        if name.startswith("sub") and ra == 31 and op.fpq == "arith":
            return "neg" + name[3:], f"{fb},{fc}"
    elif name == "cpys":
        if ra == 31 and rb == 31 and rc == 31:
            return "fnop", ""
        if ra == 31 and rb == 31:
            return "fclr", fc
        if ra == rb:
            return "fmov", f"{fa},{fc}"
        if ra == 31:
            return "fabs", f"{fb},{fc}"
    elif name == "cpysn" and ra == rb:
        return "fneg", f"{fa},{fc}"
    elif name in ("mt_fpcr", "mf_fpcr") and ra == rb == rc:
        return name, fa
    if op.zero_ra:
        return name, f"{fb},{fc}"
    return name, f"{fa},{fb},{fc}"


def disasm_word(word: int, pc: int = 0, *, symbolic: bool = False,
                symbolize: SymbolLookup | None = None, exact: bool = False) -> str:  # fmt: skip
    m, o = format_insn(decode(word), pc, symbolic=symbolic, symbolize=symbolize, word=word, exact=exact)
    return f"{m}\t{o}" if o else m


def listing(words: Iterable[tuple[int, int]], *, symbolic: bool = False,
            labels: dict[int, str] | None = None,
            symbolize: SymbolLookup | None = None) -> list[str]:  # fmt: skip
    """objdump -d style lines for (address, word) pairs."""
    out: list[str] = []
    for pc, w in words:
        if labels and pc in labels:
            if out:
                out.append("")
            out.append(f"{pc:016x} <{labels[pc]}>:")
        b = w.to_bytes(4, "little")
        m, o = format_insn(decode(w), pc, symbolic=symbolic, symbolize=symbolize, word=w)
        out.append(f"{pc:8x}:\t{b[0]:02x} {b[1]:02x} {b[2]:02x} {b[3]:02x} \t{m}\t{o}")
    return out
