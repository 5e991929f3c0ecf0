"""The kernel's limits, in one place (xv6's param.h).

Every bound the kernel puts on what a program, an extension or a remote
station may make it hold is here, with what it bounds and why that value.
Changing one is a policy decision, not a bug fix: lessons, benches and the
defense tests are written against these values. Not here: protocol
constants an RFC fixes (header sizes, MSS 536: kernel/net/), the modeled
costs of kernel work (kernel/core/costs.py), the Alpha's and the ABI's
numbers (machine/alpha/, through kernel/core/sal.py) and the limits of the
extension language's own syntax (kernel/sys/language.py names them, with
their values from here).
"""

from __future__ import annotations

# --- scheduling ------------------------------------------------------------------------------

QUANTUM_TICKS = 5  # clock ticks a strand runs before the next ready one (~5 ms at 1024 Hz)
MAX_ASN = 255  # address-space numbers before they wrap and the TBs are flushed (the 21064's TBs hold 6 bits; OSF/1 used up to 255)

# --- the UNIX personality --------------------------------------------------------------------

MAX_PROCESSES = 64  # live processes (xv6's NPROC): a fork loop fails with EAGAIN instead of eating memory
MAX_FDS = 64  # open files and sockets per process: the lowest free number below it is handed out
MAX_IO = 1 << 20  # bytes one read or write call moves: a huge count cannot make the kernel copy at once
MAX_ARGS = 256  # argv and envp entries execve reads from the caller
STACK_SIZE = 8 << 20  # a process's user stack: Linux's default 8 MiB rlimit, zero-filled on touch
MAX_PHNUM = 65536 // 56  # program headers: Linux's binfmt_elf refuses tables past 64 KiB (ENOEXEC)
MAX_THREADS = 256  # C threads per process, live or exited and not yet joined (kernel/unix/cthreads.py)
MAX_PORTS = 4096  # Mach-style ports per task (kernel/unix/machthreads.py)

# --- extensions: what one may hold -----------------------------------------------------------

BINDINGS_PER_EXTENSION = 64  # installed handlers: a loop of installs cannot grow every event's list
FRAMES_PER_EXTENSION = 256  # physical frames (2 MiB): an extension's share of memory
GROUPS_PER_EXTENSION = 16  # scheduler groups made with Sched.NewGroup
GROUP_NAME_MAX = 64  # characters in a scheduler group's name
RANGES_PER_EXTENSION = 256  # virtual ranges allocated with VirtAddr.Allocate
PORTS_PER_EXTENSION = 64  # UDP ports an extension listens on
REPORTS_MAX = 10_000  # fault and abort lines the dispatcher keeps: an extension can fault on every packet
CONSOLE_LINES = 10_000  # lines the kernel console keeps of extensions' output
TRACE_RECORDS = 10_000  # records in the trace ring: enough for a lesson's run, bounded for a long one
MACRO_READ_MAX = 64 * 1024  # bytes one Unix.ReadData may take from a file (a macro call reads in pieces)
MACRO_NAME_MAX = 32  # characters in the name Unix.Name gives an application-specific call
NOTE_MAX = 256  # characters of a system call's decoded argument (a path) its Syscall record keeps

# --- extensions: the language's runtime limits (docs/extensions.md lists each) ----------------

SOURCE_MAX = 256 * 1024  # bytes of source in one extension file
NESTING_MAX = 60  # expression and statement nesting the verifier accepts
STR_MAX = 1 << 16  # characters in a str, bytes in bytes or bytearray, built by one operation
SEQ_MAX = 1 << 16  # items in a list or tuple built by one operation (with STR_MAX: one comparison-heavy
#                    operation, `xs.count(s)`, stays near a second)
INT_BITS = 8192  # bits in an int built by *, ** or <<
RANGE_MAX = 1 << 20  # items in one range()
FORMAT_WIDTH_MAX = 1000  # width and precision in an f-string field or a % format
REPR_MAX = 4096  # characters of str()/repr()/print of a container (the rest is elided)
REPR_ITEMS = 500  # items one bounded repr shows in all
KEY_DEPTH = 1000  # tuples (and frozensets) nested in a dict key or set element: hashing them stays bounded
POW_MOD_BITS = 2048  # bits of pow(a, b, m)'s operands: one call stays a few milliseconds
INIT_FUEL = 100_000  # fuel checks for the top level and init() together
BOUND_MAX = 100_000  # the most fuel one dispatch may grant a handler (a binding can only ask for less)
CALL_MEMORY = 64 << 20  # bytes the host may grow by during one call into an extension
QUOTA_BYTES = 16 << 20  # bytes an extension may keep between calls (its globals and what they reach)
QUOTA_DEPTH = 100  # containers nested in containers, in what an extension keeps
QUOTA_FUEL = 20_000  # fuel an extension may spend between two measurements of its quota
WATCHDOG_SECONDS = 5.0  # host seconds one call may take: the last line of defense, not the first
CHECKPOINT = 1024  # fuel checks between two looks at memory and the watchdog

# --- the network thread and the driver -------------------------------------------------------

NET_BATCH = 64  # work items per wake-up of the network thread (Linux's NAPI weight) ...
NET_REST_US = 1000  # ... then it rests this long, virtual (about one clock tick), so programs run
NET_QUEUE_LIMIT = 1000  # frames waiting for the network thread (Linux's netdev_max_backlog); more are dropped
RX_RING = 32  # receive buffers the driver gives the card: a burst of 32 frames fits before it drops
TX_QUEUE_LIMIT = 256  # frames waiting to be sent; beyond this a send is dropped and counted

# --- ICMP ------------------------------------------------------------------------------------

PING_REPLIES = 1024  # echo replies kept (a ring)
PINGS_OUTSTANDING = 1024  # echo requests remembered, to match replies against
ICMP_ERROR_INTERVAL_US = 1000  # ICMP errors sent at most one a millisecond on average (Linux's icmp_msgs_per_sec) ...
ICMP_ERROR_BURST = 50  # ... with bursts of 50 (icmp_msgs_burst): a flood cannot make us a reflector

# --- ARP (kernel/net/arp.py) -----------------------------------------------------------------

ARP_CACHE_LIMIT = 256  # entries: a /24 of neighbours
ARP_REACHABLE_US = 60_000_000  # virtual: how long a confirmation lasts before the entry is re-polled
ARP_TRIES = 3  # requests (or polls) before giving up
ARP_RETRY_US = 50_000  # virtual: SPIN's and OSF/1's were a second; a lesson should not wait that long
ARP_NEGATIVE_US = 1_000_000  # how long a host that did not answer stays unreachable
ARP_PENDING_LIMIT = 32  # packets held per unresolved host
ARP_PENDING_HOSTS = 64  # unresolved hosts with packets held
ARP_FAILED_LIMIT = 256  # hosts remembered as unreachable

# --- IP reassembly (kernel/net/reassembly.py's docstring says why each) ----------------------

REASM_TIMEOUT_US = 30_000_000  # virtual; Linux's 30 s, not RFC 1122's 60-120 s
REASM_MAX_DATAGRAMS = 64  # datagrams in reassembly at once (the discarded ones' tombstones included)
REASM_MAX_BYTES = 256 * 1024  # bytes held, overhead included
REASM_OVERHEAD = 64  # bytes charged per fragment held (an mbuf's header, as BSD charges)

# --- UDP and TCP -----------------------------------------------------------------------------

EPHEMERAL = range(49152, 65536)  # ports handed out to endpoints that did not pick one (RFC 6335's dynamic range)
UDP_RCVBUF = 64 * 1024  # bytes queued on one UDP endpoint, each datagram charged DATAGRAM_OVERHEAD more
DATAGRAM_OVERHEAD = 256  # bytes charged per queued datagram besides its payload (a BSD mbuf, MSIZE)
SOCKET_IO_MAX = 64 * 1024  # bytes one send or recv system call moves
TCP_RCVBUF = 32 * 1024  # bytes a connection buffers for its reader: the window it offers
TCP_SNDBUF = 32 * 1024  # bytes a connection buffers for its writer
TCP_MAX_FLIGHT = 16 * 1024  # bytes unacknowledged at once: also the congestion window's cap
TCP_OOO_SEGMENTS = 64  # distinct out-of-order pieces held (their bytes are bounded by the window)
TCP_MAX_RETRIES = 12  # unanswered retransmissions (or window probes) before a connection gives up
TCP_SYNACK_RETRIES = 3  # a half-open entry's SYN-ACKs after the first: gone after ~3 s, not ~21 s
TCP_CHALLENGE_ACKS = 8  # per connection per virtual second (RFC 5961 §7): no amplifier, no global side channel
TCP_PORT_TABLE = 256  # RFC 6056 algorithm 4's table of per-destination counters

# --- TCP for extensions (kernel/net/tcp_ext.py) and the web server (issue 20) ----------------

TCP_EXT_PORTS = 8  # TCP ports one extension listens on
TCP_EXT_CONNS = 64  # live connections one extension holds; more are refused with a reset
TCP_EXT_IDLE_EVICT = 133_000_000  # cycles (1 virtual s): idle this long, a connection makes room for a new one
TCP_EXT_QUEUED = 4 << 20  # bytes one extension may have queued on its connections, not yet taken by TCP
TCP_EXT_BACKLOG = 16  # the listen backlog TCP.Listen asks for
TCP_EXT_RECV_MAX = 64 * 1024  # bytes one conn.Recv returns at most

# --- files and NFS (kernel/fs/files_ext.py, nfs_server.py, nfs_client.py) --------------------

FILES_READ_MAX = 64 * 1024  # bytes one Files.Read may ask for: 8 frames held while the disk fills them
FILES_READS_PER_EXTENSION = 16  # Files.Read calls an extension may have waiting for the disk at once
FILES_LIST_MAX = 4096  # names Files.List returns (the first, in sorted order)
CALLBACKS_PER_EXTENSION = 64  # distinct handler procedures the kernel keeps ready to call back, per extension
NFS_RSIZE = 8192  # bytes one NFS READ asks for and the server answers at most (rsize; Linux's UDP default)
NFS_WINDOW = 4  # READs the client keeps outstanding per transfer: 4 x 6 fragments fit the Lance's 32-buffer ring
NFS_TIMEOUT_US = 100_000  # virtual: the first retransmission timeout (timeo); doubled on each retry ...
NFS_RETRIES = 5  # ... up to this many retransmissions of one call, then ETIMEDOUT (retrans)
NFS_MAX_FILE = 16 << 20  # bytes the client fetches into memory for one NFS.Read: more is EFBIG
NFS_CALLS_OUTSTANDING = 64  # calls the kernel client has in flight in all: more are refused with EAGAIN
NFS_CALLS_USERS = 16  # of them, what all users' extensions together may have in flight (the rest is the owner's)
NFS_PER_EXTENSION = 16  # NFS.Read/Stat calls one extension may have unanswered at once
NFS_SERVER_PENDING = 64  # READs the server holds waiting for the disk; more are dropped (the client retries)

# --- read-ahead (kernel/fs/readahead.py; off unless boot(readahead=...) turns it on) -----------

READAHEAD_MAX_WINDOW = 32  # chunks one stream may have read ahead of its reads (256 KiB; Linux's default is 128 KiB)
READAHEAD_FIXED = 8  # the window of the "fixed" policy when it names none
READAHEAD_STREAMS = 64  # (strand, file) streams remembered; the least recently read is forgotten first
READAHEAD_HISTORY = 10_000  # window changes kept for the bench's chart (a ring)

# --- timers, reels and multicast for extensions (kernel/core/timers.py, reel.py, kernel/net/multicast.py) --

TIMERS_PENDING = 64  # Timer.After calls one extension may have pending at once
TIMER_HANDLERS = 8  # distinct handler procedures one extension's timers call: each is a binding on Timer.Expired
TIMER_MAX_US = 10_000_000  # virtual: the longest delay Timer.After takes (10 s)
REEL_STREAMS = 16  # reels (frame queues between extensions) in the kernel in all
REEL_STREAMS_USER = 4  # reels one user's extension may own: it cannot take every stream from the rest
REEL_FRAMES = 8  # frames one reel holds: the reader's read-ahead, so it stops while the sender is behind
REEL_FRAME_BYTES = 64 * 1024  # bytes one frame on a reel may hold
REEL_NAMES = 8  # extensions a reel's creator may name as sharing it
MULTICAST_CLIENTS = 64  # (address, port) pairs one Multicast.Send copies its datagram to

# --- replugging for extensions (kernel/sys/replug_ext.py, Synthetix §4) ----------------------

REPLUG_SLOTS_PER_EXTENSION = 32  # slots one extension may make
REPLUG_INVARIANTS_PER_EXTENSION = 32  # quasi-invariants one extension may declare
REPLUG_NAME_MAX = 64  # characters of a slot's or an invariant's name
REPLUG_NESTED_MAX = 8  # calls through one extension's slots, one inside another, at most
