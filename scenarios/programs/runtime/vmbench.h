/* SOSP'95 Table 4's workloads over two ways of handling a protection fault
   (Appel & Li 91). vm_unix.c and vm_spin.c each provide:

     WAY                       the program's name, for the usage line
     way_setup(op)             0, or an exit status (the way is unavailable)
     way_protect(a, len, w)    page protection: read-only (w = 0) or read-write
     way_dirty(t, p, i)        the Dirty operation, or -1 if the way has none
     way_trap(t, p)            one Trap measurement on the protected page p
     way_finish(op, t)         last words before the tally is printed

   and fault handling such that a write to a read-only page of the region
   makes that page writable (and, for appel1, the next page read-only).
   Usage: PROGRAM OP [N]; prints "OP ops=N cycles=C crossings=X". */
#include "measure.h"

#define NPAGES 100
enum { DIRTY, FAULT, TRAP, PROT1, PROT100, UNPROT100, APPEL1, APPEL2 };
static const char *const names[] = { "dirty", "fault", "trap", "prot1", "prot100", "unprot100", "appel1", "appel2" };

static char *region;
static int op;

static char *page(long i) { return region + (i % NPAGES) * PAGE; }

static int way_setup(int op);
static void way_protect(void *a, unsigned long len, int writable);
static int way_dirty(struct tally *t, char *p, long i);
static void way_trap(struct tally *t, char *p);
static void way_finish(int op, struct tally *t);

/* One timed store that faults: the handler fixes it and the store is retried. */
static void timed_store(struct tally *t, char *p)
{
	long c0 = probe();
	unsigned long t0 = rpcc();
	p[8] = 2;
	unsigned long t1 = rpcc();
	tally_add(t, c0, t0, t1, probe(), 0);
}

static void timed_protect(struct tally *t, void *a, unsigned long len, int writable)
{
	long c0 = probe();
	unsigned long t0 = rpcc();
	way_protect(a, len, writable);
	unsigned long t1 = rpcc();
	tally_add(t, c0, t0, t1, probe(), 0);
}

int main(int argc, char **argv)
{
	op = op_arg(argc, argv, names, 8);
	long n = argc > 2 ? atol(argv[2]) : 100;
	if (op < 0) {
		printf("usage: %s dirty|fault|trap|prot1|prot100|unprot100|appel1|appel2 [N]\n", WAY);
		return 2;
	}
	region = mmap_anon(NPAGES * PAGE);
	for (long i = 0; i < NPAGES; i++)
		page(i)[0] = 1; /* map every page now: the demand-zero faults are not what we measure */
	int r = way_setup(op);
	if (r)
		return r;
	struct tally t;
	tally_init(&t);
	if (op == APPEL1)
		way_protect(page(0), PAGE, 0);
	for (long i = 0; i < n; i++) {
		char *p = page(i);
		switch (op) {
		case DIRTY:
			r = way_dirty(&t, p, i);
			if (r)
				return r < 0 ? 0 : r;
			break;
		case FAULT:
			way_protect(p, PAGE, 0);
			timed_store(&t, p);
			break;
		case TRAP:
			way_protect(p, PAGE, 0);
			way_trap(&t, p);
			break;
		case PROT1:
			timed_protect(&t, p, PAGE, 0);
			way_protect(p, PAGE, 1);
			break;
		case PROT100:
			timed_protect(&t, region, NPAGES * PAGE, 0);
			way_protect(region, NPAGES * PAGE, 1);
			break;
		case UNPROT100:
			way_protect(region, NPAGES * PAGE, 0);
			timed_protect(&t, region, NPAGES * PAGE, 1);
			break;
		case APPEL1: /* the page is protected; the handler protects the next one */
			timed_store(&t, p);
			break;
		case APPEL2: /* protect 100 pages, then fault on each: the cost per page */
			if (i % NPAGES == 0) {
				timed_protect(&t, region, NPAGES * PAGE, 0);
				t.ops--;
			}
			timed_store(&t, p);
			break;
		}
	}
	way_finish(op, &t);
	for (long i = 0; i < NPAGES; i++)
		if (page(i)[0] != 1)
			return 3; /* a fault lost a write */
	tally_print(names[op], &t);
	return 0;
}
