/* C-Threads "layered" (SOSP'95 Table 3): a user-level library on Mach's
   kernel-thread interface (kernel/unix/machthreads.py). A fork is three
   calls (thread_create, thread_set_state, thread_resume); a blocked
   cthread waits in msg_receive on its own port for a wake-up message, and
   the condition queues live here, in user space. */
#include "cthreads.h"

#define THREAD_CREATE 0x7200
#define THREAD_SET_STATE 0x7201
#define THREAD_RESUME 0x7202
#define THREAD_TERMINATE 0x7203
#define PORT_ALLOCATE 0x7205
#define MSG_SEND 0x7206
#define MSG_RECEIVE 0x7207

struct cthread {
	cthread_fn fn;
	void *arg;
	void *result;
	volatile long lock, done;
	long joiner_port; /* who to wake when done */
	long port;	  /* this thread's own wake-up port */
};

#define CT_WAITERS 8
struct condition { long n; long ports[CT_WAITERS]; };
struct condition pp_cond;

static struct cthread main_thread;

static struct cthread *self(void)
{
	char *base = ct_stack_of_sp();
	struct cthread *me = base ? (struct cthread *)base : &main_thread;
	if (!me->port)
		me->port = app_syscall(PORT_ALLOCATE, 0, 0, 0);
	return me;
}

static void entry(struct cthread *t)
{
	void *v = t->fn(t->arg);
	mutex_lock(&t->lock);
	t->result = v;
	t->done = 1;
	if (t->joiner_port)
		app_syscall(MSG_SEND, t->joiner_port, 0, 0);
	mutex_unlock(&t->lock);
	app_syscall(THREAD_TERMINATE, 0, 0, 0);
}

void cthread_init(void)
{
	ct_stacks_init();
	self(); /* the main thread's port, now rather than in the first timed join */
}

cthread_t cthread_fork(cthread_fn fn, void *arg)
{
	char *stack = ct_stack();
	struct cthread *t = (struct cthread *)stack;
	t->fn = fn, t->arg = arg, t->result = 0, t->lock = 0, t->done = 0, t->joiner_port = 0, t->port = 0;
	long port = app_syscall(THREAD_CREATE, 0, 0, 0);
	syscall6(THREAD_SET_STATE, port, (long)entry, (long)(stack + CT_STACK - 64), (long)t, 0, 0);
	app_syscall(THREAD_RESUME, port, 0, 0);
	return t;
}

void *cthread_join(cthread_t t)
{
	struct cthread *me = self();
	mutex_lock(&t->lock);
	while (!t->done) {
		t->joiner_port = me->port;
		mutex_unlock(&t->lock);
		app_syscall(MSG_RECEIVE, me->port, 0, 0);
		mutex_lock(&t->lock);
	}
	mutex_unlock(&t->lock);
	return t->result;
}

void condition_wait(struct condition *c, volatile long *m)
{
	struct cthread *me = self();
	if (c->n < CT_WAITERS)
		c->ports[c->n++] = me->port;
	mutex_unlock(m);
	app_syscall(MSG_RECEIVE, me->port, 0, 0);
	mutex_lock(m);
}

void condition_signal(struct condition *c)
{
	if (c->n == 0)
		return;
	long port = c->ports[0];
	for (long i = 1; i < c->n; i++)
		c->ports[i - 1] = c->ports[i];
	c->n--;
	app_syscall(MSG_SEND, port, 0, 0);
}

#include "threadbench.h"
