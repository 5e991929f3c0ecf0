/* Read small files many times, the way a proxy's cache or a build reads
   them: open, read, close, again and again (Poking Holes §4.2 found Squid
   doing open-write-close). Usage: smallfiles ROUNDS FILE...
   Prints each file's size and byte sum once, then the totals; exit 1 if a
   file could not be read. `spinwb profile` finds open-read-close here;
   smallfiles_macro does the same work with one macro call per file. */
#include "unix.h"

int main(int argc, char **argv)
{
	static char buf[4096];
	if (argc < 3) {
		printf("usage: smallfiles ROUNDS FILE...\n");
		return 2;
	}
	long rounds = atol(argv[1]), reads = 0, bytes = 0;
	for (long r = 0; r < rounds; r++) {
		for (int i = 2; i < argc; i++) {
			int fd = open(argv[i], 0);
			if (fd < 0) {
				printf("%s: open failed, errno %ld\n", argv[i], -(long)fd);
				return 1;
			}
			long n = read(fd, buf, sizeof buf);
			close(fd);
			if (n < 0) {
				printf("%s: read failed, errno %ld\n", argv[i], -n);
				return 1;
			}
			reads++;
			bytes += n;
			if (r == rounds - 1) {
				unsigned long sum = 0;
				for (long j = 0; j < n; j++)
					sum += (unsigned char)buf[j];
				printf("%s: %ld bytes, sum %lu\n", argv[i], n, sum);
			}
		}
	}
	printf("%ld files read, %ld bytes\n", reads, bytes);
	return 0;
}
