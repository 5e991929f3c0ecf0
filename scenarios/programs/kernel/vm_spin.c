/* SOSP'95 Table 4 the SPIN way: the vm_app extension (extensions/vm_app.py)
   handles protection faults in the kernel and offers protection as
   application-specific system calls. Usage: vm_spin OP [N], as vm_unix.
   Needs the extension loaded (spinwb bench vm does it; by hand:
   spinwb run --ext extensions/vm_app.py vm_spin.elf fault).
   The workloads are in runtime/vmbench.h. */
#define WAY "vm_spin"
#include "vmbench.h"

#define VM_PROTECT 0x7100
#define VM_DIRTY 0x7101
#define VM_WATCH 0x7102
#define VM_STATS 0x7103

static int way_setup(int op)
{
	long mode = op == APPEL1 ? 2 : op == TRAP ? 3 : 1;
	long r = app_syscall(VM_WATCH, (long)region, NPAGES * PAGE, mode);
	if (r < 0) {
		printf("vm_spin: vm_watch failed (errno %ld): is the vm_app extension loaded?\n", -r);
		return 1;
	}
	return 0;
}

static void way_protect(void *a, unsigned long len, int writable)
{
	app_syscall(VM_PROTECT, (long)a, len, writable ? 3 : 1);
}

/* Page i was written in the previous round only: clean the first time round. */
static int way_dirty(struct tally *t, char *p, long i)
{
	long c0 = probe();
	unsigned long t0 = rpcc();
	long r = app_syscall(VM_DIRTY, (long)p, 0, 0);
	unsigned long t1 = rpcc();
	tally_add(t, c0, t0, t1, probe(), 0);
	if (r != (i >= NPAGES))
		return 4;
	way_protect(p, PAGE, 0);
	p[8] = 2;
	return 0;
}

/* The handler runs in the kernel: it measures, we collect. */
static void way_trap(struct tally *t, char *p)
{
	long c0 = probe();
	p[8] = 2;
	t->ops++;
	t->crossings += app_syscall(VM_STATS, 2, 0, 0) - c0 - 1;
}

static void way_finish(int op, struct tally *t)
{
	if (op == TRAP)
		t->cycles = app_syscall(VM_STATS, 0, 0, 0);
}
