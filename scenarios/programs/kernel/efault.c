/* System calls with bad pointers fail with EFAULT (14); the process lives on. */
#include "unix.h"

int main(void)
{
	long r1 = write(1, (void *)0x10, 5);
	long r2 = read(0, (void *)0xfffffc0000000000UL, 5);
	long r3 = write(1, (void *)0x1000000, 1L << 40);
	printf("write(null+16)=%ld read(kseg)=%ld write(huge)=%ld\n", r1, r2, r3);
	return 0;
}
