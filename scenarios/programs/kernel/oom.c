/* Memory runs out and the kernel stays up (issue 15).

   oom        a hog touches the pages of a huge mapping until the kernel kills
              it, as Linux's OOM killer would; a sibling printing all along is
              untouched; once the hog is gone its memory is back for a child.
   oom fork   waits for a line on stdin (the test fills memory meanwhile), forks
              (ENOMEM, 12), waits for another (memory is back), forks again.
   oom read   waits for a line, then reads stdin into a page it never touched:
              the kernel has no frame for it and kills the process in the call. */
#include "unix.h"

static char line[64];

static void touch(char *p, long pages)
{
	for (long i = 0; i < pages; i++)
		p[i * 8192] = 1;
}

static int child_status(long pid)
{
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

static int hog(void)
{
	long other = fork();
	if (other == 0) {
		for (int i = 0; i < 4; i++) {
			printf("other: line %d\n", i);
			sleep_ms(20);
		}
		exit(3);
	}
	sleep_ms(1); /* let the other print first and settle its pages */
	long hog = fork();
	if (hog == 0) {
		char *p = mmap_anon(1L << 34);
		touch(p, 1L << 21); /* 16 GiB: more than any machine here has */
		printf("hog: not reached\n");
		exit(0);
	}
	int status = child_status(hog);
	printf("hog: %s %d\n", WIFEXITED(status) ? "exited" : "killed by signal",
	       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	printf("other: exited %d\n", WEXITSTATUS(child_status(other)));
	long again = fork();
	if (again == 0) {
		touch(mmap_anon(64 * 8192), 64);
		exit(0);
	}
	printf("after: a child touched 64 pages and exited %d\n", WEXITSTATUS(child_status(again)));
	return 0;
}

static long fork_and_reap(void)
{
	long pid = fork();
	if (pid == 0)
		exit(5);
	if (pid < 0)
		return pid;
	return WEXITSTATUS(child_status(pid));
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return hog();
	char *fresh = mmap_anon(8192);
	printf("ready\n");
	read(0, line, sizeof line);
	if (strcmp(argv[1], "fork") == 0) {
		long r = fork_and_reap();
		printf("fork with memory full: errno %ld\n", sys_errno(r));
		read(0, line, sizeof line);
		printf("fork with memory back: child exited %ld\n", fork_and_reap());
		return 0;
	}
	long n = read(0, fresh, 1);
	printf("read into a fresh page: %ld\n", n);
	return 0;
}
