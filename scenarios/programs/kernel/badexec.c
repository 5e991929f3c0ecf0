/* execve each file named on the command line in turn: a malformed one must
   come back with an errno ("PATH: errno E") and this process goes on to the
   next; a good one replaces it. If none did, it says so at the end. */
#include "unix.h"

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *args[] = { argv[i], NULL };
		long r = execve(argv[i], args, NULL);
		printf("%s: errno %ld\n", argv[i], sys_errno(r));
	}
	printf("still running after %d execs\n", argc - 1);
	return 0;
}
