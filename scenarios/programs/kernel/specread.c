/* Synthetix's specialized read and its guard (the specialized_read lesson):
   specread PATH DELAY_MS
   The process forks. The parent opens PATH and reads it through in 4 KiB
   reads -- its read is specialized at open, and again on the read size
   after two reads -- while the file's chunks come from the disk, so it is
   often blocked inside its read. The child waits DELAY_MS, then opens PATH
   too: the guard at open replugs the parent's read generic, waiting for
   the parent to leave it first. Both say what they read. */
#include "unix.h"

static char buf[4096];

static int reads(const char *who, int fd)
{
	long total = 0, r;
	unsigned long sum = 0;
	while ((r = read(fd, buf, sizeof buf)) > 0) {
		for (long j = 0; j < r; j++)
			sum += (unsigned char)buf[j];
		total += r;
	}
	if (r < 0) {
		printf("%s: read failed, errno %ld\n", who, -r);
		return 1;
	}
	printf("%s: %ld bytes, sum %lu\n", who, total, sum);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		printf("usage: specread PATH DELAY_MS\n");
		return 2;
	}
	long child = fork();
	if (child == 0) {
		sleep_ms(atol(argv[2]));
		int fd = open(argv[1], 0);
		if (fd < 0) {
			printf("child: open failed, errno %ld\n", -(long)fd);
			return 1;
		}
		int st = reads("child", fd);
		close(fd);
		return st;
	}
	int fd = open(argv[1], 0);
	if (fd < 0) {
		printf("parent: open failed, errno %ld\n", -(long)fd);
		return 1;
	}
	int st = reads("parent", fd);
	close(fd);
	int status = 0;
	waitpid(child, &status, 0);
	return st | WEXITSTATUS(status);
}
