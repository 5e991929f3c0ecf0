"""Integer helpers whose semantics are too long for one expression.

All values are unsigned 64-bit Python ints. Formulas from alpha-machine.md §2
(checked there against QEMU by running 3,627 cases under qemu-alpha).
"""

from __future__ import annotations

from machine.alpha.constants import M64, SIGN64

_BYTE_MASKS = tuple(sum(0xFF << (8 * i) for i in range(8) if (k >> i) & 1) for k in range(256))


def sext(v: int, bits: int) -> int:
    """Sign-extend the low `bits` of v to 64 bits (unsigned representation)."""
    s = 1 << (bits - 1)
    v &= (1 << bits) - 1
    return (v - (s << 1)) & M64 if v & s else v


def sextl(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v | 0xFFFF_FFFF_0000_0000 if v & 0x8000_0000 else v


def signed(v: int) -> int:
    return v - (1 << 64) if v & SIGN64 else v


def zapnot(v: int, k: int) -> int:
    return v & _BYTE_MASKS[k & 0xFF]


def zap(v: int, k: int) -> int:
    return v & ~_BYTE_MASKS[k & 0xFF] & M64


def cmpbge(a: int, b: int) -> int:
    r = 0
    for i in range(8):
        if (a >> (8 * i)) & 0xFF >= (b >> (8 * i)) & 0xFF:
            r |= 1 << i
    return r


def extl(a: int, b: int, m: int) -> int:
    return a >> (8 * (b & 7)) & _BYTE_MASKS[m]


def exth(a: int, b: int, m: int) -> int:
    return (a << ((64 - 8 * (b & 7)) & 63)) & _BYTE_MASKS[m]


def insl(a: int, b: int, m: int) -> int:
    s = b & 7
    return (a << (8 * s)) & _BYTE_MASKS[(m << s) & 0xFF]


def insh(a: int, b: int, m: int) -> int:
    s = b & 7
    if s == 0:
        return 0
    return (a >> (64 - 8 * s)) & _BYTE_MASKS[(m << s) >> 8]


def mskl(a: int, b: int, m: int) -> int:
    return a & ~_BYTE_MASKS[(m << (b & 7)) & 0xFF] & M64


def mskh(a: int, b: int, m: int) -> int:
    return a & ~_BYTE_MASKS[(m << (b & 7)) >> 8] & M64


def sra(a: int, b: int) -> int:
    return (signed(a) >> (b & 63)) & M64


def umulh(a: int, b: int) -> int:
    return (a * b) >> 64


def cmplt(a: int, b: int) -> int:
    return 1 if signed(a) < signed(b) else 0


def cmple(a: int, b: int) -> int:
    return 1 if signed(a) <= signed(b) else 0


def ctlz(b: int) -> int:
    return 64 - b.bit_length()


def cttz(b: int) -> int:
    return 64 if b == 0 else (b & -b).bit_length() - 1


def ctpop(b: int) -> int:
    return b.bit_count()


# --- /V trapping arithmetic: return the result or None on overflow ------------


def addlv(a: int, b: int) -> int | None:
    r = signed(sextl(a)) + signed(sextl(b))
    return None if not -(1 << 31) <= r < (1 << 31) else r & M64


def sublv(a: int, b: int) -> int | None:
    r = signed(sextl(a)) - signed(sextl(b))
    return None if not -(1 << 31) <= r < (1 << 31) else r & M64


def addqv(a: int, b: int) -> int | None:
    r = signed(a) + signed(b)
    return None if not -(1 << 63) <= r < (1 << 63) else r & M64


def subqv(a: int, b: int) -> int | None:
    r = signed(a) - signed(b)
    return None if not -(1 << 63) <= r < (1 << 63) else r & M64


def mullv(a: int, b: int) -> int | None:
    r = signed(sextl(a)) * signed(sextl(b))
    return None if not -(1 << 31) <= r < (1 << 31) else r & M64


def mulqv(a: int, b: int) -> int | None:
    r = signed(a) * signed(b)
    return None if not -(1 << 63) <= r < (1 << 63) else r & M64


# --- MVI (motion-video instructions, ev56 pca56 / ev6+) -----------------------


def _lanes(v: int, width: int, n: int) -> list[int]:
    m = (1 << width) - 1
    return [(v >> (width * i)) & m for i in range(n)]


def _pack(vals: list[int], width: int) -> int:
    r = 0
    for i, x in enumerate(vals):
        r |= (x & ((1 << width) - 1)) << (width * i)
    return r


def _s(x: int, width: int) -> int:
    return x - (1 << width) if x >> (width - 1) else x


def minub8(a: int, b: int) -> int:
    return _pack([min(x, y) for x, y in zip(_lanes(a, 8, 8), _lanes(b, 8, 8), strict=True)], 8)


def maxub8(a: int, b: int) -> int:
    return _pack([max(x, y) for x, y in zip(_lanes(a, 8, 8), _lanes(b, 8, 8), strict=True)], 8)


def minuw4(a: int, b: int) -> int:
    return _pack([min(x, y) for x, y in zip(_lanes(a, 16, 4), _lanes(b, 16, 4), strict=True)], 16)


def maxuw4(a: int, b: int) -> int:
    return _pack([max(x, y) for x, y in zip(_lanes(a, 16, 4), _lanes(b, 16, 4), strict=True)], 16)


def minsb8(a: int, b: int) -> int:
    la, lb = _lanes(a, 8, 8), _lanes(b, 8, 8)
    return _pack([x if _s(x, 8) < _s(y, 8) else y for x, y in zip(la, lb, strict=True)], 8)


def maxsb8(a: int, b: int) -> int:
    la, lb = _lanes(a, 8, 8), _lanes(b, 8, 8)
    return _pack([x if _s(x, 8) > _s(y, 8) else y for x, y in zip(la, lb, strict=True)], 8)


def minsw4(a: int, b: int) -> int:
    la, lb = _lanes(a, 16, 4), _lanes(b, 16, 4)
    return _pack([x if _s(x, 16) < _s(y, 16) else y for x, y in zip(la, lb, strict=True)], 16)


def maxsw4(a: int, b: int) -> int:
    la, lb = _lanes(a, 16, 4), _lanes(b, 16, 4)
    return _pack([x if _s(x, 16) > _s(y, 16) else y for x, y in zip(la, lb, strict=True)], 16)


def perr(a: int, b: int) -> int:
    return sum(abs(x - y) for x, y in zip(_lanes(a, 8, 8), _lanes(b, 8, 8), strict=True))


def pklb(b: int) -> int:
    return (b & 0xFF) | ((b >> 24) & 0xFF00)


def pkwb(b: int) -> int:
    return _pack([x & 0xFF for x in _lanes(b, 16, 4)], 8)


def unpkbl(b: int) -> int:
    return (b & 0xFF) | ((b & 0xFF00) << 24)


def unpkbw(b: int) -> int:
    return _pack(_lanes(b, 8, 4), 16)
