/* printf-style formatting: widths, flags, bases, signs, strings, chars. */
#include "lib.h"

int main(int argc, char **argv)
{
	printf("hello from alpha\n");
	printf("[%d] [%5d] [%-5d] [%05d] [%+d]\n", 42, 42, 42, 42, 42);
	printf("[%d] [%u] [%x] [%X] [%o]\n", -1, -1, 3735928559u, 48879, 8);
	printf("[%ld] [%lu] [%lx]\n", -9223372036854775807L - 1, 18446744073709551615UL, 0x123456789abcdefUL);
	printf("[%s] [%10s] [%-10s] [%.3s]\n", "spin", "spin", "spin", "extensible");
	printf("[%c%c%c] [%3c] [%%]\n", 'a', 'x', 'p', 'z');
	printf("[%.5d] [%8.3x]\n", 7, 255);
	char buf[16];
	int n = snprintf(buf, sizeof buf, "%s-%d-%s", "truncate", 123456, "this");
	printf("snprintf=%d buf=%s\n", n, buf);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	return 0;
}
