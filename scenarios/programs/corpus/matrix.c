/* Integer matrix multiply: mull/mulq, strided array indexing. */
#include "lib.h"

#define N 24
static int A[N][N], B[N][N];
static long C[N][N];

int main(void)
{
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			A[i][j] = (i * 31 + j * 17) % 101 - 50;
			B[i][j] = (i * 7 - j * 13) % 97;
		}
	for (int rep = 0; rep < 3; rep++)
		for (int i = 0; i < N; i++)
			for (int j = 0; j < N; j++) {
				long s = 0;
				for (int k = 0; k < N; k++)
					s += (long)A[i][k] * B[k][j];
				C[i][j] = s + rep;
			}
	long tr = 0, h = 0;
	for (int i = 0; i < N; i++) {
		tr += C[i][i];
		for (int j = 0; j < N; j++)
			h = h * 1000003 + C[i][j];
	}
	printf("trace=%ld hash=%lx c[3][5]=%ld\n", tr, h, C[3][5]);
	unsigned int u = 1;
	for (int i = 0; i < 100; i++)
		u = u * 2654435761u + i;
	printf("u=%u\n", u);
	return 0;
}
