/* Read each file named on the command line to its end and say how it went:
   "PATH: N bytes, sum S" or "PATH: read failed, errno E after N bytes".
   The disk-error lesson marks a block bad and runs this. */
#include "unix.h"

int main(int argc, char **argv)
{
	static char buf[4096];
	int status = 0;
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], 0);
		if (fd < 0) {
			printf("%s: open failed, errno %ld\n", argv[i], -(long)fd);
			status = 1;
			continue;
		}
		long total = 0, r;
		unsigned long sum = 0;
		while ((r = read(fd, buf, sizeof buf)) > 0) {
			for (long j = 0; j < r; j++)
				sum += (unsigned char)buf[j];
			total += r;
		}
		if (r < 0) {
			printf("%s: read failed, errno %ld after %ld bytes\n", argv[i], -r, total);
			status = 1;
		} else {
			printf("%s: %ld bytes, sum %lu\n", argv[i], total, sum);
		}
		close(fd);
	}
	return status;
}
