/* Division and remainder of every width and sign: gcc calls __divq,
   __divqu, __remq, __remqu, __divl, __divlu, __reml, __remlu. */
#include "lib.h"

static volatile long vals[] = {
	0, 1, -1, 2, -2, 3, 7, -7, 10, 100, -100, 255, 256, 65535, -65536,
	2147483647L, -2147483647L - 1, 4294967295L, 4294967296L, 1000000007L,
	-123456789012L, 9223372036854775807L, -9223372036854775807L, 12345678901234567L,
};
#define N (sizeof vals / sizeof vals[0])

int main(void)
{
	unsigned long h = 5381;
	for (unsigned i = 0; i < N; i++)
		for (unsigned j = 0; j < N; j++) {
			long a = vals[i], b = vals[j];
			if (b == 0)
				continue;
			long q = 0, r = 0;
			if (!(a == -9223372036854775807L - 1 && b == -1)) {
				q = a / b;
				r = a % b;
			}
			unsigned long uq = (unsigned long)a / (unsigned long)b;
			unsigned long ur = (unsigned long)a % (unsigned long)b;
			int ia = (int)a, ib = (int)b;
			int iq = 0, ir = 0;
			if (ib != 0 && !(ia == -2147483647 - 1 && ib == -1)) {
				iq = ia / ib;
				ir = ia % ib;
			}
			unsigned ua = (unsigned)a, ub = (unsigned)b;
			unsigned uiq = ub ? ua / ub : 0, uir = ub ? ua % ub : 0;
			short sa = (short)a, sb = (short)b;
			int sq = sb ? sa / sb : 0;
			signed char ca = (signed char)a, cb = (signed char)b;
			int cq = cb ? ca % cb : 0;
			h = h * 33 ^ (unsigned long)q;
			h = h * 33 ^ (unsigned long)r;
			h = h * 33 ^ uq;
			h = h * 33 ^ ur;
			h = h * 33 ^ (unsigned long)iq;
			h = h * 33 ^ (unsigned long)ir;
			h = h * 33 ^ uiq;
			h = h * 33 ^ uir;
			h = h * 33 ^ (unsigned long)sq;
			h = h * 33 ^ (unsigned long)cq;
			if (i % 5 == 0 && j % 4 == 1)
				printf("%ld/%ld=%ld r%ld u%lu,%lu i%d,%d ui%u,%u s%d c%d\n", a, b, q, r, uq, ur,
				       iq, ir, uiq, uir, sq, cq);
		}
	printf("hash=%lx\n", h);
	/* constant divisors become multiplies by reciprocals (umulh) */
	unsigned long s = 0;
	for (long x = -50000; x < 50000; x += 7)
		s += (unsigned long)(x / 3 + x / 10 + x % 7 + (unsigned long)x / 1000);
	printf("const=%lx\n", s);
	return 0;
}
