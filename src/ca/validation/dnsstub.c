/* The resolver's stub mode (dnsstub.h). With a forwarder and no trust anchor, libunbound added
 * nothing to what the forwarder (a recursive resolver: the operator's, or the lab's server)
 * answers: its cache is off (resolver.c) and it validates nothing. It still cost a UDP socket
 * per query, a hand-over to and from its background thread through pipes, and that thread's
 * wake-ups: ~0.2 ms of CPU per certificate under the issue 7 bench. Here each set of queries
 * goes out from its own thread on one connected UDP socket (a fresh ephemeral port per set, and
 * a random id per query, RFC 5452), answers are matched to their question (dnswire_answer),
 * unanswered ones are sent again with a doubling interval, a truncated answer is asked again
 * over TCP (RFC 7766), and an alias the server did not answer for is chased. This is how
 * Boulder's VA talks to its resolvers. */
#include "dnsstub.h"
#include "deadline.h"
#include "rand.h"
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STUB_RESEND_MS 500
#define STUB_MSG_MAX 65535 /* a TCP answer's length field */
#define HDR_QUERY_MAX 512  /* a query: header, a name of at most 255 bytes, the OPT record */
#define STUB_CHASES_MAX 8  /* alias targets asked for in queries of their own */

int dnsstub_server_set(struct dnsstub_server *srv, const char *host, uint16_t port)
{
	memset(srv, 0, sizeof *srv);
	struct sockaddr_in *v4 = (struct sockaddr_in *)&srv->addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&srv->addr;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		srv->len = sizeof *v4;
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		srv->len = sizeof *v6;
	} else {
		return -1;
	}
	return 0;
}

void dnsstub_result_free(struct ub_result *res)
{
	if (!res)
		return;
	for (size_t k = 0; res->data && res->data[k]; k++)
		free(res->data[k]);
	free(res->data);
	free(res->len);
	free(res);
}

/* Sent and still waiting for its answer. */
static int outstanding(const struct query *q)
{
	return q->submitted && !q->done && !q->timed_out;
}

static void stub_fail(struct query *q, int err, const char *why)
{
	q->err = err;
	q->why = why;
	q->done = 1;
}

/* The answer's records as libunbound would give them: data[] and len[], NULL-terminated. */
static void stub_fill(struct query *q, const struct dnswire_answer *a)
{
	struct ub_result *res = calloc(1, sizeof *res);
	if (!res || !(res->data = calloc(a->n + 1, sizeof *res->data)) ||
	    !(res->len = calloc(a->n + 1, sizeof *res->len)))
		goto nomem;
	for (size_t k = 0; k < a->n; k++) {
		if (!(res->data[k] = malloc(a->len[k] ? a->len[k] : 1)))
			goto nomem;
		memcpy(res->data[k], a->rdata[k], a->len[k]);
		res->len[k] = (int)a->len[k];
	}
	res->rcode = a->rcode;
	res->havedata = a->n > 0;
	res->nxdomain = a->rcode == RCODE_NXDOMAIN;
	q->res = res;
	q->stub_res = 1;
	q->done = 1;
	return;
nomem:
	dnsstub_result_free(res);
	stub_fail(q, UB_NOMEM, NULL);
}

/* Waits for fd to be ready for events until dl; 1 if it is, 0 at the deadline, -1 on error. */
static int stub_poll(int fd, short events, const struct timespec *dl)
{
	for (;;) {
		long left = deadline_ms_left(dl);
		if (left <= 0)
			return 0;
		struct pollfd pfd = {.fd = fd, .events = events};
		int n = poll(&pfd, 1, (int)(left > INT_MAX ? INT_MAX : left));
		if (n > 0)
			return (pfd.revents & (POLLERR | POLLNVAL)) && !(pfd.revents & events) ? -1 : 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Reads or writes exactly len bytes on a non-blocking stream before dl: 0, or -1 (timed out:
 * *late set). */
static int stub_io(int fd, uint8_t *buf, size_t len, int writing, const struct timespec *dl, int *late)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = writing ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
		                    : recv(fd, buf + done, len - done, 0);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			return -1;
		int pr = stub_poll(fd, writing ? POLLOUT : POLLIN, dl);
		if (pr <= 0) {
			*late = pr == 0;
			return -1;
		}
	}
	return 0;
}

static void stub_answered(struct waiter *w, struct query *q, const struct dnswire_answer *a);

/* q asked again over TCP after a truncated answer (RFC 7766 §5), within dl; buf holds
 * STUB_MSG_MAX bytes. */
static void stub_tcp(const struct dnsstub_server *srv, struct waiter *w, struct query *q, uint8_t *buf,
                     const struct timespec *dl)
{
	uint16_t id;
	int late = 0;
	int fd = socket(srv->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || rand_fill(&id, sizeof id) != 0) {
		stub_fail(q, UB_SOCKET, "cannot open a TCP connection to the resolver");
		goto out;
	}
	if (connect(fd, (const struct sockaddr *)&srv->addr, srv->len) != 0 && errno != EINPROGRESS) {
		stub_fail(q, UB_SOCKET, "cannot connect to the resolver over TCP");
		goto out;
	}
	int len = dnswire_query(buf + 2, STUB_MSG_MAX - 2, id, q->wname, q->wlen, q->rrtype);
	if (len < 0) {
		stub_fail(q, UB_SYNTAX, "cannot write the query");
		goto out;
	}
	buf[0] = (uint8_t)(len >> 8);
	buf[1] = (uint8_t)len;
	uint8_t hdr[2];
	if (stub_io(fd, buf, (size_t)len + 2, 1, dl, &late) != 0 || stub_io(fd, hdr, 2, 0, dl, &late) != 0)
		goto io;
	size_t mlen = (size_t)hdr[0] << 8 | hdr[1];
	if (stub_io(fd, buf, mlen, 0, dl, &late) != 0)
		goto io;
	struct dnswire_answer a;
	if (dnswire_answer(buf, mlen, id, q->wname, q->wlen, q->rrtype, &a) != 0 || a.truncated)
		stub_fail(q, UB_SERVFAIL, "malformed or unmatched answer over TCP");
	else
		stub_answered(w, q, &a);
	goto out;
io:
	if (late)
		q->timed_out = 1;
	else
		stub_fail(q, UB_SOCKET, "the resolver's TCP connection failed");
out:
	if (fd >= 0)
		close(fd);
}

/* A random id for q that no other query of w's set has; -1 if the random source fails. */
static int stub_new_id(struct waiter *w, struct query *q)
{
	for (;;) {
		uint16_t id;
		if (rand_fill(&id, sizeof id) != 0)
			return -1;
		int unique = 1;
		for (size_t k = 0; k < w->n; k++)
			unique &= &w->q[k] == q || !w->q[k].submitted || w->q[k].id != (int)id;
		if (unique) {
			q->id = id;
			return 0;
		}
	}
}

static void stub_send(struct waiter *w, struct query *q);

/* An answer to q: its records, or, when the server only named an alias (an authoritative
 * server for the name but not for its target), a query for the target, as libunbound chases
 * it (RFC 1034 §3.6.2; RFC 8659 §3 for CAA). */
static void stub_answered(struct waiter *w, struct query *q, const struct dnswire_answer *a)
{
	if (a->n == 0 && a->rcode == 0 && a->aliased) {
		if (++q->chases > STUB_CHASES_MAX) {
			stub_fail(q, UB_SERVFAIL, "too many aliases");
			return;
		}
		memcpy(q->wname, a->target, a->target_len);
		q->wlen = a->target_len;
		if (stub_new_id(w, q) != 0)
			stub_fail(q, UB_NOMEM, "no random id");
		else
			stub_send(w, q);
		return;
	}
	stub_fill(q, a);
}

/* Sends q (again) on w's socket; a failed send is left to the next round. */
static void stub_send(struct waiter *w, struct query *q)
{
	uint8_t pkt[HDR_QUERY_MAX];
	int len = dnswire_query(pkt, sizeof pkt, (uint16_t)q->id, q->wname, q->wlen, q->rrtype);
	if (len < 0) {
		stub_fail(q, UB_SYNTAX, "cannot write the query");
		return;
	}
	(void)send(w->fd, pkt, (size_t)len, MSG_NOSIGNAL);
}

void dnsstub_submit(const struct dnsstub_server *srv, struct waiter *w, struct query *q, size_t n,
                    int first_set)
{
	*w = (struct waiter){.q = q, .n = n, .first_set = first_set, .fd = -1};
	int fd = socket(srv->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (const struct sockaddr *)&srv->addr, srv->len) != 0) {
		close(fd);
		fd = -1;
	}
	w->fd = fd;
	for (size_t i = 0; i < n; i++) {
		q[i].w = w;
		int wl = dnswire_name(q[i].name, q[i].wname);
		if (fd < 0) {
			stub_fail(&q[i], UB_SOCKET, "cannot open a socket to the resolver");
		} else if (wl < 0) {
			stub_fail(&q[i], UB_SYNTAX, "not a name that can be asked for");
		} else if (stub_new_id(w, &q[i]) != 0) {
			stub_fail(&q[i], UB_NOMEM, "no random id");
		} else {
			q[i].wlen = (size_t)wl;
			q[i].submitted = 1;
			stub_send(w, &q[i]);
		}
	}
}

/* Reads every datagram waiting on w's socket; buf holds STUB_MSG_MAX bytes. */
static void stub_receive(const struct dnsstub_server *srv, struct waiter *w, uint8_t *buf,
                         const struct timespec *dl)
{
	for (;;) {
		ssize_t len = recv(w->fd, buf, STUB_MSG_MAX, MSG_DONTWAIT);
		if (len < 0)
			return; /* EAGAIN, or an ICMP error for an earlier send (the next round sends again) */
		if (len < 2)
			continue;
		unsigned id = (unsigned)buf[0] << 8 | buf[1];
		struct query *q = NULL;
		for (size_t i = 0; i < w->n && !q; i++)
			if (outstanding(&w->q[i]) && (unsigned)w->q[i].id == id)
				q = &w->q[i];
		if (!q)
			continue; /* late, repeated, or not ours */
		struct dnswire_answer a;
		int rc = dnswire_answer(buf, (size_t)len, (uint16_t)id, q->wname, q->wlen, q->rrtype, &a);
		if (rc == 1)
			continue; /* another question under the same id: not an answer to q */
		if (rc < 0)
			stub_fail(q, UB_SERVFAIL, "malformed answer");
		else if (a.truncated)
			stub_tcp(srv, w, q, buf, dl);
		else
			stub_answered(w, q, &a);
	}
}

void dnsstub_wait(const struct dnsstub_server *srv, struct waiter *w, const struct timespec *dl)
{
	uint8_t *buf = w->fd >= 0 ? malloc(STUB_MSG_MAX) : NULL;
	int every = STUB_RESEND_MS;
	struct timespec resend = deadline_after_ms(every);
	while (buf && !resolver_set_ready(w) && deadline_ms_left(dl) > 0) {
		if (deadline_ms_left(&resend) <= 0) {
			for (size_t i = 0; i < w->n; i++)
				if (outstanding(&w->q[i]))
					stub_send(w, &w->q[i]);
			every *= 2;
			resend = deadline_after_ms(every);
		}
		const struct timespec *until = deadline_ms_left(&resend) < deadline_ms_left(dl) ? &resend : dl;
		if (stub_poll(w->fd, POLLIN, until) > 0)
			stub_receive(srv, w, buf, dl);
	}
	for (size_t i = 0; i < w->n; i++)
		if (!w->q[i].done) {
			if (!buf && w->fd >= 0)
				stub_fail(&w->q[i], UB_NOMEM, NULL);
			else
				w->q[i].timed_out = 1;
		}
	free(buf);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
