/* Poking Holes' Tables 1-3 (seed 004 §4.2): Squid writing a cache object,
   ITER times, each way the paper timed it. `fs_tables VARIANT ITER SIZE`:
     t1-write  open(O_TRUNC|O_WRONLY|O_NONBLOCK), write, close
     t1-mmap   open, mmap(MAP_PRIVATE), memcpy, munmap, close  (the paper's code)
     t2-mmap   open, fstat, mmap(MAP_SHARED) what fits, memcpy, munmap,
               write the rest, ftruncate, close              (a correct mmap)
     t3-write  open (no O_TRUNC), write, ftruncate, close
   Prints the cycles per iteration (rpcc: virtual cycles on the workbench)
   and whether the file holds the object afterwards. */
#include "fsio.h"

static char object[65536] __attribute__((aligned(8)));
static char check[65536] __attribute__((aligned(8)));

static void once(const char *v, long size)
{
	if (!strcmp(v, "t1-write")) {
		int fd = open3("object.dat", O_CREAT | O_TRUNC | O_WRONLY | 04, 0644);
		write(fd, object, size);
		close(fd);
	} else if (!strcmp(v, "t1-mmap")) {
		int fd = open3("object.dat", O_CREAT | O_RDWR, 0644);
		char *p = mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (!is_err(p)) {
			copy_quads(p, object, size);
			munmap(p, size);
		}
		close(fd);
	} else if (!strcmp(v, "t2-mmap")) {
		int fd = open3("object.dat", O_CREAT | O_RDWR, 0644);
		struct stat st;
		fstat(fd, &st);
		long fits = st.st_size < size ? st.st_size : size;
		if (fits > 0) {
			char *p = mmap(0, fits, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (!is_err(p)) {
				copy_quads(p, object, fits);
				munmap(p, fits);
			}
		}
		if (fits < size)
			pwrite(fd, object + fits, size - fits, fits);
		ftruncate(fd, size);
		close(fd);
	} else {
		int fd = open3("object.dat", O_CREAT | O_WRONLY | 04, 0644);
		write(fd, object, size);
		ftruncate(fd, size);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		printf("usage: fs_tables t1-write|t1-mmap|t2-mmap|t3-write ITER SIZE\n");
		return 2;
	}
	const char *v = argv[1];
	long iter = atol(argv[2]), size = atol(argv[3]);
	if (size <= 0 || size > (long)sizeof object || iter <= 0) {
		printf("fs_tables: SIZE must be 1..%ld and ITER positive\n", (long)sizeof object);
		return 2;
	}
	for (long i = 0; i < size; i++)
		object[i] = (char)(i * 7 + 3);
	int fd = open3("object.dat", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	write(fd, object, size); /* the object was cached before: Squid rewrites it */
	close(fd);
	for (long i = 0; i < size; i++)
		object[i] = (char)(i * 11 + 5);
	once(v, size); /* warm: the file's first use is not what the tables time */
	unsigned long t0 = rpcc();
	for (long k = 0; k < iter; k++)
		once(v, size);
	unsigned long dt = (rpcc() - t0) & 0xffffffffUL;
	fd = open3("object.dat", O_RDONLY, 0);
	long n = read(fd, check, sizeof check);
	close(fd);
	printf("%s: %ld iterations of %ld bytes, %lu cycles each; the file holds the object: %s\n", v, iter, size,
	       dt / iter, n == size && same_quads(check, object, size) ? "yes" : "no");
	return 0;
}
