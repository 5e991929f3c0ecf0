/* SOSP'95 Table 2 from user level. Usage: calls null N | calls xas N
   null: N getpid system calls, each timed with rpcc.
   xas:  N cross-address-space calls -- a 16-byte request to a child process
         and its answer, over UDP through the kernel (loopback), timed with
         the kernel's clock. Needs a machine with a network address. */
#include "net.h"
#include "measure.h"

static int xas(long n)
{
	struct sockaddr_in srv, from;
	char buf[64];
	long pid = fork();
	if (pid == 0) {
		long fd = socket(AF_INET, SOCK_DGRAM, 0);
		sockaddr(&srv, 0, 7777);
		if (fd < 0 || bind((int)fd, &srv) < 0)
			exit(1);
		for (long i = 0; i < n; i++) {
			long got = recvfrom((int)fd, buf, sizeof buf, &from);
			if (got < 0 || sendto((int)fd, buf, (size_t)got, &from) < 0)
				exit(2);
		}
		exit(0);
	}
	long fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct tally t;
	if (fd < 0 || pid < 0) {
		printf("calls: no socket or no fork (is the machine on a network?)\n");
		return 1;
	}
	sleep_ms(1); /* let the child bind its port */
	sockaddr(&srv, "10.0.0.1", 7777);
	tally_init(&t);
	vclock_calibrate();
	for (long i = 0; i < n; i++) {
		long c0 = probe();
		unsigned long t0 = vclock();
		long r = sendto((int)fd, "sixteen bytes!!", 16, &srv);
		long got = r < 0 ? r : recvfrom((int)fd, buf, sizeof buf, &from);
		unsigned long t1 = vclock();
		long c1 = probe();
		if (got != 16) {
			printf("calls: call %ld failed (%ld)\n", i, got);
			return 2;
		}
		t.ops++;
		t.cycles += t1 - t0 - vclock_overhead;
		t.crossings += c1 - c0 - 4;
	}
	int status;
	waitpid(pid, &status, 0);
	tally_print("xas", &t);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const ops[] = { "null", "xas" };
	int op = op_arg(argc, argv, ops, 2);
	long n = argc > 2 ? atol(argv[2]) : 100;
	if (op < 0) {
		printf("usage: calls null|xas N\n");
		return 1;
	}
	if (op == 1)
		return xas(n);
	struct tally t;
	tally_init(&t);
	for (long i = 0; i < n; i++) {
		long c0 = probe();
		unsigned long t0 = rpcc();
		getpid();
		unsigned long t1 = rpcc();
		tally_add(&t, c0, t0, t1, probe(), 0);
	}
	tally_print("null", &t);
	return 0;
}
