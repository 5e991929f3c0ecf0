/* rename: a new name, over an existing file, and a directory with what it holds. */
#include "fsio.h"

static void show(const char *path)
{
	static char buf[64];
	int fd = open3(path, O_RDONLY, 0);
	if (fd < 0) {
		printf("%s: errno %d\n", path, -fd);
		return;
	}
	long n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("%s: %s\n", path, buf);
	close(fd);
}

static void put(const char *path, const char *text)
{
	int fd = open3(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	write_str(fd, text);
	close(fd);
}

int main(void)
{
	put("a.txt", "alpha");
	put("c.txt", "gamma");
	report("rename a.txt b.txt", rename("a.txt", "b.txt"));
	show("a.txt");
	show("b.txt");
	report("rename b.txt over c.txt", rename("b.txt", "c.txt"));
	show("b.txt");
	show("c.txt");
	report("rename missing", rename("nope.txt", "x.txt"));
	mkdir("box", 0755);
	put("box/inside.txt", "in the box");
	report("rename box crate", rename("box", "crate"));
	show("crate/inside.txt");
	show("box/inside.txt");
	report("rename crate into itself", rename("crate", "crate/sub"));
	report("rename file over dir", rename("c.txt", "crate"));
	list_dir(".");
	return 0;
}
