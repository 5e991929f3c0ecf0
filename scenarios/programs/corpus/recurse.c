/* Deep recursion: big stacks, many frames, callee-saved registers. */
#include "lib.h"

__attribute__((noinline)) static long depth(long n, long acc)
{
	volatile char pad[48];
	pad[n & 31] = (char)n;
	if (n == 0)
		return acc;
	return depth(n - 1, acc + (n ^ pad[n & 31])) + 1;
}

static long ack(long m, long n)
{
	if (m == 0)
		return n + 1;
	if (n == 0)
		return ack(m - 1, 1);
	return ack(m - 1, ack(m, n - 1));
}

static long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static int hanoi(int n, int from, int to, int via)
{
	if (n == 0)
		return 0;
	return hanoi(n - 1, from, via, to) + 1 + hanoi(n - 1, via, to, from);
}

int main(void)
{
	printf("depth(20000)=%ld\n", depth(20000, 0));
	printf("ack(2,3)=%ld ack(3,3)=%ld\n", ack(2, 3), ack(3, 3));
	printf("fib(20)=%ld\n", fib(20));
	printf("hanoi(12)=%d\n", hanoi(12, 1, 3, 2));
	return 0;
}
