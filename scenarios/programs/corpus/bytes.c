/* Byte and word access: on ev4 every char/short load and store is a
   ldq_u + ext/ins/msk sequence; on ev56+ it is ldbu/ldwu/stb/stw. */
#include "lib.h"

static unsigned char ubuf[257];
static signed char sbuf[257];
static short words[130];
static unsigned short uwords[130];

int main(void)
{
	for (int i = 0; i < 257; i++) {
		ubuf[i] = (unsigned char)(i * 7 + 3);
		sbuf[i] = (signed char)(i * 5 - 128);
	}
	for (int i = 0; i < 130; i++) {
		words[i] = (short)(i * 1000 - 60000);
		uwords[i] = (unsigned short)(i * 4099);
	}
	long s = 0;
	for (int i = 0; i < 257; i++)
		s = s * 3 + ubuf[i] + sbuf[i];
	for (int i = 0; i < 130; i++)
		s = s * 5 + words[i] - uwords[i];
	printf("s=%ld\n", s);
	char text[80];
	strcpy(text, "The SPIN operating system: extensibility, safety and performance.");
	for (int i = 0; text[i]; i++)
		if (text[i] >= 'a' && text[i] <= 'z')
			text[i] -= 32;
	printf("%s len=%lu\n", text, strlen(text));
	memmove(text + 4, text, 20);
	text[30] = 0;
	printf("%s\n", text);
	char a[33], b[33];
	memset(a, 'x', 32);
	a[32] = 0;
	memcpy(b, a, 33);
	b[17] = 'y';
	printf("cmp=%d %d %d\n", memcmp(a, b, 33) < 0, strcmp(a, a), strcmp("abc", "abd") < 0);
	for (int off = 0; off < 8; off++) {
		unsigned short *w = (unsigned short *)((char *)uwords + 2 * off);
		*w ^= 0xA5A5;
		ubuf[off + 3] = (unsigned char)*w;
	}
	for (int i = 0; i < 12; i++)
		printf("%02x.%04x ", ubuf[i], uwords[i]);
	printf("\n");
	return 0;
}
