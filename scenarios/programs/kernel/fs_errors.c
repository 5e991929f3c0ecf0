/* The errors a student's program meets, each from the call that gives it. */
#include "fsio.h"

int main(void)
{
	static char buf[8];
	struct stat st;
	report("open missing.txt", open3("missing.txt", O_RDONLY, 0));
	report("stat missing.txt", stat("missing.txt", &st));
	int w = open3("w.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	report("read a write-only fd", read(w, buf, 4));
	int r = open3("w.txt", O_RDONLY, 0);
	report("write a read-only fd", write(r, "x", 1));
	report("ftruncate a read-only fd", ftruncate(r, 0));
	report("fstat a closed fd", fstat(99, &st));
	report("close a closed fd", close(99));
	mkdir("d", 0755);
	report("read a directory", read(open3("d", O_RDONLY, 0), buf, 4));
	report("O_DIRECTORY on a file", open3("w.txt", O_RDONLY | O_DIRECTORY, 0));
	report("create under a file", open3("w.txt/inner", O_CREAT | O_WRONLY, 0644));
	report("unlink missing", unlink("missing.txt"));
	report("rmdir missing", rmdir("missing"));
	report("lseek before the start", lseek(r, -5, SEEK_SET));
	report("bad open mode", open3("w.txt", 3, 0));
	report("O_CREAT|O_EXCL on a directory", open3("d", O_CREAT | O_EXCL | O_RDONLY, 0644));
	close(w);
	close(r);
	return 0;
}
