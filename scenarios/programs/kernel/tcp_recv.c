/* Accept one TCP connection on PORT and read it to the end, checking every
   byte against the test pattern. Usage: tcp_recv PORT */
#include "net.h"

int main(int argc, char **argv)
{
	int port = argc > 1 ? (int)atol(argv[1]) : 5001;
	static char buf[8192];
	unsigned long got = 0;
	struct sockaddr_in me, peer;
	long lfd = socket(AF_INET, SOCK_STREAM, 0);
	sockaddr(&me, 0, port);
	if (lfd < 0 || bind((int)lfd, &me) < 0 || listen((int)lfd, 4) < 0) {
		printf("tcp_recv: cannot listen on port %d\n", port);
		return 1;
	}
	long fd = accept((int)lfd, &peer);
	if (fd < 0) {
		printf("tcp_recv: accept: errno %ld\n", -fd);
		return 2;
	}
	for (;;) {
		long n = recv((int)fd, buf, sizeof buf);
		if (n < 0) {
			printf("tcp_recv: recv: errno %ld after %lu bytes\n", -n, got);
			return 3;
		}
		if (n == 0)
			break;
		for (long i = 0; i < n; i++)
			if ((unsigned char)buf[i] != pattern(got + (unsigned long)i)) {
				printf("tcp_recv: byte %lu is wrong\n", got + (unsigned long)i);
				return 4;
			}
		got += (unsigned long)n;
	}
	close((int)fd);
	printf("tcp_recv: %lu bytes intact\n", got);
	return 0;
}
