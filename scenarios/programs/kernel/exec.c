/* execve from the file system: a missing file fails with ENOENT (2), a
   non-ELF with ENOEXEC (8); then the process becomes /hello. */
#include "unix.h"

int main(void)
{
	char *args[] = { "/hello", "from", "exec", NULL };
	long r1 = execve("/missing", args, NULL);
	long r2 = execve("/notes.txt", args, NULL);
	printf("missing=%ld notelf=%ld\n", sys_errno(r1), sys_errno(r2));
	execve("/hello", args, NULL);
	printf("not reached\n");
	return 1;
}
