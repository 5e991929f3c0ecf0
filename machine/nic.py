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
the wire's latency, unless the wire's seeded random loss drops it. Both are
the card's own scheduled events: "tx_done" when the last bit has left, "rx"
(with the frame's number on the wire) when a frame arrives.

A card's saved state is its address, registers, counters and those events;
the frames themselves are on the wire, which a world's state file holds.

The tap writes classic pcap (LINKTYPE_ETHERNET) with virtual timestamps. The
format is two fixed headers, so it is written here rather than through a
packet library, keeping the runtime dependencies to the three the project has.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from machine.alpha.constants import CLOCK_HZ
from machine.console import MmioPage
from machine.fields import COUNT, U64, Misfit, Part, events, hexbytes, integer, integers, items, obj

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


class NIC(Part):
    STATE_NAME = "nic"
    STATE_FIELDS = ("mac", "regs", "sent", "received", "events")
    EVENTS = {"tx_done": 0, "rx": 1}
    NOT_STATE = {"machine": "a link to the machine", "wire": "the world's: a world's state file joins them again",
                 "page": "the register window"}  # fmt: skip

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
        """Request the interrupt at NIC_IPL. The disk shares the level; the
        PAL keeps each device's request (machine/alpha/pal.py), so neither
        card nor disk can lose the other's."""
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
        self.machine.schedule(done, self.STATE_NAME, "tx_done")

    def arrive(self, cycle: int, frame_id: int) -> None:
        """The wire's frame ``frame_id`` reaches this card at ``cycle``."""
        self.machine.schedule(cycle, self.STATE_NAME, "rx", frame_id)

    def on_event(self, kind: str, args: tuple[int, ...]) -> None:
        if kind == "tx_done":
            self.tx_done()
        else:
            assert self.wire is not None
            self.receive(self.wire.take(args[0]))

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

    # --- saved state ---------------------------------------------------------------

    def save_state(self) -> dict[str, Any]:
        return {"mac": self.mac, "regs": list(self.regs), "sent": self.sent, "received": self.received,
                "events": self.machine.events_of(self.STATE_NAME)}  # fmt: skip

    def check_state(self, saved: object) -> dict[str, Any]:
        s = obj(saved, "nic", self.STATE_FIELDS)
        integer(s["mac"], "nic.mac", (0, (1 << 48) - 1))
        integers(s["regs"], "nic.regs", 12, U64)
        integer(s["sent"], "nic.sent", COUNT)
        integer(s["received"], "nic.received", COUNT)
        return {**s, "events": events(s["events"], "nic.events", self.EVENTS)}

    def apply_state(self, checked: dict[str, Any]) -> None:
        self.mac, self.regs = checked["mac"], list(checked["regs"])
        self.sent, self.received = checked["sent"], checked["received"]
        self.machine.set_events(self.STATE_NAME, checked["events"])

    def frames_awaited(self) -> list[int]:
        """The wire's frames this card has been told will arrive."""
        return [args[0] for _, _, kind, args in self.machine.events_of(self.STATE_NAME) if kind == "rx"]


class Tap:
    """Writes every frame on a wire to a pcap file, timestamped in virtual time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.file: IO[bytes] = self.path.open("wb")
        self.file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # LINKTYPE_ETHERNET
        self.frames = 0

    def write(self, frame: bytes, cycle: int) -> None:
        if self.file.closed:  # a frame still on the wire after the capture ended: it is not captured
            return
        sec, rest = divmod(cycle, CLOCK_HZ)
        usec = rest * 1_000_000 // CLOCK_HZ
        self.file.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
        self.frames += 1

    def close(self) -> None:
        self.file.close()


class Wire(Part):
    """Joins NICs of machines that share one virtual time line (a World).
    Its saved state includes the frames on it and its seeded loss; which
    cards it joins is the world's to save (machines are numbered there)."""

    STATE_NAME = "wire"
    STATE_FIELDS = ("latency", "bandwidth", "loss", "rng", "next_id", "carried", "lost", "in_flight")
    NOT_STATE = {"nics": "the world's: saved as machine numbers beside the wire", "tap": "a host file"}

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
            nic.arrive(cycle + self.latency, self.next_id)

    def take(self, frame_id: int) -> bytes:
        return self.in_flight.pop(frame_id)

    def save_state(self) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        return {"latency": self.latency, "bandwidth": self.bandwidth, "loss": self.loss,
                "rng": [version, list(internal), gauss], "next_id": self.next_id, "carried": self.carried,
                "lost": self.lost, "in_flight": [[k, v.hex()] for k, v in sorted(self.in_flight.items())]}  # fmt: skip

    def check_state(self, saved: object, where: str = "wire") -> dict[str, Any]:
        w = obj(saved, where, self.STATE_FIELDS)
        integer(w["latency"], f"{where}.latency", COUNT)
        integer(w["bandwidth"], f"{where}.bandwidth", (1, 1 << 40))
        loss = w["loss"]
        if type(loss) not in (int, float) or not 0 <= loss <= 1:  # also refuses NaN
            raise Misfit(f"{where}.loss should be a number from 0 to 1, not {str(loss)[:20]}")
        version, internal, gauss = items(w["rng"], f"{where}.rng", 3)
        integer(version, f"{where}.rng version", (3, 3))
        state = integers(internal, f"{where}.rng state", 625, (0, (1 << 32) - 1))
        if state[-1] > 624:
            raise Misfit(f"{where}.rng state: position {state[-1]} is past 624")
        if gauss is not None and type(gauss) is not float:
            raise Misfit(f"{where}.rng: the saved gauss value should be a number or null")
        for k in ("next_id", "carried", "lost"):
            integer(w[k], f"{where}.{k}", COUNT)
        in_flight = {}
        for j, f in enumerate(items(w["in_flight"], f"{where}.in_flight")):
            fid, frame = items(f, f"{where}.in_flight[{j}]", 2)
            integer(fid, f"{where}.in_flight[{j}] id", COUNT)
            if fid in in_flight:
                raise Misfit(f"{where}.in_flight holds frame {fid} twice")
            in_flight[fid] = hexbytes(frame, f"{where}.in_flight[{j}] frame")
        return {**w, "rng": (version, tuple(internal), gauss), "in_flight": in_flight}

    def apply_state(self, checked: dict[str, Any]) -> None:
        self.latency, self.bandwidth, self.loss = checked["latency"], checked["bandwidth"], checked["loss"]
        self.rng.setstate(checked["rng"])
        self.next_id, self.carried, self.lost = checked["next_id"], checked["carried"], checked["lost"]
        self.in_flight = dict(checked["in_flight"])
