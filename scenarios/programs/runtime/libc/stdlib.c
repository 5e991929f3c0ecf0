/* <stdlib.h>: memory from brk(2) kept on an address-ordered free list (first
   fit, neighbours merged on free, so a program that frees can run for ever
   in a bounded heap), number parsing, sorting, and the way out. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../sys.h"

#define SYS_kill 37
#define SIGABRT 6

/* --- the heap --------------------------------------------------------------- */

struct blk {
	size_t size; /* bytes, header included, a multiple of 16 */
	struct blk *next; /* on the free list only */
};

#define HDR sizeof(struct blk)
#define GROW (64 * 1024)

static struct blk *free_list;

static void insert_free(struct blk *b)
{
	struct blk **pp = &free_list;
	while (*pp && *pp < b)
		pp = &(*pp)->next;
	b->next = *pp;
	*pp = b;
	if (b->next && (char *)b + b->size == (char *)b->next) {
		b->size += b->next->size;
		b->next = b->next->next;
	}
	if (pp != &free_list) {
		struct blk *prev = (struct blk *)((char *)pp - offsetof(struct blk, next));
		if ((char *)prev + prev->size == (char *)b) {
			prev->size += b->size;
			prev->next = b->next;
		}
	}
}

void *malloc(size_t n)
{
	if (n > ((size_t)1 << 40))
		goto nomem;
	size_t need = (n + HDR + 15) & ~(size_t)15;
	for (int tries = 0; tries < 2; tries++) {
		for (struct blk **pp = &free_list; *pp; pp = &(*pp)->next) {
			struct blk *b = *pp;
			if (b->size < need)
				continue;
			if (b->size - need >= 2 * HDR) {
				struct blk *rest = (struct blk *)((char *)b + need);
				rest->size = b->size - need;
				rest->next = b->next;
				*pp = rest;
				b->size = need;
			} else {
				*pp = b->next;
			}
			return b + 1;
		}
		size_t grow = (need + GROW - 1) & ~(size_t)(GROW - 1);
		struct blk *b = sbrk((long)grow);
		if (b == (void *)-1)
			break;
		b->size = grow;
		insert_free(b);
	}
nomem:
	errno = ENOMEM;
	return NULL;
}

void free(void *p)
{
	if (p)
		insert_free((struct blk *)p - 1);
}

void *calloc(size_t n, size_t size)
{
	if (size && n > (size_t)-1 / size) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (!n) {
		free(p);
		return NULL;
	}
	size_t have = ((struct blk *)p - 1)->size - HDR;
	if (have >= n)
		return p;
	void *q = malloc(n);
	if (q) {
		memcpy(q, p, have);
		free(p);
	}
	return q;
}

/* --- numbers ----------------------------------------------------------------- */

static int digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

static int space(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* The magnitude of an integer in s; *neg its sign, *over set if it did not fit. */
static unsigned long long parse_int(const char *s, char **end, int base, int *neg, int *over)
{
	const char *p = s;
	unsigned long long v = 0;
	int any = 0;
	*neg = *over = 0;
	while (space(*p))
		p++;
	if (*p == '-' || *p == '+')
		*neg = *p++ == '-';
	if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && digit(p[2]) < 16) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = *p == '0' ? 8 : 10;
	}
	for (int d; (d = digit(*p)) < base; p++, any = 1) {
		if (v > (~0ULL - d) / base)
			*over = 1;
		else
			v = v * base + d;
	}
	if (end)
		*end = (char *)(any ? p : s);
	return v;
}

long long strtoll(const char *s, char **end, int base)
{
	int neg, over;
	unsigned long long v = parse_int(s, end, base, &neg, &over);
	if (over || v > (unsigned long long)LLONG_MAX + neg) {
		errno = ERANGE;
		return neg ? LLONG_MIN : LLONG_MAX;
	}
	return neg ? (long long)(0 - v) : (long long)v;
}

unsigned long long strtoull(const char *s, char **end, int base)
{
	int neg, over;
	unsigned long long v = parse_int(s, end, base, &neg, &over);
	if (over) {
		errno = ERANGE;
		return ~0ULL;
	}
	return neg ? 0 - v : v;
}

long strtol(const char *s, char **end, int base) { return strtoll(s, end, base); }
unsigned long strtoul(const char *s, char **end, int base) { return strtoull(s, end, base); }
long long atoll(const char *s) { return strtoll(s, NULL, 10); }
long atol(const char *s) { return strtol(s, NULL, 10); }
int atoi(const char *s) { return (int)strtol(s, NULL, 10); }

static double pow10i(int e)
{
	double r = 1, b = 10;
	unsigned u = e < 0 ? -e : e;
	for (; u; u >>= 1, b *= b)
		if (u & 1)
			r *= b;
	return e < 0 ? 1 / r : r;
}

/* Decimal only (no hex floats); exact to about 17 significant digits. */
double strtod(const char *s, char **end)
{
	const char *p = s;
	int neg = 0, any = 0, exp = 0, ndig = 0;
	unsigned long mant = 0;
	while (space(*p))
		p++;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!strncasecmp(p, "inf", 3) || !strncasecmp(p, "nan", 3)) {
		double v = (p[0] | 32) == 'i' ? __builtin_inf() : __builtin_nan("");
		p += 3;
		if ((v > 0) && !strncasecmp(p, "inity", 5))
			p += 5;
		if (end)
			*end = (char *)p;
		return neg ? -v : v;
	}
	for (; *p >= '0' && *p <= '9'; p++, any = 1) {
		if (ndig < 19)
			mant = mant * 10 + (*p - '0'), ndig += mant != 0;
		else
			exp++;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, any = 1) {
			if (ndig < 19) {
				mant = mant * 10 + (*p - '0'), ndig += mant != 0;
				exp--;
			}
		}
	}
	if (!any) {
		if (end)
			*end = (char *)s;
		return 0;
	}
	if (*p == 'e' || *p == 'E') {
		char *q;
		long e = strtol(p + 1, &q, 10);
		if (q != p + 1 && (p[1] == '-' || p[1] == '+' || (p[1] >= '0' && p[1] <= '9'))) {
			exp += e > 9999 ? 9999 : e < -9999 ? -9999 : (int)e;
			p = q;
		}
	}
	if (end)
		*end = (char *)p;
	double v = (double)mant;
	if (mant && exp)
		v = exp < -300 ? v * pow10i(exp + 300) * 1e-300 : v * pow10i(exp);
	if (v == __builtin_inf() || (mant && v == 0))
		errno = ERANGE;
	return neg ? -v : v;
}

float strtof(const char *s, char **end) { return (float)strtod(s, end); }
double atof(const char *s) { return strtod(s, NULL); }

int abs(int v) { return v < 0 ? -v : v; }
long labs(long v) { return v < 0 ? -v : v; }
long long llabs(long long v) { return v < 0 ? -v : v; }
div_t div(int a, int b) { return (div_t){ a / b, a % b }; }
ldiv_t ldiv(long a, long b) { return (ldiv_t){ a / b, a % b }; }

static unsigned long rand_state = 1;

void srand(unsigned seed) { rand_state = seed; }

/* A 31-bit linear congruential generator: the same sequence on every run
   of the same seed (not glibc's sequence). */
int rand(void)
{
	rand_state = (rand_state * 1103515245UL + 12345UL) & 0x7fffffffUL;
	return (int)rand_state;
}

/* --- sorting and searching ------------------------------------------------------ */

static void swap(char *a, char *b, size_t size)
{
	while (size--) {
		char t = *a;
		*a++ = *b;
		*b++ = t;
	}
}

static void sift(char *base, size_t root, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	for (size_t child; (child = 2 * root + 1) < n; root = child) {
		if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0)
			child++;
		if (cmp(base + root * size, base + child * size) >= 0)
			return;
		swap(base + root * size, base + child * size, size);
	}
}

/* Heapsort: n log n at worst, no recursion, not stable (neither is glibc's). */
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	char *b = base;
	for (size_t i = n / 2; i-- > 0;)
		sift(b, i, n, size, cmp);
	for (size_t i = n; i-- > 1;) {
		swap(b, b + i * size, size);
		sift(b, 0, i, size, cmp);
	}
}

void *bsearch(const void *key, const void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	const char *lo = base;
	while (n) {
		const char *mid = lo + (n / 2) * size;
		int c = cmp(key, mid);
		if (!c)
			return (void *)mid;
		if (c > 0) {
			lo = mid + size;
			n -= n / 2 + 1;
		} else {
			n /= 2;
		}
	}
	return NULL;
}

/* --- leaving ------------------------------------------------------------------------ */

#define ATEXIT_MAX 32
static void (*at_exit[ATEXIT_MAX])(void);
static int n_at_exit;

int atexit(void (*fn)(void))
{
	if (n_at_exit == ATEXIT_MAX)
		return -1;
	at_exit[n_at_exit++] = fn;
	return 0;
}

void __stdio_exit(void);

void exit(int status)
{
	while (n_at_exit)
		at_exit[--n_at_exit]();
	__stdio_exit();
	_exit(status);
}

void _Exit(int status) { _exit(status); }

void abort(void)
{
	syscall3(SYS_kill, getpid(), SIGABRT, 0);
	_exit(128 + SIGABRT);
}

char *getenv(const char *name)
{
	(void)name;
	return NULL;
}
