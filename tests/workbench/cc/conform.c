/* The runtime's libc against glibc: the same program built for the host and
   with `spinwb cc` must print the same bytes. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int main(int argc, char **argv)
{
	char buf[128];
	(void)argv;
	printf("[%d] [%5d] [%-5d] [%05d] [%+d] [% d] [%.3d] [%ld] [%lld]\n", 42, 42, 42, 42, 42, 42, 7, LONG_MIN, LLONG_MAX);
	printf("[%u] [%x] [%X] [%#x] [%o] [%#o] [%8.3x] [%hhd] [%hu]\n", 3000000000u, 255, 255, 255, 8, 8, 10, 300, 70000);
	printf("[%s] [%10s] [%-10s] [%.2s] [%c] [%3c] [%%] [%*d] [%-*d]\n", "hi", "hi", "hi", "hello", 'z', 'y', 6, 1, 6, 1);
	printf("[%f] [%.2f] [%10.3f] [%-10.1f] [%+.0f] [%f] [%.1f]\n", 3.14159, 2.675, -1.5, 0.25, 2.5, 0.0, 1e10);
	printf("[%e] [%.2e] [%E] [%g] [%g] [%g] [%g] [%.3g] [%G]\n", 12345.678, 0.000123, 1.0, 100000.0, 1000000.0, 0.0001,
	       0.00001, 3.14159, 1e-10);
	printf("[%#g] [%g] [%g]\n", 1.0, 123.456, -0.5);
	int n = snprintf(buf, (size_t)argc + 7, "%s-%d", "abcdef", 12345);
	printf("snprintf %d [%s]\n", n, buf);
	sprintf(buf, "%3d|%-3d|", 1, 2);
	puts(buf);

	int a = 0, b = 0;
	unsigned x = 0;
	char word[16] = "", c = 0;
	double d = 0;
	float f = 0;
	long l = 0;
	printf("sscanf %d:", sscanf("  12 -34 ff word Q 2.5e2 1.25 99", "%d %d %x %15s %c %lf %f %ld", &a, &b, &x, word, &c,
				    &d, &f, &l));
	printf(" %d %d %u %s %c %g %g %ld\n", a, b, x, word, c, d, f, l);
	printf("sscanf %d", sscanf("abc", "%d", &a));
	printf(" %d", sscanf("", "%d", &a));
	printf(" %d", sscanf("7,8", "%d,%d", &a, &b));
	printf(" %d %d", a, b);
	printf(" %d", sscanf("key=value;", "%15[^=]=%15[a-z]", word, buf));
	printf(" %s %s", word, buf);
	printf(" %d", sscanf("0x1F 017 9", "%i %i %i", &a, &b, (int *)&x));
	printf(" %d %d %u", a, b, x);
	int pos = 0;
	printf(" %d", sscanf("12345 rest", "%3d%*d %n", &a, &pos));
	printf(" %d %d\n", a, pos);

	char *end;
	printf("strtol %ld %ld %ld %ld", strtol("  -123xyz", &end, 10), strtol("0x1f", NULL, 16), strtol("777", NULL, 8),
	       strtol("z", NULL, 36));
	printf(" [%s]", end);
	errno = 0;
	l = strtol("99999999999999999999", NULL, 10);
	printf(" %ld %d", l, errno == ERANGE);
	printf(" %lu %d %d %g\n", strtoul("42", NULL, 0), atoi("  -7"), abs(-9), atof("-2.5e-3"));

	char s[64] = "hello";
	strcat(s, ", world");
	printf("%zu %d %d %d %d\n", strlen(s), strcmp("abc", "abd") < 0, strncmp("abcx", "abcy", 3), memcmp("a", "b", 1) < 0,
	       strcmp("b", "a") > 0);
	printf("[%s] [%s] [%s] [%s]\n", strchr(s, 'o'), strrchr(s, 'o'), strstr(s, "wor"), strstr(s, "xyz") ? "?" : "null");
	char t[16];
	strncpy(t, "abcdefgh", 4);
	t[4] = 0;
	memset(t + 1, '*', 2);
	memcpy(t + 3, "XY", 3);
	printf("[%s] %zu %zu\n", t, strspn("aabbc", "ab"), strcspn("hello world", " "));
	char tok[] = "  one two,,three ";
	for (char *w = strtok(tok, " ,"); w; w = strtok(NULL, " ,"))
		printf("<%s>", w);
	printf(" %d%d%d%d %c%c\n", isdigit('5') != 0, isalpha('_') != 0, isspace('\t') != 0, ispunct('!') != 0,
	       toupper('q'), tolower('Q'));

	int v[] = { 5, -3, 9, 0, 5, 12, -7, 1 };
	qsort(v, 8, sizeof v[0], cmp_int);
	for (int i = 0; i < 8; i++)
		printf("%d ", v[i]);
	int key = 9, *hit = bsearch(&key, v, 8, sizeof v[0], cmp_int);
	printf("found at %d\n", hit ? (int)(hit - v) : -1);

	/* the allocator: blocks do not overlap, free and realloc keep data */
	char *p[64];
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 64; i++) {
			p[i] = malloc((size_t)(i * 37 % 500) + 1);
			memset(p[i], i, (size_t)(i * 37 % 500) + 1);
		}
		for (int i = 0; i < 64; i += 2)
			free(p[i]);
		for (int i = 1; i < 64; i += 2) {
			size_t len = (size_t)(i * 37 % 500) + 1;
			for (size_t j = 0; j < len; j++)
				if (p[i][j] != (char)i)
					printf("corrupt block %d\n", i);
			p[i] = realloc(p[i], len * 3);
			if (p[i][len - 1] != (char)i)
				printf("realloc lost block %d\n", i);
			free(p[i]);
		}
	}
	int *z = calloc(100, sizeof *z);
	long sum = 0;
	for (int i = 0; i < 100; i++)
		sum += z[i];
	free(z);
	char *dup = strdup("copied");
	printf("calloc sum %ld, %s, %s\n", sum, dup, strerror(ENOENT));
	free(dup);
	fputs("fputs ", stdout);
	putchar('!');
	fputc('\n', stdout);
	return 0;
}
