"""A Lance-like 10 Mb/s Ethernet card, the wire between machines, and a pcap tap.

NIC registers (quadwords) on one page of I/O space:

    +0x00 MAC        read: the station address (low 48 bits)
    +0x08 TX_ADDR    physical address of the frame to send
    +0x10 TX_LEN     its length, 14..1514 bytes (no FCS)
    +0x18 TX_CMD     write 1: send
    +0x20 TX_STATUS  0 idle, 1 busy, 2 done, 3 error
    +0x28 RX_RING    physical address of the receive ring
    +0x30 RX_COUNT   entries in the ring
    +0x38 RX_NEXT    read: the entry the card fills next
    +0x40 INT_STATUS bit 0 transmit done, bit 1 frame received
    +0x48 INT_ACK    write: clear those bits
    +0x50 RX_DROPS   frames lost for want of a free buffer
    +0x58 TX_ERROR   1 bad length, 2 buffer outside memory

A receive-ring entry is 16 bytes: the buffer's physical address (1536
bytes), then a status quadword whose bit 63 means "owned by the card" (free)
and whose low 16 bits the card sets to the frame's length when it fills the
buffer and hands it back. Interrupts: entInt type 3 at IPL 3.

Timing: a frame occupies the wire for its preamble, FCS and inter-frame gap
too, at the wire's bandwidth; it reaches every other card on the wire after
the wire's latency, unless the wire's seeded random loss drops it.

The tap writes classic pcap (LINKTYPE_ETHERNET) with virtual timestamps. The
format is two fixed headers, so it is written here rather than through a
packet library, keeping the runtime dependencies to the three the project has.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import IO, TYPE_CHECKING

from machine.alpha.constants import CLOCK_HZ
from machine.console import MmioPage

if TYPE_CHECKING:
    from machine.machine import Machine

NIC_PA = 0x1_0000_4000
NIC_IPL = 3
NIC_VECTOR = 0x810
DEVICE_INT = 3
BUFFER_SIZE = 1536
OWNED = 1 << 63
(R_MAC, R_TX_ADDR, R_TX_LEN, R_TX_CMD, R_TX_STATUS, R_RX_RING, R_RX_COUNT, R_RX_NEXT, R_INT_STATUS, R_INT_ACK,
 R_RX_DROPS, R_TX_ERROR) = range(12)  # fmt: skip
IDLE, BUSY, DONE, ERROR = 0, 1, 2, 3
INT_TX, INT_RX = 1, 2
E_LENGTH, E_DMA = 1, 2
FRAMING_BYTES = 8 + 4 + 12  # preamble, FCS, inter-frame gap


class NIC:
    def __init__(self, machine: Machine, mac: int) -> None:
        self.machine = machine
        self.mac = mac & 0xFFFF_FFFF_FFFF
        self.regs = [0] * 12
        self.regs[R_MAC] = self.mac
        self.wire: Wire | None = None
        self.page = MmioPage(self._read, self._write)
        self.sent = self.received = 0

    def _read(self, index: int) -> int:
        return self.regs[index] if 0 <= index < len(self.regs) else 0

    def _write(self, index: int, value: int) -> None:
        if index in (R_TX_ADDR, R_TX_LEN, R_RX_RING, R_RX_COUNT):
            self.regs[index] = value
            if index in (R_RX_RING, R_RX_COUNT):
                self.regs[R_RX_NEXT] = 0
        elif index == R_INT_ACK:
            self.regs[R_INT_STATUS] &= ~value
        elif index == R_TX_CMD and value & 1:
            self._transmit()

    def _interrupt(self, bit: int) -> None:
        self.regs[R_INT_STATUS] |= bit
        self.machine.pal.post_interrupt(NIC_IPL, DEVICE_INT, NIC_VECTOR)

    def _transmit(self) -> None:
        regs = self.regs
        if regs[R_TX_STATUS] == BUSY:
            return
        pa, n = regs[R_TX_ADDR], regs[R_TX_LEN]
        if not 14 <= n <= 1514:
            regs[R_TX_STATUS], regs[R_TX_ERROR] = ERROR, E_LENGTH
            return self._interrupt(INT_TX)
        if pa + n > self.machine.memory.size:
            regs[R_TX_STATUS], regs[R_TX_ERROR] = ERROR, E_DMA
            return self._interrupt(INT_TX)
        frame = self.machine.memory.read(pa, n)
        bps = self.wire.bandwidth if self.wire is not None else 10_000_000
        done = self.machine.cpu.cycles + (n + FRAMING_BYTES) * 8 * CLOCK_HZ // bps
        regs[R_TX_STATUS], regs[R_TX_ERROR] = BUSY, 0
        self.sent += 1
        if self.wire is not None:
            self.wire.carry(self, frame, done)
        self.machine.schedule(done, "nic_tx_done")

    def tx_done(self) -> None:
        self.regs[R_TX_STATUS] = DONE
        self._interrupt(INT_TX)

    def receive(self, frame: bytes) -> None:
        """A frame arrives from the wire: into the next free ring buffer."""
        regs, mem = self.regs, self.machine.memory
        count = regs[R_RX_COUNT]
        if count == 0 or len(frame) > BUFFER_SIZE:
            regs[R_RX_DROPS] += 1
            return
        entry = regs[R_RX_RING] + 16 * regs[R_RX_NEXT]
        try:
            buf, status = mem.read_q(entry), mem.read_q(entry + 8)
            if not status & OWNED:
                regs[R_RX_DROPS] += 1  # the driver has not given the buffer back yet
                return
            mem.write(buf, frame)
            mem.write_q(entry + 8, len(frame))
        except Exception:  # a ring or buffer outside memory: the frame is lost, the card goes on
            regs[R_RX_DROPS] += 1
            return
        regs[R_RX_NEXT] = (regs[R_RX_NEXT] + 1) % count
        self.received += 1
        self._interrupt(INT_RX)


class Tap:
    """Writes every frame on a wire to a pcap file, timestamped in virtual time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.file: IO[bytes] = self.path.open("wb")
        self.file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # LINKTYPE_ETHERNET
        self.frames = 0

    def write(self, frame: bytes, cycle: int) -> None:
        sec, rest = divmod(cycle, CLOCK_HZ)
        usec = rest * 1_000_000 // CLOCK_HZ
        self.file.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
        self.frames += 1

    def close(self) -> None:
        self.file.close()


class Wire:
    """Joins NICs of machines that share one virtual time line (a World)."""

    def __init__(self, latency_cycles: int = 665, bandwidth: int = 10_000_000, loss: float = 0.0, seed: int = 0,
                 tap: Tap | None = None) -> None:  # fmt: skip
        self.latency = latency_cycles  # default: 5 us of cable and repeaters at 133 MHz
        self.bandwidth = bandwidth
        self.loss = loss
        self.rng = random.Random(seed)
        self.tap = tap
        self.nics: list[NIC] = []
        self.in_flight: dict[int, bytes] = {}
        self.next_id = 0
        self.carried = self.lost = 0

    def attach(self, nic: NIC) -> None:
        nic.wire = self
        self.nics.append(nic)

    def carry(self, sender: NIC, frame: bytes, cycle: int) -> None:
        """The last bit leaves ``sender`` at ``cycle``; every other card sees it
        ``latency`` later, unless it is lost."""
        self.carried += 1
        if self.tap is not None:
            self.tap.write(frame, cycle)
        for nic in self.nics:
            if nic is sender:
                continue
            if self.loss and self.rng.random() < self.loss:
                self.lost += 1
                continue
            self.next_id += 1
            self.in_flight[self.next_id] = frame
            nic.machine.schedule(cycle + self.latency, "nic_rx", self.next_id)

    def take(self, frame_id: int) -> bytes:
        return self.in_flight.pop(frame_id)
