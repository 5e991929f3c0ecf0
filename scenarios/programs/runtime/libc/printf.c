/* The printf family: flags - + space # 0, width and precision (numbers or *),
   lengths hh h l ll z j t L, conversions d i u o x X c s p n % and, for
   doubles, f F e E g G (correct to about 17 significant digits; glibc prints
   the exact binary value's digits beyond that). */
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "file.h"

struct sink {
	FILE *f; /* a stream, or NULL: the string buf[0..size) */
	char *buf;
	size_t size, len;
	char chunk[128];
	size_t n;
};

static void put(struct sink *o, char c)
{
	if (o->f) {
		o->chunk[o->n++] = c;
		if (o->n == sizeof o->chunk) {
			fwrite(o->chunk, 1, o->n, o->f);
			o->n = 0;
		}
	} else if (o->len + 1 < o->size) {
		o->buf[o->len] = c;
	}
	o->len++;
}

static void pad(struct sink *o, char c, int n)
{
	for (; n > 0; n--)
		put(o, c);
}

struct spec {
	int left, plus, space, alt, zero, width, prec;
};

/* body[0..n) with a sign or prefix, padded to the width as the flags say. */
static void emit(struct sink *o, const struct spec *sp, const char *prefix, const char *body, int n, int zeros)
{
	int plen = (int)strlen(prefix);
	int fill = sp->width - plen - zeros - n;
	if (!sp->left && !sp->zero)
		pad(o, ' ', fill);
	for (int i = 0; i < plen; i++)
		put(o, prefix[i]);
	if (!sp->left && sp->zero)
		pad(o, '0', fill);
	pad(o, '0', zeros);
	for (int i = 0; i < n; i++)
		put(o, body[i]);
	if (sp->left)
		pad(o, ' ', fill);
}

static void integer(struct sink *o, struct spec sp, unsigned long long v, int neg, char conv)
{
	char tmp[24];
	const char *digits = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	unsigned base = conv == 'o' ? 8 : conv == 'x' || conv == 'X' || conv == 'p' ? 16 : 10;
	int n = 0;
	for (unsigned long long u = v; u; u /= base)
		tmp[sizeof tmp - ++n] = digits[u % base];
	if (sp.prec >= 0)
		sp.zero = 0;
	else
		sp.prec = 1;
	int zeros = sp.prec > n ? sp.prec - n : 0;
	const char *prefix = neg ? "-" : sp.plus ? "+" : sp.space ? " " : "";
	if (sp.alt && conv == 'o' && !zeros && (v || !n))
		zeros = 1;
	if ((sp.alt && v && (conv == 'x' || conv == 'X')) || conv == 'p')
		prefix = conv == 'X' ? "0X" : "0x";
	emit(o, &sp, prefix, tmp + sizeof tmp - n, n, zeros);
}

/* --- doubles ------------------------------------------------------------------ */

#define DIG 40 /* digits kept; beyond DBL_DIG + 2 they are zeros */

/* v > 0 as decimal digits d[0..ndig) with value 0.d0d1d2... x 10^exp. */
static int decompose(double v, char *d, int *exp)
{
	int e = 0;
	if (v != 0) {
		while (v >= 1e16)
			v /= 1e16, e += 16;
		while (v >= 1)
			v /= 10, e++;
		while (v < 1e-16)
			v *= 1e16, e -= 16;
		while (v < 0.1)
			v *= 10, e--;
	}
	for (int i = 0; i < DIG; i++) {
		if (i < 17) {
			v *= 10;
			int k = (int)v;
			if (k > 9)
				k = 9;
			d[i] = (char)('0' + k);
			v -= k;
		} else {
			d[i] = '0';
		}
	}
	*exp = e;
	return DIG;
}

/* Round d (value 0.d x 10^*exp) to keep digits; a carry may add a digit in front. */
static void round_digits(char *d, int keep, int *exp)
{
	if (keep < 0) {
		memset(d, '0', DIG);
		return;
	}
	if (keep >= DIG)
		return;
	int up = d[keep] > '5';
	if (d[keep] == '5') { /* a tie (the rest all zeros) rounds to even, as glibc's exact digits do */
		int tie = 1;
		for (int i = keep + 1; i < DIG; i++)
			tie &= d[i] == '0';
		up = !tie || (keep > 0 && (d[keep - 1] - '0') % 2 == 1);
	}
	for (int i = keep; i < DIG; i++)
		d[i] = '0';
	for (int i = keep - 1; up && i >= 0; i--) {
		if (d[i] == '9') {
			d[i] = '0';
		} else {
			d[i]++;
			up = 0;
		}
	}
	if (up) {
		memmove(d + 1, d, DIG - 1);
		d[0] = '1';
		++*exp;
	}
}

static void floating(struct sink *o, struct spec sp, double v, char conv)
{
	char body[DIG + 360];
	int n = 0, upper = conv >= 'A' && conv <= 'Z';
	int neg = __builtin_signbit(v) != 0;
	if (neg)
		v = -v;
	const char *prefix = neg ? "-" : sp.plus ? "+" : sp.space ? " " : "";
	if (v != v || v == __builtin_inf()) {
		sp.zero = 0;
		emit(o, &sp, prefix, v != v ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"), 3, 0);
		return;
	}
	int prec = sp.prec < 0 ? 6 : sp.prec > 300 ? 300 : sp.prec;
	char d[DIG];
	int exp;
	decompose(v, d, &exp);
	char c = conv | 32;
	int strip = 0;
	if (c == 'g') {
		int p = prec ? prec : 1;
		int x = exp - 1; /* the exponent %e would print, after rounding */
		char t[DIG];
		int te = exp;
		memcpy(t, d, DIG);
		round_digits(t, p, &te);
		x = v == 0 ? 0 : te - 1;
		if (x < p && x >= -4) {
			c = 'f';
			prec = p - 1 - x;
		} else {
			c = 'e';
			prec = p - 1;
		}
		strip = !sp.alt;
	}
	if (c == 'f') {
		round_digits(d, exp + prec, &exp);
		if (v == 0)
			exp = 1;
		if (exp <= 0) {
			body[n++] = '0';
		} else {
			for (int i = 0; i < exp; i++)
				body[n++] = i < DIG ? d[i] : '0';
		}
		if (prec || sp.alt)
			body[n++] = '.';
		for (int i = 0; i < prec; i++) {
			int at = exp + i;
			body[n++] = at < 0 ? '0' : at < DIG ? d[at] : '0';
		}
	} else {
		round_digits(d, prec + 1, &exp);
		int x = v == 0 ? 0 : exp - 1;
		body[n++] = d[0];
		if (prec || sp.alt)
			body[n++] = '.';
		for (int i = 1; i <= prec; i++)
			body[n++] = i < DIG ? d[i] : '0';
		if (strip) {
			while (body[n - 1] == '0')
				n--;
			if (body[n - 1] == '.')
				n--;
			strip = 0;
		}
		body[n++] = upper ? 'E' : 'e';
		body[n++] = x < 0 ? '-' : '+';
		if (x < 0)
			x = -x;
		if (x >= 100)
			body[n++] = (char)('0' + x / 100);
		body[n++] = (char)('0' + x / 10 % 10);
		body[n++] = (char)('0' + x % 10);
	}
	if (strip && memchr(body, '.', n)) {
		while (body[n - 1] == '0')
			n--;
		if (body[n - 1] == '.')
			n--;
	}
	emit(o, &sp, prefix, body, n, 0);
}

/* --- the format ------------------------------------------------------------------ */

static int format(struct sink *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(o, *fmt);
			continue;
		}
		struct spec sp = { 0, 0, 0, 0, 0, 0, -1 };
		for (;; fmt++) {
			char f = fmt[1];
			if (f == '-')
				sp.left = 1;
			else if (f == '+')
				sp.plus = 1;
			else if (f == ' ')
				sp.space = 1;
			else if (f == '#')
				sp.alt = 1;
			else if (f == '0')
				sp.zero = 1;
			else
				break;
		}
		fmt++;
		if (*fmt == '*') {
			sp.width = va_arg(ap, int);
			if (sp.width < 0)
				sp.left = 1, sp.width = -sp.width;
			fmt++;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			sp.width = sp.width * 10 + (*fmt - '0');
		if (*fmt == '.') {
			fmt++;
			sp.prec = 0;
			if (*fmt == '*') {
				sp.prec = va_arg(ap, int);
				if (sp.prec < 0)
					sp.prec = -1;
				fmt++;
			}
			for (; *fmt >= '0' && *fmt <= '9'; fmt++)
				sp.prec = sp.prec * 10 + (*fmt - '0');
		}
		if (sp.left)
			sp.zero = 0;
		int len = 0; /* -2 hh, -1 h, 0 int, 1 long and wider */
		for (;; fmt++) {
			if (*fmt == 'h')
				len--;
			else if (*fmt == 'l' || *fmt == 'z' || *fmt == 'j' || *fmt == 't' || *fmt == 'L' || *fmt == 'q')
				len = 1;
			else
				break;
		}
		char conv = *fmt;
		switch (conv) {
		case 'd':
		case 'i': {
			long long v = len > 0 ? va_arg(ap, long) : va_arg(ap, int);
			if (len == -1)
				v = (short)v;
			else if (len < -1)
				v = (signed char)v;
			integer(o, sp, v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v, v < 0, conv);
			break;
		}
		case 'u':
		case 'o':
		case 'x':
		case 'X': {
			unsigned long long v = len > 0 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			if (len == -1)
				v = (unsigned short)v;
			else if (len < -1)
				v = (unsigned char)v;
			integer(o, sp, v, 0, conv);
			break;
		}
		case 'p': {
			void *p = va_arg(ap, void *);
			if (!p) {
				emit(o, &sp, "", "(nil)", 5, 0);
				break;
			}
			sp.plus = sp.space = 0;
			integer(o, sp, (uintptr_t)p, 0, 'p');
			break;
		}
		case 'f':
		case 'F':
		case 'e':
		case 'E':
		case 'g':
		case 'G':
			floating(o, sp, va_arg(ap, double), conv); /* long double is double here (-mlong-double-64) */
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);
			sp.zero = 0;
			emit(o, &sp, "", &c, 1, 0);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int n = (int)(sp.prec >= 0 ? strnlen(s, (size_t)sp.prec) : strlen(s));
			sp.zero = 0;
			emit(o, &sp, "", s, n, 0);
			break;
		}
		case 'n':
			*va_arg(ap, int *) = (int)o->len;
			break;
		case '%':
			put(o, '%');
			break;
		case 0:
			fmt--;
			break;
		default:
			put(o, '%');
			put(o, conv);
		}
	}
	if (o->f && o->n)
		fwrite(o->chunk, 1, o->n, o->f);
	if (!o->f && o->size)
		o->buf[o->len < o->size ? o->len : o->size - 1] = 0;
	return o->len > 0x7fffffff ? -1 : (int)o->len;
}

int vfprintf(FILE *f, const char *fmt, va_list ap)
{
	struct sink o = { f, NULL, 0, 0, { 0 }, 0 };
	int n = format(&o, fmt, ap);
	return ferror(f) ? -1 : n;
}

int vsnprintf(char *s, size_t size, const char *fmt, va_list ap)
{
	struct sink o = { NULL, s, size, 0, { 0 }, 0 };
	return format(&o, fmt, ap);
}

int vsprintf(char *s, const char *fmt, va_list ap) { return vsnprintf(s, (size_t)-1 >> 1, fmt, ap); }
int vprintf(const char *fmt, va_list ap) { return vfprintf(stdout, fmt, ap); }

#define VARIADIC(call)             \
	va_list ap;                \
	va_start(ap, fmt);         \
	int n = call;              \
	va_end(ap);                \
	return n

int printf(const char *fmt, ...) { VARIADIC(vfprintf(stdout, fmt, ap)); }
int fprintf(FILE *f, const char *fmt, ...) { VARIADIC(vfprintf(f, fmt, ap)); }
int sprintf(char *s, const char *fmt, ...) { VARIADIC(vsprintf(s, fmt, ap)); }
int snprintf(char *s, size_t size, const char *fmt, ...) { VARIADIC(vsnprintf(s, size, fmt, ap)); }

int dprintf(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	write(fd, buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
	return n;
}
