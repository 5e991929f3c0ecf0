/* Measuring kernel paths from a user program (spinwb bench vm, threads).

   Time is rpcc: the process's own cycle counter, which runs while the kernel
   works on the process's behalf (OSF/1 PALcode keeps it per process).
   Crossings come from a probe system call that `spinwb bench` installs
   for the run: it answers the kernel's count of user/kernel boundary
   crossings. Without the bench (plain `spinwb run`) the probe is ENOSYS
   and the program prints crossings=-1. */
#ifndef SPIN_MEASURE_H
#define SPIN_MEASURE_H
#include "unix.h"

#define SYS_probe 0x7fff
#define PAGE 8192UL

static inline long probe(void) { return app_syscall(SYS_probe, 0, 0, 0); }

/* rpcc counts the calling thread's cycles only (each strand has its own
   PCB). Where other threads' work is part of the operation, time it with
   the machine's clock instead: the probe with a0 = 1 answers the kernel's
   cycle count. Reading it costs a system call; vclock_overhead, measured
   by two reads back to back, is that cost, to subtract. */
static unsigned long vclock_overhead;

static unsigned long vclock(void)
{
	long v = app_syscall(SYS_probe, 1, 0, 0);
	return v >= 0 ? (unsigned long)v : rpcc();
}

static void vclock_calibrate(void)
{
	unsigned long a = vclock(), b = vclock();
	vclock_overhead = b - a;
}

struct tally { long ops; unsigned long cycles; long crossings; int probed; };

static void tally_init(struct tally *t) { t->ops = 0; t->cycles = 0; t->crossings = 0; t->probed = probe() >= 0; }

/* One timed operation: c0 and t0 taken before it, c1 and t1 after. The
   probe's own return (after c0) and entry (before c1) are not the operation's. */
static void tally_add(struct tally *t, long c0, unsigned long t0, unsigned long t1, long c1, long extra)
{
	t->ops++;
	t->cycles += (t1 - t0) & 0xffffffffUL;
	t->crossings += c1 - c0 - 2 - extra;
}

static void tally_print(const char *op, struct tally *t)
{
	printf("%s ops=%ld cycles=%lu crossings=%ld\n", op, t->ops, t->cycles, t->probed ? t->crossings : -1L);
}

static int op_arg(int argc, char **argv, const char *const *names, int n)
{
	if (argc < 2)
		return -1;
	for (int i = 0; i < n; i++)
		if (strcmp(argv[1], names[i]) == 0)
			return i;
	return -1;
}
#endif
