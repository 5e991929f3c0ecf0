"""A simple serial console on one page of physical I/O space.

Registers are quadwords (guests use LDQ/STQ; a byte or longword store does a
read-modify-write, which these registers tolerate):

    +0x00  TX     write: the low byte is sent to the console
    +0x08  RXSTAT read: 1 if a received character is waiting
    +0x10  RXDATA read: the waiting character (not consumed)
    +0x18  RXPOP  write: consume the waiting character

The host side (the Python kernel) writes a process's fd 1 and fd 2 through
``send``, naming the stream, so the workbench can show stderr apart and
``spinwb run`` can send it to the host's stderr, as qemu-alpha does. Input
typed at the console is queued with ``feed``; ``end_of_input`` queues an end
of file after it (a terminal's Ctrl-D: the read that reaches it returns what
came before, the next one 0, and input after it is read as usual).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from machine.fields import COUNT, Misfit, Part, hexbytes, integers, items, obj

CONSOLE_PA = 0x1_0000_0000  # above RAM, below 2^34 (the 21064's physical reach)
TX, RXSTAT, RXDATA, RXPOP = 0, 1, 2, 3
STDOUT, STDERR = 1, 2
MAX_SPANS = 1 << 20  # stderr spans and end-of-file marks a saved console may hold


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
    """Output so far (and which of it was stderr) and input not yet consumed
    (with its end-of-file marks): all state (a machine restored with input
    waiting reads it, and its hash says it is there)."""

    STATE_NAME = "console"
    STATE_FIELDS = ("output", "input", "errors", "eofs")
    NOT_STATE = {
        "_out": "the host's view of the output, told of each write",
        "_err": "where the host sends stderr, if apart from the output",
        "page": "the register window",
    }

    def __init__(self, out: Callable[[bytes], None] | None = None) -> None:
        self.output = bytearray()
        self.input: deque[int] = deque()
        self.errors: list[list[int]] = []  # [start, end) of output that a process wrote on stderr
        self.eofs: list[int] = []  # an end of file after this many more input bytes, ascending
        self._out = out
        self._err: Callable[[bytes], None] | None = None
        self.page = MmioPage(self._read, self._write)

    def route_errors(self, err: Callable[[bytes], None] | None) -> None:
        """Tell the host of stderr through ``err`` instead of the output's listener."""
        self._err = err

    def feed(self, data: bytes) -> None:
        self.input.extend(data)

    def end_of_input(self) -> None:
        """An end of file after the input queued so far (Ctrl-D at a terminal)."""
        self.eofs.append(len(self.input))

    @property
    def readable(self) -> bool:
        """A read would not wait: input is queued, or an end of file."""
        return bool(self.input or self.eofs)

    def take(self, n: int) -> bytes | None:
        """Up to n bytes of input, stopping at an end of file; b"" at one
        (which it consumes); None if there is nothing to read yet."""
        if self.eofs and self.eofs[0] == 0:
            self.eofs.pop(0)
            return b""
        k = min(n, len(self.input), self.eofs[0] if self.eofs else n)
        if k == 0:
            return None
        data = bytes(self.input.popleft() for _ in range(k))
        self.eofs = [e - k for e in self.eofs]
        return data

    def send(self, data: bytes, stream: int = STDOUT) -> None:
        """Output from the host side (a Python kernel writing a process's fd 1
        or fd 2 to the console)."""
        start = len(self.output)
        self.output += data
        if stream == STDERR and data:
            if self.errors and self.errors[-1][1] == start:
                self.errors[-1][1] += len(data)
            else:
                self.errors.append([start, start + len(data)])
            if self._err is not None:
                self._err(data)
                return
        if self._out is not None:
            self._out(data)

    def pieces(self) -> list[tuple[bytes, int]]:
        """The output cut into runs of one stream each: (bytes, STDOUT or STDERR)."""
        out, at = [], 0
        for start, end in self.errors:
            if start > at:
                out.append((bytes(self.output[at:start]), STDOUT))
            out.append((bytes(self.output[start:end]), STDERR))
            at = end
        if at < len(self.output):
            out.append((bytes(self.output[at:]), STDOUT))
        return out

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
            self.eofs = [max(e - 1, 0) for e in self.eofs]

    def save_state(self) -> dict[str, Any]:
        return {"output": self.output.hex(), "input": bytes(self.input).hex(), "errors": [list(e) for e in self.errors],
                "eofs": list(self.eofs)}  # fmt: skip

    def check_state(self, saved: object) -> dict[str, Any]:
        if isinstance(saved, dict) and "errors" not in saved and "eofs" not in saved:
            saved = {**saved, "errors": [], "eofs": []}  # saved before the console kept streams apart
        s = obj(saved, "console", self.STATE_FIELDS)
        output = hexbytes(s["output"], "console.output")
        inp = hexbytes(s["input"], "console.input")
        errors, at = [], 0
        for i, span in enumerate(items(s["errors"], "console.errors", most=MAX_SPANS)):
            where = f"console.errors[{i}]"
            start, end = integers(span, where, 2, COUNT)
            if not at <= start < end <= len(output):
                raise Misfit(f"{where} is {start}..{end}: spans must ascend, not touch, and lie in the output")
            errors.append([start, end])
            at = end + 1
        eofs = integers(s["eofs"], "console.eofs", None, (0, len(inp)), MAX_SPANS)
        if eofs != sorted(eofs):
            raise Misfit("console.eofs should ascend")
        return {"output": output, "input": inp, "errors": errors, "eofs": eofs}

    def apply_state(self, checked: dict[str, Any]) -> None:
        self.output[:] = checked["output"]
        self.input.clear()
        self.input.extend(checked["input"])
        self.errors = [list(e) for e in checked["errors"]]
        self.eofs = list(checked["eofs"])
