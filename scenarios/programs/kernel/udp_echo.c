/* A UDP echo server at user level, the DEC OSF/1 way of SOSP'95 Table 5:
   each datagram is copied out to the process and copied back in, with a
   trap each way. Usage: udp_echo PORT [N] (stop after N datagrams). */
#include "net.h"

int main(int argc, char **argv)
{
	int port = argc > 1 ? (int)atol(argv[1]) : 7;
	long n = argc > 2 ? atol(argv[2]) : -1;
	struct sockaddr_in me, peer;
	char buf[2048];
	long fd = socket(AF_INET, SOCK_DGRAM, 0);
	sockaddr(&me, 0, port);
	long r = bind((int)fd, &me);
	if (fd < 0 || r < 0) {
		printf("udp_echo: cannot bind port %d (errno %ld)\n", port, fd < 0 ? -fd : -r);
		return 1;
	}
	for (long i = 0; n < 0 || i < n; i++) {
		long got = recvfrom((int)fd, buf, sizeof buf, &peer);
		if (got < 0) {
			printf("udp_echo: recvfrom: errno %ld\n", -got);
			return 2;
		}
		sendto((int)fd, buf, (size_t)got, &peer);
	}
	return 0;
}
