/* Send a file to HOST:PORT over TCP, the user way or with a macro call.
   Usage: filesend user|macro HOST PORT PATH
   user: read(fd, buf) then send(sock, buf), piece by piece -- every byte
   copied out to user memory and back in, two crossings a read and two a
   send. macro: file_to_socket(path, sock) (extensions/macro_calls.py), one
   kernel entry for the whole file and no copy through user memory.
   tcp_recv on the other end checks the bytes (put its test pattern in PATH). */
#include "net.h"
#include "macro.h"

int main(int argc, char **argv)
{
	static char buf[8192];
	if (argc < 5 || (strcmp(argv[1], "user") != 0 && strcmp(argv[1], "macro") != 0)) {
		printf("usage: filesend user|macro HOST PORT PATH\n");
		return 1;
	}
	struct sockaddr_in to;
	sockaddr(&to, argv[2], (int)atol(argv[3]));
	long sock = socket(AF_INET, SOCK_STREAM, 0);
	long r = sock < 0 ? sock : connect((int)sock, &to);
	if (r < 0) {
		printf("filesend: connect to %s:%s failed: errno %ld\n", argv[2], argv[3], -r);
		return 2;
	}
	long sent = 0;
	if (argv[1][0] == 'm') {
		sent = file_to_socket(argv[4], (int)sock);
		if (sent < 0) {
			printf("filesend: file_to_socket failed: errno %ld\n", -sent);
			return 3;
		}
	} else {
		int fd = open(argv[4], 0);
		if (fd < 0) {
			printf("filesend: open %s failed: errno %ld\n", argv[4], -(long)fd);
			return 3;
		}
		long n;
		while ((n = read(fd, buf, sizeof buf)) > 0) {
			r = send_all((int)sock, buf, (size_t)n);
			if (r < 0) {
				printf("filesend: send failed after %ld bytes: errno %ld\n", sent, -r);
				return 3;
			}
			sent += n;
		}
		close(fd);
	}
	close((int)sock);
	printf("filesend: %ld bytes sent (%s)\n", sent, argv[1]);
	return 0;
}
