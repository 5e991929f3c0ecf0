/* What the socket calls answer to bad requests: a port already bound, a
   network with no route, a host that does not answer ARP, a port nobody
   listens on. Prints one line per case. Usage: netbad PEER */
#include "net.h"

static void show(const char *what, long r) { printf("%s: %ld\n", what, r < 0 ? r : 0L); }

int main(int argc, char **argv)
{
	const char *peer = argc > 1 ? argv[1] : "10.0.0.2";
	struct sockaddr_in a, b;
	char byte = 'x';
	long u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
	sockaddr(&a, 0, 7000);
	show("bind 7000", bind((int)u1, &a));
	show("bind 7000 again", bind((int)u2, &a));
	sockaddr(&b, "192.168.9.9", 9);
	show("sendto off-subnet", sendto((int)u1, &byte, 1, &b));
	sockaddr(&b, "10.0.0.99", 9);
	show("sendto silent host", sendto((int)u1, &byte, 1, &b));
	sleep_ms(400); /* ARP gives up after three tries, 50 ms apart */
	show("sendto silent host later", sendto((int)u1, &byte, 1, &b));
	show("socket bad family", socket(99, SOCK_DGRAM, 0));
	long t = socket(AF_INET, SOCK_STREAM, 0);
	sockaddr(&b, peer, 9999);
	show("connect closed port", connect((int)t, &b));
	long t2 = socket(AF_INET, SOCK_STREAM, 0);
	sockaddr(&b, "10.0.0.99", 80);
	show("connect silent host", connect((int)t2, &b));
	show("recv unconnected", recv((int)socket(AF_INET, SOCK_STREAM, 0), &byte, 1));
	show("send on a file", send(1, &byte, 1));
	return 0;
}
