"""Worlds of workstations: N machines, each booted with an address, on one
wire, with an optional pcap tap (machine/world.py keeps them on one virtual
time line, so a world replays exactly)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kernel.boot import boot
from kernel.core.costs import CLOCK_MHZ
from kernel.kernel import Kernel
from machine.elf import ElfImage
from machine.machine import Machine
from machine.nic import Tap, Wire
from machine.world import World

BASE_MAC = 0x0200_0000_0000  # locally administered


def host_address(i: int, subnet: str = "10.0.0") -> str:
    return f"{subnet}.{i + 1}"


class Network:
    """``n`` hosts 10.0.0.1.. on one 10 Mb/s wire. ``programs`` maps a host's
    index to the (image, argv) its init runs; ``disks`` a host's index to the
    disk image it boots with (an extent file system, kernel/fs/format.py);
    ``loss`` and ``seed`` make the wire drop frames, reproducibly; ``pcap``
    names a file for the tap."""

    def __init__(self, n: int = 2, *, programs: dict[int, tuple[ElfImage, list[str]]] | None = None,
                 loss: float = 0.0, seed: int = 0, pcap: str | Path | None = None, latency_cycles: int = 665,
                 memory: int = 32 << 20, subnet: str = "10.0.0", trace: bool = False,
                 disks: dict[int, bytes] | None = None) -> None:  # fmt: skip
        self.world = World()
        self.tap = Tap(pcap) if pcap is not None else None
        self.wire = Wire(latency_cycles, loss=loss, seed=seed, tap=self.tap)
        self.hosts: list[Kernel] = []
        self.addresses: list[str] = []
        programs = programs or {}
        disks = disks or {}
        machines = []
        for i in range(n):
            m = Machine(memory)
            m.attach_nic(BASE_MAC | (i + 1))
            image, argv = programs.get(i, (None, None))
            k = boot(m, init=image, argv=argv, address=host_address(i, subnet), trace=trace, disk_image=disks.get(i))
            self.world.add(m)
            self.hosts.append(k)
            self.addresses.append(host_address(i, subnet))
            machines.append(m)
        self.world.connect(self.wire, *machines)

    @property
    def now(self) -> int:
        return self.world.now

    def run_us(self, us: float) -> None:
        self.world.run(self.world.now + int(us * CLOCK_MHZ))

    def run_until(self, done: Callable[[], bool], limit_us: float = 5_000_000, step_us: float = 200) -> bool:
        """Run in steps until ``done()`` or the limit (virtual µs); whether it finished."""
        end = self.world.now + int(limit_us * CLOCK_MHZ)
        while not done():
            if self.world.now >= end:
                return False
            self.world.run(min(end, self.world.now + int(step_us * CLOCK_MHZ)))
        return True

    def close(self) -> None:
        if self.tap is not None:
            self.tap.close()
