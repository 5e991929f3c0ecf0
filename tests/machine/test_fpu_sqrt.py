"""SQRTT and SQRTS round exactly, whatever the operand's exponent.

The exact-rounding square root scaled its operand by 2**shift, and for
operands above about 2**57 shift is negative: the sticky bit was then built
from a float and raised TypeError out of the CPU (found by the 100,000-word
translator fuzz). Python's math.sqrt is correctly rounded, and rounding its
double result to single is too (53 >= 2 * 24 + 2), so both are the oracle.
"""

from __future__ import annotations

import math
import random
import struct

from machine.alpha import fpu
from machine.alpha.constants import ROUND_NORMAL


def _single(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _operands() -> list[float]:
    rng = random.Random(22)
    xs = [1e20, 2.0**58, 2.0**1023 * 1.5, 1.7976931348623157e308, 5e-324, 2.0**-1060, 3.0, 0.5]
    for _ in range(4000):  # every exponent, random mantissas
        xs.append(math.ldexp(1 + rng.random(), rng.randrange(-1074, 1024)))
    return [x for x in xs if math.isfinite(x) and x > 0]


def test_sqrtt_is_correctly_rounded_at_every_exponent() -> None:
    for x in _operands():
        got, _ = fpu.sqrt("T", fpu.t_to_bits(x), ROUND_NORMAL)
        assert fpu.bits_to_t(got) == math.sqrt(x), x


def test_sqrts_is_correctly_rounded_at_every_single_exponent() -> None:
    for x in _operands():
        if not 2.0**-126 <= x <= 3.4e38:  # normal singles: a register holds no other S value (LDS maps denormals)
            continue
        s = _single(x)
        if not (s > 0 and math.isfinite(s)):
            continue
        got, _ = fpu.sqrt("S", fpu.t_to_bits(s), ROUND_NORMAL)
        assert fpu.bits_to_t(got) == _single(math.sqrt(s)), s
