"""IEEE S and T floating point as the Alpha does it, on 64-bit register images.

Registers hold T-format (IEEE double) bit patterns; S values live in registers
in the expanded 64-bit form that LDS produces (Alpha ARM 2.2.6). Every
operation returns ``(result_bits, exception_bits)``, with exception bits in
entArith exception-summary form; the caller merges them into the FPCR and
decides whether to trap (see ``FPU.raise_mask``).

Round-to-nearest uses the host's IEEE doubles (a correctly rounded double
rounded again to single is correct for + - * / sqrt, since 53 >= 2*24+2).
The other rounding modes and all integer<->float rounding use exact rational
arithmetic, which is slow but only reached by /C, /M, /D code.
"""

from __future__ import annotations

import math
import operator
import struct
from fractions import Fraction

from machine.alpha.constants import (
    EXC_DZE,
    EXC_FOV,
    EXC_INE,
    EXC_INV,
    EXC_IOV,
    EXC_UNF,
    M64,
    ROUND_CHOPPED,
    ROUND_MINUS,
    ROUND_NORMAL,
    ROUND_PLUS,
)

_pack_d = struct.Struct("<d").pack
_unpack_d = struct.Struct("<d").unpack
_pack_q = struct.Struct("<Q").pack
_unpack_q = struct.Struct("<Q").unpack
_pack_f = struct.Struct("<f").pack
_unpack_f = struct.Struct("<f").unpack
_pack_i = struct.Struct("<I").pack
_unpack_i = struct.Struct("<I").unpack

DEFAULT_NAN = 0x7FF8_0000_0000_0000  # Alpha's default quiet NaN (sign clear)
TWO = 0x4000_0000_0000_0000  # 2.0: the "true" of CMPTxx
SIGN = 1 << 63


def bits_to_t(b: int) -> float:
    return _unpack_d(_pack_q(b))[0]


def t_to_bits(x: float) -> int:
    return _unpack_q(_pack_d(x))[0]


def mem_to_s(w: int) -> int:
    """LDS: 32-bit single in memory -> register image (Alpha ARM 4.7.6)."""
    e = (w >> 23) & 0xFF
    if e == 0xFF:
        e11 = 0x7FF
    elif e == 0:
        e11 = 0
    else:
        e11 = e + 896
    return ((w >> 31) << 63) | (e11 << 52) | ((w & 0x7F_FFFF) << 29)


def s_to_mem(v: int) -> int:
    """STS: register image -> 32-bit single (a pure bit mapping)."""
    return ((v >> 32) & 0xC000_0000) | ((v >> 29) & 0x3FFF_FFFF)


def bits_to_s(v: int) -> float:
    return _unpack_f(_pack_i(s_to_mem(v)))[0]


def is_nan_t(b: int) -> bool:
    return (b >> 52) & 0x7FF == 0x7FF and b & 0xF_FFFF_FFFF_FFFF != 0


def is_snan_t(b: int) -> bool:
    return is_nan_t(b) and not (b >> 51) & 1


# --- rounding an exact rational to a format -------------------------------------

_FMT = {"T": (53, -1022, 1023), "S": (24, -126, 127)}  # precision, emin, emax


def _round_frac(q: Fraction, fmt: str, mode: int) -> tuple[float, int]:
    """Round exact q to format fmt in mode; return (value, exceptions)."""
    if q == 0:
        return 0.0, 0
    prec, emin, emax = _FMT[fmt]
    neg = q < 0
    a = -q if neg else q
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    # a in [2^e, 2^(e+1)); quantum is 2^(max(e, emin) - prec + 1)
    qe = max(e, emin) - prec + 1
    scaled = a / (Fraction(2) ** qe)
    n = scaled.numerator // scaled.denominator
    rem = scaled - n
    exc = 0
    if rem:
        exc |= EXC_INE
        if mode == ROUND_NORMAL:
            if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n & 1):
                n += 1
        elif mode == ROUND_PLUS and not neg or mode == ROUND_MINUS and neg:
            n += 1
    val = Fraction(n) * Fraction(2) ** qe
    if val >= Fraction(2) ** (emax + 1):
        exc |= EXC_FOV | EXC_INE
        big = mode == ROUND_NORMAL or (mode == ROUND_PLUS and not neg) or (mode == ROUND_MINUS and neg)
        if big:
            r = math.inf
        else:
            r = float((Fraction(2) ** (prec) - 1) * Fraction(2) ** (emax - prec + 1))
        return (-r if neg else r), exc
    if e < emin and exc & EXC_INE:
        exc |= EXC_UNF
    r = float(val)
    return (-r if neg else r), exc


# --- the FPU -----------------------------------------------------------------------


def _input_exc(b: int, is_cmp: bool = False) -> int:
    """Non-/S instructions trap on denormal, infinite or NaN inputs (QEMU
    helper_ieee_input; real 21064 hardware leaves these to the OS)."""
    exp = (b >> 52) & 0x7FF
    frac = b & 0xF_FFFF_FFFF_FFFF
    if exp == 0:
        return EXC_INV if frac else 0
    if exp == 0x7FF:
        if is_cmp:
            return EXC_INV if frac else 0
        return EXC_INV
    return 0


def _nan_result(a: int, b: int | None) -> tuple[int, int]:
    """Propagate a NaN operand (quieted) the way softfloat does for Alpha."""
    exc = 0
    for x in (a, b):
        if x is not None and is_snan_t(x):
            exc |= EXC_INV
    for x in (a, b):
        if x is not None and is_nan_t(x):
            return x | (1 << 51), exc
    return DEFAULT_NAN, EXC_INV


_OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


def arith(op: str, fmt: str, a: int, b: int, rmode: int) -> tuple[int, int]:
    """ADD/SUB/MUL/DIV in S or T format on register images."""
    if fmt == "S":
        x, y = bits_to_s(a), bits_to_s(b)
        a_t, b_t = t_to_bits(x), t_to_bits(y)
    else:
        x, y = bits_to_t(a), bits_to_t(b)
        a_t, b_t = a, b
    if math.isnan(x) or math.isnan(y):
        return _nan_result(a_t, b_t)
    exc = 0
    if math.isinf(x) or math.isinf(y):
        if op != "div":
            r = _OPS[op](x, y)
        elif math.isinf(x) and math.isinf(y):
            r = math.nan
        else:
            r = x / y if y != 0 else math.copysign(math.inf, x) * math.copysign(1.0, y)
        if math.isnan(r):
            return DEFAULT_NAN, EXC_INV
        return t_to_bits(r), 0
    if op == "div" and y == 0:
        if x == 0:
            return DEFAULT_NAN, EXC_INV
        r = math.copysign(math.inf, x) * math.copysign(1.0, y)
        return t_to_bits(r), EXC_DZE
    q = _OPS[op](Fraction(x), Fraction(y))  # exact; rounded below
    if q == 0:
        # Sign of an exact zero sum: +0 except in round-down, or -0 * / with signs.
        if op in ("mul", "div"):
            neg = (math.copysign(1.0, x) < 0) != (math.copysign(1.0, y) < 0)
        else:
            sx = math.copysign(1.0, x) < 0
            sy = (math.copysign(1.0, y) < 0) != (op == "sub")
            neg = (sx and sy) if (x == 0 and y == 0) else (rmode == ROUND_MINUS)
            if x == 0 and y == 0 and sx != sy:
                neg = rmode == ROUND_MINUS
        return (SIGN if neg else 0), 0
    r, exc = _round_frac(q, fmt, rmode)
    return t_to_bits(r), exc


def sqrt(fmt: str, b: int, rmode: int) -> tuple[int, int]:
    x = bits_to_s(b) if fmt == "S" else bits_to_t(b)
    if math.isnan(x):
        return _nan_result(t_to_bits(x) if fmt == "S" else b, None)
    if x == 0:
        return t_to_bits(x), 0
    if x < 0:
        return DEFAULT_NAN, EXC_INV
    if math.isinf(x):
        return t_to_bits(x), 0
    # Exact rounding: find r with r^2 bracketing x using integer sqrt.
    fx = Fraction(x)
    prec = 53 if fmt == "T" else 24
    e = (fx.numerator.bit_length() - fx.denominator.bit_length()) // 2
    shift = 2 * (prec + 4 - e)
    scaled = fx * Fraction(2) ** shift
    n = scaled.numerator // scaled.denominator
    root = math.isqrt(n)
    exact = root * root == n and scaled.denominator == 1
    q = Fraction(root) / Fraction(2) ** (shift // 2)
    if not exact:
        q += Fraction(1) / Fraction(2) ** (shift // 2 + 1)  # sticky bit below the root (shift < 0 for large x)
    r, exc = _round_frac(q, fmt, rmode)
    return t_to_bits(r), exc


def compare(kind: str, a: int, b: int) -> tuple[int, int]:
    """CMPTUN/EQ/LT/LE: 2.0 if true, else 0."""
    x, y = bits_to_t(a), bits_to_t(b)
    un = math.isnan(x) or math.isnan(y)
    exc = 0
    if un:
        if kind in ("lt", "le") or is_snan_t(a) or is_snan_t(b):
            exc = EXC_INV
        return (TWO if kind == "un" else 0), exc
    if kind == "un":
        return 0, 0
    t = x == y if kind == "eq" else (x < y if kind == "lt" else x <= y)
    return (TWO if t else 0), 0


def cvttq(b: int, rmode: int) -> tuple[int, int]:
    """T -> quadword integer; out of range gives the low 64 bits and IOV."""
    x = bits_to_t(b)
    if math.isnan(x) or math.isinf(x):
        return 0, EXC_INV
    fx = Fraction(x)
    if rmode == ROUND_CHOPPED:
        n = math.trunc(fx)
    elif rmode == ROUND_MINUS:
        n = math.floor(fx)
    elif rmode == ROUND_PLUS:
        n = math.ceil(fx)
    else:
        n = round(fx)  # Fraction rounds half to even
    exc = EXC_INE if n != fx else 0
    if not -(1 << 63) <= n < (1 << 63):
        exc |= EXC_IOV | EXC_INE
    return n & M64, exc


def cvtq(fmt: str, b: int, rmode: int) -> tuple[int, int]:
    """CVTQS / CVTQT: quadword integer in an FP register -> S or T."""
    n = b - (1 << 64) if b >> 63 else b
    if fmt == "T" and rmode == ROUND_NORMAL:
        r = float(n)
        return t_to_bits(r), (EXC_INE if int(r) != n else 0)
    r, exc = _round_frac(Fraction(n), fmt, rmode)
    return t_to_bits(r), exc


def cvtts(b: int, rmode: int) -> tuple[int, int]:
    x = bits_to_t(b)
    if math.isnan(x):
        bits, exc = _nan_result(b, None)
        # A NaN narrowed to single keeps its top fraction bits.
        return bits & 0xFFFF_FFFF_E000_0000, exc
    if math.isinf(x) or x == 0:
        return b, 0
    r, exc = _round_frac(Fraction(x), "S", rmode)
    return t_to_bits(r), exc


def cvtst(b: int) -> tuple[int, int]:
    x = bits_to_s(b)
    if math.isnan(x):
        return _nan_result(t_to_bits(x), None)
    return t_to_bits(x), 0


def cvtql(b: int) -> int:
    return ((b & 0xC000_0000) << 32) | ((b & 0x3FFF_FFFF) << 29)


def cvtlq(b: int) -> int:
    v = ((b >> 32) & 0xC000_0000) | ((b >> 29) & 0x3FFF_FFFF)
    return v | 0xFFFF_FFFF_0000_0000 if v & 0x8000_0000 else v


def fzero(b: int) -> bool:
    """FP branch/cmov tests treat -0 as 0 (Alpha ARM 4.9)."""
    return b & ~SIGN & M64 == 0


def ftest(cond: str, b: int) -> bool:
    z = fzero(b)
    neg = bool(b >> 63) and not z
    if cond == "eq":
        return z
    if cond == "ne":
        return not z
    if cond == "lt":
        return neg
    if cond == "ge":
        return not neg
    if cond == "le":
        return neg or z
    return not neg and not z  # gt
