/* unlink: the name goes at once; an open file's bytes stay until it is closed. */
#include "fsio.h"

int main(void)
{
	static char buf[64];
	int fd = open3("temp.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
	write_str(fd, "still here after unlink");
	report("unlink temp.txt", unlink("temp.txt"));
	struct stat st;
	report("stat temp.txt", stat("temp.txt", &st));
	report("open temp.txt", open3("temp.txt", O_RDONLY, 0));
	long n = pread(fd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	printf("open descriptor reads: %s\n", buf);
	write_str(fd, " and writable");
	fstat(fd, &st);
	printf("size through the descriptor: %ld\n", st.st_size);
	close(fd);
	report("unlink again", unlink("temp.txt"));
	fd = open3("temp.txt", O_CREAT | O_RDWR, 0644);
	fstat(fd, &st);
	printf("a new temp.txt is %ld bytes\n", st.st_size);
	close(fd);
	mkdir("dir", 0755);
	report("unlink a directory", unlink("dir"));
	list_dir(".");
	return 0;
}
