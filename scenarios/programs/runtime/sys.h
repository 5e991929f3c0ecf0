/* Linux/Alpha system calls for freestanding programs (alpha-machine.md §3.2):
   number in v0, arguments in a0..a5, a3 != 0 means v0 is a positive errno. */
#ifndef SPIN_SYS_H
#define SPIN_SYS_H

#define SYS_exit 1
#define SYS_read 3
#define SYS_write 4
#define SYS_brk 17
#define SYS_getxpid 20
#define SYS_mmap 71
#define SYS_munmap 73
#define SYS_exit_group 405
/* the file calls (fsio.c for the kernel's programs, libc/fs.c for spinwb cc's) */
#define SYS_unlink 10
#define SYS_stat 67
#define SYS_lstat 68
#define SYS_fstat 91
#define SYS_fsync 95
#define SYS_rename 128
#define SYS_truncate 129
#define SYS_ftruncate 130
#define SYS_mkdir 136
#define SYS_rmdir 137
#define SYS_msync 217
#define SYS_pread64 349
#define SYS_pwrite64 350
#define SYS_getdents64 377
#define SYS_fdatasync 447

#define SYSCALL_CLOBBERS "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", \
	"$22", "$23", "$24", "$25", "$27", "$28", "memory"

static inline long syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	register long v0 __asm__("$0") = n;
	register long a0 __asm__("$16") = a;
	register long a1 __asm__("$17") = b;
	register long a2 __asm__("$18") = c;
	register long a3 __asm__("$19") = d;
	register long a4 __asm__("$20") = e;
	register long a5 __asm__("$21") = f;
	__asm__ __volatile__("call_pal 0x83"
			     : "+r"(v0), "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3), "+r"(a4), "+r"(a5)
			     :
			     : SYSCALL_CLOBBERS);
	return a3 ? -v0 : v0;
}

#define syscall3(n, a, b, c) syscall6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

#endif
