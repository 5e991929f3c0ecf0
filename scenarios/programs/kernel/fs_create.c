/* Create, write, close, read back; O_EXCL on a file that exists; stat's size and mode. */
#include "fsio.h"

int main(void)
{
	static char buf[256];
	int fd = open3("notes.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	report("create notes.txt", fd);
	report("write", write_str(fd, "first line\nsecond line\n"));
	close(fd);
	report("O_EXCL on it", open3("notes.txt", O_CREAT | O_EXCL | O_WRONLY, 0644));
	fd = open3("notes.txt", O_RDONLY, 0);
	long n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("read %ld bytes: %s", n, buf);
	struct stat st;
	report("fstat", fstat(fd, &st));
	printf("size %ld, regular %d, mode %o\n", st.st_size, S_ISREG(st.st_mode), st.st_mode & 0777);
	close(fd);
	fd = open3("empty.txt", O_CREAT | O_RDWR, 0600);
	report("stat empty.txt", stat("empty.txt", &st));
	printf("empty: size %ld, mode %o, read %ld\n", st.st_size, st.st_mode & 0777, read(fd, buf, 10));
	close(fd);
	fd = open3("caf\xc3\xa9.txt", O_CREAT | O_WRONLY, 0644); /* a name in UTF-8, as the host keeps it */
	write_str(fd, "accent\n");
	close(fd);
	report("stat the UTF-8 name", stat("caf\xc3\xa9.txt", &st));
	list_dir(".");
	return 0;
}
