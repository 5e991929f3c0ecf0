/* Memory pressure for the memory_reclaim lesson (SOSP'95 §4.1, PhysAddr.Reclaim).

   pressure FILE PAGES   reads FILE to its end (the kernel's buffer cache keeps
                         it, in frames PhysAddr may reclaim), then touches PAGES
                         fresh pages one by one, printing every 16; each touch
                         is a demand-zero fault that takes a frame. When no frame
                         is free, PhysAddr reclaims one; when none is left to
                         reclaim, the kernel kills the process as out of memory. */
#include "unix.h"

int main(int argc, char **argv)
{
	static char buf[8192];
	if (argc < 3) {
		printf("usage: pressure FILE PAGES\n");
		return 2;
	}
	int fd = open(argv[1], 0);
	if (fd < 0) {
		printf("%s: open failed, errno %ld\n", argv[1], -(long)fd);
		return 1;
	}
	long total = 0, r;
	while ((r = read(fd, buf, sizeof buf)) > 0)
		total += r;
	close(fd);
	printf("read %s: %ld bytes, now in the buffer cache\n", argv[1], total);
	long pages = atol(argv[2]);
	char *p = mmap_anon(pages * 8192);
	for (long i = 0; i < pages; i++) {
		p[i * 8192] = 1;
		if ((i + 1) % 16 == 0)
			printf("touched %ld pages\n", i + 1);
	}
	printf("touched all %ld pages\n", pages);
	return 0;
}
