/* pread and pwrite: at an offset, without moving the descriptor's. */
#include "fsio.h"

int main(void)
{
	static char buf[32];
	int fd = open3("table.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
	for (int i = 0; i < 10; i++) {
		char rec[8];
		for (int j = 0; j < 8; j++)
			rec[j] = (char)('a' + i);
		pwrite(fd, rec, 8, (long)(9 - i) * 8);
	}
	printf("offset after pwrites: %ld\n", lseek(fd, 0, SEEK_CUR));
	for (int i = 0; i < 10; i += 3) {
		long n = pread(fd, buf, 8, (long)i * 8);
		buf[n > 0 ? n : 0] = 0;
		printf("record %d: %s\n", i, buf);
	}
	printf("pread past the end: %ld\n", pread(fd, buf, 8, 1000));
	report("pread at -1", pread(fd, buf, 8, -1));
	write_str(fd, "HEAD");
	long n = pread(fd, buf, 12, 0);
	buf[n > 0 ? n : 0] = 0;
	printf("start: %s\n", buf);
	pwrite(fd, "tail", 4, 20000); /* far past the end: a hole */
	struct stat st;
	fstat(fd, &st);
	printf("size %ld\n", st.st_size);
	close(fd);
	return 0;
}
