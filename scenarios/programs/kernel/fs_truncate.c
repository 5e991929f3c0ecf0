/* ftruncate and truncate: shorter drops the tail, longer reads back as zeros. */
#include "fsio.h"

static char buf[20000];

static unsigned long sum(int fd, long *total)
{
	unsigned long s = 0;
	long n;
	*total = 0;
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (long i = 0; i < n; i++)
			s = s * 31 + (unsigned char)buf[i];
		*total += n;
	}
	return s;
}

int main(void)
{
	int fd = open3("data.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
	for (int i = 0; i < 20000; i++)
		buf[i] = (char)('a' + i % 26);
	printf("write: %ld\n", write(fd, buf, 20000));
	long total;
	unsigned long s = sum(fd, &total);
	printf("full: %ld bytes, sum %lu\n", total, s);
	report("ftruncate 5000", ftruncate(fd, 5000));
	s = sum(fd, &total);
	printf("after 5000: %ld bytes, sum %lu\n", total, s);
	report("ftruncate 12000", ftruncate(fd, 12000));
	long zeros = 0;
	lseek(fd, 5000, SEEK_SET);
	long n = read(fd, buf, 7000);
	for (long i = 0; i < n; i++)
		zeros += buf[i] == 0;
	printf("bytes 5000..12000: read %ld, zeros %ld\n", n, zeros);
	report("truncate by name to 3", truncate("data.bin", 3));
	struct stat st;
	fstat(fd, &st);
	printf("size now %ld\n", st.st_size);
	report("ftruncate -1", ftruncate(fd, -1));
	int ro = open3("data.bin", O_RDONLY, 0);
	report("ftruncate read-only fd", ftruncate(ro, 0));
	close(ro);
	/* write past the end: a hole of zeros */
	lseek(fd, 9000, SEEK_SET);
	write_str(fd, "end");
	s = sum(fd, &total);
	printf("with a hole: %ld bytes, sum %lu\n", total, s);
	close(fd);
	return 0;
}
