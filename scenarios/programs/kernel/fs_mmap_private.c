/* MAP_PRIVATE: the process's stores are its own copy; the file does not change. */
#include "fsio.h"

int main(void)
{
	static char buf[64];
	int fd = open3("private.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
	write_str(fd, "the file's own words\n");
	char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (is_err(p)) {
		printf("mmap: errno %ld\n", -(long)p);
		return 1;
	}
	printf("mapped: %.9s\n", p);
	memcpy(p, "CHANGED", 7);
	printf("mapping now: %.9s\n", p);
	long n = pread(fd, buf, 21, 0);
	buf[n > 0 ? n : 0] = 0;
	printf("file still: %s", buf);
	munmap(p, 8192);
	/* a mapping at an offset */
	char big[8192 + 16];
	for (int i = 0; i < 8192 + 16; i++)
		big[i] = (char)('0' + i % 10);
	pwrite(fd, big, sizeof big, 0);
	char *q = mmap(0, 8192, PROT_READ, MAP_PRIVATE, fd, 8192);
	printf("at offset 8192: %.16s\n", q);
	report("unaligned offset", (long)mmap(0, 8192, PROT_READ, MAP_PRIVATE, fd, 100));
	close(fd);
	printf("after close: %.4s\n", q); /* the mapping outlives the descriptor */
	return 0;
}
