/* SOSP'95 Table 4 the SPIN way: the vm_app extension (extensions/vm_app.py)
   handles protection faults in the kernel and offers protection as
   application-specific system calls. Usage: vm_spin OP [N], as vm_unix.
   Needs the extension loaded (spinwb bench vm does it; by hand:
   spinwb run --ext extensions/vm_app.py vm_spin.elf fault). */
#include "measure.h"

#define NPAGES 100
#define VM_PROTECT 0x7100
#define VM_DIRTY 0x7101
#define VM_WATCH 0x7102
#define VM_STATS 0x7103
enum { DIRTY, FAULT, TRAP, PROT1, PROT100, UNPROT100, APPEL1, APPEL2 };
static const char *const names[] = { "dirty", "fault", "trap", "prot1", "prot100", "unprot100", "appel1", "appel2" };

static char *region;

static char *page(long i) { return region + (i % NPAGES) * PAGE; }
static long vm_protect(void *a, unsigned long len, long prot) { return app_syscall(VM_PROTECT, (long)a, len, prot); }

int main(int argc, char **argv)
{
	int op = op_arg(argc, argv, names, 8);
	long n = argc > 2 ? atol(argv[2]) : 100;
	if (op < 0) {
		printf("usage: vm_spin dirty|fault|trap|prot1|prot100|unprot100|appel1|appel2 [N]\n");
		return 2;
	}
	region = mmap_anon(NPAGES * PAGE);
	for (long i = 0; i < NPAGES; i++)
		page(i)[0] = 1;
	long mode = op == APPEL1 ? 2 : op == TRAP ? 3 : 1;
	long r = app_syscall(VM_WATCH, (long)region, NPAGES * PAGE, mode);
	if (r < 0) {
		printf("vm_spin: vm_watch failed (errno %ld): is the vm_app extension loaded?\n", -r);
		return 1;
	}
	struct tally t;
	tally_init(&t);
	if (op == APPEL1)
		vm_protect(page(0), PAGE, 1);
	for (long i = 0; i < n; i++) {
		long c0, c1;
		unsigned long t0, t1;
		char *p = page(i);
		switch (op) {
		case DIRTY:
			c0 = probe(); t0 = rpcc();
			r = app_syscall(VM_DIRTY, (long)p, 0, 0);
			t1 = rpcc(); c1 = probe();
			tally_add(&t, c0, t0, t1, c1, 0);
			if (r != (i >= NPAGES))
				return 4; /* page i was written in the previous round only */
			vm_protect(p, PAGE, 1);
			p[8] = 2;
			break;
		case FAULT:
			vm_protect(p, PAGE, 1);
			c0 = probe(); t0 = rpcc();
			p[8] = 2;
			t1 = rpcc(); c1 = probe();
			tally_add(&t, c0, t0, t1, c1, 0);
			break;
		case TRAP: /* the handler runs in the kernel: it measures, we collect */
			vm_protect(p, PAGE, 1);
			c0 = probe();
			p[8] = 2;
			c1 = app_syscall(VM_STATS, 2, 0, 0);
			t.ops++;
			t.crossings += c1 - c0 - 1;
			break;
		case PROT1:
			c0 = probe(); t0 = rpcc();
			vm_protect(p, PAGE, 1);
			t1 = rpcc(); c1 = probe();
			tally_add(&t, c0, t0, t1, c1, 0);
			vm_protect(p, PAGE, 3);
			break;
		case PROT100:
			c0 = probe(); t0 = rpcc();
			vm_protect(region, NPAGES * PAGE, 1);
			t1 = rpcc(); c1 = probe();
			tally_add(&t, c0, t0, t1, c1, 0);
			vm_protect(region, NPAGES * PAGE, 3);
			break;
		case UNPROT100:
			vm_protect(region, NPAGES * PAGE, 1);
			c0 = probe(); t0 = rpcc();
			vm_protect(region, NPAGES * PAGE, 3);
			t1 = rpcc(); c1 = probe();
			tally_add(&t, c0, t0, t1, c1, 0);
			break;
		case APPEL1:
			c0 = probe(); t0 = rpcc();
			p[8] = 2;
			t1 = rpcc(); c1 = probe();
			tally_add(&t, c0, t0, t1, c1, 0);
			break;
		case APPEL2:
			if (i % NPAGES == 0) {
				c0 = probe(); t0 = rpcc();
				vm_protect(region, NPAGES * PAGE, 1);
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
	if (op == TRAP)
		t.cycles = app_syscall(VM_STATS, 0, 0, 0);
	for (long i = 0; i < NPAGES; i++)
		if (page(i)[0] != 1)
			return 3;
	tally_print(names[op], &t);
	return 0;
}
