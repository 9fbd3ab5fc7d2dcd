/* The public plain-HTTP listener: GET/HEAD /crl/<shard>.crl and nothing else. Small limits:
 * requests carry no body. */
#include "pubserver.h"
#include "issuance/ocsp.h"
#include "lifecycle.h"
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>
#include <time.h>
#include <errno.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pubserver {
	struct evhttp *http;
	struct api *a;
};

static void send_ocsp(struct pubserver *p, struct evhttp_request *req, const unsigned char *der, size_t len)
{
	unsigned char *out = NULL;
	size_t n = 0;
	if (ocsp_respond(p->a->ca, p->a->store, der, len, (int64_t)time(NULL), &out, &n) != 0) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		OPENSSL_free(out);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add(b, out, n);
	OPENSSL_free(out);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "application/ocsp-response");
	evhttp_add_header(h, "Cache-Control", "public, max-age=3600");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* RFC 6960 Appendix A.1: GET {url}/{url-encoding of base-64 encoding of the DER request}. */
static void ocsp_get(struct pubserver *p, struct evhttp_request *req, const char *enc)
{
	size_t dl = 0;
	char *b64 = strlen(enc) <= OCSP_REQUEST_MAX * 2 ? evhttp_uridecode(enc, 0, &dl) : NULL;
	unsigned char *der = NULL;
	int n = -1;
	if (b64 && dl > 0 && dl % 4 == 0 && strlen(b64) == dl && (der = malloc(dl))) {
		n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)dl);
		for (size_t i = dl; n > 0 && i > 0 && b64[i - 1] == '='; i--)
			n--;
	}
	send_ocsp(p, req, der, n > 0 ? (size_t)n : 0);
	free(der);
	free(b64);
}

static void ocsp_post(struct pubserver *p, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	if (len > OCSP_REQUEST_MAX)
		len = 0; /* answered malformedRequest */
	unsigned char *der = len ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
	send_ocsp(p, req, der, der ? len : 0);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct pubserver *p = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (p->a->cfg->ocsp && path && strcmp(path, "/ocsp") == 0 && cmd == EVHTTP_REQ_POST) {
		ocsp_post(p, req);
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	if (p->a->cfg->ocsp && path && strncmp(path, "/ocsp/", 6) == 0) {
		ocsp_get(p, req, path + 6);
		return;
	}
	if (path && strncmp(path, "/crl/", 5) == 0) {
		lifecycle_crl(p->a, req, path + 5);
		return;
	}
	evhttp_send_error(req, 404, "Not Found");
}

struct pubserver *pubserver_start(struct api *a, char *err, size_t errlen)
{
	const struct config *c = a->cfg;
	struct pubserver *p = calloc(1, sizeof *p);
	if (!p || !(p->http = evhttp_new(a->base))) {
		snprintf(err, errlen, "cannot create the public HTTP server");
		free(p);
		return NULL;
	}
	p->a = a;
	evhttp_set_max_body_size(p->http, OCSP_REQUEST_MAX * 2);
	evhttp_set_max_headers_size(p->http, 8 * 1024);
	evhttp_set_timeout(p->http, 30);
	evhttp_set_allowed_methods(p->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	evhttp_set_gencb(p->http, handle, p);
	errno = 0;
	if (!evhttp_bind_socket_with_handle(p->http, c->public_host, (ev_uint16_t)c->public_port)) {
		int e = errno;
		snprintf(err, errlen, "cannot listen on %s:%d (publicListen): %s", c->public_host, c->public_port,
		         e ? strerror(e) : "bad address");
		pubserver_stop(p);
		return NULL;
	}
	return p;
}

void pubserver_stop(struct pubserver *p)
{
	if (!p)
		return;
	if (p->http)
		evhttp_free(p->http);
	free(p);
}
