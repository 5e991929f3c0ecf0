/* The read bench of Synthetix §3.1 (spinwb bench specialize):
   readspec PATH SIZE COUNT [shared]
   First PATH is read through once and closed, so its chunks are in the
   buffer cache and the bench times the read path, not the disk. Then PATH
   is opened again and COUNT reads of SIZE bytes are timed one by one (at
   the end of the file it seeks back to 0, untimed). "shared" opens PATH a
   second time before the reads: the guard at that open replugs the first
   descriptor's read generic (two openers). Prints the two opens' cycles,
   the tally and a sum of the bytes read. */
#include "measure.h"

static char buf[65536];

int main(int argc, char **argv)
{
	if (argc < 4) {
		printf("usage: readspec PATH SIZE COUNT [shared]\n");
		return 2;
	}
	long size = atol(argv[2]), count = atol(argv[3]);
	int shared = argc > 4 && strcmp(argv[4], "shared") == 0;
	if (size < 1 || size > (long)sizeof buf) {
		printf("readspec: SIZE is 1 to %ld bytes\n", (long)sizeof buf);
		return 2;
	}
	int fd = open(argv[1], 0);
	if (fd < 0) {
		printf("readspec: %s: open failed, errno %ld\n", argv[1], -(long)fd);
		return 1;
	}
	while (read(fd, buf, sizeof buf) > 0)
		;
	close(fd);
	unsigned long o0 = rpcc();
	fd = open(argv[1], 0);
	unsigned long o1 = rpcc();
	int other = shared ? open(argv[1], 0) : -1;
	unsigned long o2 = rpcc();
	printf("open cycles=%lu second=%lu\n", (o1 - o0) & 0xffffffffUL, shared ? (o2 - o1) & 0xffffffffUL : 0UL);
	struct tally t;
	tally_init(&t);
	unsigned long sum = 0;
	for (long i = 0; i < count; i++) {
		long c0 = probe();
		unsigned long t0 = rpcc();
		long r = read(fd, buf, size);
		unsigned long t1 = rpcc();
		long c1 = probe();
		if (r < 0) {
			printf("readspec: read failed, errno %ld\n", -r);
			return 1;
		}
		if (r == 0) {
			lseek(fd, 0, 0);
			i--;
			continue;
		}
		tally_add(&t, c0, t0, t1, c1, 0);
		for (long j = 0; j < r; j += 64)
			sum += (unsigned char)buf[j];
	}
	tally_print(shared ? "generic" : "specialized", &t);
	printf("sum %lu\n", sum);
	if (other >= 0)
		close(other);
	close(fd);
	return 0;
}
