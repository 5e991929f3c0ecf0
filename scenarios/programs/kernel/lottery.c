/* Three CPU-bound children: A holds 3 lottery tickets, B holds 1, C does not
   join the lottery. With extensions/lottery.py loaded, A runs about three
   times as much as B, and C keeps its own share: the group is one entry in
   the global run queue. Each child counts to N (argv[1], default 3000000)
   and prints its name when done; without the extension lottery_join fails
   and all three share the processor round-robin. */
#include "unix.h"

#define LOTTERY_JOIN 0x7400

static void spin(const char *name, long tickets, long n)
{
	if (tickets) {
		long r = app_syscall(LOTTERY_JOIN, tickets, 0, 0);
		if (r < 0)
			printf("%s: lottery_join: errno %ld (is the lottery extension loaded?)\n", name, -r);
	}
	for (volatile long i = 0; i < n; i++)
		;
	printf("%s done\n", name);
	exit(0);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 3000000;
	if (fork() == 0)
		spin("A", 3, n);
	if (fork() == 0)
		spin("B", 1, n);
	if (fork() == 0)
		spin("C", 0, n);
	int status;
	for (int i = 0; i < 3; i++)
		waitpid(-1, &status, 0);
	printf("all done\n");
	return 0;
}
