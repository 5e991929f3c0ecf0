"""The Linux/Alpha ABI's numbers: errno values, signals, the process layout.

They are a fact about the machine kind, not about any one kernel: Linux on
Alpha kept DEC OSF/1's numbers (asm/errno.h, asm/signal.h), which part from
i386's above errno 34 and for several signals (SIGBUS 10, SIGCHLD 20,
SIGUSR1 30). machine/usermode.py answers with them directly; the kernel
reaches them only through kernel/core/sal.py.
"""

from __future__ import annotations

# Where Linux/Alpha lays out a process (the kernel and machine/usermode.py both load programs).
STACK_TOP = 0x1_2000_0000  # the stack grows down from just below the text base
MMAP_BASE = 0x200_0000_0000  # where mmap looks first for an address nobody asked for

# errno values (asm/errno.h on Alpha). A call fails with -errno in the kernel;
# on the wire v0 = errno and a3 = 1 (alpha-machine.md §3.2).
EPERM, ENOENT, ESRCH, EIO, E2BIG, ENOEXEC, EBADF, ECHILD = 1, 2, 3, 5, 7, 8, 9, 10
EDEADLK, ENOMEM, EACCES, EFAULT, ENODEV, ENOTDIR, EISDIR, EINVAL, EMFILE = 11, 12, 13, 14, 19, 20, 21, 22, 24
EBUSY, EEXIST, EXDEV, EFBIG, ENOSPC, ESPIPE, EROFS, EPIPE, EAGAIN = 16, 17, 18, 27, 28, 29, 30, 32, 35
ENAMETOOLONG, ENOTEMPTY = 63, 66
ENOTSOCK, EDESTADDRREQ, EMSGSIZE, EPROTONOSUPPORT = 38, 39, 40, 43
EOPNOTSUPP, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL = 45, 47, 48, 49
ENETUNREACH, ECONNRESET, EISCONN, ENOTCONN = 51, 54, 56, 57
ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, ENOSYS = 60, 61, 65, 78

# Signal numbers (asm/signal.h on Alpha, OSF/1's).
SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT = 1, 2, 3, 4, 5, 6
SIGFPE, SIGKILL, SIGBUS, SIGSEGV, SIGTERM, SIGCHLD, SIGUSR1 = 8, 9, 10, 11, 15, 20, 30
NSIG = 64  # signals 1..63; 0 asks only whether a process exists (kill(2))
SIG_DFL, SIG_IGN = 0, 1  # sigaction's handler values: the default action, ignore

# Names for messages ("SIGSEGV: segmentation fault ...") and for kill by name.
SIGNAL_NAMES = {SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
                SIGABRT: "SIGABRT", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGBUS: "SIGBUS", SIGSEGV: "SIGSEGV",
                SIGTERM: "SIGTERM", SIGCHLD: "SIGCHLD", SIGUSR1: "SIGUSR1"}  # fmt: skip
SIGNAL_NUMBERS = {v: k for k, v in SIGNAL_NAMES.items()}
