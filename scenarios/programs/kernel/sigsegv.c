/* The UNIX way to catch a write: mprotect a page read-only, take SIGSEGV in
   a handler that makes it writable again, and return to retry the store. */
#include "unix.h"

static volatile long faults;
static char *region;

static void handler(int sig, struct siginfo_min *info, void *uc)
{
	(void)uc;
	faults++;
	char *page = (char *)((unsigned long)info->si_addr & ~8191UL);
	if (sig != SIGSEGV || page != region)
		exit(99);
	mprotect(page, 8192, PROT_READ | PROT_WRITE);
}

int main(void)
{
	region = mmap_anon(8192 * 4);
	region[0] = 1;
	sigaction_segv(SIGSEGV, handler);
	mprotect(region, 8192, PROT_READ);
	region[8] = 42; /* faults once, the handler unprotects, the store is retried */
	printf("faults=%ld value=%d\n", faults, region[8]);
	return 0;
}
