/* The HTTPS listener: libevent's evhttp over OpenSSL bufferevents, with the CA-issued
 * listener certificate. Limits (header and body size, timeouts) are set here. */
#include "api.h"
#include "log.h"
#include "routes.h"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct api *a = arg;
	SSL *ssl = SSL_new(a->ssl_ctx);
	if (!ssl)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                      BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
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
	evhttp_set_bevcb(a->http, make_bev, a);
	/* Bodies up to 4x the ACME cap are read so an oversized request still gets a problem
	 * document (auth.c); beyond that libevent answers 413 and closes. */
	evhttp_set_max_body_size(a->http, (ev_ssize_t)c->max_body * 4);
	evhttp_set_max_headers_size(a->http, 16 * 1024);
	evhttp_set_timeout(a->http, 30);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	                                        EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(a->http, routes_handle, a);
	errno = 0;
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(a->http, c->listen_host,
	                                                                (ev_uint16_t)c->listen_port);
	if (!bs) {
		int e = errno;
		snprintf(err, errlen, "cannot listen on %s:%d: %s", c->listen_host, c->listen_port,
		         e ? strerror(e) : "bad address");
		return -1;
	}
	/* No Nagle: a response leaves as several TLS records (headers, body); with Nagle the
	 * second waits for the client's delayed ACK, 40 ms per request (issue 7 bench). Linux
	 * accepted sockets inherit the option from the listener. */
	int one = 1;
	if (setsockopt(evhttp_bound_socket_get_fd(bs), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		log_warn("listener: cannot set TCP_NODELAY: %s", strerror(errno));
	return 0;
}

void server_stop(struct api *a)
{
	if (a->http)
		evhttp_free(a->http);
	a->http = NULL;
	if (a->ssl_ctx)
		SSL_CTX_free(a->ssl_ctx);
	a->ssl_ctx = NULL;
}
