"""The one Alpha instruction table.

Every instruction is one ``Op`` row: encoding (opcode and function), operand
format, semantics and cycle cost. The decoder, the reference interpreter, the
block translator, the disassembler and the assembler all read this table and
nothing else; a new instruction is one new row.

Semantics are Python expression templates over the operand values ``a``
(Ra, or Fa for FP), ``b`` (Rb or the literal, Fb for FP) and, for memory
forms, the loaded value ``v``. The interpreter compiles each template once into
a function; the translator pastes it into generated block source. Names the
templates use come from ``machine.alpha.alu`` and ``machine.alpha.fpu``.

Encodings: alpha-machine.md §1-2 (cross-checked with QEMU translate.c and
binutils); cycle costs: see ``COST`` below.
"""

from __future__ import annotations

from dataclasses import dataclass

from machine.alpha.constants import AMASK_BWX, AMASK_CIX, AMASK_FIX, AMASK_MVI

# Formats.
PAL = "pal"  # CALL_PAL: 26-bit function
BRA = "bra"  # integer branch: Ra, disp21
FBRA = "fbra"  # FP branch: Fa, disp21
MEM = "mem"  # Ra, disp16(Rb)
FMEM = "fmem"  # Fa, disp16(Rb)
MFC = "mfc"  # 0x18 group: function in disp16
JMP = "jmp"  # 0x1A: Ra, (Rb), hint
OPR = "opr"  # integer operate: Ra, Rb|#lit, Rc
FOP = "fop"  # FP operate: Fa, Fb, Fc with fn11
ITOF = "itof"  # integer register -> FP register (Ra, Fc)
FTOI = "ftoi"  # FP register -> integer register (Fa, Rc)

# Cycle costs per class on the 21064 (DEC 21064 Hardware Reference Manual,
# table of instruction latencies; issue-slot figures rounded to whole cycles).
# These drive virtual time only; they do not change results.
COST = {
    "alu": 1,
    "shift": 2,
    "byte": 2,
    "cmov": 2,
    "mul32": 21,
    "mul64": 23,
    "load": 3,
    "store": 1,
    "branch": 1,
    "jump": 2,
    "barrier": 1,
    "pal": 10,
    "fadd": 6,
    "fmul": 6,
    "fdivs": 34,
    "fdivt": 63,
    "fsqrt": 70,
    "fmisc": 2,
}


@dataclass(frozen=True, slots=True)
class Op:
    """One instruction row. ``func`` is fn7 (OPR), fn11 with default
    qualifiers (FOP), the disp16 code (MFC), the hint type (JMP) or -1."""

    name: str
    opcode: int
    fmt: str
    func: int = -1
    sem: str = ""  # value expression (see module docstring)
    kind: str = "alu"  # interpretation: alu, cmov, trapv, lda, ld, st, ...
    cost: str = "alu"
    feature: int = 0  # AMASK bit the CPU must implement, else OPCDEC
    width: int = 0  # memory access width in bytes
    zero_ra: bool = False  # Ra must be 31 (QEMU REQUIRE_REG_31)
    zero_rb: bool = False
    no_lit: bool = False
    fpq: str = ""  # FP qualifier family: "arith", "cvtq", "cvti", "cmp", "cvtst"


TABLE: list[Op] = []


def _add(*ops: Op) -> None:
    TABLE.extend(ops)


# --- memory format ----------------------------------------------------------------
_add(
    Op("lda", 0x08, MEM, kind="lda", sem="(b + d) & M"),
    Op("ldah", 0x09, MEM, kind="lda", sem="(b + (d << 16)) & M"),
    Op("ldbu", 0x0A, MEM, kind="ld", cost="load", width=1, sem="v", feature=AMASK_BWX),
    Op("ldq_u", 0x0B, MEM, kind="ldu", cost="load", width=8, sem="v"),
    Op("ldwu", 0x0C, MEM, kind="ld", cost="load", width=2, sem="v", feature=AMASK_BWX),
    Op("stw", 0x0D, MEM, kind="st", cost="store", width=2, feature=AMASK_BWX),
    Op("stb", 0x0E, MEM, kind="st", cost="store", width=1, feature=AMASK_BWX),
    Op("stq_u", 0x0F, MEM, kind="stu", cost="store", width=8),
    Op("ldl", 0x28, MEM, kind="ld", cost="load", width=4, sem="sextl(v)"),
    Op("ldq", 0x29, MEM, kind="ld", cost="load", width=8, sem="v"),
    Op("ldl_l", 0x2A, MEM, kind="ldl_l", cost="load", width=4, sem="sextl(v)"),
    Op("ldq_l", 0x2B, MEM, kind="ldl_l", cost="load", width=8, sem="v"),
    Op("stl", 0x2C, MEM, kind="st", cost="store", width=4),
    Op("stq", 0x2D, MEM, kind="st", cost="store", width=8),
    Op("stl_c", 0x2E, MEM, kind="stc", cost="store", width=4),
    Op("stq_c", 0x2F, MEM, kind="stc", cost="store", width=8),
    # FP loads/stores: S values are converted to and from the register image.
    Op("lds", 0x22, FMEM, kind="fld", cost="load", width=4, sem="mem_to_s(v)"),
    Op("ldt", 0x23, FMEM, kind="fld", cost="load", width=8, sem="v"),
    Op("sts", 0x26, FMEM, kind="fst", cost="store", width=4, sem="s_to_mem(a)"),
    Op("stt", 0x27, FMEM, kind="fst", cost="store", width=8, sem="a"),
)

# --- branches: condition on the Ra value a ------------------------------------------
_add(
    Op("br", 0x30, BRA, kind="br", cost="branch", sem="True"),
    Op("bsr", 0x34, BRA, kind="br", cost="branch", sem="True"),
    Op("blbc", 0x38, BRA, kind="bcc", cost="branch", sem="not a & 1"),
    Op("beq", 0x39, BRA, kind="bcc", cost="branch", sem="a == 0"),
    Op("blt", 0x3A, BRA, kind="bcc", cost="branch", sem="a >> 63"),
    Op("ble", 0x3B, BRA, kind="bcc", cost="branch", sem="a == 0 or a >> 63"),
    Op("blbs", 0x3C, BRA, kind="bcc", cost="branch", sem="a & 1"),
    Op("bne", 0x3D, BRA, kind="bcc", cost="branch", sem="a != 0"),
    Op("bge", 0x3E, BRA, kind="bcc", cost="branch", sem="not a >> 63"),
    Op("bgt", 0x3F, BRA, kind="bcc", cost="branch", sem="a != 0 and not a >> 63"),
    Op("fbeq", 0x31, FBRA, kind="fbcc", cost="branch", sem="ftest('eq', a)"),
    Op("fblt", 0x32, FBRA, kind="fbcc", cost="branch", sem="ftest('lt', a)"),
    Op("fble", 0x33, FBRA, kind="fbcc", cost="branch", sem="ftest('le', a)"),
    Op("fbne", 0x35, FBRA, kind="fbcc", cost="branch", sem="ftest('ne', a)"),
    Op("fbge", 0x36, FBRA, kind="fbcc", cost="branch", sem="ftest('ge', a)"),
    Op("fbgt", 0x37, FBRA, kind="fbcc", cost="branch", sem="ftest('gt', a)"),
)

# --- jumps (0x1A): hint type in bits 15:14 -------------------------------------------
_add(*(Op(n, 0x1A, JMP, func=t, kind="jmp", cost="jump") for t, n in enumerate(("jmp", "jsr", "ret", "jsr_coroutine"))))

# --- 0x18 memory-function group ------------------------------------------------------
_add(
    Op("trapb", 0x18, MFC, 0x0000, kind="nop", cost="barrier"),
    Op("excb", 0x18, MFC, 0x0400, kind="nop", cost="barrier"),
    Op("mb", 0x18, MFC, 0x4000, kind="nop", cost="barrier"),
    Op("wmb", 0x18, MFC, 0x4400, kind="nop", cost="barrier"),
    Op("fetch", 0x18, MFC, 0x8000, kind="nop", cost="barrier"),
    Op("fetch_m", 0x18, MFC, 0xA000, kind="nop", cost="barrier"),
    Op("rpcc", 0x18, MFC, 0xC000, kind="rpcc", cost="alu"),
    Op("rc", 0x18, MFC, 0xE000, kind="rc", cost="alu"),
    Op("ecb", 0x18, MFC, 0xE800, kind="nop", cost="barrier"),
    Op("rs", 0x18, MFC, 0xF000, kind="rs", cost="alu"),
    Op("wh64", 0x18, MFC, 0xF800, kind="nop", cost="barrier"),
    Op("wh64en", 0x18, MFC, 0xFC00, kind="nop", cost="barrier"),
)

_add(Op("call_pal", 0x00, PAL, kind="pal", cost="pal"))


# --- integer operate ----------------------------------------------------------------
def _opr(opcode: int, rows: str, kind: str = "alu", cost: str = "alu", **kw: object) -> None:
    """Rows: 'name fn7 expr' separated by ';'."""
    for row in rows.split(";"):
        row = row.strip()
        if row:
            name, fn, expr = row.split(None, 2)
            _add(Op(name, opcode, OPR, int(fn, 16), expr.strip(), kind, cost, **kw))  # type: ignore[arg-type]


_opr(
    0x10,
    """
    addl 00 sextl(a + b); s4addl 02 sextl((a << 2) + b); subl 09 sextl(a - b);
    s4subl 0B sextl((a << 2) - b); cmpbge 0F cmpbge(a, b); s8addl 12 sextl((a << 3) + b);
    s8subl 1B sextl((a << 3) - b); cmpult 1D 1 if a < b else 0; addq 20 (a + b) & M;
    s4addq 22 ((a << 2) + b) & M; subq 29 (a - b) & M; s4subq 2B ((a << 2) - b) & M;
    cmpeq 2D 1 if a == b else 0; s8addq 32 ((a << 3) + b) & M; s8subq 3B ((a << 3) - b) & M;
    cmpule 3D 1 if a <= b else 0; cmplt 4D cmplt(a, b); cmple 6D cmple(a, b)
""",
)
_opr(0x10, "addl/v 40 addlv(a, b); subl/v 49 sublv(a, b); addq/v 60 addqv(a, b); subq/v 69 subqv(a, b)", kind="trapv")
_opr(
    0x11,
    """
    and 00 a & b; bic 08 a & ~b & M; bis 20 a | b; ornot 28 (a | ~b) & M; xor 40 a ^ b;
    eqv 48 (a ^ ~b) & M
""",
)
_opr(
    0x11,
    """
    cmovlbs 14 a & 1; cmovlbc 16 not a & 1; cmoveq 24 a == 0; cmovne 26 a != 0;
    cmovlt 44 a >> 63; cmovge 46 not a >> 63; cmovle 64 a == 0 or a >> 63;
    cmovgt 66 a != 0 and not a >> 63
""",
    kind="cmov",
    cost="cmov",
)
_opr(0x11, "amask 61 b & ~AMASK_FEATURES & M; implver 6C IMPLVER", zero_ra=True)
_opr(
    0x12,
    """
    mskbl 02 mskl(a, b, 0x01); extbl 06 extl(a, b, 0x01); insbl 0B insl(a, b, 0x01);
    mskwl 12 mskl(a, b, 0x03); extwl 16 extl(a, b, 0x03); inswl 1B insl(a, b, 0x03);
    mskll 22 mskl(a, b, 0x0F); extll 26 extl(a, b, 0x0F); insll 2B insl(a, b, 0x0F);
    zap 30 zap(a, b); zapnot 31 zapnot(a, b);
    mskql 32 mskl(a, b, 0xFF); extql 36 extl(a, b, 0xFF); insql 3B insl(a, b, 0xFF);
    mskwh 52 mskh(a, b, 0x03); inswh 57 insh(a, b, 0x03); extwh 5A exth(a, b, 0x03);
    msklh 62 mskh(a, b, 0x0F); inslh 67 insh(a, b, 0x0F); extlh 6A exth(a, b, 0x0F);
    mskqh 72 mskh(a, b, 0xFF); insqh 77 insh(a, b, 0xFF); extqh 7A exth(a, b, 0xFF)
""",
    cost="byte",
)
_opr(0x12, "srl 34 a >> (b & 63); sll 39 (a << (b & 63)) & M; sra 3C sra(a, b)", cost="shift")
_opr(0x13, "mull 00 sextl(a * b)", cost="mul32")
_opr(0x13, "mulq 20 (a * b) & M; umulh 30 (a * b) >> 64", cost="mul64")
_opr(0x13, "mull/v 40 mullv(a, b)", kind="trapv", cost="mul32")
_opr(0x13, "mulq/v 60 mulqv(a, b)", kind="trapv", cost="mul64")
_opr(0x1C, "sextb 00 sext(b, 8); sextw 01 sext(b, 16)", feature=AMASK_BWX, zero_ra=True)
_opr(0x1C, "ctpop 30 b.bit_count(); ctlz 32 ctlz(b); cttz 33 cttz(b)", feature=AMASK_CIX, zero_ra=True, no_lit=True)
_opr(0x1C, "perr 31 perr(a, b)", feature=AMASK_MVI, no_lit=True)
_opr(
    0x1C,
    """
    unpkbw 34 unpkbw(b); unpkbl 35 unpkbl(b); pkwb 36 pkwb(b); pklb 37 pklb(b)
""",
    feature=AMASK_MVI,
    zero_ra=True,
    no_lit=True,
)
_opr(
    0x1C,
    """
    minsb8 38 minsb8(a, b); minsw4 39 minsw4(a, b); minub8 3A minub8(a, b);
    minuw4 3B minuw4(a, b); maxub8 3C maxub8(a, b); maxuw4 3D maxuw4(a, b);
    maxsb8 3E maxsb8(a, b); maxsw4 3F maxsw4(a, b)
""",
    feature=AMASK_MVI,
)
_add(
    Op("ftoit", 0x1C, FTOI, 0x70, "a", "ftoi", "fmisc", AMASK_FIX, zero_rb=True, no_lit=True),
    Op("ftois", 0x1C, FTOI, 0x78, "sextl(s_to_mem(a))", "ftoi", "fmisc", AMASK_FIX, zero_rb=True, no_lit=True),
)

# --- floating point ------------------------------------------------------------------
# 0x14 ITFP. SQRT carries qualifiers like the arithmetic ops.
_add(
    Op("itofs", 0x14, ITOF, 0x004, "mem_to_s(a & 0xFFFFFFFF)", "itof", "fmisc", AMASK_FIX, zero_rb=True),
    Op("itoft", 0x14, ITOF, 0x024, "a", "itof", "fmisc", AMASK_FIX, zero_rb=True),
    Op("sqrts", 0x14, FOP, 0x08B, "sqrt('S', b, RM)", "fp", "fsqrt", AMASK_FIX, zero_ra=True, fpq="arith"),
    Op("sqrtt", 0x14, FOP, 0x0AB, "sqrt('T', b, RM)", "fp", "fsqrt", AMASK_FIX, zero_ra=True, fpq="arith"),
)
# 0x16 IEEE: decoded on fn11 bits 5:0 as QEMU does; bits 10:6 are qualifiers.
_add(
    Op("adds", 0x16, FOP, 0x080, "arith('add', 'S', a, b, RM)", "fp", "fadd", fpq="arith"),
    Op("subs", 0x16, FOP, 0x081, "arith('sub', 'S', a, b, RM)", "fp", "fadd", fpq="arith"),
    Op("muls", 0x16, FOP, 0x082, "arith('mul', 'S', a, b, RM)", "fp", "fmul", fpq="arith"),
    Op("divs", 0x16, FOP, 0x083, "arith('div', 'S', a, b, RM)", "fp", "fdivs", fpq="arith"),
    Op("addt", 0x16, FOP, 0x0A0, "arith('add', 'T', a, b, RM)", "fp", "fadd", fpq="arith"),
    Op("subt", 0x16, FOP, 0x0A1, "arith('sub', 'T', a, b, RM)", "fp", "fadd", fpq="arith"),
    Op("mult", 0x16, FOP, 0x0A2, "arith('mul', 'T', a, b, RM)", "fp", "fmul", fpq="arith"),
    Op("divt", 0x16, FOP, 0x0A3, "arith('div', 'T', a, b, RM)", "fp", "fdivt", fpq="arith"),
    Op("cmptun", 0x16, FOP, 0x0A4, "compare('un', a, b)", "fp", "fadd", fpq="cmp"),
    Op("cmpteq", 0x16, FOP, 0x0A5, "compare('eq', a, b)", "fp", "fadd", fpq="cmp"),
    Op("cmptlt", 0x16, FOP, 0x0A6, "compare('lt', a, b)", "fp", "fadd", fpq="cmp"),
    Op("cmptle", 0x16, FOP, 0x0A7, "compare('le', a, b)", "fp", "fadd", fpq="cmp"),
    Op("cvtts", 0x16, FOP, 0x0AC, "cvtts(b, RM)", "fp", "fadd", zero_ra=True, fpq="arith"),
    Op("cvtst", 0x16, FOP, 0x2AC, "cvtst(b)", "fp", "fadd", zero_ra=True, fpq="cvtst"),
    Op("cvttq", 0x16, FOP, 0x0AF, "cvttq(b, RM)", "fp", "fadd", zero_ra=True, fpq="cvti"),
    Op("cvtqs", 0x16, FOP, 0x0BC, "cvtq('S', b, RM)", "fp", "fadd", zero_ra=True, fpq="cvtq"),
    Op("cvtqt", 0x16, FOP, 0x0BE, "cvtq('T', b, RM)", "fp", "fadd", zero_ra=True, fpq="cvtq"),
)
# 0x17 FLTL: decoded on the exact fn11.
_add(
    Op("cvtlq", 0x17, FOP, 0x010, "cvtlq(b)", "fpx", "fmisc", zero_ra=True),
    Op("cpys", 0x17, FOP, 0x020, "(a & SIGN) | (b & ~SIGN & M)", "fpx", "fmisc"),
    Op("cpysn", 0x17, FOP, 0x021, "(~a & SIGN) | (b & ~SIGN & M)", "fpx", "fmisc"),
    Op("cpyse", 0x17, FOP, 0x022, "(a & 0xFFF0000000000000) | (b & 0x000FFFFFFFFFFFFF)", "fpx", "fmisc"),
    Op("mt_fpcr", 0x17, FOP, 0x024, "", "mt_fpcr", "fmisc"),
    Op("mf_fpcr", 0x17, FOP, 0x025, "", "mf_fpcr", "fmisc"),
    Op("fcmoveq", 0x17, FOP, 0x02A, "ftest('eq', a)", "fcmov", "fmisc"),
    Op("fcmovne", 0x17, FOP, 0x02B, "ftest('ne', a)", "fcmov", "fmisc"),
    Op("fcmovlt", 0x17, FOP, 0x02C, "ftest('lt', a)", "fcmov", "fmisc"),
    Op("fcmovge", 0x17, FOP, 0x02D, "ftest('ge', a)", "fcmov", "fmisc"),
    Op("fcmovle", 0x17, FOP, 0x02E, "ftest('le', a)", "fcmov", "fmisc"),
    Op("fcmovgt", 0x17, FOP, 0x02F, "ftest('gt', a)", "fcmov", "fmisc"),
    Op("cvtql", 0x17, FOP, 0x030, "cvtql(b)", "fpx", "fmisc", zero_ra=True),
    Op("cvtql/v", 0x17, FOP, 0x130, "cvtql(b)", "cvtqlv", "fmisc", zero_ra=True),
    Op("cvtql/sv", 0x17, FOP, 0x530, "cvtql(b)", "cvtqlv", "fmisc", zero_ra=True),
)

# Opcodes with no row raise OPCDEC: reserved 0x01-0x07, PAL-only 0x19 0x1B
# 0x1D-0x1F, VAX floating point 0x15 and 0x20/0x21/0x24/0x25 (not emulated:
# gcc never emits VAX formats for Linux, and OSF/1 user code rarely did).

BY_NAME: dict[str, Op] = {op.name: op for op in TABLE}

# PAL function names objdump prints instead of call_pal.
PAL_NAMES = {0x00: "halt", 0x02: "draina", 0x80: "bpt", 0x81: "bugchk", 0x83: "callsys", 0x86: "imb",
             0x9E: "rduniq", 0x9F: "wruniq", 0xAA: "gentrap"}  # fmt: skip

# FP qualifier spelling (Alpha ARM 4.7.9): trap bits 10:8 and rounding bits 7:6.
TRAP_SUFFIX = {"arith": {0: "", 1: "u", 5: "su", 7: "sui"},
               "cvti": {0: "", 1: "v", 5: "sv", 7: "svi"},
               "cvtq": {0: "", 7: "sui"},
               "cmp": {0: "", 5: "su"},
               "cvtst": {2: "", 6: "s"}}  # fmt: skip
ROUND_SUFFIX = {0: "c", 1: "m", 2: "", 3: "d"}


def fp_suffix(op: Op, fn11: int) -> str | None:
    """Qualifier suffix for fn11, or None if this combination has no name."""
    if op.fpq == "cvtst":
        t = TRAP_SUFFIX["cvtst"].get(fn11 >> 8)
        return None if t is None or (fn11 & 0xFF) != 0xAC else ("/" + t if t else "")
    trap = TRAP_SUFFIX[op.fpq].get((fn11 >> 8) & 7)
    rnd = (fn11 >> 6) & 3
    if trap is None or (op.fpq == "cmp" and rnd != 2):
        return None
    s = trap + ROUND_SUFFIX[rnd]
    return "/" + s if s else ""


def parse_fp_suffix(op: Op, suffix: str) -> int | None:
    """fn11 for op with qualifier string (without '/'), or None if invalid."""
    base = op.func & 0x3F if op.fpq != "cvtst" else 0xAC
    if op.fpq == "cvtst":
        return {"": 0x2AC, "s": 0x6AC}.get(suffix)
    for tbits, t in TRAP_SUFFIX[op.fpq].items():
        for rbits, r in ROUND_SUFFIX.items():
            if t + r == suffix and not (op.fpq == "cmp" and rbits != 2):
                return (tbits << 8) | (rbits << 6) | base
    return None
