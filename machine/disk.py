"""A SCSI-like disk: 512-byte blocks, an image file, DMA, a completion interrupt.

Registers (quadwords) on one page of I/O space:

    +0x00 BLOCK    first block of the transfer
    +0x08 COUNT    number of blocks
    +0x10 DMA      physical address of the buffer
    +0x18 CMD      write 1 = read (disk to memory), 2 = write (memory to disk)
    +0x20 STATUS   0 idle, 1 busy, 2 done, 3 error
    +0x28 ERROR    why: 1 block out of range, 2 DMA outside memory, 3 busy, 4 bad count, 5 bad command,
                   6 media error (a block in ``bad_blocks``: how a lesson injects a disk error)
    +0x30 ACK      write: clear a done or error status
    +0x38 NBLOCKS  read: the disk's size in blocks

Timing, in virtual time: a seek that grows with the square root of the
cylinder distance, the rotational delay until the first sector comes under
the head (the platter turns with virtual time), and the transfer at the
media rate. Figures are an RZ26-class 1990s disk: 5400 rpm, 2 ms track to
track, 16 ms full stroke, 3.3 MB/s. The transfer's DMA happens when it
completes -- the disk's own scheduled event, "done" -- and then the device
interrupts (entInt type 3, IPL 3).

Its saved state is the registers, the head's cylinder, the image (and the
blocks that fail, ``bad_blocks``) and the transfer in flight.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from machine.alpha.constants import CLOCK_HZ
from machine.console import MmioPage
from machine.fields import COUNT, U64, Misfit, Part, events, hexbytes, inflate, integer, integers, obj
from machine.hostfile import DISK_MAX, HostFileError, read_bytes, size_text

if TYPE_CHECKING:
    from machine.machine import Machine

BLOCK = 512
DISK_PA = 0x1_0000_2000
DISK_IPL = 3
DEVICE_INT = 3  # entInt a0 for a device
DISK_VECTOR = 0x800
R_BLOCK, R_COUNT, R_DMA, R_CMD, R_STATUS, R_ERROR, R_ACK, R_NBLOCKS = range(8)
IDLE, BUSY, DONE, ERROR = 0, 1, 2, 3
E_RANGE, E_DMA, E_BUSY, E_COUNT, E_CMD, E_MEDIA = 1, 2, 3, 4, 5, 6
CMD_READ, CMD_WRITE = 1, 2

RPM = 5400
SECTORS_PER_TRACK = 64
TRACKS_PER_CYLINDER = 8
TRACK_TO_TRACK_S = 0.002
FULL_STROKE_S = 0.016
MEDIA_BYTES_PER_S = 3_300_000


class DiskImageError(Exception):
    """The image file cannot back a disk; the message says why."""


class Disk(Part):
    STATE_NAME = "disk"
    STATE_FIELDS = ("regs", "cylinder", "completed", "bad_blocks", "data", "events")
    EVENTS = {"done": 4}  # a transfer completes: cmd, block, count, pa
    NOT_STATE = {"machine": "a link to the machine", "nblocks": "follows from the image",
                 "page": "the register window", "_packed": "the image as saved, kept while the image is unchanged"}  # fmt: skip

    def __init__(self, machine: Machine, image: bytes | bytearray | str | Path) -> None:
        if isinstance(image, (str, Path)):
            try:
                data = read_bytes(image, DISK_MAX, "a disk image")
            except HostFileError as e:
                raise DiskImageError(f"{e.path}: cannot read disk image: {e.why}") from None
            name = str(image)
        else:
            data, name = bytes(image), "<image>"
        if not data or len(data) % BLOCK:
            raise DiskImageError(f"{name}: disk image is {len(data)} bytes, not a positive multiple of {BLOCK}")
        if len(data) > DISK_MAX:
            raise DiskImageError(f"{name}: disk image is {size_text(len(data))}, more than the {size_text(DISK_MAX)} "
                                 "a disk may be")  # fmt: skip
        self.machine = machine
        self.data = bytearray(data)
        self.nblocks = len(data) // BLOCK
        self.regs = [0] * 8
        self.regs[R_NBLOCKS] = self.nblocks
        self.cylinder = 0
        self.page = MmioPage(self._read, self._write)
        self.completed = 0
        self.bad_blocks: set[int] = set()  # reads touching these fail with a media error
        self._packed: tuple[bytes, str] | None = None  # (sha256 of the image, the image as saved)

    # --- timing ----------------------------------------------------------------

    def service_cycles(self, block: int, count: int, now: int) -> int:
        """Seek + rotational delay + transfer, in CPU cycles from ``now``."""
        per_cyl = SECTORS_PER_TRACK * TRACKS_PER_CYLINDER
        cyl = block // per_cyl
        ncyl = max(1, self.nblocks // per_cyl)
        distance = abs(cyl - self.cylinder)
        seek = (
            0.0 if distance == 0 else TRACK_TO_TRACK_S + (FULL_STROKE_S - TRACK_TO_TRACK_S) * math.sqrt(distance / ncyl)
        )
        rev_cycles = CLOCK_HZ * 60 // RPM
        arrive = now + int(seek * CLOCK_HZ)
        angle = (block % SECTORS_PER_TRACK) * rev_cycles // SECTORS_PER_TRACK
        rotation = (angle - arrive % rev_cycles) % rev_cycles
        transfer = count * BLOCK * CLOCK_HZ // MEDIA_BYTES_PER_S
        self.cylinder = cyl
        return arrive - now + rotation + transfer

    # --- registers -----------------------------------------------------------------

    def _read(self, index: int) -> int:
        return self.regs[index] if 0 <= index < 8 else 0

    def _fail(self, code: int) -> None:
        self.regs[R_STATUS] = ERROR
        self.regs[R_ERROR] = code
        self.machine.pal.post_interrupt(DISK_IPL, DEVICE_INT, DISK_VECTOR)

    def _write(self, index: int, value: int) -> None:
        if index in (R_BLOCK, R_COUNT, R_DMA):
            self.regs[index] = value
        elif index == R_ACK:
            self.regs[R_STATUS], self.regs[R_ERROR] = IDLE, 0
        elif index == R_CMD:
            self._start(value & 0xFF)

    def _start(self, cmd: int) -> None:
        regs = self.regs
        if regs[R_STATUS] == BUSY:
            regs[R_ERROR] = E_BUSY  # the transfer under way goes on
            return
        block, count, pa = regs[R_BLOCK], regs[R_COUNT], regs[R_DMA]
        if cmd not in (CMD_READ, CMD_WRITE):
            return self._fail(E_CMD)
        if not 0 < count <= 256:
            return self._fail(E_COUNT)
        if block + count > self.nblocks:
            return self._fail(E_RANGE)
        if pa % 8 or pa + count * BLOCK > self.machine.memory.size:
            return self._fail(E_DMA)
        regs[R_STATUS], regs[R_ERROR] = BUSY, 0
        now = self.machine.cpu.cycles
        self.machine.schedule(now + self.service_cycles(block, count, now), self.STATE_NAME, "done", cmd, block, count,
                              pa)  # fmt: skip

    def on_event(self, kind: str, args: tuple[int, ...]) -> None:
        self.finish(*args)

    def finish(self, cmd: int, block: int, count: int, pa: int) -> None:
        """The transfer completes: DMA, status, interrupt."""
        mem = self.machine.memory
        lo, hi = block * BLOCK, (block + count) * BLOCK
        if cmd == CMD_READ and any(block <= b < block + count for b in self.bad_blocks):
            self.completed += 1
            return self._fail(E_MEDIA)
        if cmd == CMD_READ:
            mem.write(pa, bytes(self.data[lo:hi]))  # the memory tells the CPU which frames changed
        else:
            self.data[lo:hi] = mem.read(pa, hi - lo)
        self.regs[R_STATUS] = DONE
        self.completed += 1
        self.machine.pal.post_interrupt(DISK_IPL, DEVICE_INT, DISK_VECTOR)

    # --- saved state ---------------------------------------------------------------

    def _image(self) -> str:
        """The image as a state file holds it (zlib, in hex), compressed
        again only when the image has changed since the last time."""
        key = hashlib.sha256(self.data).digest()
        if self._packed is None or self._packed[0] != key:
            self._packed = (key, zlib.compress(bytes(self.data), 6).hex())
        return self._packed[1]

    def save_state(self) -> dict[str, Any]:
        return {"regs": list(self.regs), "cylinder": self.cylinder, "completed": self.completed,
                "bad_blocks": sorted(self.bad_blocks), "data": self._image(),
                "events": self.machine.events_of(self.STATE_NAME)}  # fmt: skip

    def check_state(self, saved: object) -> dict[str, Any]:
        s = obj(saved, "disk", self.STATE_FIELDS)
        data = inflate(hexbytes(s["data"], "disk.data"), DISK_MAX, "the disk image")
        if not data or len(data) % BLOCK:
            raise Misfit(f"the disk image is {len(data)} bytes, not a positive multiple of {BLOCK}")
        nblocks = len(data) // BLOCK
        regs = integers(s["regs"], "disk.regs", 8, U64)
        if regs[R_NBLOCKS] != nblocks:
            raise Misfit(f"disk.regs[{R_NBLOCKS}] says {regs[R_NBLOCKS]} blocks; the image holds {nblocks}")
        integer(s["cylinder"], "disk.cylinder", COUNT)
        integer(s["completed"], "disk.completed", COUNT)
        bad = integers(s["bad_blocks"], "disk.bad_blocks", None, COUNT)
        if len(set(bad)) != len(bad):
            raise Misfit("disk.bad_blocks names one block twice")
        pending = events(s["events"], "disk.events", self.EVENTS)
        for i, (_, _, _, args) in enumerate(pending):
            cmd, block, count, pa = args
            if cmd not in (CMD_READ, CMD_WRITE) or not 0 < count <= 256 or pa % 8 or \
                    pa + count * BLOCK > self.machine.memory.size:  # fmt: skip
                raise Misfit(f"disk.events[{i}]: disk transfer {list(args)} is not one the disk could have started")
            if block + count > nblocks:
                raise Misfit(f"disk.events[{i}]: a disk transfer in flight reaches block {block + count}, past the "
                             f"disk's {nblocks}")  # fmt: skip
        return {**s, "data": data, "events": pending}

    def apply_state(self, checked: dict[str, Any]) -> None:
        self.data = bytearray(checked["data"])
        self.nblocks = len(self.data) // BLOCK
        self.regs = list(checked["regs"])
        self.cylinder, self.completed = checked["cylinder"], checked["completed"]
        self.bad_blocks = set(checked["bad_blocks"])
        self.machine.set_events(self.STATE_NAME, checked["events"])
