/* <sys/mman.h>: mmap(2) of anonymous memory and of files, msync(2) (asm/mman.h's values). */
#ifndef _SPIN_SYS_MMAN_H
#define _SPIN_SYS_MMAN_H
#include <sys/types.h>

#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4
#define MAP_SHARED 1
#define MAP_PRIVATE 2
#define MAP_FIXED 0x100
#define MAP_ANONYMOUS 0x10
#define MAP_ANON MAP_ANONYMOUS
#define MAP_FAILED ((void *)-1)
#define MS_ASYNC 1
#define MS_SYNC 2

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int munmap(void *addr, size_t len);
int msync(void *addr, size_t len, int flags);

#endif
