/* Reads lines on stdin and writes each back upper-cased and numbered on
   stdout; an empty line is reported on stderr. Waits for input like any
   filter: with nobody typing, it waits for ever. */
#include "lib.h"

static void say(int fd, const char *s) { write(fd, s, strlen(s)); }

int main(int argc, char **argv)
{
	char buf[128], line[256];
	int len = 0, lines = 0, empty = 0;
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n < 0) {
			say(2, "upper: read failed\n");
			return 2;
		}
		for (ssize_t i = 0; i < n || (n == 0 && len > 0 && i == 0); i++) {
			char c = n == 0 ? '\n' : buf[i];
			if (c != '\n') {
				if (len < (int)sizeof line - 1)
					line[len++] = c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
				continue;
			}
			lines++;
			if (len == 0) {
				empty++;
				char m[48];
				write(2, m, snprintf(m, sizeof m, "upper: line %d is empty\n", lines));
			} else {
				line[len] = 0;
				printf("%3d %s\n", lines, line);
			}
			len = 0;
		}
		if (n == 0)
			break;
	}
	char msg[80];
	int m = snprintf(msg, sizeof msg, "upper: %d lines, %d empty\n", lines, empty);
	write(2, msg, m);
	return empty;
}
