/* Receive N datagrams on PORT and report the bytes and the time between the
   first and the last (SOSP'95 Table 5's receive bandwidth, user level).
   Usage: udp_sink PORT N */
#include "net.h"
#include "measure.h"

int main(int argc, char **argv)
{
	int port = argc > 1 ? (int)atol(argv[1]) : 9;
	long n = argc > 2 ? atol(argv[2]) : 100;
	struct sockaddr_in me, from;
	static char buf[2048];
	unsigned long first = 0, last = 0, bytes = 0;
	long fd = socket(AF_INET, SOCK_DGRAM, 0);
	sockaddr(&me, 0, port);
	if (fd < 0 || bind((int)fd, &me) < 0) {
		printf("udp_sink: cannot bind port %d\n", port);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		long got = recvfrom((int)fd, buf, sizeof buf, &from);
		if (got < 0)
			return 2;
		last = vclock();
		if (i == 0)
			first = last;
		else
			bytes += (unsigned long)got;
	}
	printf("sink ops=%ld bytes=%lu cycles=%lu\n", n, bytes, last - first);
	return 0;
}
