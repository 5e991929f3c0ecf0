/* <unistd.h>: the POSIX calls the workbench's kernel answers. */
#ifndef _SPIN_UNISTD_H
#define _SPIN_UNISTD_H
#include <stddef.h>

#ifndef _SPIN_OFF_T
#define _SPIN_OFF_T
typedef long ssize_t;
typedef int pid_t;
typedef long off_t;
#endif

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
ssize_t pread(int fd, void *buf, size_t n, off_t off);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off);
int unlink(const char *path);
int rmdir(const char *path);
int ftruncate(int fd, off_t len);
int truncate(const char *path, off_t len);
int fsync(int fd);
int fdatasync(int fd);

#endif
