"""What `spinwb`'s subcommands share on their command lines: one-line
refusals, bounded numbers, the seed, and bounded reads of the files named."""

from __future__ import annotations

import argparse
import math
import os
import stat
from collections.abc import Callable
from typing import NoReturn

from machine.hostfile import HOST_TEXT_MAX, HostFileError, read_text


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (``spinwb net:
    argument --loss: ...``), exit 2, as every other refusal of bad input is;
    the usage is one ``--help`` away."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def int_in(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer from lo to hi (decimal, or 0x... hex)."""

    def parse(text: str) -> int:
        try:
            v = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{text[:40]} is out of range: from {lo:,}"
                                             + (f" to {hi:,}" if hi is not None else " up"))  # fmt: skip
        return v

    parse.__name__ = "int"
    return parse


def float_in(lo: float, hi: float, *, open_lo: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number from lo to hi (above lo if ``open_lo``)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number") from None
        if not math.isfinite(v) or v > hi or v < lo or (open_lo and v == lo):
            raise argparse.ArgumentTypeError(f"{text[:40]} is out of range: {'above' if open_lo else 'from'} {lo:g} "
                                             f"to {hi:g}")  # fmt: skip
        return v

    parse.__name__ = "float"
    return parse


def scenario_arg(text: str) -> str:
    """An argparse type for ``--scenario NAME|FILE``: a file is checked here,
    bounded, so a FIFO or a device named ``x.py`` is refused, not read forever
    (the scenario engine reads it again once it is known to be a lesson)."""
    if not text.endswith(".py") or not os.path.exists(text):
        return text  # a lesson's name; the engine says if there is none
    try:
        if not stat.S_ISREG(os.stat(text).st_mode):
            raise argparse.ArgumentTypeError(f"{text}: not a regular file, so not a lesson")
        read_text(text, HOST_TEXT_MAX, "a lesson (Python source)")
    except HostFileError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    except OSError as e:
        raise argparse.ArgumentTypeError(f"{text}: cannot read: {e.strerror}") from None
    return text


SEED = int_in(-(1 << 63), (1 << 63) - 1)


def read_extension(path: str) -> str:
    """An extension's source, bounded (a device or FIFO named by mistake is
    refused, not read forever); a ValueError with ``PATH: what is wrong``."""
    try:
        return read_text(path, HOST_TEXT_MAX, "an extension (Python source)")
    except HostFileError as e:
        raise ValueError(str(e)) from None
