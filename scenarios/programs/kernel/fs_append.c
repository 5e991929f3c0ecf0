/* O_APPEND: two descriptors append in turn; a plain writer overwrites at its offset. */
#include "fsio.h"

int main(void)
{
	static char buf[256];
	int a = open3("log.txt", O_CREAT | O_WRONLY | O_APPEND | O_TRUNC, 0644);
	int b = open3("log.txt", O_WRONLY | O_APPEND, 0);
	for (int i = 0; i < 3; i++) {
		write_str(a, "a-line\n");
		write_str(b, "b-line\n");
	}
	printf("offset of a after appends: %ld\n", lseek(a, 0, SEEK_CUR));
	report("lseek a to 0", lseek(a, 0, SEEK_SET));
	write_str(a, "APPENDED\n"); /* O_APPEND: still at the end */
	int c = open3("log.txt", O_WRONLY, 0);
	write_str(c, "XX"); /* no O_APPEND: over the first bytes */
	close(a), close(b), close(c);
	int r = open3("log.txt", O_RDONLY, 0);
	long n = read(r, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("%ld bytes:\n%s", n, buf);
	printf("end at %ld\n", lseek(r, 0, SEEK_END));
	close(r);
	return 0;
}
