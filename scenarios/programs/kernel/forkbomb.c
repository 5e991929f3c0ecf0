/* Fork until the kernel refuses (EAGAIN, 35): the process limit holds the
   bomb; then kill and reap every child. */
#include "unix.h"

static long kids[256];

int main(void)
{
	int n = 0;
	long err = 0;
	while (n < 256) {
		long pid = fork();
		if (pid == 0) {
			for (;;)
				sleep_ms(50);
		}
		if (pid < 0) {
			err = sys_errno(pid);
			break;
		}
		kids[n++] = pid;
	}
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	int reaped = 0;
	while (waitpid(-1, NULL, 0) > 0)
		reaped++;
	printf("forked %d, then error %ld; reaped %d\n", n, err, reaped);
	return 0;
}
