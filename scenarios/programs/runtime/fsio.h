/* File-system calls for the kernel's fs_*.c programs (Linux/Alpha numbers and
   layouts: asm/fcntl.h, asm/stat.h, asm/mman.h, linux/dirent.h). Each returns
   -errno on failure, as unix.h's calls do. Only fs_*.c link fsio.c, so the
   other programs' code (and the figures measured on it) stays as it was. */
#ifndef SPIN_FSIO_H
#define SPIN_FSIO_H
#include "unix.h"

#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_APPEND 010
#define O_CREAT 01000
#define O_TRUNC 02000
#define O_EXCL 04000
#define O_DIRECTORY 0100000
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2
#define MAP_SHARED 1
#define MAP_PRIVATE 2
#define MS_ASYNC 1
#define MS_SYNC 2
#define S_IFMT 0170000
#define S_IFDIR 0040000
#define S_IFREG 0100000
#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#define S_ISREG(m) (((m) & S_IFMT) == S_IFREG)
#define DT_DIR 4
#define DT_REG 8

#define EPERM 1
#define ENOENT 2
#define EBADF 9
#define EACCES 13
#define EEXIST 17
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define ENOSPC 28
#define ENOTEMPTY 66

struct stat {
	unsigned int st_dev, st_ino, st_mode, st_nlink, st_uid, st_gid, st_rdev;
	long st_size;
	unsigned long st_atime, st_mtime, st_ctime;
	unsigned int st_blksize, st_blocks, st_flags, st_gen;
};

struct dirent64 {
	unsigned long d_ino;
	long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

int open3(const char *path, int flags, int mode);
long pread(int fd, void *buf, size_t n, long off);
long pwrite(int fd, const void *buf, size_t n, long off);
int fstat(int fd, struct stat *st);
int stat(const char *path, struct stat *st);
int ftruncate(int fd, long len);
int truncate(const char *path, long len);
int fsync(int fd);
int unlink(const char *path);
int rename(const char *from, const char *to);
int mkdir(const char *path, int mode);
int rmdir(const char *path);
long getdents64(int fd, void *buf, size_t n);
void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off); /* (void *)-errno on failure */
int msync(void *addr, size_t len, int flags);
int is_err(const void *p); /* a pointer mmap returned that is really -errno */

/* memcpy as a C library's does it on Alpha: quadwords while both are aligned,
   bytes only for the tail (the runtime's memcpy moves bytes, which on the
   21064, without byte loads and stores, is some fifteen instructions each). */
void *copy_quads(void *d, const void *s, size_t n);
int same_quads(const void *a, const void *b, size_t n); /* memcmp() == 0, a quadword at a time */

/* The helpers the programs share: write all of a string, say what a call answered. */
long write_str(int fd, const char *s);
void report(const char *what, long r); /* "what: ok" or "what: errno N" */
int list_dir(const char *path); /* print the sorted names in a directory, "." and ".." left out */
#endif
