/* <stdio.h>'s streams: FILE buffers over read(2) and write(2). stdout is
   line-buffered and flushed before stdin reads (a prompt shows before the
   program waits); stderr is unbuffered; everything is flushed at exit. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "file.h"

#define MAX_FILES 16

static char in_buf[BUFSIZ], out_buf[BUFSIZ];
static FILE files[3] = {
	{ 0, _IOFBF, 0, 0, 0, EOF, in_buf, BUFSIZ, 0, 0, 0, 0 },
	{ 1, _IOLBF, 0, 0, 1, EOF, out_buf, BUFSIZ, 0, 0, 0, 0 },
	{ 2, _IONBF, 0, 0, 1, EOF, NULL, 0, 0, 0, 0, 0 },
};
FILE *stdin = &files[0], *stdout = &files[1], *stderr = &files[2];
static FILE *open_files[MAX_FILES];

static int write_all(FILE *f, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(f->fd, p, n);
		if (w <= 0) {
			f->err = 1;
			return EOF;
		}
		p += w, n -= (size_t)w;
		f->offset += w;
	}
	return 0;
}

/* Give back what was read ahead: the descriptor's offset goes to where the
   program is (a pipe cannot seek; its read-ahead stays lost, as in glibc). */
static void drop_input(FILE *f)
{
	long at = f->offset + (long)f->pos - (f->unget != EOF);
	if (f->len > f->pos || f->unget != EOF)
		lseek(f->fd, at, SEEK_SET);
	f->offset = at;
	f->pos = f->len = 0;
	f->unget = EOF;
}

int fflush(FILE *f)
{
	if (!f) {
		int r = fflush(stdout);
		for (int i = 0; i < MAX_FILES; i++)
			if (open_files[i] && fflush(open_files[i]))
				r = EOF;
		return r;
	}
	if (!f->writing)
		{
		if (f != stdin)
			drop_input(f);
		return 0;
	}
	size_t n = f->len;
	f->len = 0;
	return write_all(f, f->buf, n);
}

void __stdio_exit(void) { fflush(NULL); }

int setvbuf(FILE *f, char *buf, int mode, size_t size)
{
	if (mode != _IONBF && mode != _IOLBF && mode != _IOFBF)
		return -1;
	fflush(f);
	f->mode = mode;
	if (buf && size) {
		f->buf = buf;
		f->size = size;
	} else if (mode == _IONBF || !f->buf) {
		f->size = 0;
	}
	if (f->mode != _IONBF && !f->size) {
		f->buf = f->fd == 0 ? in_buf : f->fd == 1 ? out_buf : malloc(BUFSIZ);
		f->size = f->buf ? BUFSIZ : 0;
		if (!f->size)
			f->mode = _IONBF;
	}
	return 0;
}

void setbuf(FILE *f, char *buf) { setvbuf(f, buf, buf ? _IOFBF : _IONBF, BUFSIZ); }

/* --- output -------------------------------------------------------------------- */

static void to_writing(FILE *f)
{
	if (!f->writing) {
		drop_input(f);
		f->writing = 1;
	}
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	size_t total = size * n;
	const char *s = p;
	if (!total)
		return 0;
	to_writing(f);
	if (f->mode == _IONBF || !f->size) {
		return write_all(f, s, total) ? 0 : n;
	}
	for (size_t i = 0; i < total; i++) {
		f->buf[f->len++] = s[i];
		if (f->len == f->size || (f->mode == _IOLBF && s[i] == '\n'))
			if (fflush(f))
				return i / size;
	}
	return n;
}

int fputc(int c, FILE *f)
{
	unsigned char ch = (unsigned char)c;
	return fwrite(&ch, 1, 1, f) == 1 ? ch : EOF;
}

int putc(int c, FILE *f) { return fputc(c, f); }
int putchar(int c) { return fputc(c, stdout); }

int fputs(const char *s, FILE *f)
{
	size_t n = strlen(s);
	return n && fwrite(s, 1, n, f) != n ? EOF : 0;
}

int puts(const char *s) { return fputs(s, stdout) == EOF || fputc('\n', stdout) == EOF ? EOF : 0; }

void perror(const char *s)
{
	if (s && *s) {
		fputs(s, stderr);
		fputs(": ", stderr);
	}
	fputs(strerror(errno), stderr);
	fputc('\n', stderr);
}

void __assert_fail(const char *expr, const char *file, int line, const char *func)
{
	fflush(stdout);
	fprintf(stderr, "%s:%d: %s: Assertion `%s' failed.\n", file, line, func, expr);
	abort();
}

/* --- input ---------------------------------------------------------------------- */

int __fill(FILE *f)
{
	if (f->unget != EOF) {
		int c = f->unget;
		f->unget = EOF;
		return c;
	}
	if (f->writing) {
		fflush(f);
		f->writing = 0;
	}
	if (f->pos < f->len)
		return (unsigned char)f->buf[f->pos++];
	if (f->eof)
		return EOF;
	if (f == stdin)
		fflush(stdout);
	f->offset += (long)f->len;
	f->pos = f->len = 0;
	char one;
	char *into = f->size ? f->buf : &one;
	ssize_t n = read(f->fd, into, f->size ? f->size : 1);
	if (n <= 0) {
		if (n < 0)
			f->err = 1;
		else
			f->eof = 1;
		return EOF;
	}
	if (!f->size) {
		f->offset += 1;
		return (unsigned char)one;
	}
	f->len = (size_t)n;
	return (unsigned char)f->buf[f->pos++];
}

int fgetc(FILE *f) { return __fill(f); }
int getc(FILE *f) { return __fill(f); }
int getchar(void) { return __fill(stdin); }

int ungetc(int c, FILE *f)
{
	if (c == EOF || f->unget != EOF)
		return EOF;
	f->unget = (unsigned char)c;
	f->eof = 0;
	return (unsigned char)c;
}

char *fgets(char *s, int n, FILE *f)
{
	int i = 0;
	if (n <= 0)
		return NULL;
	while (i < n - 1) {
		int c = __fill(f);
		if (c == EOF)
			break;
		s[i++] = (char)c;
		if (c == '\n')
			break;
	}
	if (!i)
		return NULL;
	s[i] = 0;
	return s;
}

size_t fread(void *p, size_t size, size_t n, FILE *f)
{
	char *d = p;
	size_t total = size * n, i = 0;
	for (; i < total; i++) {
		int c = __fill(f);
		if (c == EOF)
			break;
		d[i] = (char)c;
	}
	return size ? i / size : 0;
}

int feof(FILE *f) { return f->eof && f->unget == EOF && f->pos >= f->len; }
int ferror(FILE *f) { return f->err; }
void clearerr(FILE *f) { f->eof = f->err = 0; }
int fileno(FILE *f) { return f->fd; }

/* --- files ---------------------------------------------------------------------- */

FILE *fopen(const char *path, const char *mode)
{
	int flags;
	switch (mode[0]) {
	case 'r': flags = O_RDONLY; break;
	case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
	case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
	default: errno = EINVAL; return NULL;
	}
	if (strchr(mode, '+'))
		flags = (flags & ~3) | O_RDWR;
	int slot = 0;
	while (slot < MAX_FILES && open_files[slot])
		slot++;
	if (slot == MAX_FILES) {
		errno = EMFILE;
		return NULL;
	}
	FILE *f = malloc(sizeof *f + BUFSIZ);
	if (!f)
		return NULL;
	int fd = open(path, flags, 0666);
	if (fd < 0) {
		free(f);
		return NULL;
	}
	*f = (FILE){ fd, _IOFBF, 0, 0, mode[0] != 'r', EOF, (char *)(f + 1), BUFSIZ, 0, 0, 0, 1 };
	open_files[slot] = f;
	return f;
}

int fclose(FILE *f)
{
	int r = fflush(f);
	if (close(f->fd) < 0)
		r = EOF;
	for (int i = 0; i < MAX_FILES; i++)
		if (open_files[i] == f)
			open_files[i] = NULL;
	if (f->owned)
		free(f);
	return r;
}

long ftell(FILE *f)
{
	if (f->writing)
		return f->offset + (long)f->len;
	return f->offset + (long)f->pos - (f->unget != EOF);
}

int fseek(FILE *f, long off, int whence)
{
	if (whence == SEEK_CUR)
		off += ftell(f), whence = SEEK_SET;
	if (fflush(f))
		return -1;
	if (!f->writing)
		f->pos = f->len = 0, f->unget = EOF;
	off_t at = lseek(f->fd, off, whence);
	if (at < 0)
		return -1;
	f->offset = at;
	f->eof = 0;
	return 0;
}

void rewind(FILE *f)
{
	fseek(f, 0, SEEK_SET);
	f->err = 0;
}
