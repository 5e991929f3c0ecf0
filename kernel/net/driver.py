"""The Lance driver: the receive ring, the transmit queue, the interrupt.

The card (machine/nic.py) fills ring buffers by DMA and interrupts; the
driver's interrupt handler takes each filled buffer's frame, gives the
buffer back to the card and queues the frame for the network thread -- in
SPIN, protocol processing runs in a separately scheduled kernel thread,
not in the interrupt handler (SOSP'95 §5.3). The card sends one frame at a
time, so the driver queues the rest and starts the next on transmit-done.
Frames addressed to another station are dropped here, as the Lance's
address filter would.

Two cost models share the card's registers: the Lance's programmed I/O
(the default: the CPU loads every frame into the card's buffer memory,
LANCE_TX + LANCE_BYTE per byte) and, after ``use_dma``, a DMA interface
like SOSP'95 §5.4's Digital T3PKT (the CPU pays T3_TX per frame and
nothing per byte; the card fetches the bytes itself). ``transmit_list``
takes several frames at once -- the copies a multicast handler made of
one packet that went down the protocol graph once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from kernel.core import costs
from kernel.core.sal import PAGE_SHIFT, PAGE_SIZE
from kernel.params import RX_RING, TX_QUEUE_LIMIT
from machine.nic import (
    BUFFER_SIZE,
    INT_RX,
    INT_TX,
    NIC_PA,
    NIC_VECTOR,
    OWNED,
    R_INT_ACK,
    R_INT_STATUS,
    R_MAC,
    R_RX_COUNT,
    R_RX_DROPS,
    R_RX_RING,
    R_TX_ADDR,
    R_TX_CMD,
    R_TX_LEN,
    R_TX_STATUS,
)
from machine.nic import ERROR as TX_ERROR

if TYPE_CHECKING:
    from kernel.core.physaddr import Frame
    from kernel.kernel import Kernel

PER_FRAME = PAGE_SIZE // BUFFER_SIZE  # receive buffers per 8 KiB frame
BROADCAST = 0xFFFF_FFFF_FFFF


def _reg(index: int) -> int:
    return NIC_PA + 8 * index


class Lance:
    def __init__(self, k: Kernel, deliver: Callable[[bytes], None]) -> None:
        assert k.phys is not None
        self.k = k
        self.sal = k.sal
        self.deliver = deliver  # hands a received frame to the network thread's queue
        self.mac = self.sal.io_read(_reg(R_MAC))
        phys = k.phys
        self.frames: list[Frame] = []
        ring = phys.Allocate("lance ring", ("pinned", "zeroed"))
        self.frames.append(ring)
        self.ring_pa = ring.pfn << PAGE_SHIFT
        self.buffers: list[int] = []
        while len(self.buffers) < RX_RING:
            f = phys.Allocate("lance rx buffers", ("pinned",))
            self.frames.append(f)
            self.buffers += [(f.pfn << PAGE_SHIFT) + i * BUFFER_SIZE for i in range(PER_FRAME)]
        self.buffers = self.buffers[:RX_RING]
        for i, buf in enumerate(self.buffers):
            self.sal.write_phys(self.ring_pa + 16 * i, buf.to_bytes(8, "little") + OWNED.to_bytes(8, "little"))
        tx = phys.Allocate("lance tx buffer", ("pinned",))
        self.frames.append(tx)
        self.tx_pa = tx.pfn << PAGE_SHIFT
        self.next = 0  # the ring entry the driver looks at next
        self.txq: deque[bytes] = deque()
        self.tx_busy = False
        self.received = self.sent = self.filtered = self.tx_errors = self.tx_dropped = 0
        self.kind = "pio"  # the cost model: "pio" (the Lance's) or "dma" (use_dma)
        self.tx_frame, self.tx_byte = costs.LANCE_TX, costs.LANCE_BYTE
        self.rx_frame, self.rx_byte = costs.LANCE_RX, costs.LANCE_BYTE
        self.sal.io_write(_reg(R_RX_RING), self.ring_pa)
        self.sal.io_write(_reg(R_RX_COUNT), RX_RING)

    def use_dma(self) -> None:
        """The DMA cost model (a T3PKT-like interface): per frame, not per byte."""
        self.kind = "dma"
        self.tx_frame, self.tx_byte = costs.T3_TX, 0
        self.rx_frame, self.rx_byte = costs.T3_RX, 0

    @property
    def card_drops(self) -> int:
        """Frames the card lost for want of a free ring buffer."""
        return self.sal.io_read(_reg(R_RX_DROPS))

    # --- transmit ----------------------------------------------------------------------

    def transmit(self, frame: bytes) -> bool:
        """Queue a frame; False if the queue is full (the frame is dropped)."""
        if len(self.txq) >= TX_QUEUE_LIMIT:
            self.tx_dropped += 1
            return False
        self.txq.append(frame)
        if not self.tx_busy:
            self._start()
        return True

    def transmit_list(self, frames: list[bytes]) -> int:
        """Queue several frames (a multicast's copies); how many were queued,
        the rest dropped and counted as ``transmit`` would."""
        return sum(1 for f in frames if self.transmit(f))

    def _start(self) -> None:
        frame = self.txq.popleft()
        self.sal.charge(self.tx_frame + self.tx_byte * len(frame))
        self.sal.write_phys(self.tx_pa, frame)
        self.sal.io_write(_reg(R_TX_ADDR), self.tx_pa)
        self.sal.io_write(_reg(R_TX_LEN), len(frame))
        self.sal.io_write(_reg(R_TX_CMD), 1)
        self.tx_busy = True
        self.sent += 1

    # --- the interrupt -------------------------------------------------------------------

    def interrupt(self, vector: int) -> bool:
        if vector != NIC_VECTOR:
            return False
        sal = self.sal
        status = sal.io_read(_reg(R_INT_STATUS))
        sal.io_write(_reg(R_INT_ACK), status)
        if status & INT_RX:
            self._harvest()
        if status & INT_TX:
            if sal.io_read(_reg(R_TX_STATUS)) == TX_ERROR:
                self.tx_errors += 1
            self.tx_busy = False
            if self.txq:
                self._start()
        return True

    def _harvest(self) -> None:
        sal = self.sal
        while True:
            entry = self.ring_pa + 16 * self.next
            status = int.from_bytes(sal.read_phys(entry + 8, 8), "little")
            if status & OWNED:
                return
            n = status & 0xFFFF
            buf = int.from_bytes(sal.read_phys(entry, 8), "little")
            frame = sal.read_phys(buf, n)
            sal.write_phys(entry + 8, OWNED.to_bytes(8, "little"))  # back to the card
            self.next = (self.next + 1) % RX_RING
            sal.charge(self.rx_frame + self.rx_byte * n)
            if len(frame) >= 6:
                dst = int.from_bytes(frame[:6], "big")
                if dst != self.mac and dst != BROADCAST:
                    self.filtered += 1
                    continue
            self.received += 1
            self.deliver(frame)
