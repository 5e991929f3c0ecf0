#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	FILE *f = fopen("made.txt", "w");
	fprintf(f, "made by fopen\n");
	fclose(f);
	mkdir("sub", 0755);
	rename("made.txt", "sub/moved.txt");
	struct stat st;
	if (stat("sub/moved.txt", &st) == 0)
		printf("moved: %ld bytes, regular %d\n", (long)st.st_size, S_ISREG(st.st_mode));
	int fd = open("sub/moved.txt", O_RDWR);
	char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) { perror("mmap"); return 1; }
	p[0] = 'M';
	munmap(p, 8192);
	close(fd);
	DIR *d = opendir("sub");
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			printf("entry %s type %d\n", e->d_name, e->d_type);
	closedir(d);
	f = fopen("sub/moved.txt", "r");
	char line[64];
	fgets(line, sizeof line, f);
	printf("%s", line);
	if (unlink("nothing") < 0) perror("unlink nothing");
	remove("sub/moved.txt");
	if (remove("sub") == 0) printf("removed sub\n");
	return 0;
}
