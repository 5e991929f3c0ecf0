/* Table 3's user-level workloads over the cthreads.h interface. Usage:
   PROGRAM forkjoin|pingpong [N]. Prints "OP ops=N cycles=C crossings=X".
   Fork-Join: create a thread, run it, let it end, and join it.
   Ping-Pong: one thread signals the other and blocks; the other signals
   back and blocks (SOSP'95 §5.2). Timed by the machine's clock (vclock),
   since the other thread's work is part of each operation. */
#include "cthreads.h"
#include "measure.h"

struct condition;
extern struct condition pp_cond;
static volatile long pp_mutex, pp_turn;
static long pp_rounds;

static void *echo(void *arg) { return arg; }

static void *partner(void *arg)
{
	(void)arg;
	mutex_lock(&pp_mutex);
	for (long i = 0; i < pp_rounds; i++) {
		while (pp_turn != 1)
			condition_wait(&pp_cond, &pp_mutex);
		pp_turn = 0;
		condition_signal(&pp_cond);
	}
	mutex_unlock(&pp_mutex);
	return (void *)7;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "forkjoin", "pingpong" };
	int op = op_arg(argc, argv, names, 2);
	long n = argc > 2 ? atol(argv[2]) : 100;
	if (op < 0) {
		printf("usage: %s forkjoin|pingpong [N]\n", argv[0]);
		return 2;
	}
	cthread_init();
	struct tally t;
	tally_init(&t);
	vclock_calibrate();
	long c0, c1;
	unsigned long t0, t1;
	if (op == 0) {
		for (long i = 0; i < n; i++) {
			c0 = probe(); t0 = vclock();
			cthread_t th = cthread_fork(echo, (void *)(i + 1));
			void *v = cthread_join(th);
			t1 = vclock() - vclock_overhead; c1 = probe();
			tally_add(&t, c0, t0, t1, c1, 4); /* 4: the two clock reads' crossings */
			if (v != (void *)(i + 1))
				return 3; /* the join returned another thread's value */
		}
	} else {
		pp_rounds = n + 1; /* the first round is the partner starting up: not timed */
		cthread_t th = cthread_fork(partner, 0);
		mutex_lock(&pp_mutex);
		for (long i = 0; i <= n; i++) {
			c0 = probe(); t0 = vclock();
			pp_turn = 1;
			condition_signal(&pp_cond);
			while (pp_turn != 0)
				condition_wait(&pp_cond, &pp_mutex);
			t1 = vclock() - vclock_overhead; c1 = probe();
			if (i > 0)
				tally_add(&t, c0, t0, t1, c1, 4); /* 4: the two clock reads' crossings */
		}
		mutex_unlock(&pp_mutex);
		if (cthread_join(th) != (void *)7)
			return 3;
	}
	tally_print(names[op], &t);
	return 0;
}
