/* Integer division by zero: the runtime's __divq raises gentrap
   GEN_INTDIV, which becomes SIGFPE (exit status 136). */
#include "lib.h"

static volatile long zero = 0;

int main(void)
{
	printf("7/2=%ld\n", 7 / (zero + 2));
	printf("dividing by zero\n");
	long v = 7 / zero;
	printf("not reached %ld\n", v);
	return 0;
}
