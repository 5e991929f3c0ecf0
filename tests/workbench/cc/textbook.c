/* A textbook exercise: read "name score" lines from stdin, keep them in a
   growing array, sort by score, print a table and the mean. A bad line is
   reported on stderr with its number, and the program exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	char name[32];
	int score;
};

static int by_score(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->score != y->score)
		return y->score - x->score;
	return strcmp(x->name, y->name);
}

int main(void)
{
	char line[256];
	size_t n = 0, cap = 2;
	struct entry *v = malloc(cap * sizeof *v);
	int lineno = 0;
	long total = 0;

	if (v == NULL) {
		fprintf(stderr, "out of memory\n");
		return 2;
	}
	while (fgets(line, sizeof line, stdin) != NULL) {
		struct entry e;
		lineno++;
		if (line[0] == '#' || strspn(line, " \t\n") == strlen(line))
			continue;
		if (sscanf(line, "%31s %d", e.name, &e.score) != 2) {
			line[strcspn(line, "\n")] = '\0';
			printf("read %zu entries before the error\n", n);
			fflush(stdout);
			fprintf(stderr, "line %d: expected NAME SCORE, got \"%s\"\n", lineno, line);
			free(v);
			return 1;
		}
		if (n == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof *v);
		}
		v[n++] = e;
		total += e.score;
	}
	qsort(v, n, sizeof *v, by_score);
	printf("%-10s %5s\n", "name", "score");
	for (size_t i = 0; i < n; i++)
		printf("%-10s %5d\n", v[i].name, v[i].score);
	if (n > 0)
		printf("%zu students, mean %.2f\n", n, (double)total / n);
	free(v);
	return 0;
}
