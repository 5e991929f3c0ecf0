/* Executes a reserved opcode (0x01): SIGILL, exit status 132. */
#include "lib.h"

int main(void)
{
	printf("about to execute a reserved opcode\n");
	__asm__ __volatile__(".long 0x04000000");
	printf("not reached\n");
	return 0;
}
