/* A C-Threads-like package (Mach's cthread_fork/join, mutexes, conditions):
   the interface both implementations export. threads_layered.c builds it on
   Mach's kernel-thread calls; threads_integrated.c calls the kernel's
   C-Threads extension once per operation (SOSP'95 Table 3). */
#ifndef SPIN_CTHREADS_H
#define SPIN_CTHREADS_H
#include "unix.h"

#define CT_STACK 16384UL /* a thread's stack, aligned to its size: its cthread sits at the bottom */
#define CT_STACKS 8	 /* a ring: a thread's stack is reused once it has been joined */

typedef void *(*cthread_fn)(void *);
struct condition;
typedef struct cthread *cthread_t;

void cthread_init(void);
cthread_t cthread_fork(cthread_fn fn, void *arg);
void *cthread_join(cthread_t t);
void condition_wait(struct condition *c, volatile long *m);
void condition_signal(struct condition *c);

static inline void mutex_lock(volatile long *m)
{
	while (__sync_lock_test_and_set(m, 1))
		sched_yield();
}
static inline void mutex_unlock(volatile long *m) { __sync_lock_release(m); }

/* The stack ring, shared by both implementations. */
static char *ct_stacks;
static long ct_next;

static void ct_stacks_init(void)
{
	char *raw = mmap_anon((CT_STACKS + 1) * CT_STACK);
	ct_stacks = (char *)(((unsigned long)raw + CT_STACK - 1) & ~(CT_STACK - 1));
	for (unsigned long off = 0; off < CT_STACKS * CT_STACK; off += 8192)
		ct_stacks[off] = 0; /* touch now: demand-zero faults are not what we measure */
}

static char *ct_stack(void) { return ct_stacks + (ct_next++ % CT_STACKS) * CT_STACK; }

static inline char *ct_stack_of_sp(void)
{
	unsigned long sp;
	__asm__ __volatile__("mov $30, %0" : "=r"(sp));
	char *base = (char *)(sp & ~(CT_STACK - 1));
	return base >= ct_stacks && base < ct_stacks + CT_STACKS * CT_STACK ? base : NULL;
}
#endif
