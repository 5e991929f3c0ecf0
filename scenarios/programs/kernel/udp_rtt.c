/* UDP round trips from user level: N datagrams of SIZE bytes to HOST:PORT,
   each answer checked against what was sent. Prints a tally line for
   spinwb bench net (time from the kernel's clock through the bench's
   probe; crossings likewise). Usage: udp_rtt HOST PORT N [SIZE] */
#include "net.h"
#include "measure.h"

int main(int argc, char **argv)
{
	if (argc < 4) {
		printf("usage: udp_rtt HOST PORT N [SIZE]\n");
		return 1;
	}
	long n = atol(argv[3]), size = argc > 4 ? atol(argv[4]) : 16;
	struct sockaddr_in to, from;
	char out[1472], in[1472];
	struct tally t;
	if (size < 1 || size > 1472)
		size = 16;
	sockaddr(&to, argv[1], (int)atol(argv[2]));
	long fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || !to.sin_addr) {
		printf("udp_rtt: bad address %s or no socket (%ld)\n", argv[1], fd);
		return 1;
	}
	tally_init(&t);
	for (long i = 0; i < n; i++) {
		for (long j = 0; j < size; j++)
			out[j] = (char)(i + j);
		long c0 = probe();
		unsigned long t0 = vclock();
		long r = sendto((int)fd, out, (size_t)size, &to);
		long got = r < 0 ? r : recvfrom((int)fd, in, sizeof in, &from);
		unsigned long t1 = vclock();
		long c1 = probe();
		if (r < 0 || got < 0) {
			printf("udp_rtt: round trip %ld failed: errno %ld\n", i, r < 0 ? -r : -got);
			return 2;
		}
		if (got != size || memcmp(in, out, (size_t)size) != 0) {
			printf("udp_rtt: round trip %ld: the answer differs\n", i);
			return 3;
		}
		t.ops++;
		t.cycles += t1 - t0 - vclock_overhead;
		t.crossings += c1 - c0 - 4; /* the probes' and clock reads' own crossings */
	}
	tally_print("rtt", &t);
	return 0;
}
