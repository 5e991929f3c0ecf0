/* A child dereferences null: the kernel reports it and ends the child;
   the parent goes on and learns it died of SIGSEGV. */
#include "unix.h"

int main(void)
{
	long pid = fork();
	if (pid == 0) {
		long *volatile p = NULL;
		printf("child: about to fault\n");
		printf("%ld\n", *p);
		exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	printf("parent: child killed by signal %d; parent still running\n", WTERMSIG(status));
	return 0;
}
