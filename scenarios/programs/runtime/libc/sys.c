/* The system calls under <unistd.h> and <fcntl.h>: a failure sets errno and
   returns -1, as in any libc. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "../sys.h"

#define SYS_fork 2
#define SYS_close 6
#define SYS_lseek 19
#define SYS_open 45
#define SYS_nanosleep 340

int errno;

static long check(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

ssize_t read(int fd, void *buf, size_t n) { return check(syscall3(SYS_read, fd, buf, n)); }
ssize_t write(int fd, const void *buf, size_t n) { return check(syscall3(SYS_write, fd, buf, n)); }
int close(int fd) { return (int)check(syscall3(SYS_close, fd, 0, 0)); }
off_t lseek(int fd, off_t off, int whence) { return check(syscall3(SYS_lseek, fd, off, whence)); }
pid_t getpid(void) { return (pid_t)syscall3(SYS_getxpid, 0, 0, 0); }
pid_t fork(void) { return (pid_t)check(syscall3(SYS_fork, 0, 0, 0)); }
int open(const char *path, int flags, ...) { return (int)check(syscall3(SYS_open, path, flags, 0666)); }

void _exit(int status)
{
	syscall3(SYS_exit_group, status, 0, 0);
	for (;;)
		syscall3(SYS_exit, status, 0, 0);
}

unsigned sleep(unsigned seconds)
{
	long ts[2] = { (long)seconds, 0 };
	return syscall3(SYS_nanosleep, ts, 0, 0) < 0 ? seconds : 0;
}

static char *cur_brk;

void *sbrk(long inc)
{
	if (!cur_brk)
		cur_brk = (char *)syscall3(SYS_brk, 0, 0, 0);
	char *old = cur_brk;
	char *got = (char *)syscall3(SYS_brk, old + inc, 0, 0);
	if (got != old + inc) {
		errno = ENOMEM;
		return (void *)-1;
	}
	cur_brk = got;
	return old;
}

/* <spin_macro.h>: the macro calls of extensions/macro_calls.py (0x7600..0x7603). */
#include <spin_macro.h>

ssize_t open_read_close(const char *path, void *buf, size_t n) { return check(syscall3(0x7600, path, buf, n)); }
ssize_t file_to_socket(const char *path, int sock) { return check(syscall3(0x7601, path, sock, 0)); }
int read_fixed_bind(int fd, size_t n) { return (int)check(syscall3(0x7602, fd, n, 0)); }
ssize_t read_fixed(void *buf) { return check(syscall3(0x7603, buf, 0, 0)); }
