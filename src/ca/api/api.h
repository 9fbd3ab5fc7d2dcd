/* The HTTP front end's shared state (Boulder's WFE): one per event loop. */
#ifndef COBBLE_API_H
#define COBBLE_API_H
#include <openssl/ssl.h>
#include "config.h"
#include "issuance/ca.h"
#include "nonce.h"
#include "storage/store.h"
#include "validation/pool.h"

struct event_base;
struct evhttp;

struct api {
	const struct config *cfg;
	struct ca *ca;
	struct serials *serials;  /* shared by the loops: serials reserved in blocks */
	struct store *store;      /* this loop's own handle */
	struct nonce_ctx *nonces;
	struct va_pool *pool;
	struct resolver *resolver; /* shared with the pool: CAA rechecks at finalize */
	struct event_base *base;
	struct evhttp *http;
	SSL_CTX *ssl_ctx;
	char directory_url[512];
	struct server_loops *loops; /* loop 0 only: the other event loops (server.c) */
	struct replywait *waits;    /* replies waiting for a WAL sync (replywait.c) */
};

/* An event loop for the HTTPS listener: epoll's changelist on (server.c says why it is
 * safe). a->base for server_start should come from here. */
struct event_base *server_base_new(void);
/* Sets up one loop's evhttp as server_start does: TLS bufferevents over a->ssl_ctx, the
 * header and body limits, the timeout, the methods and the ACME routes (tests replace the
 * routes with evhttp_set_gencb). */
void server_http_setup(struct api *a, struct evhttp *http);
/* Binds the HTTPS listener on cfg->listen_host:listen_port with the CA's listener
 * certificate, served by a->base and by one more event loop per further CPU core, each in
 * its own thread with its own copy of *a and its own store handle. -1 with a one-line
 * reason (port in use, bad address) in err. */
int server_start(struct api *a, char *err, size_t errlen);
void server_stop(struct api *a);

#endif
