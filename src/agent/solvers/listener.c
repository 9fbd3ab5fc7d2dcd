/* Accept loop on a thread. It wakes every 200 ms to notice stop requests, and serves one
 * connection at a time: a CA's validation traffic is a handful of short requests. */
#include "agent/solvers/listener.h"
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct listener {
	int fd;
	volatile int stop;
	pthread_t thread;
	listener_fn fn;
	void *ctx;
};

static void *loop(void *arg)
{
	struct listener *l = arg;
	while (!l->stop) {
		struct pollfd p = {.fd = l->fd, .events = POLLIN};
		int n = poll(&p, 1, 200);
		if (n <= 0)
			continue;
		int c = accept(l->fd, NULL, NULL);
		if (c < 0)
			continue;
		struct timeval tv = {5, 0};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		l->fn(c, l->ctx);
		close(c);
	}
	return NULL;
}

static int bind_any(int port, char *err, size_t errlen)
{
	int one = 1, zero = 0;
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		struct sockaddr_in6 a6;
		memset(&a6, 0, sizeof a6);
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((unsigned short)port);
		a6.sin6_addr = in6addr_any;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
		if (bind(fd, (struct sockaddr *)&a6, sizeof a6) == 0)
			return fd;
		close(fd);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_in a4;
	memset(&a4, 0, sizeof a4);
	a4.sin_family = AF_INET;
	a4.sin_port = htons((unsigned short)port);
	a4.sin_addr.s_addr = htonl(INADDR_ANY);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a4, sizeof a4) != 0) {
		snprintf(err, errlen, "cannot listen on port %d: %s%s", port, strerror(errno),
		         errno == EACCES ? " (ports below 1024 need root)" :
		         errno == EADDRINUSE ? " (stop the web server or use --http01-webroot)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

struct listener *listener_start(int port, listener_fn fn, void *ctx, char *err, size_t errlen)
{
	struct listener *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->fn = fn;
	l->ctx = ctx;
	l->fd = bind_any(port, err, errlen);
	if (l->fd < 0) {
		free(l);
		return NULL;
	}
	if (listen(l->fd, 16) != 0) {
		snprintf(err, errlen, "listen on port %d: %s", port, strerror(errno));
		close(l->fd);
		free(l);
		return NULL;
	}
	if (pthread_create(&l->thread, NULL, loop, l) != 0) {
		snprintf(err, errlen, "cannot start the listener thread");
		close(l->fd);
		free(l);
		return NULL;
	}
	return l;
}

void listener_stop(struct listener *l)
{
	if (!l)
		return;
	l->stop = 1;
	pthread_join(l->thread, NULL);
	close(l->fd);
	free(l);
}
