/* __int128 arithmetic: umulh, carries, 128-bit shifts, libgcc division. */
#include "lib.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

static void print_u128(u128 v)
{
	char buf[48];
	int n = 0;
	if (v == 0)
		buf[n++] = '0';
	while (v) {
		buf[n++] = '0' + (int)(v % 10);
		v /= 10;
	}
	while (n)
		write(1, &buf[--n], 1);
}

int main(void)
{
	u128 f = 1;
	for (int i = 1; i <= 34; i++) {
		f *= i;
		printf("%d! = ", i);
		print_u128(f);
		printf("\n");
	}
	u128 a = ((u128)0x0123456789abcdefUL << 64) | 0xfedcba9876543210UL;
	u128 b = ((u128)0x1111UL << 64) | 0x2222333344445555UL;
	u128 c = a * b + (a >> 17) - (b << 9);
	printf("c = %lx:%lx\n", (unsigned long)(c >> 64), (unsigned long)c);
	s128 d = -(s128)a / 12345;
	s128 m = (s128)a % -99991;
	printf("d = %lx:%lx m = %ld\n", (unsigned long)((u128)d >> 64), (unsigned long)d, (long)m);
	printf("cmp %d %d %d\n", a > b, (s128)-a < (s128)b, (a ^ b) == (b ^ (a + 1)) - 1);
	return 0;
}
