/* The calls fsio.h declares, and the helpers the fs_*.c programs share. */
#include "fsio.h"

int open3(const char *path, int flags, int mode) { return (int)syscall3(SYS_open, path, flags, mode); }
long pread(int fd, void *buf, size_t n, long off) { return syscall6(SYS_pread64, fd, (long)buf, (long)n, off, 0, 0); }
long pwrite(int fd, const void *buf, size_t n, long off) { return syscall6(SYS_pwrite64, fd, (long)buf, (long)n, off, 0, 0); }
int fstat(int fd, struct stat *st) { return (int)syscall3(SYS_fstat, fd, st, 0); }
int stat(const char *path, struct stat *st) { return (int)syscall3(SYS_stat, path, st, 0); }
int ftruncate(int fd, long len) { return (int)syscall3(SYS_ftruncate, fd, len, 0); }
int truncate(const char *path, long len) { return (int)syscall3(SYS_truncate, path, len, 0); }
int fsync(int fd) { return (int)syscall3(SYS_fsync, fd, 0, 0); }
int unlink(const char *path) { return (int)syscall3(SYS_unlink, path, 0, 0); }
int rename(const char *from, const char *to) { return (int)syscall3(SYS_rename, from, to, 0); }
int mkdir(const char *path, int mode) { return (int)syscall3(SYS_mkdir, path, mode, 0); }
int rmdir(const char *path) { return (int)syscall3(SYS_rmdir, path, 0, 0); }
long getdents64(int fd, void *buf, size_t n) { return syscall3(SYS_getdents64, fd, buf, n); }
int msync(void *addr, size_t len, int flags) { return (int)syscall3(SYS_msync, addr, len, flags); }
int is_err(const void *p) { return (unsigned long)p >= (unsigned long)-4095; }

void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	return (void *)syscall6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, off);
}

void *copy_quads(void *d, const void *s, size_t n)
{
	unsigned long *dq = d;
	const unsigned long *sq = s;
	if ((((unsigned long)d | (unsigned long)s) & 7) == 0) {
		for (; n >= 32; n -= 32, dq += 4, sq += 4) {
			unsigned long a = sq[0], b = sq[1], c = sq[2], e = sq[3];
			dq[0] = a, dq[1] = b, dq[2] = c, dq[3] = e;
		}
		for (; n >= 8; n -= 8)
			*dq++ = *sq++;
	}
	memcpy(dq, sq, n);
	return d;
}

int same_quads(const void *a, const void *b, size_t n)
{
	const unsigned long *x = a, *y = b;
	for (; n >= 8; n -= 8)
		if (*x++ != *y++)
			return 0;
	return memcmp(x, y, n) == 0;
}

long write_str(int fd, const char *s) { return write(fd, s, strlen(s)); }

void report(const char *what, long r)
{
	if (r < 0)
		printf("%s: errno %ld\n", what, -r);
	else
		printf("%s: ok\n", what);
}

int list_dir(const char *path)
{
	static char buf[4096];
	static char names[64][64];
	int n = 0;
	int fd = open3(path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0) {
		printf("list %s: errno %d\n", path, -fd);
		return fd;
	}
	long got;
	while ((got = getdents64(fd, buf, sizeof buf)) > 0) {
		for (long at = 0; at < got;) {
			struct dirent64 *d = (struct dirent64 *)(buf + at);
			at += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			if (n < 64 && strlen(d->d_name) < 60) {
				strcpy(names[n], d->d_name);
				if (d->d_type == DT_DIR)
					strcpy(names[n] + strlen(names[n]), "/");
				n++;
			}
		}
	}
	close(fd);
	for (int i = 1; i < n; i++) /* insertion sort: the host's order is its own */
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char t[64];
			strcpy(t, names[j]);
			strcpy(names[j], names[j - 1]);
			strcpy(names[j - 1], t);
		}
	printf("%s:", path);
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");
	return n;
}
