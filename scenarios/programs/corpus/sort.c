/* Sorting pseudo-random data: quicksort, heapsort, insertion sort.
   argv[1]: rounds, each on fresh data (default 1). */
#include "lib.h"

static unsigned long seed = 88172645463325252UL;
static unsigned long xorshift(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static void quick(long *a, long lo, long hi)
{
	while (lo < hi) {
		long p = a[(lo + hi) / 2], i = lo, j = hi;
		while (i <= j) {
			while (a[i] < p)
				i++;
			while (a[j] > p)
				j--;
			if (i <= j) {
				long t = a[i];
				a[i++] = a[j];
				a[j--] = t;
			}
		}
		if (j - lo < hi - i) {
			quick(a, lo, j);
			lo = i;
		} else {
			quick(a, i, hi);
			hi = j;
		}
	}
}

static void sift(int *a, int n, int i)
{
	for (;;) {
		int m = i, l = 2 * i + 1, r = l + 1;
		if (l < n && a[l] > a[m])
			m = l;
		if (r < n && a[r] > a[m])
			m = r;
		if (m == i)
			return;
		int t = a[i];
		a[i] = a[m];
		a[m] = t;
		i = m;
	}
}

#define N 3000
static long la[N];
static int ia[N];
static short sa[200];

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 1;
	int ok = 1;
	for (long r = 0; r < rounds; r++) {
		for (int i = 0; i < N; i++) {
			la[i] = (long)xorshift();
			ia[i] = (int)xorshift();
		}
		quick(la, 0, N - 1);
		for (int i = N / 2 - 1; i >= 0; i--)
			sift(ia, N, i);
		for (int n = N - 1; n > 0; n--) {
			int t = ia[0];
			ia[0] = ia[n];
			ia[n] = t;
			sift(ia, n, 0);
		}
		for (int i = 0; i < 200; i++)
			sa[i] = (short)xorshift();
		for (int i = 1; i < 200; i++) {
			short v = sa[i];
			int j = i - 1;
			while (j >= 0 && sa[j] > v) {
				sa[j + 1] = sa[j];
				j--;
			}
			sa[j + 1] = v;
		}
		for (int i = 1; i < N; i++)
			ok &= la[i - 1] <= la[i] && ia[i - 1] <= ia[i];
		for (int i = 1; i < 200; i++)
			ok &= sa[i - 1] <= sa[i];
	}
	printf("sorted=%d min=%ld max=%ld med=%d s0=%d s199=%d\n", ok, la[0], la[N - 1], ia[N / 2], sa[0], sa[199]);
	return 0;
}
