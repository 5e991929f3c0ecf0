/* The file calls under <unistd.h>, <sys/stat.h>, <sys/mman.h>, <dirent.h> and
   <stdio.h>'s rename and remove: Linux/Alpha numbers, -1 and errno on failure. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../sys.h"

static long fail(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

ssize_t pread(int fd, void *buf, size_t n, off_t off) { return fail(syscall6(SYS_pread64, fd, (long)buf, (long)n, off, 0, 0)); }
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) { return fail(syscall6(SYS_pwrite64, fd, (long)buf, (long)n, off, 0, 0)); }
int unlink(const char *path) { return (int)fail(syscall3(SYS_unlink, path, 0, 0)); }
int remove(const char *path)
{
	long r = syscall3(SYS_unlink, path, 0, 0);
	if (r == -21 || r == -1) /* EISDIR (Linux) or EPERM: remove(3) takes directories too */
		r = syscall3(SYS_rmdir, path, 0, 0);
	return (int)fail(r);
}
int rmdir(const char *path) { return (int)fail(syscall3(SYS_rmdir, path, 0, 0)); }
int rename(const char *from, const char *to) { return (int)fail(syscall3(SYS_rename, from, to, 0)); }
int ftruncate(int fd, off_t len) { return (int)fail(syscall3(SYS_ftruncate, fd, len, 0)); }
int truncate(const char *path, off_t len) { return (int)fail(syscall3(SYS_truncate, path, len, 0)); }
int fsync(int fd) { return (int)fail(syscall3(SYS_fsync, fd, 0, 0)); }
int fdatasync(int fd) { return (int)fail(syscall3(SYS_fdatasync, fd, 0, 0)); }
int stat(const char *path, struct stat *st) { return (int)fail(syscall3(SYS_stat, path, st, 0)); }
int lstat(const char *path, struct stat *st) { return (int)fail(syscall3(SYS_lstat, path, st, 0)); }
int fstat(int fd, struct stat *st) { return (int)fail(syscall3(SYS_fstat, fd, st, 0)); }
int mkdir(const char *path, mode_t mode) { return (int)fail(syscall3(SYS_mkdir, path, mode, 0)); }
int msync(void *addr, size_t len, int flags) { return (int)fail(syscall3(SYS_msync, addr, len, flags)); }
int munmap(void *addr, size_t len) { return (int)fail(syscall3(SYS_munmap, addr, len, 0)); }

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = syscall6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, off);
	return fail(r) == -1 ? MAP_FAILED : (void *)r;
}

struct _spin_dir {
	int fd;
	long pos, len; /* buf[pos..len) not yet returned */
	char buf[2048];
	struct dirent ent;
};

DIR *opendir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return NULL;
	DIR *d = malloc(sizeof *d);
	if (!d) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	d->fd = fd;
	d->pos = d->len = 0;
	return d;
}

struct dirent *readdir(DIR *d)
{
	if (d->pos >= d->len) {
		long n = syscall3(SYS_getdents64, d->fd, d->buf, sizeof d->buf);
		if (n <= 0) {
			if (n < 0)
				errno = (int)-n;
			return NULL;
		}
		d->pos = 0, d->len = n;
	}
	char *rec = d->buf + d->pos;
	unsigned short reclen;
	memcpy(&reclen, rec + 16, sizeof reclen);
	memcpy(&d->ent.d_ino, rec, 8);
	memcpy(&d->ent.d_off, rec + 8, 8);
	d->ent.d_reclen = reclen;
	d->ent.d_type = (unsigned char)rec[18];
	size_t k = 0;
	for (; k + 1 < sizeof d->ent.d_name && rec[19 + k]; k++)
		d->ent.d_name[k] = rec[19 + k];
	d->ent.d_name[k] = 0;
	d->pos += reclen;
	return &d->ent;
}

void rewinddir(DIR *d)
{
	lseek(d->fd, 0, SEEK_SET);
	d->pos = d->len = 0;
}

int closedir(DIR *d)
{
	int r = close(d->fd);
	free(d);
	return r;
}
