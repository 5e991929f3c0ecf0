/* String handling: strlen, strcmp, strcpy, substring search, tokenizing,
   case mapping and reversal over a generated text, byte at a time. General
   code for `spinwb bench cpu`; on ev4 every byte access is an ldq_u with
   extbl, and every byte store the ldq_u/insbl/mskbl/or/stq_u sequence.
   argv[1]: rounds. */
#include "lib.h"

static const char *const words[] = {
	"extensible", "kernel", "spin", "alpha", "strand", "domain", "event", "handler",
	"guard", "dispatch", "modula", "safe", "page", "fault", "trap", "cache",
};

static char text[4096];
static char copy[4096];
static char *tokens[700];

/* A sentence-like text of n words, seeded, with punctuation. */
static size_t build(unsigned long seed, int n)
{
	char *p = text;
	for (int i = 0; i < n; i++) {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		const char *w = words[(seed >> 33) & 15];
		strcpy(p, w);
		p += strlen(w);
		*p++ = (seed >> 40) % 7 == 0 ? ',' : ' ';
		if ((seed >> 45) % 11 == 0)
			*p++ = ' ';
	}
	*p = 0;
	return (size_t)(p - text);
}

static int is_sep(char c) { return c == ' ' || c == ',' || c == 0; }

/* Split s in place at separators (strtok-like); returns the token count. */
static int tokenize(char *s, char **out, int max)
{
	int n = 0;
	while (*s && n < max) {
		while (*s && is_sep(*s))
			s++;
		if (!*s)
			break;
		out[n++] = s;
		while (*s && !is_sep(*s))
			s++;
		if (*s)
			*s++ = 0;
	}
	return n;
}

/* Occurrences of needle in hay (naive search). */
static int count(const char *hay, const char *needle)
{
	int n = 0;
	size_t m = strlen(needle);
	for (; *hay; hay++) {
		size_t k = 0;
		while (k < m && hay[k] == needle[k])
			k++;
		n += k == m;
	}
	return n;
}

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

static void reverse(char *s, size_t n)
{
	for (size_t i = 0, j = n - 1; i < j; i++, j--) {
		char t = s[i];
		s[i] = s[j];
		s[j] = t;
	}
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 1;
	unsigned long h = 0;
	int ntok = 0, hits = 0, before = 0;
	size_t len = 0;
	for (long r = 0; r < rounds; r++) {
		len = build(0x5EED + (unsigned long)r, 400);
		strcpy(copy, text);
		hits = count(text, "ex") + count(text, "spin") + count(text, "a,");
		ntok = tokenize(copy, tokens, 700);
		before = 0;
		for (int i = 1; i < ntok; i++) /* adjacent tokens in order */
			before += strcmp(tokens[i - 1], tokens[i]) < 0;
		unsigned long th = 0;
		for (int i = 0; i < ntok; i++)
			th = th * 131 + strlen(tokens[i]) + (unsigned char)tokens[i][0];
		upper(text);
		reverse(text, len);
		for (size_t i = 0; i < len; i += 37)
			th = th * 31 + (unsigned char)text[i];
		h = (h * 31 + th) * 31 + (unsigned long)(hits + before);
	}
	printf("strings rounds=%ld len=%lu tokens=%d hits=%d before=%d h=%016lx\n", rounds, len, ntok, hits, before,
	       h);
	return 0;
}
