/* A reader whose read the kernel specializes, and a child that changes the
   file under it: by truncate(2) without opening it, then by opening it to
   write. The reader must see each change (Synthetix's guards replug its read). */
#include "fsio.h"

static char buf[4096];

static long sum(const char *b, long n)
{
	long s = 0;
	for (long i = 0; i < n; i++)
		s = s * 31 + (unsigned char)b[i];
	return s;
}

/* The child changes the file on a timetable (sleep_ms: virtual time on the
   workbench, real time under qemu-alpha), without holding it open first. */
static void child(void)
{
	sleep_ms(200);
	report("child: truncate to 6000", truncate("guarded.bin", 6000));
	sleep_ms(300);
	int w = open3("guarded.bin", O_WRONLY, 0);
	report("child: pwrite", pwrite(w, "CHANGED!", 8, 0));
	close(w);
	exit(0);
}

int main(void)
{
	int fd = open3("guarded.bin", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	for (int i = 0; i < 4096; i++)
		buf[i] = (char)(i * 5);
	for (int k = 0; k < 4; k++)
		write(fd, buf, 4096);
	close(fd);
	long pid = fork();
	if (pid == 0)
		child();
	int r = open3("guarded.bin", O_RDONLY, 0);
	for (int k = 0; k < 2; k++) { /* two reads of one size: specialized, then on its size too */
		long n = read(r, buf, 4096);
		printf("read %d: %ld bytes, sum %ld\n", k, n, sum(buf, n));
	}
	sleep_ms(350); /* the child truncates at 200 ms */
	long n = read(r, buf, 4096);
	printf("after the truncate, at 8192: %ld bytes\n", n);
	lseek(r, 4096, SEEK_SET);
	n = read(r, buf, 4096);
	printf("at 4096: %ld bytes, sum %ld\n", n, sum(buf, n));
	sleep_ms(300); /* and writes at 500 ms */
	lseek(r, 0, SEEK_SET);
	n = read(r, buf, 16);
	printf("after the child's write: %.8s, %ld bytes\n", buf, n);
	close(r);
	int status;
	waitpid(pid, &status, 0);
	return 0;
}
