"""Property tests: the table's ALU and byte-manipulation semantics against a
small model written separately, on byte lists (Alpha ARM 4.6), not shifts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from machine.alpha import isa
from machine.alpha.semantics import function

u64 = st.integers(min_value=0, max_value=(1 << 64) - 1)
edge = st.sampled_from([0, 1, 7, 0x7F, 0x80, 0xFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 63, (1 << 64) - 1])
val = st.one_of(u64, edge)
MASK = (1 << 64) - 1


def sem(name: str, a: int, b: int) -> int:
    return function(isa.BY_NAME[name].sem, "ev67")(a, b, 0, 0, 0)


# --- the model: bytes, little-endian, as the manual's pseudo-code --------------------


def to_bytes(v: int) -> list[int]:
    return [(v >> (8 * i)) & 0xFF for i in range(8)]


def from_bytes(bs: list[int]) -> int:
    return sum(b << (8 * i) for i, b in enumerate(bs))


def s64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def model_zapnot(a: int, mask: int) -> int:
    return from_bytes([b if (mask >> i) & 1 else 0 for i, b in enumerate(to_bytes(a))])


WIDTH = {"b": 1, "w": 2, "l": 4, "q": 8}


def model_ext_low(a: int, b: int, w: int) -> int:
    off = b & 7
    src = to_bytes(a)
    return from_bytes([src[off + i] if off + i < 8 and i < w else 0 for i in range(8)])


def model_ext_high(a: int, b: int, w: int) -> int:
    """EXTxH: bytes of a moved up by (8 - off) positions, low w bytes kept;
    with off = 0 the shift is 0 (the count is taken modulo 64)."""
    off = b & 7
    src = to_bytes(a)
    shift = (8 - off) % 8
    out = [0] * 8
    for i in range(8):
        if i + shift < 8:
            out[i + shift] = src[i]
    return from_bytes([out[i] if i < w else 0 for i in range(8)])


def model_ins_low(a: int, b: int, w: int) -> int:
    off = b & 7
    src = to_bytes(a)
    out = [0] * 8
    for i in range(w):
        if off + i < 8:
            out[off + i] = src[i]
    return from_bytes(out)


def model_ins_high(a: int, b: int, w: int) -> int:
    off = b & 7
    src = to_bytes(a)
    out = [0] * 8
    for i in range(w):
        if off + i >= 8:
            out[off + i - 8] = src[i]
    return from_bytes(out)


def model_msk_low(a: int, b: int, w: int) -> int:
    off = b & 7
    out = to_bytes(a)
    for i in range(w):
        if off + i < 8:
            out[off + i] = 0
    return from_bytes(out)


def model_msk_high(a: int, b: int, w: int) -> int:
    off = b & 7
    out = to_bytes(a)
    for i in range(w):
        if off + i >= 8:
            out[off + i - 8] = 0
    return from_bytes(out)


@settings(max_examples=300)
@given(val, val)
def test_byte_manipulation_matches_model(a: int, b: int) -> None:
    for x, w in WIDTH.items():
        if x != "b":  # there is no EXTBH/INSBH/MSKBH
            assert sem(f"ext{x}h", a, b) == model_ext_high(a, b, w), f"ext{x}h"
            assert sem(f"ins{x}h", a, b) == model_ins_high(a, b, w), f"ins{x}h"
            assert sem(f"msk{x}h", a, b) == model_msk_high(a, b, w), f"msk{x}h"
        assert sem(f"ext{x}l", a, b) == model_ext_low(a, b, w), f"ext{x}l"
        assert sem(f"ins{x}l", a, b) == model_ins_low(a, b, w), f"ins{x}l"
        assert sem(f"msk{x}l", a, b) == model_msk_low(a, b, w), f"msk{x}l"
    assert sem("zapnot", a, b) == model_zapnot(a, b & 0xFF)
    assert sem("zap", a, b) == model_zapnot(a, ~b & 0xFF)
    ba, bb = to_bytes(a), to_bytes(b)
    assert sem("cmpbge", a, b) == sum(1 << i for i in range(8) if ba[i] >= bb[i])


@settings(max_examples=300)
@given(val, val)
def test_arithmetic_matches_model(a: int, b: int) -> None:
    assert sem("addq", a, b) == (s64(a) + s64(b)) % (1 << 64)
    assert sem("subq", a, b) == (s64(a) - s64(b)) % (1 << 64)
    assert sem("addl", a, b) == s32(a + b) % (1 << 64)
    assert sem("subl", a, b) == s32(a - b) % (1 << 64)
    assert sem("s4addq", a, b) == (4 * a + b) % (1 << 64)
    assert sem("s8subl", a, b) == s32(8 * a - b) % (1 << 64)
    assert sem("mulq", a, b) == (s64(a) * s64(b)) % (1 << 64)
    assert sem("mull", a, b) == s32(s32(a) * s32(b)) % (1 << 64)
    assert sem("umulh", a, b) == (a * b) // (1 << 64)
    assert sem("cmpeq", a, b) == int(a == b)
    assert sem("cmplt", a, b) == int(s64(a) < s64(b))
    assert sem("cmple", a, b) == int(s64(a) <= s64(b))
    assert sem("cmpult", a, b) == int(a < b)
    assert sem("cmpule", a, b) == int(a <= b)
    assert sem("sll", a, b) == (a * 2 ** (b % 64)) % (1 << 64)
    assert sem("srl", a, b) == a // 2 ** (b % 64)
    assert sem("sra", a, b) == (s64(a) // 2 ** (b % 64)) % (1 << 64)
    assert sem("bic", a, b) == a & (MASK - b)
    assert sem("ornot", a, b) == a | (MASK - b)
    assert sem("eqv", a, b) == MASK - (a ^ b)
    ov = not -(1 << 63) <= s64(a) + s64(b) < (1 << 63)
    assert (sem("addq/v", a, b) is None) == ov
    ovl = not -(1 << 31) <= s32(a) * s32(b) < (1 << 31)
    assert (sem("mull/v", a, b) is None) == ovl


@settings(max_examples=300)
@given(val)
def test_counting_and_sign_extension(b: int) -> None:
    bits = [(b >> i) & 1 for i in range(64)]
    assert sem("ctpop", 0, b) == sum(bits)
    lead = 0
    for bit in reversed(bits):
        if bit:
            break
        lead += 1
    trail = 0
    for bit in bits:
        if bit:
            break
        trail += 1
    assert sem("ctlz", 0, b) == lead
    assert sem("cttz", 0, b) == trail
    assert sem("sextb", 0, b) == (b & 0xFF) - (0x100 if b & 0x80 else 0) & MASK
    assert sem("sextw", 0, b) == (b & 0xFFFF) - (0x10000 if b & 0x8000 else 0) & MASK


_OPERATE = [op for op in isa.TABLE if op.fmt == isa.OPR and op.kind in ("alu", "trapv", "cmov")]


@settings(max_examples=200)
@given(val, val)
def test_translator_inlined_expressions_equal_the_reference(a: int, b: int) -> None:
    """The translator rewrites hot helpers into shift/mask expressions; every
    operate row's rewritten form must compute what the reference does."""
    from machine.alpha.semantics import namespace
    from machine.alpha.translate import _expr

    ns = namespace("ev67")
    for op in _OPERATE:
        src = _expr(op.sem, a=str(a), b=str(b))
        assert eval(src, ns) == function(op.sem, "ev67")(a, b, 0, 0, 0), f"{op.name}: {src}"  # noqa: S307
