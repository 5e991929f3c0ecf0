/* <unistd.h>: the few POSIX calls the workbench's kernel answers. */
#ifndef _SPIN_UNISTD_H
#define _SPIN_UNISTD_H
#include <stddef.h>

typedef long ssize_t;
typedef int pid_t;
typedef long off_t;

#define STDIN_FILENO 0
#define STDOUT_FILENO 1
#define STDERR_FILENO 2

ssize_t read(int fd, void *buf, size_t n);
ssize_t write(int fd, const void *buf, size_t n);
int close(int fd);
off_t lseek(int fd, off_t off, int whence);
pid_t getpid(void);
pid_t fork(void);
void _exit(int status) __attribute__((noreturn));
void *sbrk(long inc);
unsigned sleep(unsigned seconds);

#endif
