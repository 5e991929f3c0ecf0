/* Dense switches compile to jump tables (gp-relative tables, jmp via
   register); sparse ones to compare trees; plus function pointers. */
#include "lib.h"

static const char *name(int k)
{
	switch (k) {
	case 0: return "zero";
	case 1: return "one";
	case 2: return "two";
	case 3: return "three";
	case 4: return "four";
	case 5: return "five";
	case 6: return "six";
	case 7: return "seven";
	case 8: return "eight";
	case 9: return "nine";
	default: return "many";
	}
}

static int sparse(int k)
{
	switch (k) {
	case -100: return 1;
	case 7: return 2;
	case 1000: return 3;
	case 65536: return 4;
	case 1 << 30: return 5;
	default: return 0;
	}
}

__attribute__((noinline)) static long calc(int op, long a, long b)
{
	switch (op) {
	case 0: return a + b;
	case 1: return a - b;
	case 2: return a * b;
	case 3: return a & b;
	case 4: return a | b;
	case 5: return a ^ b;
	case 6: return a << (b & 63);
	case 7: return a >> (b & 63);
	case 8: return (unsigned long)a >> (b & 63);
	case 9: return a < b;
	case 10: return (unsigned long)a < (unsigned long)b;
	default: return -1;
	}
}

static long twice(long x) { return 2 * x; }
static long square(long x) { return x * x; }
static long negate(long x) { return -x; }

int main(void)
{
	for (int i = -1; i < 12; i++)
		printf("%d:%s ", i, name(i));
	printf("\n");
	int ks[] = { -100, 7, 1000, 65536, 1 << 30, 3, 0 };
	for (int i = 0; i < 7; i++)
		printf("sparse(%d)=%d\n", ks[i], sparse(ks[i]));
	long acc = 0;
	for (int op = 0; op < 12; op++)
		for (long a = -3; a < 4; a++) {
			long r = calc(op, a * 1234567, a + 5);
			acc = acc * 31 + r;
			printf("%ld ", r);
		}
	printf("\nacc=%ld\n", acc);
	long (*fns[])(long) = { twice, square, negate };
	long v = 3;
	for (int i = 0; i < 9; i++)
		v = fns[i % 3](v) + i;
	printf("fnptr=%ld\n", v);
	return 0;
}
