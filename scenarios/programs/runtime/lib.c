/* Freestanding runtime: system-call wrappers, memory and string functions
   (gcc emits calls to memcpy/memset/memmove/memcmp even when freestanding,
   alpha-machine.md §6.3), a bump allocator, and printf-style formatting. */
#include "lib.h"

void exit(int status)
{
	syscall3(SYS_exit_group, status, 0, 0);
	for (;;)
		syscall3(SYS_exit, status, 0, 0);
}

ssize_t write(int fd, const void *buf, size_t n) { return syscall3(SYS_write, fd, buf, n); }
ssize_t read(int fd, void *buf, size_t n) { return syscall3(SYS_read, fd, buf, n); }
int munmap(void *p, size_t len) { return (int)syscall3(SYS_munmap, p, len, 0); }

void *mmap_anon(size_t len)
{
	/* PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS (Alpha values) */
	long r = syscall6(SYS_mmap, 0, (long)len, 3, 0x02 | 0x10, -1, 0);
	return r < 0 ? NULL : (void *)r;
}

static char *cur_brk;

void *sbrk(long inc)
{
	if (!cur_brk)
		cur_brk = (char *)syscall3(SYS_brk, 0, 0, 0);
	char *old = cur_brk;
	char *want = old + inc;
	char *got = (char *)syscall3(SYS_brk, want, 0, 0);
	if (got != want)
		return (void *)-1;
	cur_brk = got;
	return old;
}

void *malloc(size_t n)
{
	n = (n + 15) & ~15UL;
	void *p = sbrk((long)n);
	return p == (void *)-1 ? NULL : p;
}

void free(void *p) { (void)p; }

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	if (dp < sp) {
		while (n--)
			*dp++ = *sp++;
	} else {
		while (n--)
			dp[n] = sp[n];
	}
	return d;
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *dp = d;
	while (n--)
		*dp++ = (unsigned char)c;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

char *strcpy(char *d, const char *s)
{
	char *r = d;
	while ((*d++ = *s++))
		;
	return r;
}

long atol(const char *s)
{
	long v = 0;
	int neg = 0;
	while (*s == ' ')
		s++;
	if (*s == '-')
		neg = 1, s++;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return neg ? -v : v;
}

/* --- formatting ----------------------------------------------------------- */

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, unsigned long v, int base, int upper, int neg,
		    int width, int prec, int left, char pad, int plus)
{
	char tmp[24];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0;
	if (v == 0 && prec != 0)
		tmp[n++] = '0';
	while (v) {
		tmp[n++] = digits[v % base];
		v /= base;
	}
	while (n < prec)
		tmp[n++] = '0';
	int sign = neg || plus;
	int total = n + sign;
	if (!left && pad == ' ')
		for (; total < width; width--)
			put(o, ' ');
	if (neg)
		put(o, '-');
	else if (plus)
		put(o, '+');
	if (!left && pad == '0')
		for (; total < width; width--)
			put(o, '0');
	while (n)
		put(o, tmp[--n]);
	if (left)
		for (; total < width; width--)
			put(o, ' ');
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		int left = 0, plus = 0, width = 0, prec = -1, lng = 0;
		char pad = ' ';
		for (;; fmt++) {
			if (*fmt == '-')
				left = 1;
			else if (*fmt == '0')
				pad = '0';
			else if (*fmt == '+')
				plus = 1;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == '.') {
			prec = 0;
			fmt++;
			while (*fmt >= '0' && *fmt <= '9')
				prec = prec * 10 + (*fmt++ - '0');
		}
		while (*fmt == 'l' || *fmt == 'z' || *fmt == 'h') {
			if (*fmt != 'h')
				lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			long v = lng ? va_arg(ap, long) : va_arg(ap, int);
			unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
			put_num(&o, u, 10, 0, v < 0, width, prec, left, pad, plus);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o': {
			unsigned long v = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			int base = *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16;
			put_num(&o, v, base, *fmt == 'X', 0, width, prec, left, pad, 0);
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (unsigned long)va_arg(ap, void *), 16, 0, 0, 0, -1, 0, ' ', 0);
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);
			for (; !left && width > 1; width--)
				put(&o, ' ');
			put(&o, c);
			for (; left && width > 1; width--)
				put(&o, ' ');
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int n = (int)strlen(s);
			if (prec >= 0 && prec < n)
				n = prec;
			for (; !left && width > n; width--)
				put(&o, ' ');
			for (int i = 0; i < n; i++)
				put(&o, s[i]);
			for (; left && width > n; width--)
				put(&o, ' ');
			break;
		}
		case '%':
			put(&o, '%');
			break;
		default:
			put(&o, '%');
			put(&o, *fmt);
		}
	}
	if (o.size)
		o.buf[o.len < o.size ? o.len : o.size - 1] = 0;
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	write(1, buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
	return n;
}

int puts(const char *s)
{
	write(1, s, strlen(s));
	write(1, "\n", 1);
	return 0;
}
