/* Hostile users of the in-kernel IPC extension extensions/xcall.py
   (tests/attacks/test_lesson_surfaces.py). Usage: xcall_attack MODE
     forge  a third process answers the client's call (xcall_reply) while the
            real server is still working: it must be refused (-EINVAL) and
            the client get the server's answer
     two    a second process tries to serve too: -EBUSY, and the first
            still answers
     exit   the server takes the request and exits without answering: the
            client gets -EPIPE, and a new server can take the service
     twice  a client calls xcall_reply_receive, which only the server may
            (it answers nobody and gets -EBUSY, then calls normally)
   Every process prints what it got; the parent waits for its children. */
#include "unix.h"

#define XRECV 0x7500
#define XCALL 0x7501
#define XREPLY_RECV 0x7502
#define XREPLY 0x7503

static long child(void (*fn)(void))
{
	long pid = fork();
	if (pid == 0) {
		fn();
		exit(0);
	}
	return pid;
}

static void slow_server(void)
{
	long w = app_syscall(XRECV, 0, 0, 0);
	sleep_ms(2);
	printf("server: request %ld\n", w);
	app_syscall(XREPLY, w + 1, 0, 0);
}

static void forger(void)
{
	sleep_ms(1);
	printf("forger: reply -> %ld\n", app_syscall(XREPLY, 666, 0, 0));
}

static void second_server(void)
{
	sleep_ms(1);
	printf("second: receive -> %ld\n", app_syscall(XRECV, 0, 0, 0));
}

static void quitter(void)
{
	long w = app_syscall(XRECV, 0, 0, 0);
	printf("quitter: request %ld, exits without answering\n", w);
}

static void honest_server(void)
{
	long w = app_syscall(XRECV, 0, 0, 0);
	app_syscall(XREPLY, w + 1, 0, 0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "forge";
	long pids[3] = { 0, 0, 0 };
	int status;
	if (strcmp(mode, "forge") == 0) {
		pids[0] = child(slow_server);
		pids[1] = child(forger);
		printf("client: call -> %ld\n", app_syscall(XCALL, 41, 0, 0));
	} else if (strcmp(mode, "two") == 0) {
		pids[0] = child(slow_server);
		pids[1] = child(second_server);
		printf("client: call -> %ld\n", app_syscall(XCALL, 41, 0, 0));
	} else if (strcmp(mode, "exit") == 0) {
		pids[0] = child(quitter);
		printf("client: call -> %ld\n", app_syscall(XCALL, 41, 0, 0));
		waitpid(pids[0], &status, 0);
		pids[0] = 0;
		pids[1] = child(honest_server);
		printf("client: call again -> %ld\n", app_syscall(XCALL, 50, 0, 0));
	} else if (strcmp(mode, "twice") == 0) {
		pids[0] = child(honest_server);
		sleep_ms(1);
		printf("client: reply_receive -> %ld\n", app_syscall(XREPLY_RECV, 9, 0, 0));
		printf("client: call -> %ld\n", app_syscall(XCALL, 41, 0, 0));
	} else {
		printf("usage: xcall_attack forge|two|exit|twice\n");
		return 1;
	}
	for (int i = 0; i < 3; i++)
		if (pids[i] > 0)
			waitpid(pids[i], &status, 0);
	printf("client: done\n");
	return 0;
}
