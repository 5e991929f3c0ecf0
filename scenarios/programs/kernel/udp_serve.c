/* A UDP endpoint at user level, the DEC OSF/1 way of SOSP'95 Table 5, for
   the user_endpoint lesson: echo N datagrams on ECHO_PORT (each copied out
   to this process and back in, a trap each way), then receive M datagrams
   on SINK_PORT and print the receive bandwidth between the first and the
   last. Time is the machine's clock through the measuring probe, read only
   after the first datagram and after the last (without the probe, the
   process's own cycles). Usage: udp_serve ECHO_PORT N SINK_PORT M */
#include "net.h"
#include "measure.h"

static char buf[2048];

int main(int argc, char **argv)
{
	if (argc < 5) {
		printf("usage: udp_serve ECHO_PORT N SINK_PORT M\n");
		return 1;
	}
	int eport = (int)atol(argv[1]), sport = (int)atol(argv[3]);
	long n = atol(argv[2]), m = atol(argv[4]);
	struct sockaddr_in me, peer;
	long echo = socket(AF_INET, SOCK_DGRAM, 0), sink = socket(AF_INET, SOCK_DGRAM, 0);
	sockaddr(&me, 0, eport);
	if (echo < 0 || bind((int)echo, &me) < 0) {
		printf("udp_serve: cannot bind port %d\n", eport);
		return 1;
	}
	sockaddr(&me, 0, sport);
	if (sink < 0 || bind((int)sink, &me) < 0) {
		printf("udp_serve: cannot bind port %d\n", sport);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		long got = recvfrom((int)echo, buf, sizeof buf, &peer);
		if (got < 0 || sendto((int)echo, buf, (size_t)got, &peer) < 0) {
			printf("udp_serve: echo %ld failed\n", i);
			return 2;
		}
	}
	printf("udp_serve: echoed %ld datagrams on port %d\n", n, eport);
	if (m < 2)
		return 0;
	vclock_calibrate();
	unsigned long first = 0, last = 0, bytes = 0;
	for (long i = 0; i < m; i++) {
		long got = recvfrom((int)sink, buf, sizeof buf, &peer);
		if (got < 0) {
			printf("udp_serve: receive %ld failed\n", i);
			return 3;
		}
		if (i == 0)
			first = vclock();
		else
			bytes += (unsigned long)got;
	}
	last = vclock() - vclock_overhead;
	unsigned long cycles = last - first, centi = cycles ? bytes * 8 * 13300 / cycles : 0;
	printf("udp_serve: %ld datagrams after the first, %lu bytes in %lu cycles: %lu.%02lu Mb/s\n", m - 1, bytes,
	       cycles, centi / 100, centi % 100);
	return 0;
}
