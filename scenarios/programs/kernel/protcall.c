/* SOSP'95 Table 2 from user level, three ways, each printed per call.
   Usage: protcall null|xcall|udp N
   null:  N getpid system calls.
   xcall: N cross-address-space calls the SPIN way, through the in-kernel
          IPC extension extensions/xcall.py (system calls 0x7500..0x7503):
          a forked server waits in xcall_receive, the client's xcall_call
          hands it a word and gets the server's answer back. No sockets.
   udp:   N cross-address-space calls the DEC OSF/1 way: a 16-byte request
          over a UDP socket to the forked server and its answer (loopback;
          needs a machine with a network address).
   Time is the kernel's clock (the server's work is part of a call), read
   through the measuring probe; crossings too. Each line ends with the
   figures per call: cycles, modeled µs at 133 MHz, crossings, and the
   number of calls whose answer was wrong. */
#include "net.h"
#include "measure.h"

#define SYS_xcall_receive 0x7500
#define SYS_xcall_call 0x7501
#define SYS_xcall_reply_receive 0x7502
#define SYS_xcall_reply 0x7503

static long udp_fd = -1;
static struct sockaddr_in udp_srv;

static long null_op(long i) { return getpid() > 0 ? i + 1 : -1; }

static long xcall_op(long i) { return app_syscall(SYS_xcall_call, i, 0, 0); }

static long udp_op(long i)
{
	char buf[64];
	struct sockaddr_in from;
	long word[2] = { i, 0 };
	long r = sendto((int)udp_fd, word, 16, &udp_srv);
	long got = r < 0 ? r : recvfrom((int)udp_fd, buf, sizeof buf, &from);
	return got == 16 ? ((long *)buf)[0] : -1;
}

static void xcall_server(long n)
{
	long w = app_syscall(SYS_xcall_receive, 0, 0, 0);
	for (long i = 1; i < n; i++)
		w = app_syscall(SYS_xcall_reply_receive, w + 1, 0, 0);
	app_syscall(SYS_xcall_reply, w + 1, 0, 0);
	exit(0);
}

static void udp_server(long n)
{
	struct sockaddr_in srv, from;
	long buf[8];
	long fd = socket(AF_INET, SOCK_DGRAM, 0);
	sockaddr(&srv, 0, 7777);
	if (fd < 0 || bind((int)fd, &srv) < 0)
		exit(1);
	for (long i = 0; i < n; i++) {
		long got = recvfrom((int)fd, buf, sizeof buf, &from);
		buf[0]++;
		if (got < 0 || sendto((int)fd, buf, (size_t)got, &from) < 0)
			exit(2);
	}
	exit(0);
}

int main(int argc, char **argv)
{
	static const char *const ops[] = { "null", "xcall", "udp" };
	int op = op_arg(argc, argv, ops, 3);
	long n = argc > 2 ? atol(argv[2]) : 50;
	long (*fn)(long) = op == 0 ? null_op : op == 1 ? xcall_op : udp_op;
	long pid = 0, wrong = 0;
	if (op < 0 || n < 1) {
		printf("usage: protcall null|xcall|udp N\n");
		return 1;
	}
	if (op > 0) {
		pid = fork();
		if (pid == 0) {
			if (op == 1)
				xcall_server(2 * n);
			udp_server(2 * n);
		}
		if (pid < 0) {
			printf("protcall: no fork\n");
			return 1;
		}
	}
	if (op == 2) {
		udp_fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (udp_fd < 0) {
			printf("protcall: no socket (is the machine on a network?)\n");
			return 1;
		}
		sleep_ms(1); /* let the server bind its port */
		sockaddr(&udp_srv, "10.0.0.1", 7777);
	}
	struct tally t;
	tally_init(&t);
	vclock_calibrate();
	/* first pass: time, by the kernel's clock (the server's work is part of a call) */
	for (long i = 0; i < n; i++) {
		unsigned long t0 = vclock();
		long r = fn(i);
		unsigned long t1 = vclock();
		wrong += r != i + 1;
		t.ops++;
		t.cycles += t1 - t0 - vclock_overhead;
	}
	/* second pass: boundary crossings, by the probe */
	for (long i = 0; i < n; i++) {
		long c0 = probe();
		long r = fn(n + i);
		long c1 = probe();
		wrong += r != n + i + 1;
		t.crossings += c1 - c0 - 2;
	}
	if (pid > 0) {
		int status;
		waitpid(pid, &status, 0);
	}
	unsigned long per = t.cycles / (unsigned long)t.ops;
	unsigned long tenths = (per * 10 + 66) / 133;
	long cross = t.probed ? t.crossings / n : -1;
	printf("%s: %ld calls, %lu cycles each = %lu.%lu µs at 133 MHz (modeled), %ld crossings each, %ld wrong\n",
	       ops[op], n, per, tenths / 10, tenths % 10, cross, wrong);
	return 0;
}
