/* smallfiles with a macro system call: each file is one open_read_close
   (extensions/macro_calls.py), one kernel entry where smallfiles makes three.
   Same usage and output as smallfiles; without the extension every call
   fails with ENOSYS (78). Usage: smallfiles_macro ROUNDS FILE... */
#include "macro.h"

int main(int argc, char **argv)
{
	static char buf[4096];
	if (argc < 3) {
		printf("usage: smallfiles_macro ROUNDS FILE...\n");
		return 2;
	}
	long rounds = atol(argv[1]), reads = 0, bytes = 0;
	for (long r = 0; r < rounds; r++) {
		for (int i = 2; i < argc; i++) {
			long n = open_read_close(argv[i], buf, sizeof buf);
			if (n < 0) {
				printf("%s: open_read_close failed, errno %ld\n", argv[i], -n);
				return 1;
			}
			reads++;
			bytes += n;
			if (r == rounds - 1) {
				unsigned long sum = 0;
				for (long j = 0; j < n; j++)
					sum += (unsigned char)buf[j];
				printf("%s: %ld bytes, sum %lu\n", argv[i], n, sum);
			}
		}
	}
	printf("%ld files read, %ld bytes\n", reads, bytes);
	return 0;
}
