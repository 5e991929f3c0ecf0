/* What <stdio.h>'s FILE is, for the runtime's own stdio sources. */
#ifndef _SPIN_FILE_H
#define _SPIN_FILE_H
#include <stdio.h>

struct _spin_file {
	int fd;
	int mode; /* _IOFBF, _IOLBF or _IONBF */
	int eof, err;
	int writing; /* the buffer holds output (else input) */
	int unget; /* a pushed-back character, or EOF */
	char *buf;
	size_t size, pos, len; /* input: buf[pos..len) unread; output: buf[0..len) unwritten */
	long offset; /* file offset of buf[0] (ftell) */
	int owned; /* fclose frees the FILE */
};

int __fill(FILE *f); /* the next byte (consumed), or EOF */
#endif
