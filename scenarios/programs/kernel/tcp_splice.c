/* A user-level TCP forwarder: accept a connection on PORT, open a second
   one to TARGET:PORT, and copy between them, request then answer (the
   ping-pong of SOSP'95 Table 6). The client's connection ends here: the
   handshake, windows and close of the two connections are separate.
   Usage: tcp_splice PORT TARGET */
#include "net.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		printf("usage: tcp_splice PORT TARGET\n");
		return 1;
	}
	int port = (int)atol(argv[1]);
	struct sockaddr_in me, target, peer;
	char buf[2048];
	long lfd = socket(AF_INET, SOCK_STREAM, 0);
	sockaddr(&me, 0, port);
	sockaddr(&target, argv[2], port);
	if (lfd < 0 || bind((int)lfd, &me) < 0 || listen((int)lfd, 4) < 0) {
		printf("tcp_splice: cannot listen on port %d\n", port);
		return 1;
	}
	long c = accept((int)lfd, &peer);
	long s = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || s < 0 || connect((int)s, &target) < 0) {
		printf("tcp_splice: cannot reach %s:%d\n", argv[2], port);
		return 2;
	}
	for (;;) {
		long got = recv((int)c, buf, sizeof buf);
		if (got <= 0 || send_all((int)s, buf, (size_t)got) < 0)
			break;
		got = recv((int)s, buf, sizeof buf);
		if (got <= 0 || send_all((int)c, buf, (size_t)got) < 0)
			break;
	}
	close((int)s);
	close((int)c);
	return 0;
}
