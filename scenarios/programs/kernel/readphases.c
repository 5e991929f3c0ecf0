/* Reads in three phases, for software feedback on read-ahead (Synthetix
   §3.2: spinwb bench feedback, the software_feedback lesson).

   readphases FILE CHUNKS RANDOM WORK SEED

   FILE is at least 3 x CHUNKS chunks of 8 KiB (the buffer cache's chunk,
   kernel/fs/extentfs.py), each read one chunk:
     seq1    CHUNKS reads in order from the file's start;
     random  RANDOM reads at chunks picked by a seeded generator (an lseek
             before each) between the first CHUNKS and the last;
     seq2    CHUNKS reads in order to the file's end.
   After each read the program computes: WORK passes over the 8 KiB, so a
   read-ahead window that keeps the disk a chunk or two ahead hides its
   latency. It prints a line a phase, "phase NAME reads=N bytes=B sum=S
   cycles=C" (C: the machine's virtual clock through the bench's probe,
   or the process's own rpcc without it), and "total cycles=C". */
#include "measure.h"

#define CHUNK 8192L

static unsigned char buf[CHUNK];
static unsigned long sum, mult; /* mult is set at run time, so the multiplies stay mulq (23 cycles each) */

/* One pass is 1024 quadwords x 4 dependent multiplies: about 100,000
   cycles (0.75 ms at 133 MHz) for few instructions, so a run is cheap to
   emulate while the reader still computes between reads. */
static void work(long passes)
{
	for (long p = 0; p < passes; p++)
		for (long j = 0; j < CHUNK; j += 8) {
			unsigned long x = *(unsigned long *)(buf + j);
			sum = ((((((sum + x) * mult) ^ x) * mult) ^ x) * mult ^ x) * mult;
		}
}

static int one(int fd, long passes, long *bytes)
{
	long r = read(fd, buf, CHUNK);
	if (r < 0) {
		printf("read failed, errno %ld\n", -r);
		return -1;
	}
	*bytes += r;
	work(passes);
	return 0;
}

static int sequential(const char *name, int fd, long first, long n, long passes)
{
	unsigned long t0 = vclock();
	long bytes = 0;
	if (lseek(fd, first * CHUNK, 0) < 0)
		return -1;
	for (long i = 0; i < n; i++)
		if (one(fd, passes, &bytes))
			return -1;
	printf("phase %s reads=%ld bytes=%ld sum=%lu cycles=%lu\n", name, n, bytes, sum, vclock() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		printf("usage: readphases FILE CHUNKS RANDOM WORK SEED\n");
		return 2;
	}
	long chunks = atol(argv[2]), nrandom = atol(argv[3]), passes = atol(argv[4]);
	unsigned long seed = (unsigned long)atol(argv[5]);
	mult = seed | 0x9e3779b97f4a7c15UL;
	int fd = open(argv[1], 0);
	if (fd < 0) {
		printf("%s: open failed, errno %ld\n", argv[1], -(long)fd);
		return 1;
	}
	long size = lseek(fd, 0, 2), span = size / CHUNK - 2 * chunks;
	if (size < 0 || span < chunks) {
		printf("%s: %ld bytes, fewer than 3 x %ld chunks\n", argv[1], size, chunks);
		return 1;
	}
	unsigned long start = vclock();
	if (sequential("seq1", fd, 0, chunks, passes))
		return 1;
	unsigned long t0 = vclock();
	long bytes = 0;
	for (long i = 0; i < nrandom; i++) {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		long c = chunks + (long)((seed >> 33) % (unsigned long)span);
		if (lseek(fd, c * CHUNK, 0) < 0 || one(fd, passes, &bytes))
			return 1;
	}
	printf("phase random reads=%ld bytes=%ld sum=%lu cycles=%lu\n", nrandom, bytes, sum, vclock() - t0);
	if (sequential("seq2", fd, size / CHUNK - chunks, chunks, passes))
		return 1;
	printf("total cycles=%lu\n", vclock() - start);
	close(fd);
	return 0;
}
