/* CPU-bound workload for `spinwb bench cpu`: integer loops, byte access,
   calls and division helpers; about 25 million instructions at -O2. */
#include "lib.h"

static unsigned char buf[4096];

__attribute__((noinline)) static unsigned long mix(unsigned long h, unsigned long v)
{
	h ^= v;
	h *= 0x9E3779B97F4A7C15UL;
	return h ^ (h >> 29);
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 60;
	unsigned long h = 1;
	for (long r = 0; r < rounds; r++) {
		for (int i = 0; i < 4096; i++)
			buf[i] = (unsigned char)(buf[(i * 7) & 4095] + i + r);
		for (int i = 0; i < 4096; i += 8)
			h = mix(h, *(unsigned long *)(buf + i));
		for (int i = 1; i < 200; i++)
			h += (h >> 3) / (unsigned long)i;
	}
	printf("bench rounds=%ld h=%016lx\n", rounds, h);
	return 0;
}
