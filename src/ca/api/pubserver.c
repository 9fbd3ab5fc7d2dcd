/* The public plain-HTTP listener: GET/HEAD /crl/<shard>.crl, OCSP (GET/HEAD /ocsp/<request>,
 * POST /ocsp) and nothing else. Small limits. Every response goes through reply_send
 * (reply.c), which keeps the body of a HEAD response off the keep-alive connection. */
#include "pubserver.h"
#include "issuance/ocsp.h"
#include "lifecycle.h"
#include "reply.h"
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>
#include <time.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pubserver {
	struct evhttp *http;
	struct api *a;
	int port; /* the bound port (cfg->public_port, or the one the kernel chose for 0) */
};

static void send_ocsp(struct pubserver *p, struct evhttp_request *req, const unsigned char *der, size_t len)
{
	unsigned char *out = NULL;
	size_t n = 0;
	if (ocsp_respond(p->a->ca, p->a->store, der, len, (int64_t)time(NULL), &out, &n) != 0) {
		reply_text(req, 500, "could not answer the OCSP request\n");
		return;
	}
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Cache-Control", "public, max-age=3600");
	/* GET or HEAD (or POST): reply.c leaves HEAD's body out (RFC 9110 §9.3.2). */
	reply_plain(req, 200, "application/ocsp-response", out, n);
	OPENSSL_free(out);
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
		/* POST elsewhere than /ocsp (evhttp answers other methods 501). RFC 9110 §15.5.6: a
		 * 405 lists the allowed methods. */
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_text(req, 405, "method not allowed\n");
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
	reply_text(req, 404, "not found\n");
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
	struct evhttp_bound_socket *bs =
	    evhttp_bind_socket_with_handle(p->http, c->public_host, (ev_uint16_t)c->public_port);
	if (!bs) {
		int e = errno;
		snprintf(err, errlen, "cannot listen on %s:%d (publicListen): %s", c->public_host, c->public_port,
		         e ? strerror(e) : "bad address");
		pubserver_stop(p);
		return NULL;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	p->port = c->public_port;
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0)
		p->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                                         : ((struct sockaddr_in *)&ss)->sin_port);
	return p;
}

int pubserver_port(const struct pubserver *p)
{
	return p->port;
}

void pubserver_stop(struct pubserver *p)
{
	if (!p)
		return;
	if (p->http)
		evhttp_free(p->http);
	free(p);
}
