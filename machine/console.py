"""A simple serial console on one page of physical I/O space.

Registers are quadwords (guests use LDQ/STQ; a byte or longword store does a
read-modify-write, which these registers tolerate):

    +0x00  TX     write: the low byte is sent to the console
    +0x08  RXSTAT read: 1 if a received character is waiting
    +0x10  RXDATA read: the waiting character (not consumed)
    +0x18  RXPOP  write: consume the waiting character
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from machine.fields import Part, hexbytes, obj

CONSOLE_PA = 0x1_0000_0000  # above RAM, below 2^34 (the 21064's physical reach)
TX, RXSTAT, RXDATA, RXPOP = 0, 1, 2, 3


class MmioPage:
    """A page of device registers that the CPU indexes like a memory frame."""

    def __init__(self, read: Callable[[int], int], write: Callable[[int, int], None]) -> None:
        self._read = read
        self._write = write

    def __getitem__(self, index: int) -> int:
        return self._read(index)

    def __setitem__(self, index: int, value: int) -> None:
        self._write(index, value)


class Console(Part):
    """Output so far and input not yet consumed: both are state (a machine
    restored with input waiting reads it, and its hash says it is there)."""

    STATE_NAME = "console"
    STATE_FIELDS = ("output", "input")
    NOT_STATE = {"_out": "the host's view of the output, told of each write", "page": "the register window"}

    def __init__(self, out: Callable[[bytes], None] | None = None) -> None:
        self.output = bytearray()
        self.input: deque[int] = deque()
        self._out = out
        self.page = MmioPage(self._read, self._write)

    def feed(self, data: bytes) -> None:
        self.input.extend(data)

    def send(self, data: bytes) -> None:
        """Output from the host side (a Python kernel writing to the console)."""
        self.output += data
        if self._out is not None:
            self._out(data)

    def _read(self, index: int) -> int:
        if index == RXSTAT:
            return 1 if self.input else 0
        if index == RXDATA:
            return self.input[0] if self.input else 0
        return 0

    def _write(self, index: int, value: int) -> None:
        if index == TX:
            self.send(bytes([value & 0xFF]))
        elif index == RXPOP and self.input:
            self.input.popleft()

    def save_state(self) -> dict[str, Any]:
        return {"output": self.output.hex(), "input": bytes(self.input).hex()}

    def check_state(self, saved: object) -> dict[str, Any]:
        s = obj(saved, "console", self.STATE_FIELDS)
        return {"output": hexbytes(s["output"], "console.output"), "input": hexbytes(s["input"], "console.input")}

    def apply_state(self, checked: dict[str, Any]) -> None:
        self.output[:] = checked["output"]
        self.input.clear()
        self.input.extend(checked["input"])
