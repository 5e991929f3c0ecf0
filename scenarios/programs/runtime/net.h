/* BSD sockets (Linux/Alpha numbers; kernel/net/sockets.py). Header-only. */
#ifndef SPIN_NET_H
#define SPIN_NET_H
#include "unix.h"

#define SYS_socket 97
#define SYS_connect 98
#define SYS_accept 99
#define SYS_send 101
#define SYS_recv 102
#define SYS_bind 104
#define SYS_listen 106
#define SYS_recvfrom 125
#define SYS_sendto 133
#define SYS_shutdown 134

#define AF_INET 2
#define SOCK_STREAM 1
#define SOCK_DGRAM 2

struct sockaddr_in {
	unsigned short sin_family;
	unsigned short sin_port; /* network order */
	unsigned int sin_addr;   /* network order */
	char sin_zero[8];
};

static inline unsigned short htons(unsigned short v) { return (unsigned short)((v >> 8) | (v << 8)); }
#define ntohs htons

/* "a.b.c.d" in network order; 0 if malformed. */
static unsigned int inet_addr(const char *s)
{
	unsigned int out = 0;
	for (int i = 0; i < 4; i++) {
		unsigned int v = 0;
		int digits = 0;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (!digits || v > 255 || (i < 3 && *s++ != '.'))
			return 0;
		out |= v << (8 * i);
	}
	return out;
}

static inline void sockaddr(struct sockaddr_in *a, const char *host, int port)
{
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_port = htons((unsigned short)port);
	a->sin_addr = host ? inet_addr(host) : 0;
}

static inline long socket(int domain, int type, int proto) { return syscall3(SYS_socket, domain, type, proto); }
static inline long bind(int fd, struct sockaddr_in *a) { return syscall3(SYS_bind, fd, a, sizeof *a); }
static inline long listen(int fd, int backlog) { return syscall3(SYS_listen, fd, backlog, 0); }
static inline long connect(int fd, struct sockaddr_in *a) { return syscall3(SYS_connect, fd, a, sizeof *a); }
static inline long accept(int fd, struct sockaddr_in *a)
{
	unsigned int len = sizeof *a;
	return syscall3(SYS_accept, fd, a, a ? &len : 0);
}
static inline long send(int fd, const void *buf, size_t n) { return syscall6(SYS_send, fd, (long)buf, (long)n, 0, 0, 0); }
static inline long recv(int fd, void *buf, size_t n) { return syscall6(SYS_recv, fd, (long)buf, (long)n, 0, 0, 0); }
static inline long sendto(int fd, const void *buf, size_t n, struct sockaddr_in *to)
{
	return syscall6(SYS_sendto, fd, (long)buf, (long)n, 0, (long)to, sizeof *to);
}
static inline long recvfrom(int fd, void *buf, size_t n, struct sockaddr_in *from)
{
	unsigned int len = sizeof *from;
	return syscall6(SYS_recvfrom, fd, (long)buf, (long)n, 0, (long)from, (long)&len);
}
static inline long shutdown(int fd, int how) { return syscall3(SYS_shutdown, fd, how, 0); }

/* Send all of buf on a stream socket; 0 or -errno. */
static long send_all(int fd, const char *buf, size_t n)
{
	while (n) {
		long r = send(fd, buf, n);
		if (r < 0)
			return r;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The test pattern of a TCP transfer: byte i of the stream. */
static inline unsigned char pattern(unsigned long i) { return (unsigned char)(i * 7 + (i >> 10)); }
#endif
