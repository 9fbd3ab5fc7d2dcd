/* The HTTPS listener: libevent's evhttp over OpenSSL bufferevents, with the CA-issued
 * listener certificate. Limits (header and body size, timeouts) are set here. One event loop
 * per CPU core accepts on the same socket (issue 7: a loop blocked in a durable commit or a
 * signature no longer holds up every other client). */
#include "api.h"
#include "log.h"
#include "replywait.h"
#include "routes.h"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERVER_MAX_LOOPS 8

struct server_loop {
	struct api a;
	pthread_t thread;
	int started;
};

struct server_loops {
	int n;
	struct server_loop *loop;
};

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct api *a = arg;
	SSL *ssl = SSL_new(a->ssl_ctx);
	if (!ssl)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                      BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

/* The limits and handlers of one loop's evhttp. */
void server_http_setup(struct api *a, struct evhttp *http)
{
	const struct config *c = a->cfg;
	evhttp_set_bevcb(http, make_bev, a);
	/* Bodies up to 4x the ACME cap are read so an oversized request still gets a problem
	 * document (auth.c); beyond that libevent answers 413 and closes. */
	evhttp_set_max_body_size(http, (ev_ssize_t)c->max_body * 4);
	evhttp_set_max_headers_size(http, 16 * 1024);
	evhttp_set_timeout(http, 30);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	                                     EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(http, routes_handle, a);
}

struct event_base *server_base_new(void)
{
	/* epoll's changelist: the adds and deletes of one loop iteration are merged and applied
	 * just before epoll_wait. Per request evhttp disables reading, adds the write event when
	 * the response is queued, enables reading and writing, and drops the write event once
	 * the response is written (reply.c writes it in the same iteration): four epoll_ctl
	 * calls that net out to one. libevent warns against the flag when an fd watched by a
	 * base is a dup() of another fd closed while events on it are still registered (the
	 * deferred EPOLL_CTL_DEL then fails with EBADF and epoll keeps reporting the open
	 * file). Here the only dup()s are the listener copies of start_loops, whose events are
	 * never deleted while their loop runs, and cobbled neither forks nor passes connection
	 * sockets on. */
	struct event_config *cfg = event_config_new();
	if (!cfg)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	struct event_base *base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

static void *loop_main(void *arg)
{
	struct server_loop *l = arg;
	pthread_setname_np(pthread_self(), "cobbled-loop"); /* top -H, perf: which thread */
	event_base_dispatch(l->a.base);
	return NULL;
}

static int loops_wanted(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > SERVER_MAX_LOOPS ? SERVER_MAX_LOOPS : (int)n;
}

/* Loops 1..n-1: a copy of loop 0's api with its own base, evhttp and store handle, accepting
 * on a dup of the listening socket (each evhttp closes its own fd when freed). */
static int start_loops(struct api *a, evutil_socket_t fd, char *err, size_t errlen)
{
	int n = loops_wanted();
	if (n <= 1)
		return 0;
	struct server_loops *ls = calloc(1, sizeof *ls);
	if (!ls || !(ls->loop = calloc((size_t)n, sizeof *ls->loop))) {
		free(ls);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->loops = ls;
	for (int i = 1; i < n; i++) {
		struct server_loop *l = &ls->loop[i];
		l->a = *a;
		l->a.loops = NULL;
		l->a.store = NULL;
		l->a.http = NULL;
		ls->n = i + 1; /* server_stop cleans up what exists so far */
		if (!(l->a.base = server_base_new()) || !(l->a.http = evhttp_new(l->a.base))) {
			snprintf(err, errlen, "cannot create event loop %d", i);
			return -1;
		}
		if (store_open(a->cfg->database, &l->a.store, err, errlen) != STORE_OK)
			return -1;
		server_http_setup(&l->a, l->a.http);
		evutil_socket_t dfd = dup(fd);
		if (dfd < 0 || evutil_make_socket_nonblocking(dfd) != 0 || !evhttp_accept_socket_with_handle(l->a.http, dfd)) {
			if (dfd >= 0)
				close(dfd);
			snprintf(err, errlen, "event loop %d cannot accept on the listener: %s", i, strerror(errno));
			return -1;
		}
		if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
			snprintf(err, errlen, "cannot start event loop thread %d", i);
			return -1;
		}
		l->started = 1;
	}
	log_info("listener: %d event loops", n);
	return 0;
}

int server_start(struct api *a, char *err, size_t errlen)
{
	const struct config *c = a->cfg;
	snprintf(a->directory_url, sizeof a->directory_url, "%s/directory", c->base_url);
	a->ssl_ctx = SSL_CTX_new(TLS_server_method());
	if (!a->ssl_ctx) {
		snprintf(err, errlen, "cannot create the TLS context");
		return -1;
	}
	SSL_CTX_set_min_proto_version(a->ssl_ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(a->ssl_ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* A keep-alive connection between requests gives back its record buffers (~34 KB):
	 * issue 7, peak RSS with W clients connected. */
	SSL_CTX_set_mode(a->ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(a->ssl_ctx, ca_tls_cert_path(a->ca)) != 1 ||
	    SSL_CTX_use_PrivateKey_file(a->ssl_ctx, ca_tls_key_path(a->ca), SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "cannot load the listener certificate %s", ca_tls_cert_path(a->ca));
		return -1;
	}
	a->http = evhttp_new(a->base);
	if (!a->http) {
		snprintf(err, errlen, "cannot create the HTTP server");
		return -1;
	}
	server_http_setup(a, a->http);
	errno = 0;
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(a->http, c->listen_host,
	                                                                (ev_uint16_t)c->listen_port);
	if (!bs) {
		int e = errno;
		snprintf(err, errlen, "cannot listen on %s:%d: %s", c->listen_host, c->listen_port,
		         e ? strerror(e) : "bad address");
		return -1;
	}
	/* No Nagle: a response over 16 KiB leaves as several TLS records (reply.c), and evhttp's
	 * own error pages as two (headers, body); with Nagle the second waits for the client's
	 * delayed ACK, 40 ms per request (issue 7 bench). Linux accepted sockets inherit the
	 * option from the listener. */
	int one = 1;
	if (setsockopt(evhttp_bound_socket_get_fd(bs), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		log_warn("listener: cannot set TCP_NODELAY: %s", strerror(errno));
	return start_loops(a, evhttp_bound_socket_get_fd(bs), err, errlen);
}

void server_stop(struct api *a)
{
	struct server_loops *ls = a->loops;
	for (int i = 1; ls && i < ls->n; i++) {
		struct server_loop *l = &ls->loop[i];
		if (l->started) {
			event_base_loopexit(l->a.base, NULL);
			pthread_join(l->thread, NULL);
		}
		if (l->a.http)
			evhttp_free(l->a.http);
		if (l->a.store)
			store_close(l->a.store);
		replywait_free_all(&l->a); /* after both: no callback comes any more */
		if (l->a.base)
			event_base_free(l->a.base);
	}
	if (ls) {
		free(ls->loop);
		free(ls);
	}
	a->loops = NULL;
	if (a->http)
		evhttp_free(a->http);
	a->http = NULL;
	if (a->ssl_ctx)
		SSL_CTX_free(a->ssl_ctx);
	a->ssl_ctx = NULL;
}
