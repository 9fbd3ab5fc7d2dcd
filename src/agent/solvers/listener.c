/* Accept loop on a thread. listener_stop wakes it through a pipe (no polling tick, so the
 * agent does not wait for one at the end of every issuance), and it serves one connection
 * at a time: a CA's validation traffic is a handful of short requests. */
#include "agent/solvers/listener.h"
#include "deadline.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct listener {
	int fd;
	int wake[2]; /* listener_stop writes to wake[1] */
	pthread_t thread;
	listener_fn fn;
	void *ctx;
};

static void *loop(void *arg)
{
	struct listener *l = arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = l->fd, .events = POLLIN}, {.fd = l->wake[0], .events = POLLIN}};
		int n = poll(p, 2, -1);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		if (p[1].revents)
			break;
		int c = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
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
	if (pipe2(l->wake, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(l->fd);
		free(l);
		return NULL;
	}
	if (pthread_create(&l->thread, NULL, loop, l) != 0) {
		snprintf(err, errlen, "cannot start the listener thread");
		close(l->fd);
		close(l->wake[0]);
		close(l->wake[1]);
		free(l);
		return NULL;
	}
	return l;
}

void listener_stop(struct listener *l)
{
	if (!l)
		return;
	ssize_t w;
	do
		w = write(l->wake[1], "x", 1);
	while (w < 0 && errno == EINTR);
	pthread_join(l->thread, NULL);
	close(l->fd);
	close(l->wake[0]);
	close(l->wake[1]);
	free(l);
}

int listener_seen_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t a;
	if (pthread_condattr_init(&a) != 0)
		return -1;
	int rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 && pthread_cond_init(cv, &a) == 0 ? 0 : -1;
	pthread_condattr_destroy(&a);
	return rc;
}

int listener_seen_wait(pthread_mutex_t *mu, pthread_cond_t *cv, const int *(*find)(void *state, const char *token),
                       void *state, const char *token, int timeout_ms)
{
	struct timespec until = deadline_after_ms(timeout_ms);
	int seen = 0;
	pthread_mutex_lock(mu);
	for (;;) {
		const int *flag = find(state, token);
		if (!flag || *flag) {
			seen = flag != NULL;
			break;
		}
		if (pthread_cond_timedwait(cv, mu, &until) == ETIMEDOUT) {
			flag = find(state, token);
			seen = flag && *flag;
			break;
		}
	}
	pthread_mutex_unlock(mu);
	return seen;
}
