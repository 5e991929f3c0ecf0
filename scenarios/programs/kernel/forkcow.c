/* After fork, parent and child write the same page; each sees its own copy
   (copy-on-write through Translation.ProtectionFault). */
#include "unix.h"

static long page[1024] __attribute__((aligned(8192)));

int main(void)
{
	page[0] = 100;
	long pid = fork();
	if (pid < 0) {
		printf("fork failed: %ld\n", sys_errno(pid));
		return 1;
	}
	if (pid == 0) {
		page[0] += 1;
		printf("child: page[0]=%ld\n", page[0]);
		exit(7);
	}
	int status = 0;
	long w = waitpid(pid, &status, 0);
	page[0] += 2;
	printf("parent: page[0]=%ld child=%s status=%d\n", page[0], w == pid ? "reaped" : "lost", WEXITSTATUS(status));
	return 0;
}
