/* SOSP'95 Table 4 the UNIX way: mprotect, and a SIGSEGV handler that fixes
   the fault and returns (Appel & Li 91). Usage: vm_unix OP [N]
   OP: dirty fault trap prot1 prot100 unprot100 appel1 appel2.
   Prints "OP ops=N cycles=C crossings=X" (totals over N operations). */
#include "measure.h"

#define NPAGES 100
enum { DIRTY, FAULT, TRAP, PROT1, PROT100, UNPROT100, APPEL1, APPEL2 };
static const char *const names[] = { "dirty", "fault", "trap", "prot1", "prot100", "unprot100", "appel1", "appel2" };

static char *region;
static int op;
static volatile unsigned long t_handler;
static volatile long c_handler;

static char *page(long i) { return region + (i % NPAGES) * PAGE; }

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
	if (op == APPEL1) {
		char *next = p + PAGE < region + NPAGES * PAGE ? p + PAGE : region;
		mprotect(next, PAGE, PROT_READ);
	}
}

int main(int argc, char **argv)
{
	op = op_arg(argc, argv, names, 8);
	long n = argc > 2 ? atol(argv[2]) : 100;
	if (op < 0) {
		printf("usage: vm_unix dirty|fault|trap|prot1|prot100|unprot100|appel1|appel2 [N]\n");
		return 2;
	}
	if (op == DIRTY) {
		printf("dirty n/a (UNIX has no call that says whether a page is dirty)\n");
		return 0;
	}
	region = mmap_anon(NPAGES * PAGE);
	for (long i = 0; i < NPAGES; i++)
		page(i)[0] = 1; /* map every page now: the demand-zero faults are not what we measure */
	sigaction_segv(SIGSEGV, handler);
	struct tally t;
	tally_init(&t);
	if (op == APPEL1)
		mprotect(page(0), PAGE, PROT_READ);
	for (long i = 0; i < n; i++) {
		long c0, c1;
		unsigned long t0, t1;
		char *p = page(i);
		switch (op) {
		case FAULT:
		case TRAP:
			mprotect(p, PAGE, PROT_READ);
			c0 = probe(); t0 = rpcc();
			p[8] = 2; /* faults; the handler unprotects; the store is retried */
			t1 = rpcc(); c1 = probe();
			if (op == FAULT)
				tally_add(&t, c0, t0, t1, c1, 0);
			else
				tally_add(&t, c0, t0, t_handler, c_handler, 0);
			break;
		case PROT1:
			c0 = probe(); t0 = rpcc();
			mprotect(p, PAGE, PROT_READ);
			t1 = rpcc(); c1 = probe();
			tally_add(&t, c0, t0, t1, c1, 0);
			mprotect(p, PAGE, PROT_READ | PROT_WRITE);
			break;
		case PROT100:
			c0 = probe(); t0 = rpcc();
			mprotect(region, NPAGES * PAGE, PROT_READ);
			t1 = rpcc(); c1 = probe();
			tally_add(&t, c0, t0, t1, c1, 0);
			mprotect(region, NPAGES * PAGE, PROT_READ | PROT_WRITE);
			break;
		case UNPROT100:
			mprotect(region, NPAGES * PAGE, PROT_READ);
			c0 = probe(); t0 = rpcc();
			mprotect(region, NPAGES * PAGE, PROT_READ | PROT_WRITE);
			t1 = rpcc(); c1 = probe();
			tally_add(&t, c0, t0, t1, c1, 0);
			break;
		case APPEL1: /* the page is protected; its handler protects the next one */
			c0 = probe(); t0 = rpcc();
			p[8] = 2;
			t1 = rpcc(); c1 = probe();
			tally_add(&t, c0, t0, t1, c1, 0);
			break;
		case APPEL2: /* protect 100 pages, then fault on each: the cost per page */
			if (i % NPAGES == 0) {
				c0 = probe(); t0 = rpcc();
				mprotect(region, NPAGES * PAGE, PROT_READ);
				t1 = rpcc(); c1 = probe();
				tally_add(&t, c0, t0, t1, c1, 0);
				t.ops--;
			}
			c0 = probe(); t0 = rpcc();
			p[8] = 2;
			t1 = rpcc(); c1 = probe();
			tally_add(&t, c0, t0, t1, c1, 0);
			break;
		}
	}
	for (long i = 0; i < NPAGES; i++)
		if (page(i)[0] != 1)
			return 3; /* a fault lost a write */
	tally_print(names[op], &t);
	return 0;
}
