/* Poking Holes' Table 1 shape: the same file rewritten by open(O_TRUNC)-write-close,
   and by the non-truncating write (ftruncate to the new size after). */
#include "fsio.h"

static char page[8192];

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? (int)atol(argv[1]) : 20;
	for (int i = 0; i < 8192; i++)
		page[i] = (char)i;
	for (int k = 0; k < rounds; k++) {
		int fd = open3("object.dat", O_CREAT | O_WRONLY | O_TRUNC, 0644);
		write(fd, page, 4096 + (k % 4) * 1000);
		close(fd);
	}
	struct stat st;
	stat("object.dat", &st);
	printf("O_TRUNC: %d rounds, size %ld\n", rounds, st.st_size);
	for (int k = 0; k < rounds; k++) {
		int fd = open3("object2.dat", O_CREAT | O_WRONLY, 0644);
		long n = 4096 + (k % 4) * 1000;
		write(fd, page, n);
		ftruncate(fd, n);
		close(fd);
	}
	stat("object2.dat", &st);
	printf("no O_TRUNC: %d rounds, size %ld\n", rounds, st.st_size);
	return 0;
}
