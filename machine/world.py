"""Several machines on one virtual time line, joined by wires.

Machines run in turn in rounds that end no later than the earliest moment
any machine could next act plus the shortest wire latency, so a frame sent
during a round always arrives after every machine has reached the round's
end: no machine ever receives a frame in its past, and a world is as
deterministic as each of its machines. A machine waiting in ``wtint`` can
act no earlier than its next event (a clock tick, a disk transfer, a frame
already on the wire to it), so while every machine waits, rounds stretch
from one event to the next instead of crawling a latency at a time --
conservative parallel simulation's lookahead (Chandy and Misra).
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

    @staticmethod
    def _next_action(m: Machine) -> int:
        """The earliest cycle at which ``m`` could send a frame."""
        if m.halt_reason is not None:
            return 1 << 62
        if m.pal.idle and not m.pal.pending:
            return max(m.cpu.cycles, m.next_event())
        return m.cpu.cycles

    def run(self, until_cycle: int) -> tuple[Machine, str] | None:
        """Advance every machine to ``until_cycle`` (halted ones stay put).
        A machine that stops early (a breakpoint, a watchpoint, a requested
        stop) ends the call with (that machine, why) and the round is left
        unfinished: the next call repeats it, and machines already at its end
        wait. Frames sent during the round still arrive after it, so the
        result is the same as a run that never stopped."""
        q = max(1, self.quantum)
        while self.now < until_cycle:
            horizon = min(self._next_action(m) for m in self.machines) if self.machines else self.now
            end = min(max(self.now, horizon) + q, until_cycle)
            for m in self.machines:
                if m.halt_reason is None and m.cpu.cycles < end:
                    why = m.run(until_cycle=end)
                    if why in ("stop", "breakpoint", "watchpoint"):
                        return m, why
            self.now = end
        return None
