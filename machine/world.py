"""Several machines on one virtual time line, joined by wires.

Machines run in turn in quanta no longer than the shortest wire latency, so
a frame sent during a quantum always arrives after every machine has reached
that quantum's end: no machine ever receives a frame in its past, and a world
is as deterministic as each of its machines.
"""

from __future__ import annotations

from machine.machine import Machine
from machine.nic import Wire

DEFAULT_QUANTUM = 665  # 5 us: the default wire latency


class World:
    def __init__(self) -> None:
        self.machines: list[Machine] = []
        self.wires: list[Wire] = []
        self.now = 0  # cycles every machine has reached

    def add(self, machine: Machine) -> Machine:
        machine.cpu.cycles = max(machine.cpu.cycles, self.now)
        self.machines.append(machine)
        return machine

    def connect(self, wire: Wire, *machines: Machine) -> Wire:
        for m in machines:
            assert m.nic is not None, "attach_nic() first"
            wire.attach(m.nic)
        self.wires.append(wire)
        return wire

    @property
    def quantum(self) -> int:
        return min([w.latency for w in self.wires] + [DEFAULT_QUANTUM])

    def run(self, until_cycle: int) -> None:
        """Advance every machine to ``until_cycle`` (halted ones stay put)."""
        while self.now < until_cycle:
            end = min(self.now + max(1, self.quantum), until_cycle)
            for m in self.machines:
                if m.halt_reason is None:
                    m.run(until_cycle=end)
            self.now = end
