/* Send BYTES of the test pattern to HOST:PORT over TCP, then close.
   Usage: tcp_send HOST PORT BYTES */
#include "net.h"

int main(int argc, char **argv)
{
	if (argc < 4) {
		printf("usage: tcp_send HOST PORT BYTES\n");
		return 1;
	}
	unsigned long total = (unsigned long)atol(argv[3]), sent = 0;
	static char buf[8192];
	struct sockaddr_in to;
	sockaddr(&to, argv[1], (int)atol(argv[2]));
	long fd = socket(AF_INET, SOCK_STREAM, 0);
	long r = fd < 0 ? fd : connect((int)fd, &to);
	if (r < 0) {
		printf("tcp_send: connect to %s:%s failed: errno %ld\n", argv[1], argv[2], -r);
		return 2;
	}
	while (sent < total) {
		unsigned long n = total - sent < sizeof buf ? total - sent : sizeof buf;
		for (unsigned long i = 0; i < n; i++)
			buf[i] = (char)pattern(sent + i);
		r = send_all((int)fd, buf, n);
		if (r < 0) {
			printf("tcp_send: send failed after %lu bytes: errno %ld\n", sent, -r);
			return 3;
		}
		sent += n;
	}
	close((int)fd);
	printf("tcp_send: %lu bytes sent\n", sent);
	return 0;
}
