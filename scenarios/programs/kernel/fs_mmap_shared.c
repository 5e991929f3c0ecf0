/* MAP_SHARED: stores through the mapping reach the file (msync, munmap, then read). */
#include "fsio.h"

#define SIZE (3 * 8192 + 100)

int main(void)
{
	static char buf[SIZE];
	int fd = open3("mapped.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
	report("ftruncate", ftruncate(fd, SIZE));
	char *p = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (is_err(p)) {
		printf("mmap: errno %ld\n", -(long)p);
		return 1;
	}
	printf("fresh page reads %d\n", p[8192 + 5]);
	for (int i = 0; i < SIZE; i++)
		p[i] = (char)('A' + i % 23);
	report("msync", msync(p, SIZE, MS_SYNC));
	report("munmap", munmap(p, SIZE));
	close(fd);
	fd = open3("mapped.bin", O_RDONLY, 0);
	long n = read(fd, buf, SIZE), bad = 0;
	for (long i = 0; i < n; i++)
		bad += buf[i] != (char)('A' + i % 23);
	printf("read back %ld bytes, %ld differ\n", n, bad);
	/* a second shared mapping sees a write(2) made after it was mapped */
	char *q = mmap(0, 8192, PROT_READ, MAP_SHARED, fd, 0);
	int w = open3("mapped.bin", O_WRONLY, 0);
	write_str(w, "zz");
	printf("mapping sees: %c%c%c\n", q[0], q[1], q[2]);
	report("write-protected mapping of a read-only fd", (long)mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	close(w);
	close(fd);
	return 0;
}
