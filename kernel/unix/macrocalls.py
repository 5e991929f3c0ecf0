"""open_read_close as trusted kernel code: the first way of Poking Holes §3.2.

"I trust extensions" (§3.2.1): a Linux module is compiled C in the
kernel's address space, unchecked; nothing stands between it and the
kernel's data, so a bug in it is the kernel's. Here that is a handler the
kernel installs itself (trusted: no fuel, no imposed guard, no checked
interface) calling the personality's calls directly (kernel/unix/
calls_ext.py's CallOps). It answers the same number and does the same
work as extensions/macro_calls.py's open_read_close, so `spinwb bench
macro` can run one macro call three ways: this, the verified extension,
and the program's own open, read and close behind the boundary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel.core.trap import RESTART, SyscallState

if TYPE_CHECKING:
    from kernel.kernel import Kernel
    from kernel.sys.dispatcher import Binding
    from kernel.unix.calls_ext import CallOps

OPEN_READ_CLOSE = 0x7600  # extensions/macro_calls.py's number for the same call
MAX_N = 1 << 30
EINVAL = 22


def open_read_close(ops: CallOps, st: SyscallState) -> Any:
    """Read up to a2 bytes of the file at a0 into a1: the count, -errno, or
    RESTART (blocked for the disk; the progress list keeps what is done)."""
    progress = ops.progress(st)
    if not progress:
        if st.a2 > MAX_N:
            return -EINVAL
        fd = ops.open(st, st.a0, 0)
        if fd < 0:
            return fd
        progress += [fd, 0]
    fd, n = progress[0], st.a2
    while progress[1] < n:
        got = progress[1]
        r = ops.read(st, fd, st.a1 + got, n - got)
        if r is None:
            return RESTART
        if r < 0:
            ops.close(st, fd)
            return r
        if r == 0:
            break
        progress[1] = got + r
    ops.close(st, fd)
    return progress[1]


def install_trusted(k: Kernel) -> Binding:
    """Install open_read_close as kernel code (the personality must be up)."""
    assert k.personality is not None
    ops = k.personality.calls

    def mine(strand: Any, state: SyscallState) -> bool:
        return state.v0 == OPEN_READ_CLOSE

    def call(strand: Any, state: SyscallState) -> None:
        state.result = open_read_close(ops, state)

    k.syscall_names[OPEN_READ_CLOSE] = "open_read_close"
    return k.dispatcher.install_handler(k.event("Trap.SystemCall"), call, mine, owner="kernel macro calls")
