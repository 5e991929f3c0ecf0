"""Decode a 32-bit Alpha instruction word into operands and its table row.

``decode`` never raises: a word with no row (reserved, PAL-only and VAX
opcodes, unknown functions, operand fields QEMU requires to be 31) decodes
to ``None``, which the CPU turns into the architectural OPCDEC trap. Field
validity follows QEMU's translate.c, the oracle the corpus is checked against.
"""

from __future__ import annotations

from functools import lru_cache

from machine.alpha import isa
from machine.alpha.isa import BRA, FBRA, FMEM, FOP, FTOI, ITOF, JMP, MEM, MFC, OPR, Op

_MEM: dict[int, Op] = {}
_BRA: dict[int, Op] = {}
_OPR: dict[tuple[int, int], Op] = {}  # (opcode, fn7)
_FOP6: dict[tuple[int, int], Op] = {}  # (opcode, fn11 & 0x3F) for 0x14 and 0x16
_FOP11: dict[int, Op] = {}  # exact fn11 for 0x17
_MFC: dict[int, Op] = {}
_JMP: dict[int, Op] = {}
_PAL: Op = isa.BY_NAME["call_pal"]

for _op in isa.TABLE:
    if _op.fmt in (MEM, FMEM):
        _MEM[_op.opcode] = _op
    elif _op.fmt in (BRA, FBRA):
        _BRA[_op.opcode] = _op
    elif _op.fmt in (OPR, FTOI):
        _OPR[(_op.opcode, _op.func)] = _op
    elif _op.fmt in (FOP, ITOF) and _op.opcode in (0x14, 0x16):
        if _op.name != "cvtst":  # shares bits 5:0 with cvtts; told apart below
            _FOP6[(_op.opcode, _op.func & 0x3F)] = _op
    elif _op.fmt == FOP:
        _FOP11[_op.func] = _op
    elif _op.fmt == MFC:
        _MFC[_op.func] = _op
    elif _op.fmt == JMP:
        _JMP[_op.func] = _op
_CVTST = isa.BY_NAME["cvtst"]


def sext(v: int, bits: int) -> int:
    s = 1 << (bits - 1)
    return (v & (s - 1)) - (v & s)


class Insn:
    """A decoded instruction. Fields not used by the format are 0."""

    __slots__ = ("word", "op", "ra", "rb", "rc", "lit", "is_lit", "disp", "fn")

    def __init__(self, word: int, op: Op, ra: int = 0, rb: int = 0, rc: int = 0,
                 lit: int = 0, is_lit: bool = False, disp: int = 0, fn: int = 0) -> None:  # fmt: skip
        self.word = word
        self.op = op
        self.ra = ra
        self.rb = rb
        self.rc = rc
        self.lit = lit
        self.is_lit = is_lit
        self.disp = disp  # bytes for MEM, instructions for BRA, hint for JMP
        self.fn = fn  # fn11 (FOP), PAL function, MFC code

    def __repr__(self) -> str:
        return f"Insn({self.word:#010x} {self.op.name})"


@lru_cache(maxsize=65536)
def decode(word: int) -> Insn | None:
    word &= 0xFFFF_FFFF
    opc = word >> 26
    ra = (word >> 21) & 31
    rb = (word >> 16) & 31
    if opc == 0x00:
        return Insn(word, _PAL, fn=word & 0x3FF_FFFF)
    if opc in _MEM:
        return Insn(word, _MEM[opc], ra, rb, disp=sext(word, 16))
    if opc in _BRA:
        return Insn(word, _BRA[opc], ra, disp=sext(word, 21))
    if opc == 0x1A:
        return Insn(word, _JMP[(word >> 14) & 3], ra, rb, disp=sext(word, 14))
    if opc == 0x18:
        op = _MFC.get(word & 0xFFFF)
        return None if op is None else Insn(word, op, ra, rb, fn=word & 0xFFFF)
    if opc in (0x10, 0x11, 0x12, 0x13, 0x1C):
        op = _OPR.get((opc, (word >> 5) & 0x7F))
        if op is None:
            return None
        is_lit = bool(word & 0x1000)
        if (op.zero_ra and ra != 31) or (op.no_lit and is_lit) or (op.zero_rb and rb != 31):
            return None
        return Insn(word, op, ra, rb, word & 31, (word >> 13) & 0xFF, is_lit)
    if opc in (0x14, 0x16, 0x17):
        fn11 = (word >> 5) & 0x7FF
        if opc == 0x17:
            op = _FOP11.get(fn11)
        elif opc == 0x16 and fn11 & 0x3F == 0x2C and fn11 in (0x2AC, 0x6AC):
            op = _CVTST
        else:
            op = _FOP6.get((opc, fn11 & 0x3F))
        if op is None or (op.zero_ra and ra != 31) or (op.zero_rb and rb != 31):
            return None
        return Insn(word, op, ra, rb, word & 31, fn=fn11)
    return None
