/* The scanf family: conversions d i u o x X c s [set] n % and f e g (float,
   or double with l), widths, * to skip, lengths hh h l ll z j t L. Returns
   the number of assignments, or EOF if the input ended before the first. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "file.h"

struct src {
	FILE *f; /* a stream, or NULL: the string s */
	const char *s;
	long count; /* characters consumed (%n) */
};

static int next(struct src *in)
{
	int c = in->f ? __fill(in->f) : *in->s ? (unsigned char)*in->s++ : EOF;
	if (c != EOF)
		in->count++;
	return c;
}

static void back(struct src *in, int c)
{
	if (c == EOF)
		return;
	in->count--;
	if (in->f)
		ungetc(c, in->f);
	else
		in->s--;
}

static int skip_space(struct src *in)
{
	int c;
	while ((c = next(in)) != EOF && isspace(c))
		;
	back(in, c);
	return c;
}

/* Reads a number's characters (at most width) into buf: integers in base, or
   with base 0 a float; the last character read is pushed back. */
static int number(struct src *in, char *buf, int width, int base, int fp)
{
	int n = 0, c = next(in), seen_e = 0, seen_dot = 0;
	if (width <= 0 || width > 62)
		width = 62;
	if ((c == '-' || c == '+') && n < width)
		buf[n++] = (char)c, c = next(in);
	if (!fp && (base == 0 || base == 16) && c == '0' && n < width) {
		buf[n++] = (char)c, c = next(in);
		if ((c == 'x' || c == 'X') && n < width) {
			buf[n++] = (char)c, c = next(in);
			base = 16;
		} else if (base == 0) {
			base = 8;
		}
	}
	if (base == 0)
		base = 10;
	for (; c != EOF && n < width; buf[n++] = (char)c, c = next(in)) {
		if (fp) {
			if (isdigit(c))
				continue;
			if (c == '.' && !seen_dot && !seen_e) {
				seen_dot = 1;
				continue;
			}
			if ((c == 'e' || c == 'E') && !seen_e && n && isdigit((unsigned char)buf[n - 1])) {
				seen_e = 1;
				continue;
			}
			if ((c == '-' || c == '+') && n && (buf[n - 1] == 'e' || buf[n - 1] == 'E'))
				continue;
			break;
		}
		int d = isdigit(c) ? c - '0' : isalpha(c) ? tolower(c) - 'a' + 10 : 99;
		if (d >= base)
			break;
	}
	back(in, c);
	buf[n] = 0;
	return n;
}

static int scan(struct src *in, const char *fmt, va_list ap)
{
	int assigned = 0, failed_input = 0;
	for (; *fmt; fmt++) {
		if (isspace((unsigned char)*fmt)) {
			skip_space(in);
			continue;
		}
		if (*fmt != '%' || fmt[1] == '%') {
			if (*fmt == '%')
				fmt++;
			if (*fmt == '%')
				skip_space(in);
			int c = next(in);
			if (c != (unsigned char)*fmt) {
				failed_input = c == EOF;
				back(in, c);
				break;
			}
			continue;
		}
		fmt++;
		int skip = 0, width = 0, len = 0;
		if (*fmt == '*')
			skip = 1, fmt++;
		for (; isdigit((unsigned char)*fmt); fmt++)
			width = width * 10 + (*fmt - '0');
		for (;; fmt++) {
			if (*fmt == 'h')
				len--;
			else if (*fmt == 'l' || *fmt == 'z' || *fmt == 'j' || *fmt == 't' || *fmt == 'L' || *fmt == 'q')
				len++;
			else
				break;
		}
		char conv = *fmt;
		if (!conv)
			break;
		if (conv == 'n') {
			if (!skip)
				*va_arg(ap, int *) = (int)in->count;
			continue;
		}
		if (conv != 'c' && conv != '[' && skip_space(in) == EOF) {
			failed_input = 1;
			break;
		}
		if (conv == 'c' || conv == 's' || conv == '[') {
			char set[256] = { 0 };
			if (conv == '[') {
				int negate = fmt[1] == '^';
				fmt += 1 + negate;
				if (*fmt == ']')
					set[']'] = 1, fmt++;
				for (; *fmt && *fmt != ']'; fmt++) {
					if (fmt[1] == '-' && fmt[2] && fmt[2] != ']') {
						for (int ch = (unsigned char)fmt[0]; ch <= (unsigned char)fmt[2]; ch++)
							set[ch] = 1;
						fmt += 2;
					} else {
						set[(unsigned char)*fmt] = 1;
					}
				}
				if (!*fmt)
					fmt--;
				if (negate)
					for (int ch = 0; ch < 256; ch++)
						set[ch] = !set[ch];
			}
			if (!width)
				width = conv == 'c' ? 1 : -1;
			char *out = skip ? NULL : va_arg(ap, char *);
			int n = 0, c = 0;
			for (; width < 0 || n < width; n++) {
				c = next(in);
				if (c == EOF || (conv == 's' && isspace(c)) || (conv == '[' && !set[c]))
					break;
				if (out)
					out[n] = (char)c;
			}
			if (width < 0 || n < width)
				back(in, c);
			if (!n || (conv == 'c' && n < width)) {
				failed_input = c == EOF;
				break;
			}
			if (out && conv != 'c')
				out[n] = 0;
			assigned += !skip;
			continue;
		}
		char buf[64];
		int fp = conv == 'f' || conv == 'e' || conv == 'g' || conv == 'E' || conv == 'G' || conv == 'a';
		int base = conv == 'd' || conv == 'u' ? 10 : conv == 'o' ? 8 : conv == 'x' || conv == 'X' ? 16 : 0;
		if (!fp && conv != 'i' && !base)
			break; /* an unknown conversion ends the scan */
		int n = number(in, buf, width, base, fp);
		char *end;
		if (!n)
			break;
		if (fp) {
			double v = strtod(buf, &end);
			if (end == buf)
				break;
			if (!skip) {
				if (len > 0)
					*va_arg(ap, double *) = v;
				else
					*va_arg(ap, float *) = (float)v;
			}
		} else {
			unsigned long long v = conv == 'd' || conv == 'i' ? (unsigned long long)strtoll(buf, &end, base)
									  : strtoull(buf, &end, base);
			if (end == buf)
				break;
			if (!skip) {
				void *p = va_arg(ap, void *);
				if (len >= 1)
					*(unsigned long *)p = v;
				else if (len == -1)
					*(unsigned short *)p = (unsigned short)v;
				else if (len < -1)
					*(unsigned char *)p = (unsigned char)v;
				else
					*(unsigned *)p = (unsigned)v;
			}
		}
		assigned += !skip;
	}
	return failed_input && !assigned ? EOF : assigned;
}

int vfscanf(FILE *f, const char *fmt, va_list ap)
{
	struct src in = { f, NULL, 0 };
	return scan(&in, fmt, ap);
}

int vsscanf(const char *s, const char *fmt, va_list ap)
{
	struct src in = { NULL, s, 0 };
	return scan(&in, fmt, ap);
}

int vscanf(const char *fmt, va_list ap) { return vfscanf(stdin, fmt, ap); }

#define VARIADIC(call)             \
	va_list ap;                \
	va_start(ap, fmt);         \
	int n = call;              \
	va_end(ap);                \
	return n

int scanf(const char *fmt, ...) { VARIADIC(vfscanf(stdin, fmt, ap)); }
int fscanf(FILE *f, const char *fmt, ...) { VARIADIC(vfscanf(f, fmt, ap)); }
int sscanf(const char *s, const char *fmt, ...) { VARIADIC(vsscanf(s, fmt, ap)); }
