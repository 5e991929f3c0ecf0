"""The errno values the network answers with: Linux/Alpha's, which keep
DEC OSF/1's numbers above 34 (asm/errno.h). One table for the stack,
UDP, TCP and the socket calls."""

EPIPE = 32
EBADF, EFAULT, EINVAL, EMFILE = 9, 14, 22, 24
ENOTSOCK, EDESTADDRREQ, EMSGSIZE, EPROTONOSUPPORT = 38, 39, 40, 43
EOPNOTSUPP, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL = 45, 47, 48, 49
ENETUNREACH, ECONNRESET, ENOBUFS, EISCONN, ENOTCONN = 51, 54, 55, 56, 57
ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH = 60, 61, 65

EPHEMERAL = range(49152, 65536)  # ports handed out to endpoints that did not pick one
