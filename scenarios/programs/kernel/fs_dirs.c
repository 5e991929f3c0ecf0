/* mkdir, getdents64, rmdir: a small tree, listed, and taken apart. */
#include "fsio.h"

static void put(const char *path, const char *text)
{
	int fd = open3(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0) {
		printf("create %s: errno %d\n", path, -fd);
		return;
	}
	write_str(fd, text);
	close(fd);
}

int main(void)
{
	report("mkdir top", mkdir("top", 0755));
	report("mkdir top again", mkdir("top", 0755));
	report("mkdir top/sub", mkdir("top/sub", 0700));
	report("mkdir missing/x", mkdir("missing/x", 0755));
	put("top/one.txt", "1");
	put("top/two.txt", "22");
	put("top/sub/deep.txt", "333");
	put("nodir/file.txt", "x");
	list_dir("top");
	list_dir("top/sub");
	struct stat st;
	stat("top/sub", &st);
	printf("top/sub is a directory: %d, mode %o\n", S_ISDIR(st.st_mode), st.st_mode & 0777);
	report("rmdir top (not empty)", rmdir("top"));
	report("rmdir a file", rmdir("top/one.txt"));
	report("open a file as a directory", open3("top/one.txt/x", O_RDONLY, 0));
	report("open a directory to write", open3("top", O_WRONLY, 0));
	report("unlink top/sub/deep.txt", unlink("top/sub/deep.txt"));
	report("rmdir top/sub", rmdir("top/sub"));
	list_dir("top");
	list_dir(".");
	return 0;
}
