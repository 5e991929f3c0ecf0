/* Externalized references (SOSP'95 §3.1): a kernel object reaches user level
   only as an index into this address space's table, never as a pointer.
   The external_references lesson's kernel service answers these calls:
     0x7200 ref_open()      a new kernel counter; returns its reference
     0x7201 ref_bump(ref)   add one to the counter ref names; returns its value
     0x7202 ref_close(ref)  release the reference
   A refused reference answers -EBADF (-9). argv[1] says what to try:
     own     open and bump twice
     forged  also bump an index that was never handed out
     child   also fork: the child bumps the parent's reference
     stale   also close it, open another, and bump the old one */
#include "unix.h"

#define REF_OPEN 0x7200
#define REF_BUMP 0x7201
#define REF_CLOSE 0x7202

static long bump(const char *what, long ref)
{
	long r = app_syscall(REF_BUMP, ref, 0, 0);
	printf("%s: bump 0x%lx -> %ld\n", what, ref, r);
	return r;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "own";
	long ref = app_syscall(REF_OPEN, 0, 0, 0);
	printf("pid %ld: open -> reference 0x%lx\n", getpid(), ref);
	bump("own", ref);
	bump("own", ref);
	if (strcmp(mode, "own") == 0)
		return 0;
	bump("forged", ref + 5);
	bump("forged", ref ^ (1L << 16));
	if (strcmp(mode, "forged") == 0)
		return 0;
	long pid = fork();
	if (pid == 0) {
		bump("child", ref);
		exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	bump("parent again", ref);
	if (strcmp(mode, "child") == 0)
		return 0;
	printf("close 0x%lx -> %ld\n", ref, app_syscall(REF_CLOSE, ref, 0, 0));
	long again = app_syscall(REF_OPEN, 0, 0, 0);
	printf("open -> reference 0x%lx\n", again);
	bump("stale", ref);
	bump("new", again);
	return 0;
}
