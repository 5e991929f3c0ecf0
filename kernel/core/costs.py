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
# The writable extent file system (issue 21, kernel/fs/extentfs.py). A file is one extent: growing past it
# moves the file to a larger free extent (its chunks rewritten there); truncating gives blocks back. The
# free map is a sorted list of extents, first fit: FS_BLOCK_ALLOC and FS_BLOCK_FREE are one search or one
# insert-and-coalesce, plus the per-block bitmap-like bookkeeping a UFS-style allocator does
# (FS_PER_BLOCK); FS_DIR_UPDATE: a directory entry added, removed or renamed (name hash, entry rewrite,
# the directory marked for write-back); FS_WRITE_CHUNK: one cache chunk dirtied by write (lookup,
# dirty list); FS_WRITEBACK: one dirty chunk's transfer queued. The bytes written are copies
# (BYTE_COPY_PER_8), once into the cache.
FS_BLOCK_ALLOC = 400
FS_BLOCK_FREE = 300
FS_PER_BLOCK = 12
FS_DIR_UPDATE = 500
FS_WRITE_CHUNK = 80
FS_WRITEBACK = 150

# Synthetix (issue 21; seed 003). Replugging's two figures are the paper's own (§4.3, measured and by
# inspection of the generated code). The read of a regular file is charged as the layers an HP-UX-like
# kernel walks on every call (§3.1: the object's type, the file system's type and parameters, the locks),
# besides the trap and the copy-out; the specialized read (kernel/unix/fileread.py) walks them once, at
# open, and keeps what they found in a closure. Its per-call figures are the work left: a compare with
# the fixed size, a shift, a cache lookup with the file's fixed key.
REPLUG_CALL = 35  # a call through a slot: the is-specialized check, the inside counter up and down, the indirect call
REPLUG_SWAP = 535  # a replug with nobody inside: two locks, the indirection to the tank and back, the store
READ_FILE_TABLE = 140  # generic read: descriptor to file-table entry under the file-table lock, mode and type checks
READ_VNODE = 260  # the vnode layer: dispatch on the object's type (file, socket, device), vnode lock, VOP_READ
READ_FS = 380  # the file system: inode lock, uio set-up, size check, logical block to disk block through the extent
READ_BUFFER = 240  # per chunk the range touches: the buffer-cache hash of (vnode, block), getblk's lock, brelse
READ_UIO = 80  # uiomove's bookkeeping and the offset's update in the file table, besides the copy itself
SPEC_READ = 60  # the specialized read: the offset against the fixed size, the chunk by a fixed shift, no locks
SPEC_CHUNK = 30  # per chunk the specialized read touches: a cache lookup with the file's fixed key
SPEC_SIZED = 25  # incremental level (read size and sequential position fixed): two compares, the held chunk's check
SPEC_BUILD = READ_VNODE + READ_FS  # at open: the layers' interpretation done once, to build the specialized read

# Read-ahead under software feedback (kernel/fs/readahead.py, Synthetix §3.2): per read of a stream, the
# sample (a look at the chunks ahead in the cache), four running averages and the controller's compares.
READAHEAD_SAMPLE = 150
