"""file_to_socket (extensions/macro_calls.py): a file sent over TCP in one
kernel entry, no copy through user memory, the same bytes as the user way."""

from __future__ import annotations

import pytest

from kernel.fs.format import build_image
from kernel.net.topology import Network
from machine.elf import read_elf
from tests.holes.helpers import BIN, MACRO

SIZE = 100_000  # more than TCP's send buffer: the macro call blocks for room and restarts


def pattern(n: int) -> bytes:
    return bytes((i * 7 + (i >> 10)) & 0xFF for i in range(n))  # runtime/net.h's pattern()


@pytest.mark.parametrize("way", ["user", "macro"])
def test_a_file_goes_over_tcp_intact(way: str) -> None:
    net = Network(2, programs={1: (read_elf(BIN / "tcp_recv.elf"), ["tcp_recv", "5001"]),
                               0: (read_elf(BIN / "filesend.elf"), ["filesend", way, "10.0.0.2", "5001", "/data"])},
                  disks={0: build_image({"data": pattern(SIZE)})})  # fmt: skip
    a, b = net.hosts
    if way == "macro":
        a.system.load_file(MACRO, importer="root")
    assert net.run_until(lambda: not a.user_strands() and not b.user_strands(), 80_000_000, 2000)
    net.close()
    assert bytes(a.machine.console.output) == f"filesend: {SIZE} bytes sent ({way})\n".encode()
    assert bytes(b.machine.console.output) == f"tcp_recv: {SIZE} bytes intact\n".encode()
    copied = a.net.counters["bytes copied"]
    if way == "user":
        assert copied == SIZE  # send's copyin (and read's copyout before it)
    else:
        assert copied == 0  # the file's bytes never went through user memory
        calls = [r for r in a.trace if type(r).__name__ == "Syscall" and r.name == "file_to_socket"]
        assert len(calls) == 1 and calls[0].result == SIZE and calls[0].entries > 1  # it blocked and restarted
        assert a.personality.calls.calls == {}
