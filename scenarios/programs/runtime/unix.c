/* UNIX calls for the kernel's programs. */
#include "unix.h"

long getpid(void) { return syscall3(SYS_getxpid, 0, 0, 0); }
long fork(void) { return syscall3(SYS_fork, 0, 0, 0); }
long waitpid(long pid, int *status, int options) { return syscall6(SYS_wait4, pid, (long)status, options, 0, 0, 0); }
int kill(long pid, int sig) { return (int)syscall3(SYS_kill, pid, sig, 0); }
int execve(const char *path, char *const argv[], char *const envp[]) { return (int)syscall3(SYS_execve, path, argv, envp); }
int open(const char *path, int flags) { return (int)syscall3(SYS_open, path, flags, 0); }
int close(int fd) { return (int)syscall3(SYS_close, fd, 0, 0); }
long lseek(int fd, long off, int whence) { return syscall3(SYS_lseek, fd, off, whence); }
int mprotect(void *addr, size_t len, int prot) { return (int)syscall3(SYS_mprotect, addr, len, prot); }
int sched_yield(void) { return (int)syscall3(SYS_sched_yield, 0, 0, 0); }
long app_syscall(long n, long a, long b, long c) { return syscall3(n, a, b, c); }

int sleep_ms(long ms)
{
	long ts[2] = { ms / 1000, (ms % 1000) * 1000000 };
	return (int)syscall3(SYS_nanosleep, ts, 0, 0);
}

extern void __sigreturn_stub(void);

int sigaction_segv(int sig, sig_handler fn)
{
	/* struct sigaction on Alpha: handler, sa_mask (8 bytes), sa_flags (int) */
	struct { void *handler; unsigned long mask; int flags; int pad; } act = { (void *)fn, 0, 0x40, 0 };
	return (int)syscall6(SYS_rt_sigaction, sig, (long)&act, 0, 8, (long)__sigreturn_stub, 0);
}

unsigned long rpcc(void)
{
	unsigned long t;
	__asm__ __volatile__("rpcc %0" : "=r"(t));
	return t & 0xffffffffUL;
}

long sys_errno(long r) { return r < 0 ? -r : 0; }
