/* A user-level UDP forwarder, the DEC OSF/1 comparison of SOSP'95 Table 6:
   a datagram for PORT is received into this process and sent on to
   TARGET:PORT from a second socket; the answer comes back the same way.
   Each datagram crosses the protocol stack twice and the user/kernel
   boundary four times. Usage: udp_splice PORT TARGET [N] */
#include "net.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		printf("usage: udp_splice PORT TARGET [N]\n");
		return 1;
	}
	int port = (int)atol(argv[1]);
	long n = argc > 3 ? atol(argv[3]) : -1;
	struct sockaddr_in me, client, target, from;
	char buf[2048];
	long in = socket(AF_INET, SOCK_DGRAM, 0), out = socket(AF_INET, SOCK_DGRAM, 0);
	sockaddr(&me, 0, port);
	sockaddr(&target, argv[2], port);
	if (in < 0 || out < 0 || bind((int)in, &me) < 0) {
		printf("udp_splice: cannot bind port %d\n", port);
		return 1;
	}
	for (long i = 0; n < 0 || i < n; i++) {
		long got = recvfrom((int)in, buf, sizeof buf, &client);
		if (got < 0 || sendto((int)out, buf, (size_t)got, &target) < 0)
			return 2;
		got = recvfrom((int)out, buf, sizeof buf, &from);
		if (got < 0 || sendto((int)in, buf, (size_t)got, &client) < 0)
			return 3;
	}
	return 0;
}
