/* Read a file in fixed pieces with the specialized read of
   extensions/macro_calls.py: read_fixed_bind(fd, N) once, then read_fixed(buf)
   with only the buffer passed (Poking Holes §5's specialized system calls).
   Usage: readfixed PATH [N]. Prints "PATH: BYTES bytes in CALLS reads, sum S". */
#include "macro.h"

int main(int argc, char **argv)
{
	static char buf[8192];
	if (argc < 2) {
		printf("usage: readfixed PATH [N]\n");
		return 2;
	}
	long n = argc > 2 ? atol(argv[2]) : 512;
	if (n < 1 || n > (long)sizeof buf) {
		printf("readfixed: N is from 1 to %ld\n", (long)sizeof buf);
		return 2;
	}
	int fd = open(argv[1], 0);
	if (fd < 0) {
		printf("%s: open failed, errno %ld\n", argv[1], -(long)fd);
		return 1;
	}
	long r = read_fixed_bind(fd, (unsigned long)n);
	if (r < 0) {
		printf("readfixed: read_fixed_bind failed, errno %ld\n", -r);
		return 1;
	}
	long total = 0, calls = 0;
	unsigned long sum = 0;
	while ((r = read_fixed(buf)) > 0) {
		calls++;
		for (long j = 0; j < r; j++)
			sum += (unsigned char)buf[j];
		total += r;
	}
	close(fd);
	if (r < 0) {
		printf("%s: read_fixed failed, errno %ld after %ld bytes\n", argv[1], -r, total);
		return 1;
	}
	printf("%s: %ld bytes in %ld reads, sum %lu\n", argv[1], total, calls, sum);
	return 0;
}
