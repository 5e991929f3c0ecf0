/* Writes both standard streams, interleaved, so a run can be checked stream
   by stream against qemu-alpha: fd 1 to stdout, fd 2 to stderr. */
#include "lib.h"

static void say(int fd, const char *s) { write(fd, s, strlen(s)); }

int main(int argc, char **argv)
{
	for (int i = 1; i <= 3; i++) {
		printf("out %d: %s\n", i, argc > 1 ? argv[1] : "stdout");
		char line[64];
		int n = snprintf(line, sizeof line, "err %d: %s\n", i, argc > 2 ? argv[2] : "stderr");
		write(2, line, n);
	}
	say(2, "a partial stderr line, ");
	say(1, "then stdout, ");
	say(2, "then the rest of stderr\n");
	say(1, "and the rest of stdout\n");
	return 3;
}
