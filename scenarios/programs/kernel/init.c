/* init: run each argument as a program from the file system (fork, execve,
   wait4), one after another, and report how each ended. */
#include "unix.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		printf("init: nothing to run\n");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		long pid = fork();
		if (pid == 0) {
			char *args[] = { argv[i], NULL };
			int r = execve(argv[i], args, NULL);
			printf("init: cannot run %s: error %ld\n", argv[i], sys_errno(r));
			exit(127);
		}
		int status = 0;
		waitpid(pid, &status, 0);
		if (WIFEXITED(status))
			printf("init: %s exited with %d\n", argv[i], WEXITSTATUS(status));
		else
			printf("init: %s killed by signal %d\n", argv[i], WTERMSIG(status));
	}
	return 0;
}
