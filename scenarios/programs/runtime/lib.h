/* The small C runtime the corpus programs link against. */
#ifndef SPIN_LIB_H
#define SPIN_LIB_H
#include <stdarg.h>
#include "sys.h"

typedef unsigned long size_t;
typedef long ssize_t;
#define NULL ((void *)0)

void exit(int status) __attribute__((noreturn));
ssize_t write(int fd, const void *buf, size_t n);
ssize_t read(int fd, void *buf, size_t n);
void *sbrk(long inc);
void *mmap_anon(size_t len);
int munmap(void *p, size_t len);
void *malloc(size_t n);
void free(void *p);

void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
char *strcpy(char *d, const char *s);
long atol(const char *s);

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...);
int printf(const char *fmt, ...);
int puts(const char *s);

#endif
