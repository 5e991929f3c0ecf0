/* UNIX calls for the kernel's programs (Linux/Alpha numbers, alpha-machine.md
   §3.2): processes, signals, files, protection, sleeping. */
#ifndef SPIN_UNIX_H
#define SPIN_UNIX_H
#include "lib.h"

#define SYS_fork 2
#define SYS_close 6
#define SYS_lseek 19
#define SYS_kill 37
#define SYS_open 45
#define SYS_execve 59
#define SYS_mprotect 74
#define SYS_sched_yield 334
#define SYS_nanosleep 340
#define SYS_rt_sigreturn 351
#define SYS_rt_sigaction 352
#define SYS_wait4 365

#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define SIGKILL 9
#define SIGSEGV 11
#define WNOHANG 1

struct siginfo_min { int si_signo, si_errno, si_code, pad; void *si_addr; };
typedef void (*sig_handler)(int, struct siginfo_min *, void *);

long getpid(void);
long fork(void);
long waitpid(long pid, int *status, int options);
int kill(long pid, int sig);
int execve(const char *path, char *const argv[], char *const envp[]);
int open(const char *path, int flags);
int close(int fd);
long lseek(int fd, long off, int whence);
int mprotect(void *addr, size_t len, int prot);
int sigaction_segv(int sig, sig_handler fn);
int sched_yield(void);
int sleep_ms(long ms);
long sys_errno(long r); /* -r if r < 0, else 0 */
long app_syscall(long n, long a, long b, long c);
unsigned long rpcc(void);

#define WIFEXITED(s) (((s) & 0x7f) == 0)
#define WEXITSTATUS(s) (((s) >> 8) & 0xff)
#define WTERMSIG(s) ((s) & 0x7f)

#endif
