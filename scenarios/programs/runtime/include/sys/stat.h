/* <sys/stat.h>: stat(2) with Alpha's struct stat (asm/stat.h), mkdir(2). */
#ifndef _SPIN_SYS_STAT_H
#define _SPIN_SYS_STAT_H
#include <sys/types.h>

struct stat {
	unsigned int st_dev, st_ino, st_mode, st_nlink, st_uid, st_gid, st_rdev;
	off_t st_size;
	unsigned long st_atime, st_mtime, st_ctime;
	unsigned int st_blksize, st_blocks, st_flags, st_gen;
};

#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define S_ISREG(m) (((m) & S_IFMT) == S_IFREG)
#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#define S_ISCHR(m) (((m) & S_IFMT) == S_IFCHR)
#define S_ISSOCK(m) (((m) & S_IFMT) == S_IFSOCK)

int stat(const char *path, struct stat *st);
int lstat(const char *path, struct stat *st);
int fstat(int fd, struct stat *st);
int mkdir(const char *path, mode_t mode);

#endif
