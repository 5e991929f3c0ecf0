/* Reads stdin and writes it back with line numbers and a byte count. */
#include "lib.h"

int main(int argc, char **argv)
{
	char buf[256];
	long total = 0;
	int line = 1, at_start = 1;
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (at_start)
				printf("%3d| ", line++);
			write(1, &buf[i], 1);
			at_start = buf[i] == '\n';
		}
		total += n;
	}
	printf("%s: %ld bytes from %d args\n", argc > 1 ? argv[1] : "echo", total, argc);
	return (int)(total & 0x7f);
}
