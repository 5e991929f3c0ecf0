/* A file that grows a piece at a time, past several extents, read back whole. */
#include "fsio.h"

static char piece[3000];
static char buf[8192];

int main(void)
{
	int fd = open3("big.dat", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	unsigned long wsum = 0;
	for (int k = 0; k < 70; k++) {
		for (int i = 0; i < 3000; i++) {
			piece[i] = (char)(k * 7 + i * 13);
			wsum = wsum * 33 + (unsigned char)piece[i];
		}
		if (write(fd, piece, 3000) != 3000) {
			printf("write %d failed\n", k);
			return 1;
		}
	}
	report("fsync", fsync(fd));
	close(fd);
	fd = open3("big.dat", O_RDONLY, 0);
	unsigned long rsum = 0;
	long total = 0, n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (long i = 0; i < n; i++)
			rsum = rsum * 33 + (unsigned char)buf[i];
		total += n;
	}
	printf("wrote 210000, read %ld, sums %s\n", total, wsum == rsum ? "agree" : "differ");
	printf("end at %ld\n", lseek(fd, 0, SEEK_END));
	close(fd);
	return 0;
}
