"""Macro system calls: a program's sequence of calls in one kernel entry (Poking Holes §5).

A program that opens, reads and closes many small files crosses the
user/kernel boundary six times a file; a web server that sends files
crosses twice for each piece it reads and twice for each piece it sends,
and copies every byte out to user memory and back in. These calls do the
same work inside the kernel, through the personality's own open, read
and close (the Unix interface, kernel/unix/calls_ext.py): one entry and
one return. `spinwb profile` finds the sequences that are worth it.

    0x7600 open_read_close(path, buf, n)   read up to n bytes of the file at path into
                                           buf: the count read, or -errno
    0x7601 file_to_socket(path, sock)      send the whole file to the connected TCP
                                           socket sock: the bytes sent, or -errno
    0x7602 read_fixed_bind(fd, n)          specialize read for this strand: 0 or -EINVAL
    0x7603 read_fixed(buf)                 read(fd, buf, n) with the bound fd and n

Restart-safe: a read that waits for the disk (or a send that waits for
room) blocks the strand and the call restarts; what it has done so far is
in the call's Progress list, so a restarted call never opens the file
again, never reads a piece twice and never sends one twice. A descriptor
it opened is closed on every way out, and by the kernel if the extension
faulted before it could.
"""

from spin import Dispatcher, Trap, Unix

BASE = 0x7600
NAMES = ("open_read_close", "file_to_socket", "read_fixed_bind", "read_fixed")
PIECE = 8192  # bytes file_to_socket reads at a time
EINVAL = 22
MAX_N = 1 << 30

fixed = {}  # strand id -> (fd, n): read_fixed's specialization


def ours(strand, state):
    return BASE <= state.v0 < BASE + 4


def open_read_close(state):
    progress = Unix.Progress(state)
    if not progress:
        if state.a2 > MAX_N:
            return -EINVAL
        fd = Unix.Open(state, state.a0, 0)
        if fd < 0:
            return fd
        progress.append(fd)
        progress.append(0)
    fd = progress[0]
    n = state.a2
    while progress[1] < n:
        got = progress[1]
        r = Unix.Read(state, fd, state.a1 + got, n - got)
        if r is None:
            return Trap.Restart
        if r < 0:
            Unix.Close(state, fd)
            return r
        if r == 0:
            break
        progress[1] = got + r
    Unix.Close(state, fd)
    return progress[1]


def file_to_socket(state):
    progress = Unix.Progress(state)
    if not progress:
        fd = Unix.Open(state, state.a0, 0)
        if fd < 0:
            return fd
        progress.append(fd)
        progress.append(0)  # bytes sent
        progress.append(b"")  # read, not yet sent
    fd = progress[0]
    sock = state.a1
    while True:
        if not progress[2]:
            data = Unix.ReadData(state, fd, PIECE)
            if data is None:
                return Trap.Restart
            if not isinstance(data, bytes):
                Unix.Close(state, fd)
                return data
            if not data:
                break
            progress[2] = data
        r = Unix.Send(state, sock, progress[2])
        if r is None:
            return Trap.Restart
        if r < 0:
            Unix.Close(state, fd)
            return r
        progress[1] = progress[1] + r
        progress[2] = progress[2][r:]
    Unix.Close(state, fd)
    return progress[1]


def read_fixed_bind(strand, state):
    if state.a1 == 0 or state.a1 > MAX_N:
        return -EINVAL
    fixed[strand.id] = (state.a0, state.a1)
    return 0


def read_fixed(strand, state):
    bound = fixed.get(strand.id)
    if bound is None:
        return -EINVAL
    r = Unix.Read(state, bound[0], state.a0, bound[1])
    if r is None:
        return Trap.Restart
    return r


def call(strand, state):
    n = state.v0 - BASE
    if n == 0:
        state.result = open_read_close(state)
    elif n == 1:
        state.result = file_to_socket(state)
    elif n == 2:
        state.result = read_fixed_bind(strand, state)
    else:
        state.result = read_fixed(strand, state)


def init():
    for i in range(len(NAMES)):
        Unix.Name(BASE + i, NAMES[i])
    Dispatcher.InstallHandler(Trap.SystemCall, call, ours)
