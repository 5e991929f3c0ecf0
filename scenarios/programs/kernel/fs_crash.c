/* Write a file and crash before closing it: the kernel still has the bytes. */
#include "fsio.h"

int main(void)
{
	int fd = open3("crash.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	write_str(fd, "written before the crash\n");
	long *volatile nowhere = NULL;
	return (int)*nowhere;
}
