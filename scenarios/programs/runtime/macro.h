/* Macro system calls (extensions/macro_calls.py, Poking Holes §5): a sequence
   of calls in one kernel entry. Numbers 0x7600..0x7603; without the extension
   loaded each answers -ENOSYS (78). Header-only; each returns -errno on failure. */
#ifndef SPIN_MACRO_H
#define SPIN_MACRO_H
#include "unix.h"

#define SYS_open_read_close 0x7600
#define SYS_file_to_socket 0x7601
#define SYS_read_fixed_bind 0x7602
#define SYS_read_fixed 0x7603

/* open(path, O_RDONLY), read up to n bytes into buf, close: the count read. */
static inline long open_read_close(const char *path, void *buf, unsigned long n)
{
	return syscall3(SYS_open_read_close, path, buf, n);
}

/* open(path), then read and send the whole file to the connected TCP socket
   sock, then close: the bytes sent. The data never visits user memory. */
static inline long file_to_socket(const char *path, int sock)
{
	return syscall3(SYS_file_to_socket, path, sock, 0);
}

/* A read specialized to one descriptor and size, for the calling thread. */
static inline long read_fixed_bind(int fd, unsigned long n) { return syscall3(SYS_read_fixed_bind, fd, n, 0); }
static inline long read_fixed(void *buf) { return syscall3(SYS_read_fixed, buf, 0, 0); }
#endif
