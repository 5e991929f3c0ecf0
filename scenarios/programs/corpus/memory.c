/* The heap through brk and mmap: linked lists, big buffers, munmap. */
#include "lib.h"

struct node {
	struct node *next;
	long v;
};

int main(void)
{
	struct node *head = NULL;
	for (long i = 0; i < 2000; i++) {
		struct node *n = malloc(sizeof *n);
		if (!n) {
			printf("malloc failed\n");
			return 1;
		}
		n->v = i * i;
		n->next = head;
		head = n;
	}
	long s = 0;
	int len = 0;
	for (struct node *n = head; n; n = n->next)
		s += n->v, len++;
	printf("list len=%d sum=%ld\n", len, s);
	long *big = mmap_anon(1 << 20);
	if (!big) {
		printf("mmap failed\n");
		return 1;
	}
	long t = 0;
	for (long i = 0; i < (1 << 17); i += 97)
		big[i] = i ^ 0x5555;
	for (long i = 0; i < (1 << 17); i += 97)
		t += big[i];
	printf("mmap sum=%ld untouched=%ld\n", t, big[1]);
	printf("munmap=%d\n", munmap(big, 1 << 20));
	long r = syscall3(SYS_write, 1, (long)0x10, 5);
	printf("write(bad pointer)=%ld\n", r);
	printf("bad fd=%ld\n", (long)write(9, "x", 1));
	return 0;
}
