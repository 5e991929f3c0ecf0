"""What kernel work costs in virtual time: modeled cycles at the CPU's clock (133 MHz).

User instructions charge cycles per the CPU's table (machine/alpha/isa.py)
and a PAL entry or return charges PAL_ENTRY_CYCLES (machine/alpha/pal.py).
The kernel is Python, so each kernel path charges a modeled figure declared
here, and only here (ARCHITECTURE.md, "Cost accounting"). The figures are
estimates for a 21064 running compiled Modula-3 -- a few hundred
instructions for a trap's bookkeeping, a memory-bound loop for a page copy
-- for the work each path really does here. They are leaner than SPIN's
measured paths (which ran on OSF/1's pmap and Mach's VM code): our SPIN
figures land below the paper's SPIN column, by 2-6x on Table 4. What the
model is for is the comparison on one machine -- the same costs charged
to the UNIX way and the SPIN way, so the difference is the work and the
crossings each way does. Everything printed from them is labeled *modeled*.
"""

from __future__ import annotations

from kernel.core.sal import CLOCK_HZ

CLOCK_MHZ = CLOCK_HZ // 1_000_000  # cycles per virtual microsecond

TRAP_ENTRY = 120  # save the rest of the state, find the strand, decode the trap
SYSCALL_DISPATCH = 60  # Trap.SystemCall's dispatch to the personality's handler
FAULT_DECODE = 200  # classify an MMU fault, find the map and the region
CONTEXT_SWITCH = 400  # Checkpoint + Resume of a user strand, swpctx included
KERNEL_SWITCH = 250  # a switch between kernel threads (no address space change)
STRAND_CREATE = 1800  # a strand and its kernel stack
PTE_WRITE = 25  # one page-table entry and its TB invalidation
PAGE_ZERO = 1100  # clear 8 KiB (a store-bound loop)
PAGE_COPY = 2200  # copy 8 KiB
FRAME_ALLOC = 60
BYTE_COPY_PER_8 = 1  # copyin/copyout, per quadword
SIGNAL_DELIVER = 900  # build a signal frame on the user stack and redirect the strand
SIGNAL_RETURN = 500  # sigreturn: restore the interrupted context from the frame
PROCESS_CREATE = 6000  # fork's bookkeeping, besides the page tables it copies
EXEC_SETUP = 4000  # exec's bookkeeping, besides loading
FILE_OP = 300  # open/close/lseek bookkeeping
CLOCK_TICK = 80  # the clock interrupt's bookkeeping
MUTEX_OP = 10  # an uncontended lock or unlock: ldq_l/stq_c and a memory barrier
COND_OP = 20  # queue or dequeue a waiter on a condition variable
PORT_OP = 150  # a Mach-interface call's port-name translation and rights check in the task's IPC space
EXT_CALL = 20  # a protected in-kernel call into an extension's handler or guard (SOSP'95 Table 2: 0.13 µs)
EXT_FUEL = 12  # per fuel check the extension used: a function entry or a loop back-edge of compiled code
REGION_OP = 1500  # a UNIX map operation: find the map entries, clip them at the range, update, merge
VM_PAGE = 120  # the UNIX VM's per-page work under a map operation: page lookup and the pmap layer


def micros(cycles: float) -> float:
    """Modeled microseconds at 133 MHz."""
    return cycles / CLOCK_MHZ


# The network (issue 6). The Lance driver's costs are calibrated so that an in-kernel UDP round trip of
# 16 bytes lands near SOSP'95 Table 5's 565 µs on a 10 Mb/s wire: the paper says the driver is not
# tuned for latency and that other drivers brought the same trip to 337 µs. Everything else on the
# network paths -- crossings, copies, switches, the socket layer -- is charged with the figures above
# and below, the same for both ways of writing an endpoint, so Table 5's and 6's differences are work.
LANCE_RX = 11000  # the receive interrupt: ring walk, status checks, buffer hand-back, per frame
LANCE_TX = 14400  # load the transmit buffer (the DEC 3000 Lance's sparse buffer RAM) and start the card
LANCE_BYTE = 1  # per byte moved through the Lance's buffer memory (16 bits per 32-bit word)
NET_LAYER = 400  # one protocol layer's input or output bookkeeping (header checks, demux, counters)
CHECKSUM_PER_8 = 1  # Internet checksum, per quadword summed
SOCKET_CALL = 3000  # BSD sosend/soreceive: socket lock, mbuf chain allocation or walk, sbappend/sbdrop

# TCP for extensions (issue 20, kernel/net/tcp_ext.py): a conn.Send or conn.Recv is a procedure call
# into the kernel (EXT_CALL above is the way back in); Recv copies out of the connection's receive
# buffer at BYTE_COPY_PER_8, Send keeps a reference (no copy). This is the queue bookkeeping.
TCP_EXT_OP = 60  # find the connection, append to or walk its queue of references

# Files and NFS (issue 20). RPC_DECODE: parse or build an ONC RPC header and its credential (a few dozen
# XDR words, bounds-checked); NFS_OP: one NFSv3 procedure's work besides the data it moves (handle to
# entry lookup in a dictionary, fattr3 fill); FILES_OP: a Files call's bookkeeping. The bytes a READ
# moves are charged as copies (BYTE_COPY_PER_8), once into the reply.
RPC_DECODE = 400
NFS_OP = 600
FILES_OP = 150
# The frame buffer (issue 20, SOSP'95 §5.4's video client). A write is a copy into the device's pixel
# memory in I/O space: uncached stores across the bus, charged at twice BYTE_COPY_PER_8's memory-to-memory
# rate per quadword, after the call's own bookkeeping (bounds check, the aperture's address).
FB_WRITE = 60  # FrameBuffer.Write's bookkeeping, besides the copy
FB_COPY_PER_8 = 2  # per quadword stored into pixel memory
FB_PRESENT = 40  # FrameBuffer.Present: one register write (the device flips to the new frame)
# The video server (issue 20; SOSP'95 §5.4, Figure 6). The paper ran the server twice: on a FORE ATM card
# driven by programmed I/O, where the CPU copies every word into the card (the Lance's LANCE_TX and
# LANCE_BYTE above model that kind of driver), and on a Digital T3PKT, a 45 Mb/s interface that fetches
# the frame from memory by DMA. A DMA driver's CPU work is per packet -- write a descriptor, ring the
# doorbell, reclaim the finished one in the interrupt -- and nothing per byte: that is what the paper
# says made the difference between the two servers visible (kernel/net/driver.py, use_dma).
T3_TX = 2000  # DMA transmit: descriptor, doorbell, and the completion's reclaim, per frame; no per-byte work
T3_RX = 2500  # DMA receive: the ring walk and buffer hand-back, per frame; the card wrote the bytes itself
MCAST_PATCH = 60  # one multicast copy: the client's addresses written into the header, checksums adjusted (RFC 1624)
PROBE_LOOP = 133  # one pass of the idle probe's counting loop (kernel/core/idleprobe.py): 1 µs
# Read-ahead under software feedback (kernel/fs/readahead.py, Synthetix §3.2): per read of a stream, the
# sample (a look at the chunks ahead in the cache), four running averages and the controller's compares.
READAHEAD_SAMPLE = 150
