/* C-Threads "integrated" (SOSP'95 Table 3): each operation is one system
   call to the kernel's C-Threads extension (kernel/unix/cthreads.py), which
   works on strands directly. */
#include "cthreads.h"

#define CT_FORK 0x7300
#define CT_EXIT 0x7301
#define CT_JOIN 0x7302
#define CT_WAIT 0x7303
#define CT_SIGNAL 0x7304

struct condition { long unused; };
struct condition pp_cond;

static void entry(cthread_fn fn, void *arg)
{
	void *v = fn(arg);
	app_syscall(CT_EXIT, (long)v, 0, 0);
}

void cthread_init(void) { ct_stacks_init(); }

cthread_t cthread_fork(cthread_fn fn, void *arg)
{
	char *stack = ct_stack();
	long tid = syscall6(CT_FORK, (long)entry, (long)(stack + CT_STACK - 64), (long)fn, (long)arg, 0, 0);
	return (cthread_t)tid;
}

void *cthread_join(cthread_t t) { return (void *)app_syscall(CT_JOIN, (long)t, 0, 0); }

void condition_wait(struct condition *c, volatile long *m)
{
	app_syscall(CT_WAIT, (long)c, (long)m, 0); /* the kernel unlocks m and blocks us */
	mutex_lock(m);
}

void condition_signal(struct condition *c) { app_syscall(CT_SIGNAL, (long)c, 0, 0); }

#include "threadbench.h"
