/* IEEE floating point: S and T arithmetic, conversions both ways,
   comparisons, and the exceptional values (traps are disabled by default,
   so 1/0 is inf and 0/0 a NaN, as on Linux). */
#include "lib.h"

static void pd(const char *label, double x)
{
	unsigned long bits;
	memcpy(&bits, &x, 8);
	long ip = (long)x;
	double frac = x - (double)ip;
	if (frac < 0)
		frac = -frac;
	long f6 = (long)(frac * 1000000.0 + 0.5);
	if (f6 >= 1000000) {
		f6 -= 1000000;
		ip += x < 0 ? -1 : 1;
	}
	printf("%s=%s%ld.%06ld [%016lx]\n", label, (x < 0 && ip == 0) ? "-" : "", ip, f6, bits);
}

static double my_sqrt(double x)
{
	double g = x > 1 ? x / 2 : 1;
	for (int i = 0; i < 40; i++)
		g = 0.5 * (g + x / g);
	return g;
}

static volatile double zero = 0.0;

int main(void)
{
	double a = 1.5, b = -2.25, c = 1e10;
	float fa = 3.25f, fb = -0.125f;
	pd("add", a + b);
	pd("sub", a - b);
	pd("mul", a * b * c);
	pd("div", c / 7.0);
	pd("fadd", (double)(fa + fb));
	pd("fmul", (double)(fa * fb * 1000.0f));
	pd("fdiv", (double)(fa / 3.0f));
	pd("sqrt2", my_sqrt(2.0));
	long iv[] = { 0, 1, -1, 123456789, -987654321, 1L << 52, (1L << 53) + 1, -(1L << 62) };
	for (int i = 0; i < 8; i++) {
		double d = (double)iv[i];
		float f = (float)iv[i];
		unsigned long db;
		unsigned fbits;
		memcpy(&db, &d, 8);
		memcpy(&fbits, &f, 4);
		printf("i2f %ld -> %lx %x\n", iv[i], db, fbits);
	}
	double dv[] = { 0.5, 1.5, 2.5, -0.5, -1.7, 1e15 + 0.25, -3e18, 123.999 };
	for (int i = 0; i < 8; i++)
		printf("f2i %ld %d %lu\n", (long)dv[i], (int)dv[i], (unsigned long)(dv[i] > 0 ? dv[i] : 0));
	double inf = 1.0 / zero;
	double nan = zero / zero;
	unsigned long ib, nb;
	memcpy(&ib, &inf, 8);
	memcpy(&nb, &nan, 8);
	printf("inf=%lx nan_is_nan=%d inf>c=%d\n", ib, nan != nan, inf > c);
	int lt = 0, eq = 0;
	for (int i = -5; i <= 5; i++) {
		double x = i * 0.75;
		lt += x < 1.0;
		eq += x == 0.0;
	}
	printf("lt=%d eq=%d\n", lt, eq);
	float fsum = 0;
	double dsum = 0;
	for (int i = 1; i <= 1000; i++) {
		fsum += 1.0f / (float)i;
		dsum += 1.0 / ((double)i * i);
	}
	pd("harmonic_f", (double)fsum);
	pd("basel", dsum);
	double tiny = 1e-300;
	pd("underflow", tiny * 1e-20 * 1e30);
	return 0;
}
