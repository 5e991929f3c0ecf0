/* Bitfields: insert/extract with shifts and masks, signed fields. */
#include "lib.h"

struct pte {
	unsigned v : 1, fo_r : 1, fo_w : 1, fo_e : 1, asm_ : 1, gh : 2, : 1;
	unsigned kre : 1, ure : 1, : 2, kwe : 1, uwe : 1, : 2;
	unsigned soft : 16;
	unsigned pfn : 32;
};

struct mixed {
	signed int a : 5;
	unsigned int b : 11;
	signed long c : 37;
	unsigned char d : 3;
};

int main(void)
{
	struct pte p = { 0 };
	unsigned long sum = 0;
	for (unsigned i = 0; i < 300; i++) {
		p.v = i & 1;
		p.gh = i >> 1;
		p.kre = i >> 3;
		p.uwe = i >> 4;
		p.soft = i * 7919;
		p.pfn = i * 2654435761u;
		unsigned long raw;
		memcpy(&raw, &p, 8);
		sum = sum * 3 + raw;
		if (i % 50 == 0)
			printf("i=%u raw=%016lx v=%u gh=%u kre=%u uwe=%u soft=%u pfn=%u\n", i, raw, p.v, p.gh, p.kre,
			       p.uwe, p.soft, p.pfn);
	}
	printf("sum=%lx\n", sum);
	struct mixed m;
	long t = 0;
	for (int i = -40; i < 40; i++) {
		m.a = i;
		m.b = i * 37;
		m.c = (long)i * 123456789L;
		m.d = i;
		t += m.a * 1000000L + m.b * 1000L + m.c + m.d;
		if (i % 9 == 0)
			printf("a=%d b=%u c=%ld d=%u\n", m.a, m.b, (long)m.c, m.d);
	}
	printf("t=%ld\n", t);
	return 0;
}
