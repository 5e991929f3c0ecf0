/* N CPU-bound children that never yield: the clock must preempt them.
   Each prints a line per slice of work; the lines interleave. */
#include "unix.h"

int main(int argc, char **argv)
{
	int n = argc > 1 ? (int)atol(argv[1]) : 2;
	long rounds = argc > 2 ? atol(argv[2]) : 4;
	for (int i = 0; i < n; i++) {
		if (fork() == 0) {
			volatile long x = 0;
			for (long r = 0; r < rounds; r++) {
				for (long j = 0; j < 60000; j++)
					x += j;
				printf("%c%ld\n", 'A' + i, r);
			}
			exit(0);
		}
	}
	for (int i = 0; i < n; i++)
		waitpid(-1, NULL, 0);
	printf("done\n");
	return 0;
}
