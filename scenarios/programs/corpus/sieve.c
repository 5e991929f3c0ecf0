/* Sieve of Eratosthenes and prime statistics. */
#include "lib.h"

#define LIMIT 200000
static unsigned char composite[LIMIT + 1];

int main(void)
{
	int count = 0;
	long sum = 0;
	int maxgap = 0, last = 2;
	for (long i = 2; i <= LIMIT; i++) {
		if (composite[i])
			continue;
		count++;
		sum += i;
		if (i - last > maxgap)
			maxgap = (int)(i - last);
		last = (int)i;
		for (long j = i * i; j <= LIMIT; j += i)
			composite[j] = 1;
	}
	printf("primes<=%d: %d sum=%ld maxgap=%d last=%d\n", LIMIT, count, sum, maxgap, last);
	return 0;
}
