/* An open-addressing hash table (linear probing, tombstones): inserts,
   lookups and deletes of integer keys and of string keys. General code for
   `spinwb bench cpu`: hashing, probing loops, compares, unpredictable
   branches. Each round checks its own results. argv[1]: rounds. */
#include "lib.h"

#define SLOTS 1024 /* a power of two; at most about 70% full */
#define EMPTY 0
#define FULL 1
#define DEAD 2

struct islot {
	unsigned long key;
	long value;
	unsigned char state;
};

struct sslot {
	char key[16];
	long value;
	unsigned char state;
};

static struct islot itab[SLOTS];
static struct sslot stab[SLOTS];

static unsigned long ihash(unsigned long k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdUL;
	return k ^ (k >> 33);
}

static unsigned long shash(const char *s)
{
	unsigned long h = 0xcbf29ce484222325UL;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3UL;
	return h;
}

/* The slot holding key, or with insert the slot to put it in; -1 if none. */
static long ifind(unsigned long key, int insert)
{
	long tomb = -1;
	for (unsigned long i = ihash(key) & (SLOTS - 1), n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++) {
		struct islot *s = &itab[i];
		if (s->state == EMPTY)
			return insert ? (tomb >= 0 ? tomb : (long)i) : -1;
		if (s->state == DEAD) {
			if (tomb < 0)
				tomb = (long)i;
		} else if (s->key == key)
			return (long)i;
	}
	return insert ? tomb : -1;
}

static long sfind(const char *key, int insert)
{
	long tomb = -1;
	for (unsigned long i = shash(key) & (SLOTS - 1), n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++) {
		struct sslot *s = &stab[i];
		if (s->state == EMPTY)
			return insert ? (tomb >= 0 ? tomb : (long)i) : -1;
		if (s->state == DEAD) {
			if (tomb < 0)
				tomb = (long)i;
		} else if (strcmp(s->key, key) == 0)
			return (long)i;
	}
	return insert ? tomb : -1;
}

/* "k" followed by n in base 36: distinct keys that differ in several bytes. */
static void name(char *out, unsigned long n)
{
	char tmp[16];
	int len = 0;
	do {
		unsigned d = (unsigned)(n % 36);
		tmp[len++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		n /= 36;
	} while (n);
	*out++ = 'k';
	while (len)
		*out++ = tmp[--len];
	*out = 0;
}

static int bad;

static void check(int ok, const char *what, long round)
{
	if (!ok && bad++ < 5)
		printf("round %ld: %s\n", round, what);
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 1;
	unsigned long h = 0, seed = 12345;
	for (long r = 0; r < rounds; r++) {
		memset(itab, 0, sizeof itab);
		memset(stab, 0, sizeof stab);
		long live = 0;
		for (long i = 0; i < 600; i++) { /* insert integer keys */
			unsigned long k = (unsigned long)i * 2654435761UL + (unsigned long)r;
			long s = ifind(k, 1);
			if (itab[s].state != FULL) {
				itab[s].key = k;
				itab[s].state = FULL;
				live++;
			}
			itab[s].value = i;
		}
		for (long i = 0; i < 600; i += 3) { /* delete every third */
			long s = ifind((unsigned long)i * 2654435761UL + (unsigned long)r, 0);
			check(s >= 0 && itab[s].value == i, "integer key lost before delete", r);
			if (s >= 0) {
				itab[s].state = DEAD;
				live--;
			}
		}
		long found = 0;
		for (long i = 0; i < 900; i++) { /* look up present, deleted and absent keys */
			long s = ifind((unsigned long)i * 2654435761UL + (unsigned long)r, 0);
			int want = i < 600 && i % 3 != 0;
			check((s >= 0) == want, "integer lookup wrong", r);
			if (s >= 0)
				found += itab[s].value;
		}
		for (long i = 0; i < 200; i++) { /* reinsert into tombstones */
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			unsigned long k = seed >> 20;
			long s = ifind(k, 1);
			if (s >= 0 && itab[s].state != FULL) {
				itab[s].key = k;
				itab[s].state = FULL;
				itab[s].value = (long)(k & 0xFFFF);
				live++;
			}
		}
		char key[16];
		long sfound = 0;
		for (long i = 0; i < 500; i++) { /* string keys */
			name(key, (unsigned long)(i * 7919 + r));
			long s = sfind(key, 1);
			if (stab[s].state != FULL) {
				strcpy(stab[s].key, key);
				stab[s].state = FULL;
			}
			stab[s].value = i;
		}
		for (long i = 0; i < 500; i += 2) {
			name(key, (unsigned long)(i * 7919 + r));
			long s = sfind(key, 0);
			check(s >= 0 && stab[s].value == i, "string key lost", r);
			if (s >= 0)
				stab[s].state = DEAD;
		}
		for (long i = 0; i < 700; i++) {
			name(key, (unsigned long)(i * 7919 + r));
			long s = sfind(key, 0);
			check((s >= 0) == (i < 500 && i % 2 == 1), "string lookup wrong", r);
			if (s >= 0)
				sfound += stab[s].value;
		}
		h = ((h * 31 + (unsigned long)live) * 31 + (unsigned long)found) * 31 + (unsigned long)sfound;
	}
	printf("hash rounds=%ld bad=%d h=%016lx\n", rounds, bad, h);
	return bad != 0;
}
