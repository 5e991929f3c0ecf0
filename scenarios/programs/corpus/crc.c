/* CRC-32 (table driven), FNV-1a and Adler-32 over generated data. */
#include "lib.h"

static unsigned int table[256];

int main(void)
{
	for (unsigned i = 0; i < 256; i++) {
		unsigned c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
	static unsigned char data[20000];
	for (int i = 0; i < 20000; i++)
		data[i] = (unsigned char)((i * i + 7 * i) >> 3);
	unsigned crc = 0xFFFFFFFFu;
	for (int i = 0; i < 20000; i++)
		crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
	crc ^= 0xFFFFFFFFu;
	unsigned long fnv = 0xcbf29ce484222325UL;
	for (int i = 0; i < 20000; i++)
		fnv = (fnv ^ data[i]) * 0x100000001b3UL;
	unsigned a = 1, b = 0;
	for (int i = 0; i < 20000; i++) {
		a = (a + data[i]) % 65521;
		b = (b + a) % 65521;
	}
	printf("crc32=%08x fnv=%016lx adler=%08x\n", crc, fnv, (b << 16) | a);
	return 0;
}
