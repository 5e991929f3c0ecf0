/* Packed structures and unaligned data: ldq_u/extql/extqh sequences on
   every CPU, and deliberately misaligned plain loads that the kernel fixes up. */
#include "lib.h"

struct __attribute__((packed)) rec {
	char tag;
	long value;
	short s;
	int i;
	char tail[3];
};

__attribute__((noinline)) static long load_any(const long *p) { return *p; }
__attribute__((noinline)) static void store_any(int *p, int v) { *p = v; }

int main(void)
{
	struct rec rs[8];
	printf("sizeof=%lu\n", sizeof(struct rec));
	for (int i = 0; i < 8; i++) {
		rs[i].tag = 'a' + i;
		rs[i].value = 0x0102030405060708L * (i + 1);
		rs[i].s = -1000 * i;
		rs[i].i = 77777 * i - 300000;
		rs[i].tail[0] = i;
		rs[i].tail[1] = -i;
		rs[i].tail[2] = 2 * i;
	}
	long sum = 0;
	for (int i = 0; i < 8; i++) {
		sum += rs[i].value + rs[i].s + rs[i].i + rs[i].tail[1];
		printf("%c %lx %d %d %d\n", rs[i].tag, rs[i].value, rs[i].s, rs[i].i, rs[i].tail[1]);
	}
	printf("sum=%ld\n", sum);
	char buf[64];
	for (int i = 0; i < 64; i++)
		buf[i] = (char)(i * 13 + 1);
	long acc = 0;
	for (int off = 0; off < 16; off++)
		acc = acc * 7 + load_any((const long *)(buf + off)); /* misaligned on purpose */
	printf("unaligned acc=%lx\n", acc);
	for (int off = 1; off < 12; off += 3)
		store_any((int *)(buf + off), (int)(0x11223344u * (unsigned)off));
	for (int i = 0; i < 16; i++)
		printf("%02x", (unsigned char)buf[i]);
	printf("\n");
	return 0;
}
