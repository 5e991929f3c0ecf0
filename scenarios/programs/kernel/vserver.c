/* The video server the DEC OSF/1 way (SOSP'95 §5.4, Figure 6): a user
   program over sockets. It reads the movie with read() (the file system's
   buffer cache underneath) and, for each packet of each frame, calls
   sendto() once per client: each call is a trap, a copy of the packet into
   the kernel and a trip down the whole protocol stack -- what SPIN's
   multicast handler does once. 30 frames a second per client, paced
   against the machine's clock (the measuring probe, measure.h; without it
   the process's own cycles) with nanosleep between frames.
   Packets: issue 20's format (kernel/video/format.py): a 16-byte header
   "SV", version 1, flags (bit 0 RLE), u32 stream, u32 frame, u16 chunk,
   u16 count, big-endian, then at most 1024 bytes of the frame.
   Usage: vserver MOVIE FRAMES STREAM HOST PORT N [HOST PORT N ...]
   (N clients on HOST's ports PORT..PORT+N-1; FRAMES 0: forever). */
#include "net.h"
#include "measure.h"

#define CHUNK 1024
#define FRAME_MAX 65536
#define MAX_CLIENTS 64
#define FPS_CYCLES (133000000UL / 30)

static unsigned char frame[FRAME_MAX];
static unsigned char pkt[16 + CHUNK];
static struct sockaddr_in clients[MAX_CLIENTS];

static unsigned long be(const unsigned char *p, int n)
{
	unsigned long v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void put(unsigned char *p, unsigned long v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static int read_all(int fd, unsigned char *buf, long n)
{
	long got = 0;
	while (got < n) {
		long r = read(fd, buf + got, (size_t)(n - got));
		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

static void nap(unsigned long cycles)
{
	unsigned long ns = cycles * 1000 / 133;
	long ts[2] = { (long)(ns / 1000000000UL), (long)(ns % 1000000000UL) };
	syscall3(SYS_nanosleep, ts, 0, 0);
}

int main(int argc, char **argv)
{
	if (argc < 7 || (argc - 4) % 3) {
		printf("usage: vserver MOVIE FRAMES STREAM HOST PORT N [HOST PORT N ...]\n");
		return 1;
	}
	long frames = atol(argv[2]), stream = atol(argv[3]);
	int nclients = 0;
	for (int a = 4; a + 2 < argc; a += 3) {
		long port = atol(argv[a + 1]), n = atol(argv[a + 2]);
		for (long i = 0; i < n && nclients < MAX_CLIENTS; i++)
			sockaddr(&clients[nclients++], argv[a], (int)(port + i));
	}
	int fd = open(argv[1], 0);
	unsigned char head[12];
	if (fd < 0 || read_all(fd, head, 12) < 0 || head[0] != 'S' || head[1] != 'V' || head[2] != 'F' || head[3] != '1') {
		printf("vserver: %s is not a movie\n", argv[1]);
		return 1;
	}
	unsigned long raw = be(head + 4, 2) * be(head + 6, 2), nframes = be(head + 10, 2);
	long s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || nframes == 0) {
		printf("vserver: no socket or an empty movie\n");
		return 1;
	}
	printf("vserver: %s, %lu frames, %d clients\n", argv[1], nframes, nclients);
	unsigned long next = vclock(), sent = 0, packets = 0, index = 0, failed = 0;
	for (long f = 0; frames == 0 || f < frames; f++) {
		unsigned char len4[4];
		if (index == nframes) {
			lseek(fd, 12, 0);
			index = 0;
		}
		if (read_all(fd, len4, 4) < 0) {
			printf("vserver: short movie at frame %lu\n", index);
			return 2;
		}
		unsigned long n = be(len4, 4);
		if (n == 0 || n > FRAME_MAX || read_all(fd, frame, (long)n) < 0) {
			printf("vserver: bad frame %lu (length %lu)\n", index, n);
			return 2;
		}
		index++;
		unsigned long count = (n + CHUNK - 1) / CHUNK;
		pkt[0] = 'S';
		pkt[1] = 'V';
		pkt[2] = 1;
		pkt[3] = n == raw ? 0 : 1;
		put(pkt + 4, (unsigned long)stream, 4);
		put(pkt + 8, (unsigned long)f, 4);
		put(pkt + 14, count, 2);
		for (unsigned long c = 0; c < count; c++) {
			unsigned long m = n - c * CHUNK < CHUNK ? n - c * CHUNK : CHUNK;
			put(pkt + 12, c, 2);
			memcpy(pkt + 16, frame + c * CHUNK, m);
			for (int i = 0; i < nclients; i++) {
				if (sendto((int)s, pkt, 16 + m, &clients[i]) < 0)
					failed++;
				packets++;
			}
		}
		sent++;
		next += FPS_CYCLES;
		unsigned long now = vclock();
		if (next > now)
			nap(next - now);
	}
	printf("vserver: %lu frames, %lu packets, %lu failed sends\n", sent, packets, failed);
	return 0;
}
