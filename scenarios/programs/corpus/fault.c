/* A program that dereferences a null pointer: SIGSEGV, exit status 139. */
#include "lib.h"

struct thing {
	long a, b;
};

__attribute__((noinline)) static long get(struct thing *t) { return t->b; }

int main(void)
{
	printf("about to fault\n");
	struct thing *volatile p = NULL;
	long v = get(p);
	printf("not reached %ld\n", v);
	return 0;
}
