/* SOSP'95 Table 4 the UNIX way: mprotect, and a SIGSEGV handler that fixes
   the fault and returns (Appel & Li 91). Usage: vm_unix OP [N]
   OP: dirty fault trap prot1 prot100 unprot100 appel1 appel2.
   The workloads are in runtime/vmbench.h. */
#define WAY "vm_unix"
#include "vmbench.h"

static volatile unsigned long t_handler;
static volatile long c_handler;

static void handler(int sig, struct siginfo_min *info, void *uc)
{
	(void)uc;
	if (op == TRAP) {
		t_handler = rpcc();
		c_handler = probe();
	}
	char *p = (char *)((unsigned long)info->si_addr & ~(PAGE - 1));
	if (sig != SIGSEGV || p < region || p >= region + NPAGES * PAGE)
		exit(99);
	mprotect(p, PAGE, PROT_READ | PROT_WRITE);
	if (op == APPEL1)
		mprotect(p + PAGE < region + NPAGES * PAGE ? p + PAGE : region, PAGE, PROT_READ);
}

static int way_setup(int op)
{
	(void)op;
	sigaction_segv(SIGSEGV, handler);
	return 0;
}

static void way_protect(void *a, unsigned long len, int writable)
{
	mprotect(a, len, writable ? PROT_READ | PROT_WRITE : PROT_READ);
}

static int way_dirty(struct tally *t, char *p, long i)
{
	(void)t, (void)p, (void)i;
	printf("dirty n/a (UNIX has no call that says whether a page is dirty)\n");
	return -1;
}

/* From the fault to the handler's first statement. */
static void way_trap(struct tally *t, char *p)
{
	long c0 = probe();
	unsigned long t0 = rpcc();
	p[8] = 2;
	tally_add(t, c0, t0, t_handler, c_handler, 0);
}

static void way_finish(int op, struct tally *t) { (void)op, (void)t; }
